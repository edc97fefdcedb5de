"""The duration form of an event process: data without dates (a trial's survival time and status).

A one-table schema declares ``events: horizon: 1000`` and a process timed by the integer column
``DAYS`` with status ``EVENT`` (1 progression, 0 censored), a terminal PROGRESSION given the arm
and a terminal DROPOUT (censoring before the horizon, status 0) given nothing; hazard intervals
[0, 30), [30, 200) and [200, 1001) days (follow-up ends at the end of day 1000).

* Parsing: the shipped GBSG2 files, round trips, and one clear :class:`SchemaError` per mistake.
* Reading: the clock of :mod:`bayesgen.events.histories` on hand-made rows (event at ``d + 0.5``,
  censoring at ``d + 1``, the horizon censoring everyone at the end of its day).
* Fitting: at ε = ∞ the hazards are the occurrence/exposure rates of the rows, and, on durations
  simulated from known piecewise-constant competing hazards, within Poisson tolerance of the truth.
* Sampling: durations are whole days in ``[0, horizon]`` with a status consistent with them, and
  a refit of a large synthetic sample recovers the model's hazards within Poisson tolerance.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import bayesgen as bg
from bayesgen import Schema, SchemaError, Structure, StructureError
from bayesgen.events.histories import horizon_days, process_data_from_tables
from bayesgen.schema.check import check_tables
from bayesgen.schema.encode import encode_tables

HORIZON = 1000
EDGES = np.array([0.0, 30.0, 200.0, HORIZON + 1.0])
LENGTHS = np.diff(EDGES)
RESOLUTION = 100_000
ALPHA = 1e-3
# true hazards per day: PROGRESSION by arm (a, b) and interval, DROPOUT by interval
PROGRESSION = np.array([[0.004, 0.0015, 0.0006], [0.002, 0.001, 0.0003]])
DROPOUT = np.array([0.0003, 0.0004, 0.0008])

SCHEMA = {
    "spec_version": 1, "name": "trial", "root_table": "P",
    "tables": {"P": {"primary_key": "PID", "columns": [
        {"name": "PID", "type": "id"},
        {"name": "ARM", "type": "categorical", "categories": ["a", "b"]},
        {"name": "DAYS", "type": "integer", "min": 0, "max": HORIZON, "bins": [0, 100, HORIZON + 1]},
        {"name": "EVENT", "type": "integer", "min": 0, "max": 1, "bins": [0, 1, 2]},
    ]}},
    "events": {"horizon": HORIZON, "intervals": [0, 30, 200], "resolution": RESOLUTION, "processes": [
        {"name": "pfs", "unit": "P", "duration": "DAYS", "status": "EVENT", "censored_status": 0,
         "events": [{"name": "PROGRESSION", "kind": "terminal", "status": 1},
                    {"name": "DROPOUT", "kind": "terminal", "status": 0}]}]},
}
STRUCTURE = {"spec_version": 1, "nodes": ["ARM", "DAYS", "EVENT"], "edges": [],
             "events": {"PROGRESSION": {"given": ["ARM"]}, "DROPOUT": {"given": []}}}


def load(schema_doc=SCHEMA, structure_doc=STRUCTURE) -> tuple[Schema, Structure]:
    schema = Schema.from_dict(copy.deepcopy(schema_doc), source="trial")
    structure = Structure.from_dict(copy.deepcopy(structure_doc), source="trial")
    structure.validate_for(schema)
    return schema, structure


def schema_error(doc: dict) -> str:
    with pytest.raises(SchemaError) as raised:
        Schema.from_dict(doc, source="test-schema")
    return str(raised.value)


def process_doc(doc: dict) -> dict:
    return doc["events"]["processes"][0]


def column_doc(doc: dict, name: str) -> dict:
    return next(c for c in doc["tables"]["P"]["columns"] if c["name"] == name)


def set_column(doc: dict, body: dict) -> None:
    columns = doc["tables"]["P"]["columns"]
    columns[next(i for i, c in enumerate(columns) if c["name"] == body["name"])] = body


# -- the shipped GBSG2 files ---------------------------------------------------------------------
def test_gbsg2_declares_recurrence_free_survival_as_a_duration_process():
    schema, structure = Schema.load("gbsg2"), Structure.load("gbsg2")
    events = schema.events
    assert events.uses_durations and events.horizon == 3000 and events.cutoff_day is None
    process = events.process("recurrence_free_survival")
    assert (process.unit, process.origin, process.duration, process.status, process.censored_status) == \
        ("GBSG2", None, "time", "cens", "0")
    assert [(e.name, e.kind, e.status) for e in process.events] == [
        ("RECURRENCE", "terminal", "1"), ("LOSS_TO_FOLLOW_UP", "terminal", "0")]
    assert events.written_columns == {"cens": "recurrence_free_survival", "time": "recurrence_free_survival"}
    assert horizon_days(schema) == 3001  # the end of day 3000
    structure.validate_for(schema)
    assert set(structure.event_nodes(schema)) == {"time", "cens"}
    assert all(structure.parents(node) == () for node in ("time", "cens"))
    assert [g.variable for g in structure.events.of("RECURRENCE").given] == ["pnodes"]


def test_duration_form_round_trips_through_dicts_and_files(tmp_path):
    schema, structure = load()
    assert Schema.from_dict(schema.to_dict()) == schema
    assert schema.to_dict()["events"]["horizon"] == HORIZON and "cutoff" not in schema.to_dict()["events"]
    schema.save(tmp_path / "schema.yaml")
    assert Schema.load(tmp_path / "schema.yaml").events == schema.events
    shipped = Schema.load("gbsg2")
    assert Schema.from_dict(shipped.to_dict()) == shipped


def test_a_categorical_status_column_works_too():
    doc = copy.deepcopy(SCHEMA)
    set_column(doc, {"name": "EVENT", "type": "categorical", "categories": ["censored", "progressed"]})
    process = process_doc(doc)
    process["censored_status"] = "censored"
    process["events"][0]["status"], process["events"][1]["status"] = "progressed", "censored"
    assert Schema.from_dict(doc).events.processes[0].censored_status == "censored"


# -- schema mistakes -----------------------------------------------------------------------------
def mutated(change) -> dict:
    doc = copy.deepcopy(SCHEMA)
    change(doc)
    return doc


def _set(path: list, value):
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _continuous_status(doc):
    doc["tables"]["P"]["columns"].append({"name": "WEIGHT", "type": "continuous", "min": 0, "max": 200,
                                          "bins": [0, 200]})
    process_doc(doc)["status"] = "WEIGHT"


def _add_child_with_rows_from_event(doc):
    process_doc(doc)["events"].append({"name": "VISIT", "kind": "recurrent", "max": 2})
    doc["tables"]["V"] = {"parent": {"table": "P", "key": "PID"}, "max_rows_per_parent": 2,
                          "rows_from_event": "VISIT", "columns": [
                              {"name": "PID", "type": "id"},
                              {"name": "VDATE", "type": "date", "min": "2020-01-01", "max": "2022-12-31",
                               "bins": ["2020-01-01", "2023-01-01"]}]}


MISTAKES = {
    "cutoff and horizon": (_set(["events", "cutoff"], "2021-12-31"), ["'cutoff'", "'horizon'", "not both"]),
    "neither": (lambda d: d["events"].pop("horizon"), ["needs 'cutoff'", "'horizon'"]),
    "horizon zero": (_set(["events", "horizon"], 0), ["horizon 0", "positive whole number"]),
    "horizon fraction": (_set(["events", "horizon"], 1000.5), ["horizon 1000.5", "whole number"]),
    "horizon boolean": (_set(["events", "horizon"], True), ["horizon True"]),
    "horizon text": (_set(["events", "horizon"], "1000"), ["horizon '1000'"]),
    "interval beyond the horizon": (_set(["events", "intervals"], [0, 30, 1000]),
                                    ["intervals must start before the horizon", "1000"]),
    "origin": (lambda d: process_doc(d).update(origin="DAYS"), ["pfs", "['origin']", "duration process"]),
    "date": (lambda d: process_doc(d).update(date="DAYS"), ["pfs", "['date']"]),
    "entry and ends_with": (lambda d: process_doc(d).update(entry="latest", ends_with="pfs"),
                            ["['entry', 'ends_with']"]),
    "no duration": (lambda d: process_doc(d).pop("duration"), ["pfs", "needs 'duration'", "integer column"]),
    "event date": (lambda d: process_doc(d)["events"].append({"name": "SCAN", "kind": "once", "date": "D"}),
                   ["SCAN", "has no dates", "'duration'"]),
    "terminal with a duration": (lambda d: process_doc(d)["events"][0].update(duration="DAYS"),
                                 ["event 1", "terminal event has no 'duration'"]),
    "date and duration": (lambda d: process_doc(d)["events"].append(
        {"name": "SCAN", "kind": "once", "date": "D", "duration": "E"}), ["'date' or a 'duration', not both"]),
    "no terminal event": (lambda d: process_doc(d).update(events=[{"name": "SCAN", "kind": "once"}]),
                          ["pfs", "needs a terminal event"]),
    "duration not a column": (lambda d: process_doc(d).update(duration="FOLLOWUP"),
                              ["duration FOLLOWUP is not a column of P"]),
    "duration categorical": (lambda d: process_doc(d).update(duration="ARM"),
                             ["duration ARM must be a modelled integer column", "categorical"]),
    "duration min": (lambda d: column_doc(d, "DAYS").update(min=1, bins=[1, 100, 1001]), ["DAYS", "min 0"]),
    "duration max": (lambda d: column_doc(d, "DAYS").update(max=900, bins=[0, 100, 901]),
                     ["DAYS has max 900", "below the horizon (1000 days)"]),
    "duration missing": (lambda d: column_doc(d, "DAYS").update(missing=True),
                         ["DAYS", "cannot allow missing values"]),
    "status without a bin of its own": (lambda d: column_doc(d, "EVENT").update(bins=[0, 2]),
                                        ["'0' is not a value of EVENT with a bin of its own", "[v, v + 1)"]),
    "status outside the column": (lambda d: process_doc(d)["events"][0].update(status=2),
                                  ["'2' is not a value of EVENT"]),
    "status boolean": (lambda d: process_doc(d)["events"][0].update(status=True), ["status True is a boolean"]),
    "shared status": (lambda d: process_doc(d)["events"][1].update(status=1),
                      ["terminal events share status ['1']"]),
    "status not categorical or integer": (_continuous_status, ["status WEIGHT must be a categorical column of P"]),
    "rows from a duration event": (_add_child_with_rows_from_event, ["table V", "VISIT", "has no dates"]),
    "a column written twice": (lambda d: process_doc(d)["events"].append(
        {"name": "SCAN", "kind": "once", "duration": "DAYS"}), ["['DAYS'] written twice"]),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_is_a_schema_error_naming_it(mistake):
    change, expected = MISTAKES[mistake]
    message = schema_error(mutated(change))
    for text in expected:
        assert text in message, (mistake, text, message)


def test_event_duration_column_must_allow_missing_values():
    doc = copy.deepcopy(SCHEMA)
    doc["tables"]["P"]["columns"].append({"name": "SCAN_DAYS", "type": "integer", "min": 0, "max": HORIZON,
                                          "bins": [0, HORIZON + 1]})
    process_doc(doc)["events"].append({"name": "SCAN", "kind": "once", "duration": "SCAN_DAYS"})
    message = schema_error(doc)
    assert "duration of SCAN SCAN_DAYS" in message and "must allow missing values" in message
    column_doc(doc, "SCAN_DAYS")["missing"] = True
    assert Schema.from_dict(doc).events.written_columns["SCAN_DAYS"] == "pfs"


def test_a_dated_section_refuses_duration_processes_and_events():
    doc = Schema.load("simulacrum_v2_core").to_dict()
    survival = next(p for p in doc["events"]["processes"] if p["name"] == "survival")
    survival["duration"] = "VITALSTATUSDATE"
    assert "'duration' belongs to a duration process" in schema_error(copy.deepcopy(doc))
    del survival["duration"]
    surgery = next(p for p in doc["events"]["processes"] if p["name"] == "surgery")
    surgery["events"][0] = {"name": "SURGERY", "kind": "once", "duration": "DATE_FIRST_SURGERY"}
    message = schema_error(doc)
    assert "SURGERY" in message and "this process is dated" in message


def test_structure_mistakes_on_the_written_columns():
    schema, _ = load()
    edge = copy.deepcopy(STRUCTURE)
    edge["edges"] = [{"from": "ARM", "to": "DAYS"}]
    with pytest.raises(StructureError, match="ARM -> DAYS.*written by the events module"):
        Structure.from_dict(edge).validate_for(schema)
    given = copy.deepcopy(STRUCTURE)
    given["events"]["DROPOUT"]["given"] = ["EVENT"]
    with pytest.raises(StructureError, match="DROPOUT.*EVENT is written by the events module"):
        Structure.from_dict(given).validate_for(schema)


# -- reading durations: the clock ----------------------------------------------------------------
def read(schema, frame):
    encoded = encode_tables({"P": frame}, schema)
    process = schema.events.processes[0]
    data = process_data_from_tables(encoded, schema, process, {"ARM"}, {})
    events = [[(int(data.event_type[k]), float(data.event_time[k]))
               for k in range(data.unit_start[i], data.unit_start[i + 1])] for i in range(data.n_units)]
    return data, events


def hand_made(days, status):
    n = len(days)
    return pd.DataFrame({"PID": np.arange(1, n + 1), "ARM": ["a"] * n, "DAYS": days, "EVENT": status})


@pytest.mark.parametrize("status_type", ["integer", "categorical"])
def test_hand_made_rows_on_the_documented_clock(status_type):
    doc = copy.deepcopy(SCHEMA)
    status = [1, 0, 0, 1, 1, 0]
    if status_type == "categorical":  # the same rows with a categorical 0/1 status column
        set_column(doc, {"name": "EVENT", "type": "categorical", "categories": ["0", "1"]})
        status = [str(s) for s in status]
    schema, _ = load(doc)
    # progression on day 10; dropout on day 20; censored at the horizon; progression on the last day;
    # progression on day 0; dropout on the day before the last
    data, events = read(schema, hand_made([10, 20, HORIZON, HORIZON, 0, HORIZON - 1], status))
    assert data.origin_day.tolist() == [0] * 6 and data.entry.tolist() == [0] * 6
    assert events == [[(0, 10.5)], [(1, 20.5)], [], [(0, HORIZON + 0.5)], [(0, 0.5)], [(1, HORIZON - 0.5)]]
    assert data.end.tolist() == [10.5, 20.5, HORIZON + 1, HORIZON + 0.5, 0.5, HORIZON - 0.5]
    assert data.dropped == {}


def test_without_a_dropout_event_earlier_censoring_is_censoring():
    doc = copy.deepcopy(SCHEMA)
    process_doc(doc)["events"].pop()
    structure = copy.deepcopy(STRUCTURE)
    del structure["events"]["DROPOUT"]
    schema, _ = load(doc, structure)
    data, events = read(schema, hand_made([20, HORIZON, 5], [0, 0, 1]))
    assert events == [[], [], [(0, 5.5)]]
    assert data.end.tolist() == [21.0, HORIZON + 1, 5.5]  # seen free of progression on day 20: at risk until 21


def test_durations_beyond_the_horizon_are_censored_there_and_reported():
    doc = copy.deepcopy(SCHEMA)
    column_doc(doc, "DAYS").update(max=5000, bins=[0, 100, 5001])
    schema, _ = load(doc)
    data, events = read(schema, hand_made([1500, 1500, 999], [1, 0, 1]))
    assert events == [[], [], [(0, 999.5)]]
    assert data.end.tolist() == [HORIZON + 1, HORIZON + 1, 999.5]
    assert data.dropped == {"PROGRESSION after the end of follow-up": 1}


def test_once_event_durations_are_read_and_written():
    doc = copy.deepcopy(SCHEMA)
    doc["tables"]["P"]["columns"].append({"name": "SCAN_DAYS", "type": "integer", "min": 0, "max": HORIZON,
                                          "bins": [0, HORIZON + 1], "missing": True})
    process_doc(doc)["events"].append({"name": "SCAN", "kind": "once", "duration": "SCAN_DAYS"})
    structure = copy.deepcopy(STRUCTURE)
    structure["nodes"].append("SCAN_DAYS")
    structure["events"]["SCAN"] = {"given": []}
    schema, structure = load(doc, structure)
    frame = hand_made([10, 10, HORIZON], [1, 1, 0]).assign(SCAN_DAYS=pd.array([5, 50, None], dtype="Int64"))
    data, events = read(schema, frame)
    assert events == [[(2, 5.5), (0, 10.5)], [(0, 10.5)], []]
    assert data.dropped == {"SCAN": 1}  # recorded after the unit's progression: outside its time at risk
    # sampled: present exactly when it happened, never after the process's end
    rng = np.random.default_rng(5)
    n = 4000
    days = rng.integers(0, HORIZON + 1, n)
    scan = np.where(rng.random(n) < 0.5, np.minimum(days, rng.integers(0, HORIZON, n)), -1)
    real = hand_made(days, (days < HORIZON).astype(int)).assign(
        SCAN_DAYS=pd.Series(scan, dtype="Int64").where(scan >= 0, pd.NA))
    sample = bg.Synthesizer(schema, structure, epsilon=math.inf).fit({"P": real}).sample(n, rng=1)["P"]
    scanned = sample["SCAN_DAYS"].notna()
    assert sample["SCAN_DAYS"].dtype == "Int64" and 0.2 < scanned.mean() < 0.8
    assert (sample["SCAN_DAYS"][scanned] <= sample["DAYS"][scanned]).all()
    assert (sample["SCAN_DAYS"][scanned] >= 0).all()


# -- fitting and sampling against known hazards ---------------------------------------------------
def simulate(n: int, seed: int, dropout: np.ndarray = DROPOUT) -> pd.DataFrame:
    """Durations from the piecewise-constant competing hazards, floored to days, censored at the horizon.

    The total hazard's cumulative function is inverted at an Exp(1) draw; the cause is drawn in
    proportion to the cause-specific hazards of the interval the time falls in. A time at or after
    the end of day ``HORIZON`` is censored there (``DAYS = HORIZON, EVENT = 0``).
    """
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    total = PROGRESSION[arm] + dropout[None, :]
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(total * LENGTHS, axis=1)], axis=1)
    target = rng.exponential(size=n)
    interval = (cumulative[:, 1:] < target[:, None]).sum(axis=1)  # 3: beyond the horizon
    inside = interval < 3
    j = np.minimum(interval, 2)
    rows = np.arange(n)
    time = EDGES[j] + (target - cumulative[rows, j]) / total[rows, j]
    progression = rng.random(n) < PROGRESSION[arm, j] / total[rows, j]
    days = np.where(inside, np.floor(time), HORIZON).astype(np.int64)
    event = (inside & progression).astype(np.int64)
    return pd.DataFrame({"PID": np.arange(1, n + 1), "ARM": np.array(["a", "b"])[arm], "DAYS": days, "EVENT": event})


def occurrence_exposure(frame: pd.DataFrame):
    """Independent D and E (days), and pieces, per (arm, interval) for PROGRESSION and per interval for
    DROPOUT, from the rows on the documented clock."""
    days = frame["DAYS"].to_numpy(dtype=float)
    status = frame["EVENT"].to_numpy(dtype=int)
    arm = (frame["ARM"] == "b").to_numpy(dtype=int)
    progressed = status == 1
    dropped_out = (status == 0) & (days < HORIZON)
    end = np.where(progressed | dropped_out, days + 0.5, HORIZON + 1.0)
    overlap = np.clip(np.minimum(end[:, None], EDGES[None, 1:]) - EDGES[None, :-1], 0, None)
    interval = np.searchsorted(EDGES[1:-1], end, side="right")
    out = {}
    for name, happened, cells in (("PROGRESSION", progressed, arm), ("DROPOUT", dropped_out, np.zeros_like(arm))):
        n_cells = int(cells.max()) + 1 if name == "PROGRESSION" else 1
        d = np.zeros((n_cells, 3))
        np.add.at(d, (cells[happened], interval[happened]), 1)
        e = np.stack([np.bincount(cells, overlap[:, j], minlength=n_cells) for j in range(3)], axis=1)
        pieces = np.stack([np.bincount(cells, overlap[:, j] > 0, minlength=n_cells) for j in range(3)], axis=1)
        out[name] = (d, e, pieces)
    return out


def flat_rates(model, name: str) -> np.ndarray:
    rate = model.events_.rates[name]
    return rate.reshape(-1, rate.shape[-1])  # (cells, intervals): one history state


@pytest.fixture(scope="module")
def recovery():
    schema, structure = load()
    real = simulate(40_000, seed=2026)
    model = bg.Synthesizer(schema, structure, epsilon=math.inf).fit({"P": real})
    return schema, structure, real, model


def test_the_layout_runs_to_the_end_of_the_horizon_day(recovery):
    _, _, _, model = recovery
    layout = model.events_.layouts["pfs"]
    assert model.events_.horizon == HORIZON + 1 and layout.edges.tolist() == EDGES.tolist()
    assert layout.shapes == [(2, 1, 3), (1, 3)]


@pytest.mark.parametrize("name", ["PROGRESSION", "DROPOUT"])
def test_fitted_hazard_is_the_occurrence_exposure_rate_of_the_rows(recovery, name):
    """Deterministic: D / E computed here from DAYS and EVENT, up to the documented flooring of the
    exposure (one unit of interval length / resolution days per piece, which can only lower E)."""
    _, _, real, model = recovery
    d, e, pieces = occurrence_exposure(real)[name]
    rate = flat_rates(model, name)
    low = d / e
    floored = e - pieces * LENGTHS / RESOLUTION
    high = d / floored
    assert ((rate >= low * (1 - 1e-9)) & (rate <= high * (1 + 1e-9))).all(), (rate, low, high)


@pytest.mark.parametrize("name", ["PROGRESSION", "DROPOUT"])
def test_fitted_hazard_is_within_poisson_tolerance_of_the_truth(recovery, name):
    """Every cell expects at least 300 events (true hazard x exposure), so the occurrence/exposure
    rate is close to normal with SE sqrt(expected) / E; the test allows z SEs, z the two-sided
    Bonferroni quantile for a family-wise false-failure rate of 0.001 over the 9 cells (z = 3.9).
    Placing a floored event at mid-day moves E by at most half a day per event (relative bias
    below 0.5 x the hazard, at most 0.2 %), and dropouts on the last day are read as censoring at
    the horizon (a day's dropout hazard of the ~10,000 units reaching it, about 8 of the 11,000
    late dropouts, 0.07 %): both a small fraction of one SE (at least 0.9 % of the rate here). A
    wrong interval, arm or clock moves cells by many SEs."""
    _, _, real, model = recovery
    _, e, _ = occurrence_exposure(real)[name]
    truth = PROGRESSION if name == "PROGRESSION" else DROPOUT[None, :]
    expected = truth * e
    assert expected.min() >= 300, expected.min()
    z = norm.isf(ALPHA / (2 * 9))
    se = np.sqrt(expected) / e
    error = np.abs(flat_rates(model, name) - truth)
    assert (error <= z * se).all(), (name, error / se)


@pytest.fixture(scope="module")
def synthetic(recovery):
    _, _, _, model = recovery
    return model.sample(40_000, rng=7)["P"]


def test_sampled_durations_are_whole_days_within_the_horizon_with_a_consistent_status(recovery, synthetic):
    schema, structure, _, _ = recovery
    days, event = synthetic["DAYS"], synthetic["EVENT"]
    assert days.dtype == "Int64" and event.dtype == "Int64" and days.notna().all() and event.notna().all()
    assert days.min() >= 0 and days.max() == HORIZON
    assert set(event.unique().tolist()) == {0, 1}
    at_horizon = days == HORIZON
    # censored at the horizon, progressed earlier (or on the last day), dropped out earlier: all three
    assert (at_horizon & (event == 0)).sum() > 1000
    assert ((~at_horizon) & (event == 1)).sum() > 10_000 and ((~at_horizon) & (event == 0)).sum() > 1000
    assert check_tables({"P": synthetic}, schema, structure) == []


def test_a_refit_of_the_synthetic_sample_recovers_the_models_hazards(recovery, synthetic):
    """The sample's true hazards are the model's; a refit at ε = ∞ must find them within the Poisson
    tolerance above (same z, cells with at least 300 expected events). This checks that the sampler's
    continuous times, floored to durations, and the reader's mid-day placement share one clock."""
    schema, structure, _, model = recovery
    refit = bg.Synthesizer(schema, structure, epsilon=math.inf).fit({"P": synthetic})
    statistics = occurrence_exposure(synthetic)
    tested = 0
    z = norm.isf(ALPHA / (2 * 9))
    for name in ("PROGRESSION", "DROPOUT"):
        truth = flat_rates(model, name)
        e = statistics[name][1]
        expected = truth * e
        ok = expected >= 300
        error = np.abs(flat_rates(refit, name) - truth)
        assert (error[ok] <= z * np.sqrt(expected[ok]) / e[ok]).all(), (name, (error / (np.sqrt(expected) / e)))
        tested += int(ok.sum())
    assert tested == 9


