"""The time-to-event engine on hand-made units: exact statistics, pooled rates and the sampling kernel.

A minimal one-table schema (a date origin, a two-category covariate, a status and two date
columns) declares one process with a terminal DEATH and a TREAT event; the hazard intervals are
[0, 10), [10, 100) and [100, horizon = 1000) days. Everything here is small enough to check by hand
or against a plain-Python reference written from the documented layout.
"""

from __future__ import annotations

import copy
import math

import numba
import numpy as np
import pytest

from bayesgen import Schema, Structure
from bayesgen.events.fit import exact_statistics, pooled_rates
from bayesgen.events.histories import ProcessData
from bayesgen.events.layout import build_layout
from bayesgen.events.model import EventModel
from bayesgen.events.sample import sample_units

HORIZON = 1000
EDGES = (0.0, 10.0, 100.0, 1000.0)

SCHEMA = {
    "spec_version": 1, "name": "mini", "root_table": "P",
    "tables": {"P": {"primary_key": "PID", "columns": [
        {"name": "PID", "type": "id"},
        {"name": "DIAG", "type": "date", "min": "2020-01-01", "max": "2020-12-31",
         "bins": ["2020-01-01", "2020-07-01", "2021-01-01"]},
        {"name": "GROUP", "type": "categorical", "categories": ["a", "b"]},
        {"name": "STATUS", "type": "categorical", "categories": ["A", "D"]},
        {"name": "STATUSDATE", "type": "date", "min": "2020-01-01", "max": "2022-12-31",
         "relative_to": "DIAG", "bins": [0, 100, 1200]},
        {"name": "TREATDATE", "type": "date", "min": "2020-01-01", "max": "2022-12-31",
         "relative_to": "DIAG", "bins": [0, 100, 1200], "missing": True},
    ]}},
    "events": {"cutoff": "2022-12-31", "intervals": [0, 10, 100], "processes": [
        {"name": "course", "unit": "P", "origin": "DIAG", "status": "STATUS", "censored_status": "A",
         "date": "STATUSDATE",
         "events": [{"name": "DEATH", "kind": "terminal", "status": "D"},
                    {"name": "TREAT", "kind": "once", "date": "TREATDATE"}]}]},
}
STRUCTURE = {
    "spec_version": 1, "nodes": ["GROUP", "DIAG", "STATUS", "STATUSDATE", "TREATDATE"], "edges": [],
    "events": {"DEATH": {"given": ["GROUP"], "after": ["TREAT"]}, "TREAT": {"given": []}},
}


def load(schema_doc=SCHEMA, structure_doc=STRUCTURE):
    schema = Schema.from_dict(copy.deepcopy(schema_doc), source="mini")
    structure = Structure.from_dict(copy.deepcopy(structure_doc), source="mini")
    structure.validate_for(schema)
    return schema, structure


@pytest.fixture(scope="module")
def mini():
    schema, structure = load()
    layout = build_layout(schema, schema.events.processes[0], structure.events, HORIZON)
    return schema, structure, layout


def process_data(entry, end, events, groups):
    """ProcessData from per-unit lists of (event index, time) in time order."""
    unit_start = np.concatenate([[0], np.cumsum([len(e) for e in events])]).astype(np.int64)
    types = np.asarray([t for unit in events for t, _ in unit], dtype=np.int64)
    times = np.asarray([x for unit in events for _, x in unit], dtype=np.float64)
    codes = {"GROUP": np.asarray(groups, dtype=np.int64)}
    return ProcessData(np.zeros(len(entry)), np.asarray(entry, dtype=np.float64),
                       np.asarray(end, dtype=np.float64), unit_start, types, times, codes)


# -- exact statistics -----------------------------------------------------------------------------
def test_layout_shapes_and_edges(mini):
    _, _, layout = mini
    assert layout.names == ("DEATH", "TREAT")
    assert layout.shapes == [(2, 2, 3), (1, 3)]  # DEATH: group x (TREAT happened?) x interval
    assert layout.edges.tolist() == list(EDGES)


