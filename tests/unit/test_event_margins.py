"""Low-order margins of event hazards measured on their own (bayesgen.events.fit.MeasuredMargins)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bayesgen import Schema, Structure, Synthesizer
from bayesgen.datasets import simulate_registry
from bayesgen.events.fit import (
    MAIN_EFFECTS_LIMIT,
    MARGIN_MIN_GROUPS,
    MeasuredMargins,
    main_effects_rates,
    pooled_rates,
)
from bayesgen.events.life_tables import life_table_plans


def main_effects_truth(rng, shape=(9, 6, 4, 3, 5)):
    """Events and exposure of a hazard that is exactly base(history, interval) x f_i(g_i)."""
    k = len(shape) - 2
    exposure = rng.uniform(500.0, 5000.0, size=shape)
    rate = rng.uniform(0.001, 0.01, size=shape[-2:])[(None,) * k]
    for i in range(k):
        factor = rng.uniform(0.2, 3.0, size=shape[i])
        rate = rate * factor.reshape([shape[i] if a == i else 1 for a in range(k + 2)])
    return rate * exposure, exposure, rate


def test_exact_margins_are_already_consistent_and_change_nothing():
    events, exposure, rate = main_effects_truth(np.random.default_rng(1))
    margins = MeasuredMargins.sums_of(events, exposure)
    agreed = margins.consistent()
    for a, b in zip([margins.events_by_time, *margins.events_by_group, margins.exposure_by_time,
                     *margins.exposure_by_group],
                    [agreed.events_by_time, *agreed.events_by_group, agreed.exposure_by_time,
                     *agreed.exposure_by_group], strict=True):
        np.testing.assert_allclose(a, b)
    # the main-effects model is recovered exactly, with or without given margins
    np.testing.assert_allclose(main_effects_rates(events, exposure), rate, rtol=1e-6)
    np.testing.assert_allclose(main_effects_rates(events, exposure, margins=margins), rate, rtol=1e-6)


def test_consistent_margins_agree_on_totals_per_interval():
    rng = np.random.default_rng(2)
    events, exposure, _ = main_effects_truth(rng)
    noisy = MeasuredMargins.sums_of(events + rng.normal(0, 30, events.shape),
                                    exposure + rng.normal(0, 300, exposure.shape), 30.0, 300.0)
    agreed = noisy.consistent()
    totals = [m.sum(axis=tuple(range(m.ndim - 1))) for m in (agreed.events_by_time, *agreed.events_by_group)]
    for total in totals[1:]:
        np.testing.assert_allclose(total, totals[0])
    totals = [m.sum(axis=tuple(range(m.ndim - 1))) for m in (agreed.exposure_by_time, *agreed.exposure_by_group)]
    for total in totals[1:]:
        np.testing.assert_allclose(total, totals[0])


def test_combining_with_an_exact_estimate_keeps_the_exact_one():
    events, exposure, _ = main_effects_truth(np.random.default_rng(3))
    exact = MeasuredMargins.sums_of(events, exposure)
    noisy = MeasuredMargins.sums_of(events + 5.0, exposure + 50.0, 1.0, 10.0)
    combined = noisy.combined_with(exact)
    np.testing.assert_allclose(combined.events_by_time, exact.events_by_time)
    np.testing.assert_allclose(combined.exposure_by_group[0], exact.exposure_by_group[0])
    # two equally noisy estimates: the mean, with the SD shrunk by sqrt(2)
    other = MeasuredMargins.sums_of(events - 5.0, exposure - 50.0, 1.0, 10.0)
    both = noisy.combined_with(other)
    np.testing.assert_allclose(both.events_by_time, exact.events_by_time)
    assert both.events_sd[0] == pytest.approx(noisy.events_sd[0] / math.sqrt(2))


def test_measured_margins_make_the_total_hazard_far_less_noisy():
    """The fitted model's expected total of events, under noise of the same total budget.

    Without margins, the fitted total is pinned by the sum of all 9 x 6 x 4 x 3 x 5 = 3,240 noisy
    cells (noise sqrt(3240) = 57 cell SDs). With them, half the budget measures 4 small margins
    (each with 1/8 of the budget: 8 cell SDs per cell) whose totals sum 15 to 45 cells (noise
    8 x sqrt(15) = 31 down to 8 x sqrt(45) = 54 cell SDs each), combined by inverse variance with
    each other and with the sums of the half-budget full table: about 3x less noise in all. Over
    40 noise draws the RMS error of the total must be at least 1.5x smaller with margins; the RMS
    over 40 draws has a sampling error of about 11 %, so 1.5x against an expected 3x cannot fail
    by chance, and it fails if the margins are ignored or mis-weighted.
    """
    rng = np.random.default_rng(4)
    events, exposure, _ = main_effects_truth(rng)
    scale = 40.0  # Laplace scale of one cell's count at the full share
    exposure_scale = 400.0
    true_total = events.sum()
    errors = {"cells": [], "margins": []}
    for _ in range(40):
        noisy_events = events + rng.laplace(0, scale, events.shape)
        noisy_exposure = exposure + rng.laplace(0, exposure_scale, exposure.shape)
        prior = main_effects_rates(noisy_events, noisy_exposure)
        errors["cells"].append((prior * exposure).sum() - true_total)
        # half the budget on the full table (noise x2), an eighth on each of four margins (noise x8)
        half_events = events + rng.laplace(0, 2 * scale, events.shape)
        half_exposure = exposure + rng.laplace(0, 2 * exposure_scale, exposure.shape)
        exact = MeasuredMargins.sums_of(events, exposure)
        sd, exposure_sd = 8 * scale * math.sqrt(2), 8 * exposure_scale * math.sqrt(2)
        direct = MeasuredMargins(
            exact.events_by_time + rng.laplace(0, 8 * scale, exact.events_by_time.shape),
            [m + rng.laplace(0, 8 * scale, m.shape) for m in exact.events_by_group],
            exact.exposure_by_time + rng.laplace(0, 8 * exposure_scale, exact.exposure_by_time.shape),
            [m + rng.laplace(0, 8 * exposure_scale, m.shape) for m in exact.exposure_by_group],
            [sd] * 4, [np.full(events.shape[-1], exposure_sd)] * 4)
        margins = direct.combined_with(MeasuredMargins.sums_of(half_events, half_exposure, 2 * scale * math.sqrt(2),
                                                               2 * exposure_scale * math.sqrt(2)))
        prior = main_effects_rates(half_events, half_exposure, margins=margins)
        errors["margins"].append((prior * exposure).sum() - true_total)
    rms = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in errors.items()}
    assert rms["margins"] * 1.5 < rms["cells"], rms



def test_noise_in_sparse_margins_leaves_the_hazards_finite_and_plausible():
    """Pure noise on a small table where many cells have no exposure after clipping (a 2,000-patient
    fit at epsilon = 1 looks like this). The main-effects fit alone diverges on many of these draws
    (hazards of 1e18 per day, or 0 x inf: one core fit in about 200 failed); pooled_rates must
    return finite hazards below 1,000x the crude overall rate in every one of 200 draws (the true
    rate is uniform) and must keep the main-effects prior wherever it did not diverge."""
    rng = np.random.default_rng(5)
    scale, exposure_scale = 50.0, 300_000.0
    diverged = 0
    for _ in range(200):
        exposure = rng.uniform(0, 60_000, size=(5, 6, 1, 7)) * (rng.random((5, 6, 1, 7)) < 0.5)
        noisy_events = exposure * 2e-4 + rng.laplace(0, scale, exposure.shape)
        noisy_exposure = exposure + rng.laplace(0, exposure_scale, exposure.shape)
        rate = pooled_rates(noisy_events, noisy_exposure, scale * math.sqrt(2),
                            np.full(7, exposure_scale * math.sqrt(2)), 1.0)
        crude = np.maximum(noisy_events, 0).sum() / np.maximum(noisy_exposure, 0).sum()
        assert np.isfinite(rate).all() and rate.min() >= 0 and rate.max() < MAIN_EFFECTS_LIMIT * crude
        with np.errstate(all="ignore"):
            prior = main_effects_rates(noisy_events, noisy_exposure)
        diverged += not (np.isfinite(prior).all() and prior.max() <= MAIN_EFFECTS_LIMIT * crude)
    # the draws do exercise the fallback, and most keep the main-effects prior
    assert 0 < diverged < 150, diverged


@pytest.fixture(scope="module")
def ten_table_fit():
    schema, structure = Schema.load("schemas/simulacrum_v2.yaml"), Structure.load("structures/simulacrum_v2.yaml")
    tables = simulate_registry(3000, rng=7)
    return Synthesizer(schema, structure, epsilon=1.0, prune=None).fit(tables)


def test_ledger_charges_every_margin_with_the_full_tables_sensitivity(ten_table_fit):
    entries = ten_table_fit.ledger_["entries"]
    layouts = ten_table_fit.events_.layouts
    for process, layout in layouts.items():
        in_life_tables = {m for plan in life_table_plans(layout, ten_table_fit.schema.events.process(process))
                          for m in plan.members}
        for e, name in enumerate(layout.names):
            if e in in_life_tables:  # measured through a life table instead (tests/unit/test_life_tables.py)
                continue
            mine = [x for x in entries if x["what"] in (f"event counts of {name}", f"exposure of {name}")
                    or x["what"].startswith((f"event counts of {name} by", f"exposure of {name} by"))]
            groups = int(np.prod(layout.shapes[e][:-2]))
            with_margins = groups >= MARGIN_MIN_GROUPS and len(layout.given[e]) >= 2
            expected = 2 + 2 * (1 + len(layout.given[e])) if with_margins else 2  # full table + margins
            assert len(mine) == expected, (name, [x["what"] for x in mine])
            full = {x["what"]: x for x in mine if " by " not in x["what"]}
            for x in mine:
                kind = "event counts" if x["what"].startswith("event counts") else "exposure"
                assert x["sensitivity"] == full[f"{kind} of {name}"]["sensitivity"], x["what"]
            if expected > 2:  # margin_share = 0.5 of the event type's budget goes to its margins
                margin_cost = sum(x["cost"] for x in mine if " by " in x["what"])
                assert margin_cost == pytest.approx(sum(x["cost"] for x in mine) / 2)
    assert any(" by SITE_ICD10_O2 and interval" in x["what"] for x in entries)
    assert ten_table_fit.ledger_["spent"] == pytest.approx(1.0)
