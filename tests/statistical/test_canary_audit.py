"""End-to-end canary audit in CI: a sound pipeline passes, an under-noised build is caught.

The toy registry (patients with up to 2 tumours) is fitted 60 times per side with and without one
extreme canary patient. Tolerance and soundness: the audit's ε bound is the lower end of a 95 %
Clopper–Pearson interval, so a correct pipeline exceeds its claim with probability at most 2.5 % per
test by construction, whatever the attack. The negative control under-noises every mechanism by a
factor of 100 (true ε ≈ 100 × claim): the canary's records then separate the two sides almost
perfectly and the bound (≈ 2 with 30 evaluation fits per side) clears the claim of 0.5.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.audit.canary import make_canary, run_canary_audit, under_noised
from tests.conftest import make_toy_tables

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(scope="module")
def toy():
    schema = bg.Schema.load(FIXTURES / "toy_schema.yaml")
    structure = bg.Structure.load(FIXTURES / "toy_structure.yaml")
    tables = make_toy_tables(n=150, seed=0)
    return schema, structure, tables, make_canary(tables, schema)


@pytest.mark.parametrize("learn", [False, True], ids=["fit", "learn+fit"])
def test_sound_pipeline_passes_and_under_noised_build_is_caught(toy, learn):
    schema, structure, tables, canary = toy
    dag = "learn" if learn else structure
    sound = run_canary_audit(tables, schema, lambda: bg.Synthesizer(schema, dag, epsilon=1.0), 1.0,
                             n_fits=60, canary=canary, rng=0)
    assert sound.claim_holds, str(sound)
    with under_noised(0.01):
        broken = run_canary_audit(tables, schema, lambda: bg.Synthesizer(schema, dag, epsilon=0.5), 0.5,
                                  n_fits=60, canary=canary, rng=0)
    assert not broken.claim_holds, f"an under-noised build passed the audit: {broken}"


def test_canary_is_extreme_and_valid(toy):
    schema, _, tables, canary = toy
    assert len(canary["P"]) == 1 and len(canary["T"]) == 3  # the patient with most tumours
    with_canary = {name: pd.concat([tables[name], canary[name]], ignore_index=True) for name in tables}
    bg.Synthesizer(schema, bg.Structure.load(FIXTURES / "toy_structure.yaml"), epsilon=1.0).fit(with_canary)
    assert canary["P"]["PID"].iloc[0] not in set(tables["P"]["PID"])


def test_under_noised_restores_the_real_mechanisms():
    from bayesgen.privacy import mechanisms

    before = mechanisms.laplace_measurement
    with under_noised(0.5):
        assert mechanisms.laplace_measurement is not before
    assert mechanisms.laplace_measurement is before