def test_exact_statistics_by_hand(mini):
    _, _, layout = mini
    # unit 0 (a): treated at 5.5, dies at 50.5
    # unit 1 (b): enters at day 20 (a later origin proved it alive), censored at 731
    # unit 2 (b): dies at 3.5, untreated
    # unit 3 (a): treated at 150.5, followed to the horizon
    data = process_data(entry=[0, 20, 0, 0], end=[50.5, 731, 3.5, 1000],
                        events=[[(1, 5.5), (0, 50.5)], [], [(0, 3.5)], [(1, 150.5)]], groups=[0, 1, 1, 0])
    events, exposure = exact_statistics(layout, data, resolution=1000)
    # exposure units per piece: floor(days * 1000 / interval length), lengths 10, 90, 900
    # unit 0: DEATH untreated [0, 5.5) -> 550; treated [5.5, 10) -> 450, [10, 50.5) -> 450
    # unit 1: [20, 100) -> floor(888.9) = 888, [100, 731) -> floor(701.1) = 701
    # unit 2: [0, 3.5) -> 350
    # unit 3: untreated [0, 10) -> 1000, [10, 100) -> 1000, [100, 150.5) -> floor(56.1) = 56;
    #         treated [150.5, 1000) -> floor(943.9) = 943 (56 + 943 < 1000: floored per piece)
    assert exposure[0].tolist() == [[[1550, 1000, 56], [450, 450, 943]],
                                    [[350, 888, 701], [0, 0, 0]]]
    assert events[0].tolist() == [[[0, 0, 0], [0, 1, 0]],   # unit 0 died treated, in [10, 100)
                                  [[1, 0, 0], [0, 0, 0]]]   # unit 2 died untreated, in [0, 10)
    # TREAT is at risk until it happens (once): units 0 and 3 stop at their treatment
    assert exposure[1].tolist() == [[550 + 350 + 1000, 888 + 1000, 701 + 56]]
    assert events[1].tolist() == [[1, 0, 1]]


def test_event_on_an_interval_boundary_counts_in_the_later_interval(mini):
    _, _, layout = mini
    data = process_data(entry=[0, 0], end=[10.0, 1000], events=[[(0, 10.0)], [(1, 100.0)]], groups=[1, 0])
    events, exposure = exact_statistics(layout, data, resolution=1000)
    assert events[0][1, 0].tolist() == [0, 1, 0]
    assert events[1].tolist() == [[0, 0, 1]]
    assert exposure[0][1, 0].tolist() == [1000, 0, 0]  # nothing at risk after a death at day 10


def test_statistics_scale_with_resolution(mini):
    _, _, layout = mini
    data = process_data(entry=[0], end=[731], events=[[]], groups=[0])
    _, exposure = exact_statistics(layout, data, resolution=9)
    # [0, 10) -> 9, [10, 100) -> 9, [100, 731) -> floor(631 * 9 / 900) = 6
    assert exposure[0][0, 0].tolist() == [9, 9, 6]


RICH_SCHEMA = copy.deepcopy(SCHEMA)
RICH_SCHEMA["events"]["processes"][0]["events"] = [
    {"name": "DEATH", "kind": "terminal", "status": "D"},
    {"name": "TREAT", "kind": "recurrent", "max": 3, "date": "TREATDATE"},
    {"name": "SCAN", "kind": "once"}]
RICH_STRUCTURE = copy.deepcopy(STRUCTURE)
RICH_STRUCTURE["events"] = {"DEATH": {"given": ["GROUP"], "after": ["TREAT", "SCAN"]},
                            "TREAT": {"given": ["GROUP"], "after": ["SCAN"]},
                            "SCAN": {"given": []}}


def reference_statistics(layout, data, resolution):
    """Plain-Python statistics from the documented layout (tuple indices, no flat offsets)."""
    events = [np.zeros(s, dtype=np.int64) for s in layout.shapes]
    exposure = [np.zeros(s, dtype=np.int64) for s in layout.shapes]
    edges = layout.edges
    n_events = layout.n_events

    def history(e, counts):
        after = layout.after_index[e]
        state = min(counts[e], int(layout.max_count[e]) - 1) * 2 ** len(after)
        return state + sum(2 ** k for k, a in enumerate(after) if counts[a] > 0)

    def cell(e, i):
        return tuple(int(m[data.codes[v][i]]) for v, m in zip(layout.given[e], layout.group_of_code[e], strict=True))

    for i in range(data.n_units):
        counts = [0] * n_events
        t = data.entry[i]
        own = list(zip(data.event_type[data.unit_start[i]:data.unit_start[i + 1]],
                       data.event_time[data.unit_start[i]:data.unit_start[i + 1]], strict=True))
        for e_happened, stop in [*own, (None, data.end[i])]:
            for e in range(n_events):
                if counts[e] >= layout.max_count[e] or stop <= t:
                    continue
                for j in range(len(edges) - 1):
                    lo, hi = max(t, edges[j]), min(stop, edges[j + 1])
                    if hi > lo:
                        exposure[e][(*cell(e, i), history(e, counts), j)] += math.floor(
                            (hi - lo) * resolution / (edges[j + 1] - edges[j]))
            t = max(t, stop)
            if e_happened is None or counts[e_happened] >= layout.max_count[e_happened]:
                continue
            j = int(np.searchsorted(edges[1:-1], stop, side="right"))
            events[e_happened][(*cell(e_happened, i), history(e_happened, counts), j)] += 1
            counts[e_happened] += 1
    return events, exposure


