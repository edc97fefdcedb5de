"""The ground truth of the treatment and gene-test tables (bayesgen.datasets.reference_treatments) against
the ten-table schema and structure (schemas/simulacrum_v2.yaml, structures/simulacrum_v2.yaml).

These tests use the reference functions and the declared columns only (no fitting or sampling): every
conditional table is a distribution that respects the schema's constraints and stays small, the eight
tables below the patient and tumour hold the real column names and code sets, the hand-set hazards give
the intended expected numbers of regimens and radiotherapy episodes, and the clinical patterns the
ground truth is meant to show are there.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from bayesgen.datasets import reference_treatments as rt
from bayesgen.schema.columns import Column

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "simulacrum_v2.yaml"
STRUCTURE = ROOT / "structures" / "simulacrum_v2.yaml"
MAX_CELLS = 20_000
CORE_TABLES = ["SIM_AV_PATIENT", "SIM_AV_TUMOUR"]
CORE_TIERS = {"patient", "tumour", "outcome"}

# The real Simulacrum v2.1.0 headers (/work/shared/REGISTRY_SCHEMAS.md), in order.
REAL_COLUMNS = {
    "SIM_AV_GENE": ["GENEID", "TUMOURID", "PATIENTID", "GENE_DESC", "GENE", "COUNT_TESTS", "COUNT_RESULTS",
                    "COUNT_DATE", "ALL_TESTSTATUSES", "OVERALL_TS", "NO_OF_AB_GATS", "DNASEQ_GAT", "METHYL_GAT",
                    "EXP_GAT", "COPYNO_GAT", "FUS_TRANS_GAT", "ABNORMAL_GAT", "NO_OF_SEQ_VARS", "ALL_SEQ_VARS",
                    "SEQ_VAR", "DATE_OVERALL_TS", "BEST_DATE_SOURCE_OVERALL_TS", "MIN_DATE", "MAX_DATE",
                    "ALL_PRO_IMPS", "NO_OF_PRO_IMPS", "PRO_IMP", "METHODS", "LAB_NAME"],
    "SIM_SACT_REGIMEN": ["MERGED_REGIMEN_ID", "ENCORE_PATIENT_ID", "LINK_NUMBER", "HEIGHT_AT_START_OF_REGIMEN",
                         "WEIGHT_AT_START_OF_REGIMEN", "INTENT_OF_TREATMENT", "DATE_DECISION_TO_TREAT",
                         "START_DATE_OF_REGIMEN", "MAPPED_REGIMEN", "CLINICAL_TRIAL", "CHEMO_RADIATION",
                         "BENCHMARK_GROUP"],
    "SIM_SACT_CYCLE": ["MERGED_CYCLE_ID", "MERGED_REGIMEN_ID", "CYCLE_NUMBER", "START_DATE_OF_CYCLE",
                       "OPCS_PROCUREMENT_CODE", "PERF_STATUS_START_OF_CYCLE"],
    "SIM_SACT_DRUG_DETAIL": ["MERGED_DRUG_DETAIL_ID", "MERGED_CYCLE_ID", "ACTUAL_DOSE_PER_ADMINISTRATION",
                             "OPCS_DELIVERY_CODE", "ADMINISTRATION_ROUTE", "ADMINISTRATION_DATE", "DRUG_GROUP"],
    "SIM_SACT_OUTCOME": ["MERGED_REGIMEN_ID", "DATE_OF_FINAL_TREATMENT", "REGIMEN_MOD_DOSE_REDUCTION",
                         "REGIMEN_MOD_TIME_DELAY", "REGIMEN_MOD_STOPPED_EARLY", "REGIMEN_OUTCOME_SUMMARY"],
    "SIM_RTDS_EPISODE": ["RADIOTHERAPYEPISODEID", "PATIENTID", "ATTENDID", "APPTDATE", "LINKCODE",
                         "DECISIONTOTREATDATE", "EARLIESTCLINAPPROPDATE", "RADIOTHERAPYPRIORITY",
                         "RADIOTHERAPYINTENT"],
    "SIM_RTDS_PRESCRIPTION": ["PRESCRIPTIONID", "PATIENTID", "RADIOTHERAPYEPISODEID", "RTTREATMENTMODALITY",
                              "RTPRESCRIBEDDOSE", "RTPRESCRIBEDFRACTIONS", "RTACTUALDOSE", "RTACTUALFRACTIONS",
                              "RTTREATMENTREGION", "RTTREATMENTANATOMICALSITE", "LINKCODE", "ATTENDID", "APPTDATE"],
    "SIM_RTDS_EXPOSURE": ["PRESCRIPTIONID", "RADIOISOTOPE", "RADIOTHERAPYBEAMTYPE", "RADIOTHERAPYBEAMENERGY",
                          "TIMEOFEXPOSURE", "APPTDATE", "ATTENDID", "PATIENTID", "RADIOTHERAPYEPISODEID",
                          "LINKCODE"],
}
TREATMENT_COLUMNS = {name for names in REAL_COLUMNS.values() for name in names}
POSITIONS = {"CYCLE_NUMBER": list(range(1, 9)), "DRUG_POSITION": list(range(1, 5))}
# Edges from row positions. The shipped structure has none: the engine has no row-position model
# variables (CYCLE_NUMBER is a derived row number; the first cycle's zero offset comes from the chained
# dates). reference_treatments still reads them when they are parents, so that code path is tested with
# these edges (formerly `edges_with_position_parents` of the draft structure); drop both together.
POSITION_EDGES = [
    {"from": "CYCLE_NUMBER", "to": "START_DATE_OF_CYCLE",
     "why": "The first cycle starts the regimen (offset 0); later cycles follow the previous one by the cycle "
            "length."},
    {"from": "CYCLE_NUMBER", "to": "N_DRUGS",
     "why": "Sequential regimens change their number of drugs at a set cycle (FEC-T: three drugs in cycles 1-3, "
            "one from cycle 4)."},
    {"from": "DRUG_POSITION", "to": "DRUG_GROUP",
     "why": "Within a cycle each drug of the phase appears once: the k-th row (by date, then name) is the "
            "phase's k-th drug."},
]


# ---------------------------------------------------------------------------------------------
# fixtures: declared states and parents, read from the schema and structure
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files():
    return (yaml.safe_load(SCHEMA.read_text(encoding="utf-8")),
            yaml.safe_load(STRUCTURE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def treatment_tables(files):
    """The schema's sections of the eight tables below the patient and tumour."""
    return {table: body for table, body in files[0]["tables"].items() if table in REAL_COLUMNS}