def test_without_a_dropout_event_every_synthetic_unit_is_followed_to_the_horizon():
    doc = copy.deepcopy(SCHEMA)
    process_doc(doc)["events"].pop()
    structure = copy.deepcopy(STRUCTURE)
    del structure["events"]["DROPOUT"]
    schema, structure = load(doc, structure)
    real = simulate(5_000, seed=3, dropout=np.zeros(3))
    sample = bg.Synthesizer(schema, structure, epsilon=math.inf).fit({"P": real}).sample(5_000, rng=2)["P"]
    censored = sample["EVENT"] == 0
    assert censored.sum() > 500 and (sample["DAYS"][censored] == HORIZON).all()
    assert (sample["EVENT"][sample["DAYS"] < HORIZON] == 1).all()


def test_the_same_seed_gives_the_same_durations_and_a_saved_model_too(recovery, synthetic, tmp_path):
    _, _, _, model = recovery
    pd.testing.assert_frame_equal(model.sample(40_000, rng=7)["P"], synthetic)
    model.save(tmp_path / "model.json")
    again = bg.Synthesizer.load(tmp_path / "model.json")
    pd.testing.assert_frame_equal(again.sample(1_000, rng=3)["P"], model.sample(1_000, rng=3)["P"])


def test_a_private_fit_charges_the_documented_measurements():
    schema, structure = load()
    model = bg.Synthesizer(schema, structure, epsilon=1.0).fit({"P": simulate(3_000, seed=4)})
    assert abs(model.ledger_["spent"] - 1.0) < 1e-9
    measured = [e for e in model.ledger_["entries"] if e["what"].startswith(("life table of", "event counts of",
                                                                             "exposure of"))]
    # both terminal events end one spell: a single life table, each patient leaving it once (a duration
    # process has no late entry), with the whole events budget
    assert len(measured) == 1 and measured[0]["what"].endswith(": PROGRESSION+DROPOUT (exits and entries)")
    assert measured[0]["sensitivity"] == 1
    sample = model.sample(2_000, rng=1)["P"]
    assert sample["DAYS"].between(0, HORIZON).all() and sample["EVENT"].isin([0, 1]).all()