def random_rich_data(n, seed):
    rng = np.random.default_rng(seed)
    entry = np.where(rng.random(n) < 0.3, rng.uniform(0, 120, n), 0.0)
    end = np.minimum(entry + rng.exponential(300, n), HORIZON)
    events = []
    for i in range(n):
        k = rng.integers(0, 6)  # up to 5 treatments: more than max = 3, the extra ones are bounded away
        times = sorted(rng.uniform(entry[i], end[i], k + 1).tolist())
        unit = [(1, x) for x in times[:k]]
        if rng.random() < 0.5:
            unit.append((2, times[k]))  # a scan somewhere
        unit.sort(key=lambda pair: pair[1])
        if rng.random() < 0.4:
            unit.append((0, end[i]))  # died at the end of follow-up
        events.append(unit)
    # a few events exactly on interval boundaries
    events[0] = [(2, 10.0), (1, 100.0)]
    entry[0], end[0] = 0.0, 400.0
    return process_data(entry, end, events, rng.integers(0, 2, n))


def test_exact_statistics_match_a_plain_python_reference():
    schema, structure = load(RICH_SCHEMA, RICH_STRUCTURE)
    layout = build_layout(schema, schema.events.processes[0], structure.events, HORIZON)
    assert layout.shapes == [(2, 4, 3), (2, 6, 3), (1, 3)]
    data = random_rich_data(400, seed=3)
    for resolution in (1000, 7):
        events, exposure = exact_statistics(layout, data, resolution)
        expected_events, expected_exposure = reference_statistics(layout, data, resolution)
        for e in range(layout.n_events):
            assert np.array_equal(events[e], expected_events[e]), (layout.names[e], resolution)
            assert np.array_equal(exposure[e], expected_exposure[e]), (layout.names[e], resolution)
    assert events[1].sum() <= 3 * data.n_units and events[1].sum() > 0


def test_one_unit_changes_the_statistics_by_at_most_the_declared_sensitivity():
    # the DP sensitivity analysis of bayesgen.events.fit: per event type, one unit adds at most
    # `max` events and at most `resolution` exposure units to the cells of each interval
    schema, structure = load(RICH_SCHEMA, RICH_STRUCTURE)
    layout = build_layout(schema, schema.events.processes[0], structure.events, HORIZON)
    data = random_rich_data(300, seed=4)
    resolution = 1000
    reached = 0
    for i in range(data.n_units):
        a, b = data.unit_start[i], data.unit_start[i + 1]
        one = ProcessData(data.origin_day[i:i + 1], data.entry[i:i + 1], data.end[i:i + 1],
                          np.array([0, b - a]), data.event_type[a:b], data.event_time[a:b],
                          {"GROUP": data.codes["GROUP"][i:i + 1]})
        events, exposure = exact_statistics(layout, one, resolution)
        for e in range(layout.n_events):
            assert events[e].sum() <= layout.max_count[e]
            per_interval = exposure[e].reshape(-1, layout.n_intervals).sum(axis=0)
            assert (per_interval <= resolution).all()
            reached += int((per_interval == resolution).sum())
    assert reached > 0  # the bound is attained (a whole interval at risk), so it is tight


# -- pooled rates ---------------------------------------------------------------------------------
def test_pooled_rates_docstring_example():
    events = np.array([[[10.0]], [[0.0]]])
    exposure = np.array([[[1000.0]], [[0.0]]])
    assert pooled_rates(events, exposure, 0.0, np.zeros(1), 1.0)[:, 0, 0].tolist() == [0.01, 0.01]