@pytest.fixture(scope="module")
def columns(files):
    """Every column of the schema, parsed: ``{(table, name): Column}``."""
    out = {}
    for table, body in files[0]["tables"].items():
        for data in body["columns"]:
            out[table, data["name"]] = Column.from_dict(data, table)
    return out


@pytest.fixture(scope="module")
def states(files, columns):
    """State labels of every model variable (modelled columns, count variables) and position parent."""
    schema, _ = files
    out = {}
    for (_, name), column in columns.items():
        if column.is_modelled:
            out[name] = column.states()
    for body in schema["tables"].values():
        if body.get("count_variable"):
            low = body.get("min_rows_per_parent", 0)
            out[body["count_variable"]] = list(range(low, body["max_rows_per_parent"] + 1))
    out.update(POSITIONS)
    return out


def _parents(edges) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for edge in edges:
        out.setdefault(edge["to"], []).append(edge["from"])
    return out


@pytest.fixture(scope="module", params=["expert", "with positions"])
def parents(request, files):
    _, structure = files
    edges = list(structure["edges"])
    if request.param == "with positions":
        edges += POSITION_EDGES
    found = _parents(edges)
    return {node: found.get(node, []) for node in rt.TREATMENT_NODES}


@pytest.fixture(scope="module")
def cpts(states, parents):
    return rt.reference_treatment_cpts(states, parents)


# ---------------------------------------------------------------------------------------------
# schema and structure: names, code sets, bounds
# ---------------------------------------------------------------------------------------------
def test_schema_and_structure_hold_the_ten_tables(files):
    schema, structure = files
    assert list(schema["tables"]) == CORE_TABLES + list(REAL_COLUMNS)
    tiers = [tier["name"] for tier in structure["tiers"]]
    assert tiers[:2] == ["patient", "tumour"] and tiers[-1] == "outcome"   # the treatment tiers in between
    assert {"REGIMEN", "RADIOTHERAPY"} <= set(structure["events"])
    assert "treatment" in {p["name"] for p in schema["events"]["processes"]}