# -- other units and consumers of durations --------------------------------------------------------
def test_an_outcome_node_may_depend_on_the_written_duration():
    doc = copy.deepcopy(SCHEMA)
    column_doc(doc, "DAYS")["bins"] = [0, 500, HORIZON + 1]
    doc["tables"]["P"]["columns"].append({"name": "LONG", "type": "categorical", "categories": ["no", "yes"]})
    structure = copy.deepcopy(STRUCTURE)
    structure["nodes"].append("LONG")
    structure["edges"] = [{"from": "DAYS", "to": "LONG"}]
    schema, structure = load(doc, structure)
    real = simulate(3_000, seed=5)
    real["LONG"] = np.where(real["DAYS"] >= 500, "yes", "no")
    sample = bg.Synthesizer(schema, structure, epsilon=math.inf).fit({"P": real}).sample(3_000, rng=1)["P"]
    # the CPT of LONG given the duration's bin is deterministic in the data, so in the sample too
    assert ((sample["DAYS"] >= 500) == (sample["LONG"] == "yes")).all()


def test_a_duration_process_over_a_child_table():
    schema = Schema.from_dict({
        "spec_version": 1, "name": "lesions", "root_table": "P", "tables": {
            "P": {"primary_key": "PID", "columns": [{"name": "PID", "type": "id"},
                                                    {"name": "SEX", "type": "categorical", "categories": ["1", "2"]}]},
            "T": {"primary_key": "TID", "parent": {"table": "P", "key": "PID"}, "max_rows_per_parent": 2,
                  "min_rows_per_parent": 1, "count_variable": "NT", "columns": [
                      {"name": "TID", "type": "id"}, {"name": "PID", "type": "id"},
                      {"name": "GRADE", "type": "categorical", "categories": ["1", "2"]},
                      {"name": "DAYS", "type": "integer", "min": 0, "max": 500, "bins": [0, 501]},
                      {"name": "EVENT", "type": "categorical", "categories": ["censored", "relapse"]}]}},
        "events": {"horizon": 500, "intervals": [0, 100], "processes": [
            {"name": "relapse", "unit": "T", "duration": "DAYS", "status": "EVENT", "censored_status": "censored",
             "events": [{"name": "RELAPSE", "kind": "terminal", "status": "relapse"}]}]}})
    structure = Structure.from_dict({"spec_version": 1, "nodes": ["SEX", "NT", "GRADE", "DAYS", "EVENT"],
                                     "edges": [{"from": "SEX", "to": "GRADE"}],
                                     "events": {"RELAPSE": {"given": ["GRADE"]}}})
    rng = np.random.default_rng(0)
    persons = pd.DataFrame({"PID": np.arange(1, 1001), "SEX": rng.choice(["1", "2"], 1000)})
    per_person = rng.integers(1, 3, 1000)
    lesions = pd.DataFrame({"TID": np.arange(1, per_person.sum() + 1), "PID": np.repeat(persons["PID"], per_person),
                            "GRADE": rng.choice(["1", "2"], per_person.sum())})
    time = rng.exponential(np.where(lesions["GRADE"] == "1", 600.0, 200.0))
    lesions["DAYS"] = np.minimum(np.floor(time), 500).astype(int)
    lesions["EVENT"] = np.where(time < 501, "relapse", "censored")
    model = bg.Synthesizer(schema, structure, epsilon=math.inf).fit({"P": persons, "T": lesions})
    sample = model.sample(1_000, rng=1)["T"]
    assert sample["DAYS"].between(0, 500).all() and sample["EVENT"].notna().all()
    assert (sample["DAYS"][sample["EVENT"] == "censored"] == 500).all()
    relapsed = (sample["EVENT"] == "relapse").groupby(sample["GRADE"], observed=True).mean()
    assert relapsed["2"] > relapsed["1"] + 0.2  # the hazard's conditioning reached the child rows
