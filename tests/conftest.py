"""Shared fixtures: a small two-table toy registry that exercises every schema feature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def toy_schema() -> bg.Schema:
    return bg.Schema.load(FIXTURES / "toy_schema.yaml")


@pytest.fixture(scope="session")
def toy_structure() -> bg.Structure:
    return bg.Structure.load(FIXTURES / "toy_structure.yaml")


def make_toy_tables(n: int = 500, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Valid toy tables (P: patients, T: 1-3 tumours each) satisfying every declared constraint."""
    rng = np.random.default_rng(seed)
    patients = pd.DataFrame({"PID": np.arange(1, n + 1), "SEX": rng.choice(["1", "2"], n)})
    dead = rng.random(n) < 0.3
    patients["DEAD"] = np.where(dead, "D", "A")
    patients["CAUSE"] = pd.Series(np.where(dead, rng.choice(["C50", "I21"], n), None), dtype=object)
    per_patient = rng.integers(1, 4, n)
    tumours = pd.DataFrame({"TID": np.arange(1, per_patient.sum() + 1),
                            "PID": np.repeat(patients["PID"].to_numpy(), per_patient)})
    tumours["SEX"] = np.repeat(patients["SEX"].to_numpy(), per_patient)
    tumours["SITE"] = np.where(tumours["SEX"] == "1", rng.choice(["C61X", "C509"], len(tumours)), "C500")
    tumours["SITE3"] = tumours["SITE"].str[:3]
    tumours["AGE"] = rng.integers(20, 90, len(tumours))
    tumours["DIAG"] = (pd.Timestamp("2011-01-01")
                       + pd.to_timedelta(rng.integers(0, 1500, len(tumours)), unit="D")).strftime("%Y-%m-%d")
    first = pd.to_datetime(tumours.groupby("PID")["DIAG"].min())
    patients["VSDATE"] = (first.to_numpy() + pd.to_timedelta(rng.integers(0, 800, n), unit="D")).strftime("%Y-%m-%d")
    return {"P": patients, "T": tumours}


@pytest.fixture()
def toy_tables() -> dict[str, pd.DataFrame]:
    return make_toy_tables()


@pytest.fixture(scope="session")
def saved_simulacrum_model(tmp_path_factory) -> bg.Synthesizer:
    """The shipped Simulacrum model fitted at epsilon = 1 on 2,000 simulated patients, saved once.

    Its model file is at ``.model_path`` (the scale-out tests hand it to workers).
    """
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    structure = bg.Structure.load("structures/simulacrum_v2_core.yaml")
    fitted = bg.Synthesizer(schema, structure, epsilon=1.0).fit(bg.datasets.simulate_registry(2_000, rng=0, full=False))
    fitted.model_path = tmp_path_factory.mktemp("model") / "model.json"
    fitted.save(fitted.model_path)
    return fitted