@pytest.mark.parametrize("table", list(REAL_COLUMNS))
def test_tables_have_the_real_columns_in_order(treatment_tables, table):
    assert [c["name"] for c in treatment_tables[table]["columns"]] == REAL_COLUMNS[table]


def test_every_column_parses_and_code_sets_are_clean(columns):
    for (table, name), column in columns.items():
        if table not in REAL_COLUMNS:
            continue
        if column.type in ("categorical", "ordinal"):
            assert column.categories, name
            assert all(c == c.strip() and c for c in column.categories), name
            assert set(column.labels) <= set(column.categories), name


def test_code_lists_checked_against_public_sources(columns):
    route = columns["SIM_SACT_DRUG_DETAIL", "ADMINISTRATION_ROUTE"]
    assert route.categories == tuple(str(k) for k in range(1, 13)) + ("99",)
    assert route.labels["1"] == "intravenous" and route.labels["2"] == "oral"
    region = columns["SIM_RTDS_PRESCRIPTION", "RTTREATMENTREGION"]
    assert set(region.categories) == {"P", "R", "PR", "A", "O", "M"}
    assert columns["SIM_RTDS_EPISODE", "RADIOTHERAPYINTENT"].labels["02"].startswith("radical")
    assert columns["SIM_RTDS_PRESCRIPTION", "RTTREATMENTMODALITY"].labels["05"].startswith("teletherapy")
    outcome = columns["SIM_SACT_OUTCOME", "REGIMEN_OUTCOME_SUMMARY"]
    assert outcome.categories == ("0", "1", "2", "3", "4", "5", "9")
    procurement = columns["SIM_SACT_CYCLE", "OPCS_PROCUREMENT_CODE"].categories
    delivery = columns["SIM_SACT_DRUG_DETAIL", "OPCS_DELIVERY_CODE"].categories
    assert all(c.startswith(("X70", "X71", "X74")) for c in procurement)
    assert all(c.startswith(("X72", "X73", "X35")) for c in delivery)
    assert {"A", "N", "C", "P"} <= set(columns["SIM_SACT_REGIMEN", "INTENT_OF_TREATMENT"].categories)


def test_benchmark_groups_drugs_and_regimens_agree(columns):
    benchmarks = columns["SIM_SACT_REGIMEN", "BENCHMARK_GROUP"].categories
    assert set(benchmarks) == set(rt.REGIMENS)
    assert "NOT MATCHED" in benchmarks
    assert set(benchmarks) <= set(columns["SIM_SACT_REGIMEN", "MAPPED_REGIMEN"].categories)
    drugs = set(columns["SIM_SACT_DRUG_DETAIL", "DRUG_GROUP"].categories)
    used = {d for regimen in rt.REGIMENS.values() for _, rows in regimen.phases for d in rows}
    assert used | set(rt._UNMATCHED_DRUGS) == drugs
    for regimen in rt.REGIMENS.values():
        assert all(1 <= len(rows) <= rt.MAX_DRUGS for _, rows in regimen.phases if rows)
        assert 1 <= regimen.planned <= rt.MAX_CYCLES


def test_derived_lookups_cover_their_sources(treatment_tables, columns):
    for table, body in treatment_tables.items():
        for data in body["columns"]:
            rule = data.get("derived") or {}
            if "map" in rule:
                source = columns[table, rule["map"]]
                target = columns[table, data["name"]]
                assert set(source.categories) == {str(k) for k in rule["values"]}, data["name"]
                assert {str(v) for v in rule["values"].values()} <= set(target.categories), data["name"]
                assert target.missing or not source.missing, data["name"]


