"""The declared half of the time-to-event module: the schema's and the structure's ``events`` sections.

Round trips of the shipped files, and one clear :class:`SchemaError` / :class:`StructureError` per
kind of mistake, naming what is wrong (the event, column, table, category or edge at fault).
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import yaml

from bayesgen import Schema, SchemaError, Structure, StructureError

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "schemas" / "simulacrum_v2_core.yaml"
STRUCTURE_FILE = REPO / "structures" / "simulacrum_v2_core.yaml"


@pytest.fixture(scope="module")
def shipped():
    return Schema.load(SCHEMA_FILE), Structure.load(STRUCTURE_FILE)


@pytest.fixture()
def schema_doc(shipped):
    return copy.deepcopy(shipped[0].to_dict())


@pytest.fixture()
def structure_doc(shipped):
    return copy.deepcopy(shipped[1].to_dict())


def process_doc(doc: dict, name: str) -> dict:
    return next(p for p in doc["events"]["processes"] if p["name"] == name)


def schema_error(doc: dict) -> str:
    with pytest.raises(SchemaError) as raised:
        Schema.from_dict(doc, source="test-schema")
    return str(raised.value)


def structure_error(doc: dict, schema: Schema) -> str:
    with pytest.raises(StructureError) as raised:
        Structure.from_dict(doc, source="test-structure").validate_for(schema)
    return str(raised.value)


# -- what the shipped files declare --------------------------------------------------------------
def test_shipped_schema_declares_the_survival_and_surgery_processes(shipped):
    schema, _ = shipped
    events = schema.events
    assert events.cutoff_day == (np.datetime64("2021-12-31") - np.datetime64("1970-01-01")).astype(int)
    assert events.intervals == (0, 30, 91, 182, 365, 730, 1826)
    assert [p.name for p in events.processes] == ["survival", "surgery"]
    assert {name: (p.name, e.kind) for name, (p, e) in events.event_types.items()} == {
        "DEATH": ("survival", "terminal"), "EXIT": ("survival", "terminal"), "SURGERY": ("surgery", "once")}
    assert events.written_columns == {"VITALSTATUS": "survival", "VITALSTATUSDATE": "survival",
                                      "DATE_FIRST_SURGERY": "surgery"}
    survival = events.process("survival")
    assert (survival.unit, survival.entry, survival.censored_status) == ("SIM_AV_PATIENT", "latest", "A")
    assert events.process("surgery").ends_with == "survival"


def test_shipped_structure_conditions_every_declared_event(shipped):
    schema, structure = shipped
    structure.validate_for(schema)
    assert set(structure.events.to_dict()) == set(schema.events.event_types)
    assert [g.variable for g in structure.events.of("DEATH").given] == ["STAGE_BEST", "AGE"]
    assert structure.events.of("EXIT").given == ()
    # the event-written columns are nodes without parents
    assert set(structure.event_nodes(schema)) == set(schema.events.written_columns)
    assert all(structure.parents(node) == () for node in structure.event_nodes(schema))


# -- round trips ---------------------------------------------------------------------------------
def test_schema_round_trip_keeps_the_events(shipped):
    schema, _ = shipped
    again = Schema.from_dict(schema.to_dict())
    assert again.events == schema.events
    assert again == schema


def test_structure_round_trip_keeps_the_events(shipped):
    schema, structure = shipped
    again = Structure.from_dict(structure.to_dict())
    assert again.events == structure.events
    assert again == structure
    again.validate_for(schema)


def test_files_round_trip_keep_the_events_and_group_order(shipped, tmp_path):
    schema, structure = shipped
    schema.save(tmp_path / "schema.yaml")
    structure.save(tmp_path / "structure.yaml")
    assert Schema.load(tmp_path / "schema.yaml").events == schema.events
    again = Structure.load(tmp_path / "structure.yaml")
    assert again.events == structure.events
    # group order defines the hazard layout: it must survive the file
    age = next(g for g in again.events.of("DEATH").given if g.variable == "AGE")
    assert [name for name, _ in age.groups] == ["<50", "50-64", "65-74", "75-84", "85+"]


def test_non_default_settings_round_trip(schema_doc):
    schema_doc["events"]["resolution"] = 250
    process_doc(schema_doc, "surgery")["events"].append({"name": "CHEMO", "kind": "recurrent", "max": 3})
    events = Schema.from_dict(schema_doc).events
    assert events.resolution == 250
    assert events.event_types["CHEMO"][1].max_count == 3
    assert Schema.from_dict(Schema.from_dict(schema_doc).to_dict()).events == events


def test_missing_state_group_round_trips_and_resolves(shipped, structure_doc):
    schema, _ = shipped
    structure_doc["events"]["SURGERY"]["given"] = [
        {"variable": "CANCERCAREPLANINTENT", "groups": {"active": ["C", "Z"], "none": ["X"], "unknown": ["9", None]}}]
    structure = Structure.from_dict(structure_doc)
    structure.validate_for(schema)
    assert Structure.from_dict(yaml.safe_load(yaml.safe_dump(structure.to_dict(), sort_keys=False))) == structure
    mapping, labels = structure.events.of("SURGERY").given[0].resolve(schema)
    assert labels == ("active", "none", "unknown")
    assert mapping.tolist() == [0, 0, 1, 2, 2]  # states C, Z, X, 9, missing


# -- schema mistakes -----------------------------------------------------------------------------
def test_unknown_event_kind(schema_doc):
    process_doc(schema_doc, "surgery")["events"][0]["kind"] = "sometimes"
    message = schema_error(schema_doc)
    assert "'sometimes'" in message and "kind" in message and "surgery" in message


def test_terminal_event_without_status(schema_doc):
    del process_doc(schema_doc, "survival")["events"][0]["status"]  # DEATH, the first event
    message = schema_error(schema_doc)
    assert "survival" in message and "event 1" in message and "'status'" in message


def test_non_terminal_event_with_status(schema_doc):
    process_doc(schema_doc, "surgery")["events"][0]["status"] = "D"
    message = schema_error(schema_doc)
    assert "surgery" in message and "status" in message


@pytest.mark.parametrize("intervals", [[0, 30, 30, 91], [0, 91, 30], [5, 30, 91], [0, 30.5, 91], []])
def test_intervals_must_increase_from_zero(schema_doc, intervals):
    schema_doc["events"]["intervals"] = intervals
    assert "intervals" in schema_error(schema_doc)


def test_unknown_unit_table(schema_doc):
    process_doc(schema_doc, "surgery")["unit"] = "SIM_AV_TUMOR"
    message = schema_error(schema_doc)
    assert "SIM_AV_TUMOR" in message and "not a table" in message


@pytest.mark.parametrize("origin", ["AGE", "DATE_FIRST_SURGERY"])
def test_origin_must_be_an_absolute_date(schema_doc, origin):
    # AGE is an integer; DATE_FIRST_SURGERY is a date relative to the diagnosis
    process_doc(schema_doc, "surgery")["origin"] = origin
    message = schema_error(schema_doc)
    assert origin in message and "date" in message


def test_origin_must_be_a_column(schema_doc):
    process_doc(schema_doc, "surgery")["origin"] = "NO_SUCH_DATE"
    assert "NO_SUCH_DATE" in schema_error(schema_doc)


def test_duplicate_event_names(schema_doc):
    process_doc(schema_doc, "surgery")["events"].append({"name": "DEATH", "kind": "once"})
    message = schema_error(schema_doc)
    assert "duplicated event names" in message and "DEATH" in message


def test_duplicate_process_names(schema_doc):
    process_doc(schema_doc, "surgery")["name"] = "survival"
    message = schema_error(schema_doc)
    assert "duplicated process names" in message and "survival" in message


def test_status_value_must_be_a_category(schema_doc):
    process_doc(schema_doc, "survival")["events"][0]["status"] = "Q"
    message = schema_error(schema_doc)
    assert "'Q'" in message and "VITALSTATUS" in message


def test_event_date_column_must_allow_missing(schema_doc):
    tumour = schema_doc["tables"]["SIM_AV_TUMOUR"]["columns"]
    next(c for c in tumour if c["name"] == "DATE_FIRST_SURGERY")["missing"] = False
    schema_doc["constraints"] = [c for c in schema_doc["constraints"]
                                 if c["then"]["column"] != "DATE_FIRST_SURGERY"]
    message = schema_error(schema_doc)
    assert "DATE_FIRST_SURGERY" in message and "missing" in message


def test_cutoff_that_is_not_a_date_is_named(schema_doc):
    # events.py re-raises a bad cut-off as "cutoff ... is not a date"; the message must say it is
    # the cut-off that is wrong, not only that some value somewhere is malformed
    schema_doc["events"]["cutoff"] = "end of 2021"
    message = schema_error(schema_doc)
    assert "cutoff" in message and "'end of 2021'" in message


# -- structure mistakes --------------------------------------------------------------------------
def test_event_not_declared_by_the_schema(shipped, structure_doc):
    structure_doc["events"]["RELAPSE"] = {"given": ["AGE"]}
    message = structure_error(structure_doc, shipped[0])
    assert "RELAPSE" in message and "not an event" in message


@pytest.mark.parametrize("written", ["VITALSTATUS", "VITALSTATUSDATE", "DATE_FIRST_SURGERY"])
def test_given_variable_written_by_the_events_module(shipped, structure_doc, written):
    structure_doc["events"]["SURGERY"]["given"].append(written)
    message = structure_error(structure_doc, shipped[0])
    assert written in message and "written by the events module" in message and "SURGERY" in message


def test_given_variable_that_is_an_outcome(shipped, structure_doc):
    structure_doc["events"]["DEATH"]["given"].append("DEATHLOCATIONCODE")
    message = structure_error(structure_doc, shipped[0])
    assert "DEATHLOCATIONCODE" in message and "outcome" in message


def test_group_with_unknown_category(shipped, structure_doc):
    structure_doc["events"]["SURGERY"]["given"][0] = {
        "variable": "CANCERCAREPLANINTENT", "groups": {"active": ["C", "Q"], "other": "rest"}}
    message = structure_error(structure_doc, shipped[0])
    assert "'Q'" in message and "CANCERCAREPLANINTENT" in message and "active" in message


def test_states_in_two_groups(shipped, structure_doc):
    structure_doc["events"]["SURGERY"]["given"][0] = {
        "variable": "CANCERCAREPLANINTENT", "groups": {"a": ["C", "Z"], "b": ["Z", "X"], "c": "rest"}}
    message = structure_error(structure_doc, shipped[0])
    assert "'Z'" in message and "two groups" in message and "CANCERCAREPLANINTENT" in message


def test_overlapping_ranges_are_states_in_two_groups(shipped, structure_doc):
    structure_doc["events"]["DEATH"]["given"][1] = {
        "variable": "AGE", "groups": {"young": {"from": 0, "to": 65}, "old": {"from": 50, "to": 111}}}
    message = structure_error(structure_doc, shipped[0])
    assert "two groups" in message and "AGE" in message


def test_states_in_no_group_without_rest(shipped, structure_doc):
    structure_doc["events"]["SURGERY"]["given"][0] = {
        "variable": "CANCERCAREPLANINTENT", "groups": {"a": ["C", "Z"], "b": ["X"]}}
    message = structure_error(structure_doc, shipped[0])
    assert "no group" in message and "'9'" in message and "None" in message and "CANCERCAREPLANINTENT" in message


def test_range_holding_no_whole_bin(shipped, structure_doc):
    structure_doc["events"]["DEATH"]["given"][1] = {
        "variable": "AGE", "groups": {"odd": {"from": 51, "to": 54}, "other": "rest"}}
    message = structure_error(structure_doc, shipped[0])
    assert "odd" in message and "no whole bin" in message


def test_date_range_groups_written_as_yaml_dates(shipped):
    # the module docstring allows {from, to} ranges of binned *date* variables; written in YAML the
    # natural way (unquoted, like the schema's own bins) they load as datetime.date objects
    text = STRUCTURE_FILE.read_text(encoding="utf-8").replace(
        "given: [CANCERCAREPLANINTENT, *stage_groups]",
        "given: [CANCERCAREPLANINTENT, *stage_groups, {variable: DIAGNOSISDATEBEST, groups: "
        "{early: {from: 2013-01-01, to: 2016-01-01}, late: {from: 2016-01-01, to: 2020-01-01}}}]")
    document = yaml.safe_load(text)
    assert document["events"]["SURGERY"]["given"][2]["groups"]["early"]["from"] == dt.date(2013, 1, 1)
    structure = Structure.from_dict(document)
    structure.validate_for(shipped[0])
    mapping, labels = structure.events.of("SURGERY").given[2].resolve(shipped[0])
    assert labels == ("early", "late")
    assert mapping.tolist() == [0] * 6 + [1] * 8  # 14 half-year bins from 2013 to 2019


def test_edge_into_an_event_written_node(shipped, structure_doc):
    structure_doc["edges"].append({"from": "AGE", "to": "VITALSTATUS"})
    message = structure_error(structure_doc, shipped[0])
    assert "AGE -> VITALSTATUS" in message and "written by the events module" in message


def test_after_naming_a_terminal_event(shipped, structure_doc):
    structure_doc["events"]["EXIT"]["after"] = ["DEATH"]
    message = structure_error(structure_doc, shipped[0])
    assert "DEATH" in message and "terminal" in message and "EXIT" in message


def test_after_naming_an_event_of_another_process(shipped, structure_doc):
    structure_doc["events"]["SURGERY"]["after"] = ["DEATH"]
    message = structure_error(structure_doc, shipped[0])
    assert "'DEATH'" in message and "surgery" in message


def test_after_naming_itself(shipped, structure_doc):
    structure_doc["events"]["SURGERY"]["after"] = ["SURGERY"]
    assert "'SURGERY'" in structure_error(structure_doc, shipped[0])


def test_events_section_needs_a_schema_with_events(shipped, schema_doc, structure_doc):
    del schema_doc["events"]
    schema_doc["constraints"] = [c for c in schema_doc["constraints"]
                                 if c["then"]["column"] != "DATE_FIRST_SURGERY"]
    plain = Schema.from_dict(schema_doc)
    message = structure_error(structure_doc, plain)
    assert "declares no events" in message


@pytest.mark.parametrize("body", [{"given": "AGE"}, {"given": [], "when": []}, ["AGE"]])
def test_malformed_event_entries(body, structure_doc):
    structure_doc["events"]["DEATH"] = body
    with pytest.raises(StructureError, match="events.DEATH"):
        Structure.from_dict(structure_doc, source="test-structure")