@pytest.mark.parametrize("shrinkage", [0.0, 1.0, 5.0])
def test_without_noise_the_rate_is_events_over_exposure(shrinkage):
    rng = np.random.default_rng(0)
    exposure = rng.uniform(100, 5000, size=(3, 4, 2, 5))
    events = rng.poisson(exposure * rng.uniform(0.001, 0.02, size=exposure.shape)).astype(float)
    events[0, 0, 0, :] = 0.0  # a cell without events
    rate = pooled_rates(events, exposure, 0.0, np.zeros(5), shrinkage)
    assert np.array_equal(rate, events / exposure)


@pytest.mark.parametrize("noise", [0.0, 3.0])
def test_a_cell_without_exposure_takes_its_prior(noise):
    # one given variable with three groups, one history state, two intervals; group c was never at
    # risk (or its noisy exposure came out non-positive). Its prior is its own overall rate - which
    # it does not have, so its parent's - times the parent's shape: exactly the parent's rates, the
    # pooled D / E of the coarsest level, whatever the noise level.
    d = np.array([[[10.0, 2.0]], [[30.0, 4.0]], [[0.0, 0.0]]])
    for c_exposure in ([0.0, 0.0], [-3.0, -5.0]):
        e = np.array([[[1000.0, 400.0]], [[1000.0, 600.0]], [c_exposure]])
        rate = pooled_rates(d, e, noise, np.full(2, noise), 1.0)
        parent = d.sum(axis=0)[0] / e.sum(axis=0)[0]
        np.testing.assert_allclose(rate[2, 0], parent, rtol=1e-12)
    assert not np.allclose(rate[0, 0], parent)  # the observed cells keep rates of their own


def test_rates_are_never_negative_even_with_negative_noisy_counts():
    rng = np.random.default_rng(1)
    exposure = rng.uniform(10, 300, size=(4, 3, 2, 6))
    events = rng.poisson(exposure * 0.002).astype(float)
    noisy_events = events + rng.laplace(0, 20, size=events.shape)
    noisy_exposure = exposure + rng.laplace(0, 200, size=exposure.shape)
    assert (noisy_events < 0).mean() > 0.2 and (noisy_exposure < 0).mean() > 0.05
    rate = pooled_rates(noisy_events, noisy_exposure, 20 * math.sqrt(2), np.full(6, 200 * math.sqrt(2)), 1.0)
    assert rate.shape == events.shape
    assert np.isfinite(rate).all() and (rate >= 0).all()
    # a table whose every count is negative: nothing is positive, so every rate is zero
    rate = pooled_rates(-np.abs(noisy_events) - 1, noisy_exposure, 20.0, np.full(6, 200.0), 1.0)
    assert np.isfinite(rate).all() and (rate == 0).all()


def test_noise_pulls_a_sparse_cell_towards_its_parent():
    # a dense and a sparse group with the same true rate; the sparse one saw 0 events by chance
    d = np.array([[[500.0]], [[0.0]]])
    e = np.array([[[50_000.0]], [[200.0]]])
    exact = pooled_rates(d, e, 0.0, np.zeros(1), 1.0)[:, 0, 0]
    noisy = pooled_rates(d, e, 5.0, np.full(1, 50.0), 1.0)[:, 0, 0]
    assert exact[1] == 0.0
    assert 0.0 < noisy[1] < 500 / 50_200  # shrunk towards (not beyond) the pooled rate
    assert abs(noisy[0] - 0.01) < 0.0005  # the dense cell barely moves


# -- the sampling kernel --------------------------------------------------------------------------
def model_with(mini, death, treat):
    schema, structure, _ = mini
    return EventModel(schema, structure, HORIZON, {"DEATH": np.broadcast_to(death, (2, 2, 3)).copy(),
                                                   "TREAT": np.broadcast_to(treat, (1, 3)).copy()})


def random_units(n, seed):
    rng = np.random.default_rng(seed)
    entry = np.where(rng.random(n) < 0.3, rng.uniform(0, 150, n), 0.0)
    end = np.minimum(entry + rng.uniform(0, 900, n), HORIZON)
    return {"GROUP": rng.integers(0, 2, n)}, entry, end


def run(model, codes, entry, end, key=7, row_offset=0, block=4096):
    return sample_units(model, "course", codes, np.zeros(len(entry)), entry, end, np.uint64(key), row_offset,
                        block=block)


def same(a, b):
    return (np.array_equal(a.n_events, b.n_events) and np.array_equal(a.event_type, b.event_type)
            and np.array_equal(a.event_time, b.event_time, equal_nan=True) and np.array_equal(a.end, b.end)
            and np.array_equal(a.terminal, b.terminal))