def test_bounds_events_and_count_variables(files, treatment_tables):
    schema, _ = files
    tables = treatment_tables
    treatment = next(p for p in schema["events"]["processes"] if p["name"] == "treatment")
    assert treatment["unit"] == schema["root_table"] == "SIM_AV_PATIENT"
    assert treatment["origin"] == "DIAGNOSISDATEBEST" and treatment["ends_with"] == "survival"
    events = {e["name"]: e for e in treatment["events"]}
    assert set(events) == set(rt.TREATMENT_EVENTS)
    assert all(e["kind"] == "recurrent" for e in events.values())
    assert tables["SIM_SACT_REGIMEN"]["rows_from_event"] == "REGIMEN"
    assert tables["SIM_RTDS_EPISODE"]["rows_from_event"] == "RADIOTHERAPY"
    assert events["REGIMEN"]["max"] <= tables["SIM_SACT_REGIMEN"]["max_rows_per_parent"]
    assert events["RADIOTHERAPY"]["max"] <= tables["SIM_RTDS_EPISODE"]["max_rows_per_parent"]
    assert events["REGIMEN"]["date"] == "START_DATE_OF_REGIMEN"
    assert events["RADIOTHERAPY"]["date"] == "APPTDATE"
    counts = {body["count_variable"] for body in tables.values() if body.get("count_variable")}
    assert counts == {"N_GENE_TESTS", "N_CYCLES", "N_DRUGS", "N_PRESCRIPTIONS", "N_EXPOSURES"}
    assert tables["SIM_SACT_CYCLE"]["max_rows_per_parent"] == rt.MAX_CYCLES
    assert tables["SIM_SACT_DRUG_DETAIL"]["max_rows_per_parent"] == rt.MAX_DRUGS
    assert tables["SIM_RTDS_EXPOSURE"]["max_rows_per_parent"] == rt.MAX_EXPOSURES
    outcome = tables["SIM_SACT_OUTCOME"]
    assert outcome["min_rows_per_parent"] == outcome["max_rows_per_parent"] == 1


def test_every_model_variable_has_a_table_or_is_written_by_the_events(columns, treatment_tables):
    new = {name for (table, name), c in columns.items() if table in REAL_COLUMNS and c.is_modelled}
    new |= {b["count_variable"] for b in treatment_tables.values() if b.get("count_variable")}
    assert new == set(rt.TREATMENT_NODES) | set(rt.EVENT_WRITTEN)


def test_structure_nodes_are_tiered_once(files):
    _, structure = files
    every = [n for tier in structure["tiers"] for n in tier["nodes"]]
    assert len(every) == len(set(every))
    tiered = [n for tier in structure["tiers"] if tier["name"] not in CORE_TIERS for n in tier["nodes"]]
    assert set(tiered) == set(rt.TREATMENT_NODES) | set(rt.EVENT_WRITTEN)
    for edge in structure["edges"] + POSITION_EDGES:
        assert edge["why"] and edge["to"] in set(every) | set(POSITIONS)
        if edge["to"] in set(tiered):
            assert edge["to"] in set(rt.TREATMENT_NODES)
            assert edge["to"] not in rt.EVENT_WRITTEN
    for edge in POSITION_EDGES:
        assert edge["to"] in set(rt.TREATMENT_NODES) and edge["from"] in POSITIONS


def test_treatment_constraints_mirror_the_schema_and_sit_on_edges(files):
    schema, structure = files
    declared = {(c["if"]["column"], c["then"]["column"]) for c in schema["constraints"]
                if {c["if"]["column"], c["then"]["column"]} & TREATMENT_COLUMNS}
    mirrored = {(r.if_column, r.then_column) for r in rt.TREATMENT_CONSTRAINTS}
    assert declared == mirrored
    edges = {(e["from"], e["to"]) for e in structure["edges"]}
    for a, b in declared:
        assert (a, b) in edges or (b, a) in edges, (a, b)


def test_event_groups_cover_every_site_once(files, states):
    _, structure = files
    given = structure["events"]["REGIMEN"]["given"]
    assert structure["events"]["RADIOTHERAPY"]["given"] == given
    sites = given[0]
    assert sites["variable"] == "SITE_ICD10_O2"
    assert tuple(sites["groups"]) == rt.SITE_GROUPS
    listed = [c for codes in sites["groups"].values() if codes != "rest" for c in codes]
    assert len(listed) == len(set(listed))
    assert set(listed) <= set(states["SITE_ICD10_O2"])
    for code in states["SITE_ICD10_O2"]:  # the function's grouping agrees with the file's
        group = next((g for g, codes in sites["groups"].items() if codes != "rest" and code in codes), "other")
        assert rt.site_group(code) == group, code
    assert tuple(given[1]["groups"]) == rt.STAGE_GROUPS
    assert tuple(given[2]["groups"]) == rt.INTENT_GROUPS


