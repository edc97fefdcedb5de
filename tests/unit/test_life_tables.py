"""Life tables: exact counts, the actuarial exposure rebuilt from them, their sensitivity and noise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayesgen import Schema, Structure, Synthesizer
from bayesgen.datasets import simulate_registry
from bayesgen.events.fit import exact_event_statistics
from bayesgen.events.histories import ProcessData, horizon_days
from bayesgen.events.layout import build_layout
from bayesgen.events.life_tables import (
    LifeTablePlan,
    count_life_table,
    exposure_days,
    exposure_noise_sd,
    life_table_edges,
    life_table_plans,
    member_statistics,
)
from bayesgen.schema.encode import encode_tables


@pytest.fixture(scope="module")
def registry():
    schema = Schema.load("schemas/simulacrum_v2.yaml")
    structure = Structure.load("structures/simulacrum_v2.yaml")
    tables = simulate_registry(20_000, rng=3)
    statistics = exact_event_statistics(encode_tables(tables, schema), schema, structure)
    layouts = {p.name: build_layout(schema, p, structure.events, horizon_days(schema))
               for p in schema.events.processes}
    return schema, structure, tables, statistics, layouts


def test_plans_cover_single_spell_hazards_and_leave_recurrent_ones(registry):
    schema, _, _, _, layouts = registry
    plans = {p.name: life_table_plans(layouts[p.name], p) for p in schema.events.processes}
    assert [(x.name, x.members, x.delayed_entry) for x in plans["survival"]] == [
        ("survival: DEATH+EXIT", (0, 1), True)]
    assert [(x.name, x.delayed_entry) for x in plans["surgery"]] == [("surgery: SURGERY", False)]
    assert plans["treatment"] == []  # recurrent regimens and radiotherapy episodes have histories


def test_events_from_the_life_table_equal_the_exact_counts(registry):
    schema, _, _, statistics, layouts = registry
    for process in schema.events.processes:
        layout = layouts[process.name]
        for plan in life_table_plans(layout, process):
            table = statistics.life_tables[plan.name]
            for member in plan.members:
                events, _, _, _ = member_statistics(table, plan, layout, member, 0.0)
                assert np.array_equal(events, statistics.events[layout.names[member]]), layout.names[member]


def test_actuarial_exposure_is_within_two_percent_of_the_exact_exposure_per_interval(registry):
    """Tolerance: the half-bin rule errs by a fraction of the exits within a bin, which shrinks with the
    square of the bin's length; with bins of at most a year the error per interval (all cells) was
    at most 1.2 % on 50,000 simulated patients (3 % in the 1- to 3-month interval of first surgery,
    where surgeries crowd early in the interval). 4 % leaves room for the smaller sample here."""
    schema, _, _, statistics, layouts = registry
    for process in schema.events.processes:
        layout = layouts[process.name]
        for plan in life_table_plans(layout, process):
            for member in plan.members:
                name = layout.names[member]
                _, rebuilt, _, _ = member_statistics(statistics.life_tables[plan.name], plan, layout, member, 0.0)
                exact = statistics.exposure[name] * np.diff(layout.edges) / schema.events.resolution
                axes = tuple(range(exact.ndim - 1))
                ratio = rebuilt.sum(axis=axes) / exact.sum(axis=axes)
                assert np.all(np.abs(ratio - 1) < 0.04), (name, ratio)


def test_exposure_of_a_toy_table_is_the_life_table_arithmetic():
    plan = LifeTablePlan("toy", (0,), 0, True)
    edges = np.array([0.0, 10.0, 20.0])
    # one cell; bins [0, 10), [10, 20); kinds: deaths, other exits, late entries
    table = np.array([[[1, 1, 0], [2, 0, 1]]])
    # at risk at the start: 4 leave at or after 0, 1 enters later: 3; then 2 - 1 = 1 at 10
    # bin 0: 10 * (3 - 2/2) = 20; bin 1: 10 * (1 - 2/2 + 1/2) = 5
    assert exposure_days(table, plan, edges).tolist() == [[20.0, 5.0]]


def test_bins_split_long_intervals_and_keep_the_interval_edges():
    edges = np.array([0.0, 30.0, 91.0, 365.0, 1826.0, 3287.0])
    bins = life_table_edges(edges)
    assert set(edges) <= set(bins)
    assert np.diff(bins).max() <= 365.0
    assert len(bins) - 1 == 3 + 1 + 4 + 5  # the last two intervals are split into 4 and 5 bins


def _unit_data(entry, end, event_time, codes):
    """One-unit :class:`ProcessData` of a survival process, dying at ``end`` if ``event_time``."""
    unit_start = np.array([0, 1 if event_time else 0])
    types = np.array([0] if event_time else [], dtype=np.int64)
    times = np.array([end] if event_time else [], dtype=np.float64)
    return ProcessData(np.zeros(1), np.array([entry]), np.array([end]), unit_start, types, times, codes)


@settings(max_examples=60, deadline=None)
@given(entry=st.floats(0, 3000), length=st.floats(0, 3286), died=st.booleans(),
       stage=st.integers(0, 5), age=st.integers(0, 110))
def test_one_patient_changes_the_survival_table_by_at_most_its_sensitivity(registry, entry, length, died, stage,
                                                                          age):
    schema, _, _, _, layouts = registry
    process = schema.events.process("survival")
    layout = layouts["survival"]
    plan = life_table_plans(layout, process)[0]
    stage_codes = np.flatnonzero(layout.group_of_code[0][0] == stage)
    codes = {"STAGE_BEST": np.array([stage_codes[0] if stage_codes.size else 0]),
             "AGE": np.array([min(age, len(layout.group_of_code[0][1]) - 1)])}
    end = min(entry + length, layout.edges[-1])
    table = count_life_table(plan, layout, _unit_data(entry, end, died, codes))
    assert np.abs(table).sum() <= plan.sensitivity(1, pure=True)
    assert np.sqrt(np.square(table).sum()) <= plan.sensitivity(1, pure=False)


def test_exposure_noise_sd_matches_simulated_noise():
    """The SD formula against 20,000 draws of independent noise: within 3 % (the Monte Carlo SD of
    an SD estimate from 20,000 draws is 0.5 %)."""
    plan = LifeTablePlan("toy", (0, 1), 0, True)
    edges = np.array([0.0, 30.0, 91.0, 365.0, 1826.0])
    n_bins = len(life_table_edges(edges)) - 1
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 2.0, size=(20_000, n_bins, plan.n_kinds))
    simulated = exposure_days(noise, plan, edges).std(axis=0)
    assert np.allclose(simulated, exposure_noise_sd(plan, edges, 4.0), rtol=0.03)


def test_life_tables_sum_over_partitions():
    """Statistics of disjoint sets of patients add up (partitioned fits sum them before any noise)."""
    schema = Schema.load("schemas/simulacrum_v2_core.yaml")
    structure = Structure.load("structures/simulacrum_v2_core.yaml")
    tables = simulate_registry(4_000, rng=5, full=False)
    patients, tumours = tables["SIM_AV_PATIENT"], tables["SIM_AV_TUMOUR"]
    whole = exact_event_statistics(encode_tables(tables, schema), schema, structure)
    parts = [exact_event_statistics(encode_tables({"SIM_AV_PATIENT": patients[patients["PATIENTID"].isin(ids)],
                                                   "SIM_AV_TUMOUR": tumours[tumours["PATIENTID"].isin(ids)]},
                                                  schema), schema, structure)
             for ids in np.array_split(patients["PATIENTID"].to_numpy(), 2)]
    summed = parts[0] + parts[1]
    assert set(whole.life_tables) == {"survival: DEATH+EXIT", "surgery: SURGERY"}
    for name, table in whole.life_tables.items():
        assert table.sum() > 0 and np.array_equal(summed.life_tables[name], table), name


def test_a_private_fit_measures_each_life_table_once_and_the_rest_directly(registry):
    schema, structure, tables, _, _ = registry
    model = Synthesizer(schema, structure, epsilon=1.0, prune=None).fit(tables)
    whats = [e["what"] for e in model.ledger_["entries"]]
    assert whats.count("life table of survival: DEATH+EXIT (exits and entries)") == 1
    assert whats.count("life table of surgery: SURGERY (exits and entries)") == 1
    assert not any(w in ("exposure of DEATH", "exposure of EXIT", "exposure of SURGERY") for w in whats)
    assert "exposure of REGIMEN" in whats
    for name, rate in model.events_.rates.items():
        assert np.isfinite(rate).all() and (rate >= 0).all(), name
    exact = Synthesizer(schema, structure, epsilon=float("inf")).fit(tables)
    assert not any(w.startswith("life table") for w in (e["what"] for e in exact.ledger_["entries"]))


def test_budget_weight_raises_an_event_types_share(registry):
    schema, structure, tables, _, _ = registry
    heavier = dataclasses.replace(structure.events, conditioning=tuple(
        dataclasses.replace(c, budget_weight=c.budget_weight * 4) if c.event == "SURGERY" else c
        for c in structure.events.conditioning))
    costs = []
    for events in (structure.events, heavier):
        model = Synthesizer(schema, dataclasses.replace(structure, events=events), epsilon=1.0, prune=None).fit(tables)
        by_what = {e["what"]: e["cost"] for e in model.ledger_["entries"]}
        costs.append(by_what["life table of surgery: SURGERY (exits and entries)"])
    assert costs[1] > 2 * costs[0]