@pytest.fixture(scope="module")
def busy_model(mini):
    death = np.array([[[0.01, 0.004, 0.001], [0.03, 0.01, 0.003]],
                      [[0.002, 0.001, 0.0005], [0.02, 0.006, 0.002]]])
    return model_with(mini, death, np.array([[0.05, 0.01, 0.002]]))


def test_same_seed_same_events_and_other_seed_other_events(busy_model):
    codes, entry, end = random_units(2000, seed=0)
    first = run(busy_model, codes, entry, end, key=11)
    assert same(first, run(busy_model, codes, entry, end, key=11))
    assert not same(first, run(busy_model, codes, entry, end, key=12))
    assert first.n_events.sum() > 500  # something happens


def test_chunking_with_row_offsets_gives_the_same_events(busy_model):
    codes, entry, end = random_units(2000, seed=1)
    whole = run(busy_model, codes, entry, end, key=5)
    halves = [run(busy_model, {"GROUP": codes["GROUP"][s]}, entry[s], end[s], key=5, row_offset=s.start)
              for s in (slice(0, 1000), slice(1000, 2000))]
    for field in ("n_events", "event_type", "event_time", "end", "terminal"):
        joined = np.concatenate([getattr(h, field) for h in halves])
        assert np.array_equal(getattr(whole, field), joined, equal_nan=True), field
    # and a wrong offset does change them: the offset is what aligns the streams
    shifted = run(busy_model, {"GROUP": codes["GROUP"][1000:]}, entry[1000:], end[1000:], key=5, row_offset=0)
    assert not np.array_equal(shifted.event_time, halves[1].event_time, equal_nan=True)


def test_thread_count_and_block_size_do_not_change_the_events(busy_model):
    codes, entry, end = random_units(2000, seed=2)
    previous = numba.get_num_threads()
    results = []
    try:
        for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            results.append(run(busy_model, codes, entry, end, key=3, block=64))
    finally:
        numba.set_num_threads(previous)
    assert numba.get_num_threads() == previous
    assert same(results[0], results[1])
    assert same(results[0], run(busy_model, codes, entry, end, key=3, block=100_000))


def test_every_event_lies_in_the_time_at_risk(busy_model):
    codes, entry, end = random_units(5000, seed=3)
    out = run(busy_model, codes, entry, end, key=1)
    slots = np.arange(out.event_type.shape[1])[None, :] < out.n_events[:, None]
    assert out.event_type.shape[1] == 2  # one slot per possible event: DEATH once, TREAT once
    times = np.where(slots, out.event_time, np.nan)
    assert (times[slots] >= np.repeat(entry, out.n_events)).all()
    assert (times[slots] < np.repeat(end, out.n_events)).all()
    assert (np.diff(times, axis=1)[slots[:, 1]] > 0).all()  # in time order
    assert np.isnan(out.event_time[~slots]).all() and (out.event_type[~slots] == -1).all()
    died = out.terminal == 0
    assert died.any() and (~died).any()
    last = out.event_time[np.arange(len(entry)), np.maximum(out.n_events - 1, 0)]
    assert np.array_equal(out.end[died], last[died])  # a death ends the process at its time
    assert np.array_equal(out.end[~died], end[~died])  # otherwise at the end of the time at risk
    for e in range(2):
        assert ((out.event_type == e).sum(axis=1) <= 1).all()


def test_zero_hazards_mean_no_events_and_the_unit_runs_to_its_end(mini):
    death = np.zeros((2, 2, 3))
    death[0] = 0.02  # group a can die; group b has zero hazards, and nobody is treated
    model = model_with(mini, death, np.zeros((1, 3)))
    codes, entry, end = random_units(3000, seed=4)
    out = run(model, codes, entry, end, key=9)
    b = codes["GROUP"] == 1
    assert (out.n_events[b] == 0).all() and (out.terminal[b] == -1).all()
    assert np.array_equal(out.end[b], end[b])
    assert (out.n_events[~b] > 0).mean() > 0.5  # group a is not silent: the test can tell