# ---------------------------------------------------------------------------------------------
# conditional tables
# ---------------------------------------------------------------------------------------------
def test_every_table_is_a_distribution_for_every_parent_combination(cpts, states, parents):
    assert set(cpts) == set(rt.TREATMENT_NODES)
    for node, table in cpts.items():
        shape = tuple(len(states[p]) for p in parents[node]) + (len(states[node]),)
        assert table.shape == shape, node
        assert np.all(table >= 0) and np.all(np.isfinite(table)), node
        assert np.allclose(table.sum(axis=-1), 1.0), node


def test_tables_stay_small(states, parents):
    for node, names in parents.items():
        cells = math.prod(len(states[p]) for p in names) * len(states[node])
        assert cells <= MAX_CELLS, (node, cells)
        assert len(names) <= 3, node


def test_constraints_hold_in_every_row(cpts, states, parents):
    """A state a constraint forbids given the parents has probability exactly 0."""
    for rule in rt.TREATMENT_CONSTRAINTS:
        for node, other in ((rule.then_column, rule.if_column), (rule.if_column, rule.then_column)):
            if node not in cpts or other not in parents[node]:
                continue
            table, names = cpts[node], parents[node]
            axis = names.index(other)
            for index in np.ndindex(*table.shape):
                if table[index] == 0:
                    continue
                labels = {names[k]: states[names[k]][i] for k, i in enumerate(index[:-1])}
                labels[node] = states[node][index[-1]]
                broken = rule.if_test(labels[rule.if_column]) and not rule.then_test(labels[rule.then_column])
                assert not broken, (rule.name, labels, axis)


def _row(cpt, states, parents, node, **given):
    """The distribution of ``node`` (label -> probability) for the given parent labels (others averaged)."""
    names = parents[node]
    table = cpt
    for k in reversed(range(len(names))):
        name = names[k]
        if name in given:
            table = np.take(table, states[name].index(given[name]), axis=k)
        else:
            table = table.mean(axis=k)
    return dict(zip(states[node], table, strict=True))


def _mode(distribution):
    return max(distribution, key=distribution.get)


def test_cycle_lengths_follow_the_regimen(cpts, states, parents):
    expected = {"FEC-T": (20, 23), "CAPOX": (20, 23), "FOLFOX": (13, 16), "ABIRATERONE": (27, 30),
                "PACLITAXEL": (6, 9), "SUNITINIB": (36, 50)}
    for benchmark, spacing in expected.items():
        given = {"BENCHMARK_GROUP": benchmark}
        if "CYCLE_NUMBER" in parents["START_DATE_OF_CYCLE"]:
            given["CYCLE_NUMBER"] = 3
            first = _row(cpts["START_DATE_OF_CYCLE"], states, parents, "START_DATE_OF_CYCLE",
                         BENCHMARK_GROUP=benchmark, CYCLE_NUMBER=1)
            assert first[(0, 1)] == pytest.approx(1.0)
        row = _row(cpts["START_DATE_OF_CYCLE"], states, parents, "START_DATE_OF_CYCLE", **given)
        later = {k: v for k, v in row.items() if k != (0, 1)}
        assert _mode(later) == spacing, benchmark


