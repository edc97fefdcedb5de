"""GBSG2 on the default path: recurrence-free survival written by the time-to-event module at ε = 1.

The shipped schema declares ``time``/``cens`` as a duration process (horizon 3000 days, RECURRENCE
and LOSS_TO_FOLLOW_UP); the fitted model must spend exactly ε, sample rows the schema accepts, and
write lifelines-ready integer durations and 0/1 indicators.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayesgen as bg
from bayesgen.evaluate.presets import preset_for
from bayesgen.schema.check import check_tables

N = 5_000
HORIZON = 3000


@pytest.fixture(scope="module")
def fitted():
    schema, structure = bg.Schema.load("gbsg2"), bg.Structure.load("gbsg2")
    real = bg.datasets.load_gbsg2()
    model = bg.Synthesizer(schema, structure, epsilon=1.0).fit(real)
    return schema, structure, real, model


@pytest.fixture(scope="module")
def synthetic(fitted):
    return fitted[3].sample(N, rng=11)


def test_the_events_module_is_fitted_and_spends_exactly_epsilon(fitted):
    _, _, _, model = fitted
    assert model.events_ is not None and set(model.events_.rates) == {"RECURRENCE", "LOSS_TO_FOLLOW_UP"}
    layout = model.events_.layouts["recurrence_free_survival"]
    assert layout.given == [("pnodes",), ()] and model.events_.horizon == HORIZON + 1
    ledger = model.ledger_
    assert abs(ledger["spent"] - 1.0) < 1e-9
    by_what = {e["what"]: e for e in ledger["entries"]}
    # both terminal events end the same spell: one life table, each patient leaving it once (no late
    # entry in a duration process)
    entry = by_what["life table of recurrence_free_survival: RECURRENCE+LOSS_TO_FOLLOW_UP (exits and entries)"]
    assert entry["sensitivity"] == 1
    assert not any(e["what"].startswith(("event counts of", "exposure of")) for e in ledger["entries"])
    # time and cens have no conditional tables: the events module writes them
    assert not any(e["what"].startswith(("counts of time", "counts of cens")) for e in ledger["entries"])


def test_synthetic_rows_are_valid_and_lifelines_ready(fitted, synthetic):
    schema, structure, real, _ = fitted
    frame = synthetic["GBSG2"]
    assert list(frame.columns) == list(real["GBSG2"].columns) and len(frame) == N
    assert check_tables(synthetic, schema, structure) == []
    time, cens = frame["time"], frame["cens"]
    assert time.dtype == "Int64" and cens.dtype == "Int64"
    assert time.notna().all() and cens.notna().all()
    assert time.between(0, HORIZON).all() and cens.isin([0, 1]).all()
    # both terminal events occur before the horizon, each in more than 5 % of the rows (about 40 %
    # each in the data). That fails only if a rate collapses: a noisy count falling to zero (the
    # data hold 119 and 180 recurrences by node group and 387 losses; the discrete Laplace scales
    # are about 11 and 14, so at least 9 scales, probability < 1e-4) or a noisy exposure growing
    # tenfold (over 40 scales); a cell whose exposure comes out too small only raises its rate.
    assert ((cens == 1) & (time < HORIZON)).sum() > 0.05 * N
    assert ((cens == 0) & (time < HORIZON)).sum() > 0.05 * N

def test_survival_tools_read_the_synthetic_durations(fitted, synthetic):
    from lifelines import KaplanMeierFitter

    schema, _, real, _ = fitted
    frame = synthetic["GBSG2"]
    fitter = KaplanMeierFitter().fit(frame["time"], frame["cens"])
    assert 0.0 < fitter.survival_function_.iloc[-1, 0] < 1.0
    survival, target = preset_for("gbsg2")
    report = bg.evaluate(real, synthetic, schema, survival=survival, target=target, privacy=False)
    assert 0.0 <= report.survival["km_sup"] <= 1.0


def test_a_saved_model_samples_the_same_rows(fitted, tmp_path):
    _, _, _, model = fitted
    model.save(tmp_path / "gbsg2.json")
    again = bg.Synthesizer.load(tmp_path / "gbsg2.json")
    first, second = model.sample(500, rng=4)["GBSG2"], again.sample(500, rng=4)["GBSG2"]
    assert first.equals(second)
    assert np.array_equal(first["time"].to_numpy(), second["time"].to_numpy())
