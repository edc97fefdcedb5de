"""Tables below tables: grandchildren, one-to-one tables, foreign keys to non-key columns, chained dates,
row numbers, lookups, a parent's last child, per-person fitting bounds (docs/design/relational-tables.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.errors import SchemaError, StructureError
from bayesgen.params.cpt import ConditionalTable
from bayesgen.schema.encode import encode_tables

SCHEMA = {
    "spec_version": 1, "name": "nested", "root_table": "P",
    "tables": {
        "P": {"primary_key": "PID", "columns": [
            {"name": "PID", "type": "id"}, {"name": "LINK", "type": "id"},
            {"name": "SEX", "type": "categorical", "categories": ["1", "2"]}]},
        "R": {"primary_key": "RID", "parent": {"table": "P", "key": "LINK", "references": "LINK"},
              "max_rows_per_parent": 3, "count_variable": "NR", "order_by": ["START"],
              "fit_rows_per_person": 2, "columns": [
                  {"name": "RID", "type": "id"}, {"name": "LINK", "type": "id"},
                  {"name": "PID", "type": "id", "derived": {"copy": "P.PID"}},
                  {"name": "START", "type": "date", "min": "2015-01-01", "max": "2020-12-31",
                   "bins": ["2015-01-01", "2018-01-01", "2021-01-01"]},
                  {"name": "DECIDED", "type": "date", "min": "2014-01-01", "max": "2020-12-31",
                   "relative_to": "START", "bins": [-30, -7, 0, 1]},
                  {"name": "GROUP", "type": "categorical", "categories": ["FOLFOX", "CAPOX"]},
                  {"name": "GROUP_NAME", "type": "categorical", "categories": ["oxaliplatin doublet"],
                   "derived": {"map": "GROUP", "values": {"FOLFOX": "oxaliplatin doublet",
                                                          "CAPOX": "oxaliplatin doublet"}}}]},
        "C": {"primary_key": "CID", "parent": {"table": "R", "key": "RID"}, "max_rows_per_parent": 4,
              "min_rows_per_parent": 1, "count_variable": "NC", "order_by": ["CDATE"], "columns": [
                  {"name": "CID", "type": "id"}, {"name": "RID", "type": "id"},
                  {"name": "NUMBER", "type": "integer", "min": 1, "max": 4, "derived": {"row_number": True}},
                  {"name": "CDATE", "type": "date", "min": "2015-01-01", "max": "2021-12-31",
                   "relative_to": "R.START", "chained": True, "bins": [0, 1, 14, 15, 21, 22, 60]},
                  {"name": "SEX", "type": "categorical", "categories": ["1", "2"], "derived": {"copy": "P.SEX"}}]},
        "D": {"parent": {"table": "C", "key": "CID"}, "max_rows_per_parent": 2, "min_rows_per_parent": 1,
              "count_variable": "ND", "fit_rows_per_person": 4, "columns": [
                  {"name": "CID", "type": "id"},
                  {"name": "DRUG", "type": "categorical", "categories": ["5FU", "OXALIPLATIN", "CAPECITABINE"]}]},
        "O": {"primary_key": "RID", "parent": {"table": "R", "key": "RID"}, "max_rows_per_parent": 1,
              "min_rows_per_parent": 1, "columns": [
                  {"name": "RID", "type": "id"},
                  {"name": "FINAL", "type": "date", "min": "2015-01-01", "max": "2021-12-31",
                   "derived": {"last_child": "C.CDATE"}},
                  {"name": "STOPPED", "type": "categorical", "categories": ["Y", "N"]}]},
    },
}
STRUCTURE = {"spec_version": 1, "nodes": ["SEX", "NR", "START", "DECIDED", "GROUP", "NC", "CDATE", "ND", "DRUG",
                                            "STOPPED"], "edges": [
    {"from": "SEX", "to": "NR"}, {"from": "SEX", "to": "GROUP"}, {"from": "GROUP", "to": "NC"},
    {"from": "GROUP", "to": "CDATE"}, {"from": "GROUP", "to": "ND"}, {"from": "GROUP", "to": "DRUG"},
    {"from": "NC", "to": "STOPPED"}]}


def schema():
    return bg.Schema.from_dict(SCHEMA)


def structure():
    return bg.Structure.from_dict(STRUCTURE)


def truth(rng=0):
    """A ready-to-sample model with hand-set tables: FOLFOX every 14 days, CAPOX every 21."""
    s, d = schema(), structure()
    states = {name: v.n_states for name, v in s.variables.items()}
    generator = np.random.default_rng(rng)
    cpts = {}
    for node in d.nodes:
        shape = tuple(states[p] for p in d.parents(node)) + (states[node],)
        table = generator.dirichlet(np.ones(states[node]) * 2, size=int(np.prod(shape[:-1]))).reshape(shape)
        cpts[node] = ConditionalTable(node, d.parents(node), table)
    spacing = np.zeros((2, 6))
    spacing[0, 0] = 0.2  # first cycle on the regimen's start day
    spacing[0, 2] = 0.8  # FOLFOX: 14 days
    spacing[1, 0] = 0.2
    spacing[1, 4] = 0.8  # CAPOX: 21 days
    cpts["CDATE"] = ConditionalTable("CDATE", ("GROUP",), spacing)
    return bg.Synthesizer.from_cpts(s, d, cpts)


@pytest.fixture(scope="module")
def data():
    return truth().sample(3_000, rng=1)


def test_schema_tree_and_bounds():
    s = schema()
    assert [t.name for t in s.child_tables] == ["R", "C", "O", "D"]  # parents first
    assert s.ancestors("D") == ["C", "R", "P"]
    assert s.rows_bound_per_person("D") == 3 * 4 * 2
    assert s.fit_rows_per_person("D") == 4 and s.fit_rows_per_person("C") == 12
    assert s.variables["NC"].table == "R" and s.variables["ND"].table == "C"
    assert s.tables["O"].fixed_rows


def test_sampled_tables_join_and_follow_their_rules(data):
    p, r, c, d, o = (data[name] for name in "PRCDO")
    assert r["LINK"].isin(p["LINK"]).all() and c["RID"].isin(r["RID"]).all() and d["CID"].isin(c["CID"]).all()
    assert o["RID"].is_unique and set(o["RID"]) == set(r["RID"])  # one-to-one
    assert list(d.columns) == ["CID", "DRUG"]
    # copies from the root through two levels
    merged = c.merge(r[["RID", "LINK"]], on="RID").merge(p[["LINK", "SEX"]], on="LINK", suffixes=("", "_P"))
    assert (merged["SEX"].astype(str) == merged["SEX_P"].astype(str)).all()
    assert (r.merge(p, on="LINK")["PID_x"] == r.merge(p, on="LINK")["PID_y"]).all()
    # row numbers 1..n in date order, chained dates never going back, the first on or after the start
    for _, cycles in c.merge(r[["RID", "START"]], on="RID").groupby("RID"):
        assert cycles["NUMBER"].tolist() == list(range(1, len(cycles) + 1))
        assert cycles["CDATE"].is_monotonic_increasing
        assert cycles["CDATE"].iloc[0] >= cycles["START"].iloc[0]
    # decision dates up to 30 days before the start
    lag = (r["START"] - r["DECIDED"]).dt.days
    assert lag.between(0, 30).all()
    # the final date is the last cycle's
    last = c.groupby("RID")["CDATE"].max()
    assert (o.set_index("RID")["FINAL"] == last.reindex(o["RID"]).to_numpy()).all()
    assert (r["GROUP_NAME"] == "oxaliplatin doublet").all()


def test_every_declared_rule_holds_and_a_broken_one_is_counted(data):
    from bayesgen.schema.check import check_tables

    assert check_tables(data, schema(), structure()) == []
    broken = {name: frame.copy() for name, frame in data.items()}
    broken["C"].loc[broken["C"]["NUMBER"] == 2, "NUMBER"] = 3
    broken["O"]["FINAL"] = broken["O"]["FINAL"] - pd.Timedelta(days=1)
    found = {(v.table, v.column): v.n_rows for v in check_tables(broken, schema(), structure())}
    assert found[("C", "NUMBER")] == int((data["C"]["NUMBER"] == 2).sum())
    assert found[("O", "FINAL")] == len(data["O"])


def test_chained_spacing_follows_the_group(data):
    """FOLFOX gaps are 14 days and CAPOX gaps 21 (80 %, else same-day): the spacing CPT is obeyed."""
    c = data["C"].merge(data["R"][["RID", "GROUP"]], on="RID").sort_values(["RID", "NUMBER"])
    gaps = c.groupby("RID")["CDATE"].diff().dt.days.dropna()
    groups = c.loc[gaps.index, "GROUP"].astype(str)
    assert set(gaps[groups == "FOLFOX"].unique()) <= {0, 14}
    assert set(gaps[groups == "CAPOX"].unique()) <= {0, 21}


def test_fit_recovers_counts_and_charges_the_per_person_bound(data):
    model = bg.Synthesizer(schema(), structure(), epsilon=math.inf).fit(data)
    encoded = encode_tables(data, schema())
    # ND is counted on cycle rows, but only each person's first fit_rows_per_person of them
    assert encoded.fit_mask["D"].sum() < encoded.n_rows["D"]
    assert int(model.cpts_["GROUP"].probabilities.shape[-1]) == 2
    private = bg.Synthesizer(schema(), structure(), epsilon=1.0).fit(data)
    by_node = {e["what"]: e for e in private.ledger_["entries"]}
    sensitivity = {what.split()[2]: entry["sensitivity"] for what, entry in by_node.items() if "counts of" in what}
    assert sensitivity["DRUG"] == 4 and sensitivity["ND"] == min(12, 3 * 4)
    assert sensitivity["NC"] == 2 and sensitivity["GROUP"] == 2 and sensitivity["SEX"] == 1
    again = model.sample(3_000, rng=1)
    ratio = lambda t, parent: len(t) / len(parent)  # noqa: E731
    assert ratio(again["C"], again["R"]) == pytest.approx(ratio(data["C"], data["R"]), rel=0.08)
    assert ratio(again["D"], again["C"]) == pytest.approx(ratio(data["D"], data["C"]), rel=0.08)


def test_same_seed_same_tables_whatever_the_chunking():
    model = truth()
    one = model.sample(500, rng=3)
    chunked = model.sample(500, rng=3, chunk_size=128)
    for name in one:
        pd.testing.assert_frame_equal(one[name], chunked[name])


def test_structure_edges_must_point_down_the_tree():
    bad = {**STRUCTURE, "edges": [*STRUCTURE["edges"], {"from": "DRUG", "to": "STOPPED"}]}
    with pytest.raises(StructureError, match="ancestor tables"):
        bg.Structure.from_dict(bad).validate_for(schema())


def test_schema_refuses_broken_trees():
    broken = {**SCHEMA, "tables": {**SCHEMA["tables"], "R": {**SCHEMA["tables"]["R"],
                                                             "parent": {"table": "X", "key": "LINK"}}}}
    with pytest.raises(SchemaError, match="not a declared table"):
        bg.Schema.from_dict(broken)
    leaf_without_key = {**SCHEMA, "tables": {**SCHEMA["tables"], "C": {
        k: v for k, v in SCHEMA["tables"]["C"].items() if k != "primary_key"}}}
    with pytest.raises(SchemaError, match="must refer to an id column of C"):
        bg.Schema.from_dict(leaf_without_key)
    wrong_reference = {**SCHEMA, "tables": {**SCHEMA["tables"], "R": {
        **SCHEMA["tables"]["R"], "parent": {"table": "P", "key": "LINK", "references": "SEX"}}}}
    with pytest.raises(SchemaError, match="id column"):
        bg.Schema.from_dict(wrong_reference)


def test_broken_foreign_key_to_a_grandchild_is_named(data):
    tables = {name: frame.copy() for name, frame in data.items()}
    tables["D"].loc[0, "CID"] = 10**9
    with pytest.raises(bg.DataValidationError, match=r"D\.CID: refers to a C\.CID that does not exist"):
        encode_tables(tables, schema())


# -- rows created by the time-to-event module -------------------------------------------------------
def event_schema():
    tables = {name: dict(body) for name, body in SCHEMA["tables"].items()}
    tables["P"] = {**tables["P"], "columns": [
        *tables["P"]["columns"],
        {"name": "DIAG", "type": "date", "min": "2015-01-01", "max": "2017-12-31",
         "bins": ["2015-01-01", "2016-01-01", "2018-01-01"]},
        {"name": "VITAL", "type": "categorical", "categories": ["A", "D"]},
        {"name": "VDATE", "type": "date", "min": "2015-01-01", "max": "2020-12-31", "relative_to": "DIAG",
         "bins": [0, 365, 2200]}]}
    tables["R"] = {k: v for k, v in tables["R"].items() if k != "count_variable"}
    tables["R"]["rows_from_event"] = "REGIMEN"
    tables["C"] = {**tables["C"], "ends_with": "survival"}
    return bg.Schema.from_dict({**SCHEMA, "tables": tables, "events": {
        "cutoff": "2020-12-31", "intervals": [0, 90, 365],
        "processes": [
            {"name": "survival", "unit": "P", "origin": "DIAG", "status": "VITAL", "censored_status": "A",
             "date": "VDATE", "events": [{"name": "DEATH", "kind": "terminal", "status": "D"}]},
            {"name": "treatment", "unit": "P", "origin": "DIAG", "ends_with": "survival",
             "events": [{"name": "REGIMEN", "kind": "recurrent", "max": 3, "date": "START"}]}]}})


def event_structure():
    edges = [e for e in STRUCTURE["edges"] if e["to"] != "NR"]
    nodes = [n for n in STRUCTURE["nodes"] if n != "NR"] + ["DIAG", "VITAL", "VDATE"]
    return bg.Structure.from_dict({**STRUCTURE, "nodes": nodes, "edges": edges,
                                   "events": {"DEATH": {"given": ["SEX"]}, "REGIMEN": {"given": []}}})


def event_truth():
    from bayesgen.events.histories import horizon_days
    from bayesgen.events.layout import build_layouts
    from bayesgen.events.model import EventModel

    s, d = event_schema(), event_structure()
    base = truth()
    generator = np.random.default_rng(5)
    states = {name: v.n_states for name, v in s.variables.items()}
    cpts = {node: base.cpts_[node] for node in d.nodes if node in base.cpts_}
    cpts["DIAG"] = ConditionalTable("DIAG", (), np.array([0.5, 0.5]))
    for node in d.nodes:
        if node not in cpts and node not in d.event_nodes(s):
            shape = tuple(states[p] for p in d.parents(node)) + (states[node],)
            cpts[node] = ConditionalTable(node, d.parents(node), generator.dirichlet(
                np.ones(states[node]), size=int(np.prod(shape[:-1]))).reshape(shape))
    horizon = horizon_days(s)
    layouts = build_layouts(s, d, horizon)
    rates = {}
    for layout in layouts.values():
        for e, name in enumerate(layout.names):
            rates[name] = np.full(layout.shapes[e], (0.6 if name == "DEATH" else 2.5) / 365.25)
    return bg.Synthesizer.from_cpts(s, d, cpts, events=EventModel(s, d, horizon, rates))


@pytest.fixture(scope="module")
def event_data():
    return event_truth().sample(4_000, rng=2)


def test_event_rows_are_dated_occurrences_within_follow_up(event_data):
    from bayesgen.schema.check import check_tables

    p, r, c = event_data["P"], event_data["R"], event_data["C"]
    assert 0 < len(r) and r.groupby("LINK").size().max() <= 3
    joined = r.merge(p, on="LINK")
    assert (joined["START"] >= joined["DIAG"]).all() and (joined["START"] <= joined["VDATE"]).all()
    cycles = c.merge(r[["RID", "LINK"]], on="RID").merge(p[["LINK", "VDATE"]], on="LINK")
    assert (cycles["CDATE"] <= cycles["VDATE"]).all()  # cycles after death or cut-off are not generated
    assert check_tables(event_data, event_schema(), event_structure()) == []


def test_regimen_rate_is_recovered_from_the_event_table(event_data):
    """Regimens per patient (a recurrent event read from its table) within 10 % of the truth at ε = ∞."""
    model = bg.Synthesizer(event_schema(), event_structure(), epsilon=math.inf).fit(event_data)
    again = model.sample(4_000, rng=9)
    truth_rate = len(event_data["R"]) / len(event_data["P"])
    assert len(again["R"]) / len(again["P"]) == pytest.approx(truth_rate, rel=0.10)
    private = bg.Synthesizer(event_schema(), event_structure(), epsilon=1.0).fit(event_data)
    assert any("REGIMEN" in e["what"] for e in private.ledger_["entries"])
    assert private.ledger_["spent"] == pytest.approx(1.0)


@pytest.mark.parametrize("make", ["truth", "event_truth"])
def test_sorting_before_decoding_gives_the_values_of_decoding_first(monkeypatch, make):
    """A table's rows are sorted with only the columns the sort needs decoded (the others are decoded
    after it, at each row's former position) and its phase's codes are moved in place: the same tables,
    whatever the chunking, as decoding every column first and moving every array."""
    from bayesgen.model import registry_decoder

    model = globals()[make]()
    fast = model.sample(2_000, rng=4, chunk_size=700)
    generic_take = registry_decoder.RegistryDecoder._take

    def decode_then_sort(self, table, sampled, values, offset):
        self._decode_columns(table, sampled, values, offset)
        self._order_rows(table, sampled, values)

    monkeypatch.setattr(registry_decoder.RegistryDecoder, "_decode_and_order", decode_then_sort)
    monkeypatch.setattr(registry_decoder.RegistryDecoder, "_take",
                        lambda self, name, rows, sampled, values, within_parents=False:
                        generic_take(self, name, rows, sampled, values))
    monkeypatch.setattr(registry_decoder, "_take_block", lambda name, rows, sampled, in_place=False: ())
    slow = model.sample(2_000, rng=4, chunk_size=700)
    for name in fast:
        pd.testing.assert_frame_equal(fast[name], slow[name], check_exact=True)