def test_drugs_routes_and_doses(cpts, states, parents):
    drug = _row(cpts["DRUG_GROUP"], states, parents, "DRUG_GROUP", BENCHMARK_GROUP="FEC-T", N_DRUGS=1)
    assert _mode(drug) == "DOCETAXEL"
    drug = _row(cpts["DRUG_GROUP"], states, parents, "DRUG_GROUP", BENCHMARK_GROUP="FEC-T", N_DRUGS=3)
    assert {d for d, p in drug.items() if p > 0.2} == {"CYCLOPHOSPHAMIDE", "EPIRUBICIN", "FLUOROURACIL"}
    if "DRUG_POSITION" in parents["DRUG_GROUP"]:
        second = _row(cpts["DRUG_GROUP"], states, parents, "DRUG_GROUP", BENCHMARK_GROUP="FEC-T", N_DRUGS=3,
                      DRUG_POSITION=2)
        assert second["EPIRUBICIN"] > 0.9
    for name in ("CAPECITABINE", "ABIRATERONE"):
        route = _row(cpts["ADMINISTRATION_ROUTE"], states, parents, "ADMINISTRATION_ROUTE", DRUG_GROUP=name)
        assert route["2"] == pytest.approx(1.0)
    for name in ("OXALIPLATIN", "DOCETAXEL", "CARBOPLATIN"):
        route = _row(cpts["ADMINISTRATION_ROUTE"], states, parents, "ADMINISTRATION_ROUTE", DRUG_GROUP=name)
        assert _mode(route) == "1" and route["2"] == 0
    dose = _row(cpts["ACTUAL_DOSE_PER_ADMINISTRATION"], states, parents, "ACTUAL_DOSE_PER_ADMINISTRATION",
                DRUG_GROUP="ZOLEDRONIC ACID")
    assert _mode(dose) == (0.0, 5.0)
    n = _row(cpts["N_DRUGS"], states, parents, "N_DRUGS", BENCHMARK_GROUP="CAPOX")
    assert _mode(n) == 2


def test_regimens_follow_the_site_and_intent_the_stage(cpts, states, parents):
    def benchmark(site):
        return _mode(_row(cpts["BENCHMARK_GROUP"], states, parents, "BENCHMARK_GROUP", SITE_ICD10_O2=site))
    assert benchmark("C509") == "FEC-T"
    assert benchmark("C187") == "CAPOX"
    assert benchmark("C61X") == "DOCETAXEL"
    assert benchmark("C349") == "CARBOPLATIN + PEMETREXED"
    intent = cpts["INTENT_OF_TREATMENT"]
    early = _row(intent, states, parents, "INTENT_OF_TREATMENT", BENCHMARK_GROUP="FEC-T", STAGE_BEST="2A")
    late = _row(intent, states, parents, "INTENT_OF_TREATMENT", BENCHMARK_GROUP="FEC-T", STAGE_BEST="4")
    assert _mode(early) == "A" and _mode(late) == "P"
    palliative = _row(intent, states, parents, "INTENT_OF_TREATMENT", BENCHMARK_GROUP="ABIRATERONE", STAGE_BEST="4")
    assert palliative["P"] > 0.8


def test_cycles_per_regimen(cpts, states, parents):
    cycles = cpts["N_CYCLES"]
    bep = _row(cycles, states, parents, "N_CYCLES", BENCHMARK_GROUP="BEP", INTENT_OF_TREATMENT="C")
    assert _mode(bep) == 3 and sum(p for n, p in bep.items() if n > 3) == 0
    fec = _row(cycles, states, parents, "N_CYCLES", BENCHMARK_GROUP="FEC-T", INTENT_OF_TREATMENT="A")
    assert _mode(fec) == 6
    mean = {i: sum(n * p for n, p in _row(cycles, states, parents, "N_CYCLES", BENCHMARK_GROUP="CAPOX",
                                          INTENT_OF_TREATMENT=i).items()) for i in ("A", "P")}
    assert mean["A"] > mean["P"]  # palliative regimens stop earlier