def test_constant_hazard_gives_exponential_waiting_times(mini):
    lam = 0.02
    model = model_with(mini, np.full((2, 2, 3), lam), np.zeros((1, 3)))
    n = 20_000
    codes = {"GROUP": np.arange(n) % 2}
    out = run(model, codes, np.zeros(n), np.full(n, float(HORIZON)), key=21)
    # P(no death before the horizon) = exp(-20): every unit dies
    assert (out.terminal == 0).all()
    waits = out.end
    # mean of Exp(lam) is 1 / lam with SE (1 / lam) / sqrt(n) = 0.35 days; 5 SE has a two-sided
    # false-failure probability of 6e-7 (CLT is accurate at n = 20,000 for an exponential)
    se = (1 / lam) / math.sqrt(n)
    assert abs(waits.mean() - 1 / lam) < 5 * se
    # and the spread: the SD of Exp(lam) is 1 / lam as well (SE of the sample SD ~ sqrt(2) / lam / sqrt(n))
    assert abs(waits.std() - 1 / lam) < 5 * math.sqrt(2) * se


def test_piecewise_hazard_crosses_intervals_exactly(mini):
    # hazards 0.05, 0.01, 0.002 on [0, 10), [10, 100), [100, 1000): P(T < 10) = 1 - exp(-0.5) and
    # P(T < 100) = 1 - exp(-1.4); units entering at day 50 survive to 100 w.p. exp(-0.5)
    model = model_with(mini, np.array([0.05, 0.01, 0.002]), np.zeros((1, 3)))
    n = 20_000
    codes = {"GROUP": np.zeros(n, dtype=np.int64)}
    entry = np.where(np.arange(n) < n // 2, 0.0, 50.0)
    out = run(model, codes, entry, np.full(n, float(HORIZON)), key=33)
    t, fresh = out.end, entry == 0
    checks = [((t[fresh] < 10).mean(), 1 - math.exp(-0.5), fresh.sum()),
              ((t[fresh] < 100).mean(), 1 - math.exp(-1.4), fresh.sum()),
              ((t[~fresh] < 100).mean(), 1 - math.exp(-0.5), (~fresh).sum())]
    for observed, expected, m in checks:
        # binomial SE; 5 SE per check, three checks: false failure < 2e-6
        assert abs(observed - expected) < 5 * math.sqrt(expected * (1 - expected) / m), (observed, expected)
    assert (t[~fresh] >= 50).all()


def test_competing_risks_and_history(mini):
    # TREAT at 0.03 and DEATH at 0.01 before treatment: the first event is TREAT w.p. 0.75; after it
    # DEATH runs at 0.05, so the time from treatment to death is Exp(0.05) (mean 20 days)
    death = np.zeros((2, 2, 3))
    death[:, 0, :], death[:, 1, :] = 0.01, 0.05
    model = model_with(mini, death, np.full((1, 3), 0.03))
    n = 20_000
    out = run(model, {"GROUP": np.arange(n) % 2}, np.zeros(n), np.full(n, float(HORIZON)), key=44)
    first_is_treat = out.event_type[:, 0] == 1
    se = math.sqrt(0.75 * 0.25 / n)
    assert abs(first_is_treat.mean() - 0.75) < 5 * se
    treated = first_is_treat & (out.terminal == 0)
    assert treated.sum() > 0.99 * first_is_treat.sum()  # censoring at 1000 is negligible
    gap = out.event_time[treated, 1] - out.event_time[treated, 0]
    assert abs(gap.mean() - 20.0) < 5 * 20.0 / math.sqrt(treated.sum())
    assert (out.event_type[treated, 1] == 0).all()


def test_statistics_of_sampled_histories_recover_the_hazards(busy_model, mini):
    # the two kernels agree: events sampled from known hazards, counted back by the statistics
    # kernel, give D / E close to the hazard in every cell with enough expected events
    _, _, layout = mini
    n = 40_000
    codes, entry, end = random_units(n, seed=6)
    out = run(busy_model, codes, entry, end, key=8)
    slots = np.arange(out.event_type.shape[1])[None, :] < out.n_events[:, None]
    data = ProcessData(np.zeros(n), entry, out.end, np.concatenate([[0], np.cumsum(out.n_events)]),
                       out.event_type[slots], out.event_time[slots], codes)
    resolution = 100_000
    events, exposure = exact_statistics(layout, data, resolution)
    tested = 0
    for e, name in enumerate(layout.names):
        days = exposure[e] * (np.diff(layout.edges) / resolution)
        truth = busy_model.rates[name]
        expected = truth * days
        ok = expected >= 100
        # Poisson SE of D is sqrt(expected); 5 SE per cell over at most 15 cells: false failure < 1e-5
        z = (events[e][ok] - expected[ok]) / np.sqrt(expected[ok])
        assert (np.abs(z) < 5).all(), (name, z)
        tested += int(ok.sum())
    assert tested >= 8