def test_radiotherapy_fractionation_and_dose(cpts, states, parents):
    fractions = cpts["RTPRESCRIBEDFRACTIONS"]
    breast = _row(fractions, states, parents, "RTPRESCRIBEDFRACTIONS", SITE_ICD10_O2="C504", RADIOTHERAPYINTENT="02")
    prostate = _row(fractions, states, parents, "RTPRESCRIBEDFRACTIONS", SITE_ICD10_O2="C61X",
                    RADIOTHERAPYINTENT="02")
    palliative = _row(fractions, states, parents, "RTPRESCRIBEDFRACTIONS", SITE_ICD10_O2="C349",
                      RADIOTHERAPYINTENT="01")
    assert _mode(breast) == (15, 16) and _mode(prostate) == (20, 21) and _mode(palliative) == (1, 2)
    dose = cpts["RTPRESCRIBEDDOSE"]

    def modal_dose(fx, intent):
        return _mode(_row(dose, states, parents, "RTPRESCRIBEDDOSE", RTPRESCRIBEDFRACTIONS=fx,
                          RADIOTHERAPYINTENT=intent, RTTREATMENTMODALITY="05"))
    assert modal_dose((15, 16), "02") == (39.0, 41.0)   # 40 Gy in 15
    assert modal_dose((1, 2), "01") == (7.0, 9.0)       # 8 Gy in 1
    assert modal_dose((5, 6), "01") == (19.0, 21.0)     # 20 Gy in 5
    exposures = _row(cpts["N_EXPOSURES"], states, parents, "N_EXPOSURES", RTPRESCRIBEDFRACTIONS=(15, 16))
    assert _mode(exposures) == rt.MAX_EXPOSURES


def test_gene_tests_by_site(cpts, states, parents):
    tests = cpts["N_GENE_TESTS"]
    lung = _row(tests, states, parents, "N_GENE_TESTS", SITE_ICD10_O2="C349", M_BEST="1")
    prostate = _row(tests, states, parents, "N_GENE_TESTS", SITE_ICD10_O2="C61X", M_BEST="0")
    assert lung[0] < 0.7 and prostate[0] > 0.99
    gene = _row(cpts["GENE"], states, parents, "GENE", SITE_ICD10_O2="C349")
    assert _mode(gene) == "3236"   # EGFR
    braf = _row(cpts["OVERALL_TS"], states, parents, "OVERALL_TS", GENE="1097", SITE_ICD10_O2="C439")
    assert braf["abnormal"] > 0.35
    impact = _row(cpts["PRO_IMP"], states, parents, "PRO_IMP", GENE="1097", DNASEQ_GAT="abnormal")
    assert _mode(impact) == "p.(Val600Glu)"


# ---------------------------------------------------------------------------------------------
# hazards of REGIMEN and RADIOTHERAPY
# ---------------------------------------------------------------------------------------------
def test_expected_occurrences_is_exact_on_simple_cases():
    # one event, constant hazard a, no death: P(N >= 1) = 1 - exp(-a T)
    assert rt.expected_occurrences(np.array([[0.01]]), np.array([0.0]), [0, 100]) == pytest.approx(1 - math.exp(-1))
    # competing death at the same rate: a / (a + d) * (1 - exp(-(a + d) T))
    assert rt.expected_occurrences(np.array([[0.01]]), np.array([0.01]), [0, 100]) == pytest.approx(
        0.5 * (1 - math.exp(-2)))
    # no death before the entry (a later diagnosis proves the patient alive)
    assert rt.expected_occurrences(np.array([[0.01]]), np.array([0.01]), [0, 100], entry=100) == pytest.approx(
        1 - math.exp(-1))
    # two occurrences, no death: Poisson(a T) truncated at 2
    mean = 1.5
    expected = sum(min(k, 2) * math.exp(-mean) * mean ** k / math.factorial(k) for k in range(40))
    assert rt.expected_occurrences(np.array([[0.015], [0.015]]), np.array([0.0]), [0, 100]) == pytest.approx(expected)


def test_daily_grid_agrees_with_the_exact_solution():
    rates = np.stack([rt.treatment_hazard("REGIMEN", "lung", "3", "C", k) for k in range(4)])
    starts = [0, 30, 91, 182, 365, 730, 1826]
    increments = rt._daily_increments(rates[None], starts, 1500)[0]
    no_death = rt.expected_occurrences(rates, np.zeros(7), [*starts[:6], 1500])
    assert increments.sum() == pytest.approx(no_death, rel=1e-9)


@pytest.mark.parametrize(("event", "target"), [("REGIMEN", 0.33), ("RADIOTHERAPY", 0.25)])
def test_hazards_give_the_intended_numbers_per_patient(event, target):
    assert rt.expected_per_patient(event) == pytest.approx(target, rel=0.03)


def test_follow_up_mix_is_a_distribution():
    mix = rt.follow_up_mix()
    assert sum(w for w, _, _ in mix) == pytest.approx(1.0, abs=1e-3)
    assert all(0 <= entry < horizon for _, horizon, entry in mix)
    assert sum(w for w, _, e in mix if e == 0) > rt.N_TUMOURS_MIX[0]   # single tumours, and same half-year


def test_index_mix_is_a_distribution():
    total = sum(share for rows in rt.INDEX_MIX.values() for row in rows for share in row)
    assert total == pytest.approx(1.0, abs=1e-3)
    for shares in rt.AGE_GIVEN_STAGE.values():
        assert sum(shares) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("event", rt.TREATMENT_EVENTS)
def test_first_treatments_mostly_within_three_months(event):
    for site, stage, intent in itertools.product(rt.SITE_GROUPS, rt.STAGE_GROUPS, rt.INTENT_GROUPS):
        rates = rt.treatment_hazard(event, site, stage, intent, 0)
        total = float(rates @ np.asarray(rt.NOMINAL_WIDTHS))
        if total == 0:
            continue
        early = float(rates[:2] @ np.asarray(rt.NOMINAL_WIDTHS[:2]))   # days 0-90
        # P(first within 91 days | first ever), without death
        assert (1 - math.exp(-early)) / (1 - math.exp(-total)) > 0.55, (site, stage, intent)


def _cumulative(event, **fixed):
    """Mean total cumulative hazard of the first occurrence over the index mix, restricted to ``fixed``."""
    total = weight = 0.0
    for site, rows in rt.INDEX_MIX.items():
        for stage, shares in zip(rt.STAGE_GROUPS, rows, strict=True):
            for intent, share in zip(rt.INTENT_GROUPS, shares, strict=True):
                cell = {"site": site, "stage": stage, "intent": intent}
                if any(cell[k] not in v for k, v in fixed.items()):
                    continue
                rates = rt.treatment_hazard(event, site, stage, intent, 0)
                total += share * float(rates @ np.asarray(rt.NOMINAL_WIDTHS))
                weight += share
    return total / weight


@pytest.mark.parametrize("event", rt.TREATMENT_EVENTS)
def test_more_treatment_for_advanced_stages_and_curative_plans(event):
    assert _cumulative(event, stage=("3", "4")) > _cumulative(event, stage=("1", "2"))
    assert _cumulative(event, intent=("C",)) > _cumulative(event, intent=("Z",)) > _cumulative(event, intent=("X",))
    for k in (1, 2):  # later occurrences are likelier after advanced disease
        late = rt.treatment_hazard(event, "lung", "4", "C", k).sum()
        early = rt.treatment_hazard(event, "lung", "1", "C", k).sum()
        assert late > early


def test_hazard_table_follows_a_process_layout():
    labels = {"SITE_ICD10_O2": rt.SITE_GROUPS, "STAGE_BEST": rt.STAGE_GROUPS, "CANCERCAREPLANINTENT": rt.INTENT_GROUPS}
    given = ("STAGE_BEST", "SITE_ICD10_O2", "CANCERCAREPLANINTENT")   # any order
    layout = SimpleNamespace(
        names=("REGIMEN", "RADIOTHERAPY"), n_events=2, given=[given, given[:2]],
        group_labels=[[labels[g] for g in given], [labels[g] for g in given[:2]]],
        shapes=[(6, 9, 4, 4, 7), (6, 9, 3, 7)])
    tables = rt.reference_treatment_hazards({"treatment": layout})
    assert tables["REGIMEN"].shape == (6, 9, 4, 4, 7)
    assert tables["RADIOTHERAPY"].shape == (6, 9, 3, 7)
    stage, site = rt.STAGE_GROUPS.index("3"), rt.SITE_GROUPS.index("breast")
    assert np.allclose(tables["REGIMEN"][stage, site, 0, 1], rt.treatment_hazard("REGIMEN", "breast", "3", "C", 1))
    # a process without plan intent takes the neutral ("unknown") group
    assert np.allclose(tables["RADIOTHERAPY"][stage, site, 0],
                       rt.treatment_hazard("RADIOTHERAPY", "breast", "3", "unknown", 0))
    with pytest.raises(KeyError):
        rt.treatment_hazard_table(SimpleNamespace(names=("DEATH",), shapes=[(7,)], given=[()], group_labels=[[]]), 0)
