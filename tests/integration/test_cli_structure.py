"""``bayesgen structure learn | show | diff``, in process through ``main(argv)``."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import bayesgen as bg
from bayesgen.cli.main import main
from bayesgen.tables.io import write_tables

REPO = Path(__file__).resolve().parents[2]
FULL = REPO / "structures" / "simulacrum_v2_core.yaml"
COMPACT = REPO / "structures" / "simulacrum_v2_compact.yaml"


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ledger_total(printed: str) -> float:
    match = re.search(r"^\s+total\s+([0-9.]+)\s+\(epsilon spent: ([0-9.]+)\)$", printed, re.MULTILINE)
    assert match, printed
    assert float(match.group(1)) == pytest.approx(float(match.group(2)), abs=1e-4)
    return float(match.group(1))


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("structure") / "data"
    write_tables(bg.datasets.simulate_registry(2000, rng=0, full=False), folder, "csv")
    return folder


@pytest.fixture(scope="module")
def gbsg2(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gbsg2") / "data"
    tables = bg.datasets.load_gbsg2()
    assert list(tables) == [bg.Schema.load("gbsg2").root_table] == ["GBSG2"]
    write_tables(tables, folder, "csv")
    return folder


@pytest.fixture(scope="module")
def schema() -> bg.Schema:
    return bg.Schema.load("schemas/simulacrum_v2_core.yaml")


# -- learn -----------------------------------------------------------------------------------------
def test_learn_writes_a_valid_structure_and_prints_a_ledger_within_epsilon(registry, schema, tmp_path, capsys):
    out, picture = tmp_path / "learned.yaml", tmp_path / "learned.png"
    code, printed, err = run(["structure", "learn", registry, "--schema", "schemas/simulacrum_v2_core.yaml",
                              "--epsilon", "0.3", "--seed", "0", "-o", out, "--draw", picture], capsys)
    assert code == 0, err
    learned = bg.Structure.load(out)
    learned.validate_for(schema)
    assert sorted(learned.nodes) == sorted(schema.variables)
    assert learned.schema_name == "simulacrum_v2_core"
    # tiers from the shipped structure, under their names (the learner only numbers them)
    assert [(t.name, set(t.nodes)) for t in learned.tiers] == [(t.name, set(t.nodes))
                                                               for t in bg.Structure.load(FULL).tiers]
    assert all(learned.reasons.get(edge) for edge in learned.edges)
    assert f"learned {len(learned.edges)} edges over {len(learned.nodes)} nodes (privbayes)" in printed
    assert f"structure written to {out}" in printed
    assert "Privacy ledger (pure DP; budget 0.3 epsilon)" in printed
    assert "structure step" in printed
    assert 0 < ledger_total(printed) <= 0.3
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learn_takes_tiers_and_degree_from_the_options(registry, schema, tmp_path, capsys):
    tiers = tmp_path / "tiers.yaml"
    nodes = list(schema.variables)
    patient = ["GENDER", "ETHNICITY", "N_TUMOURS"]  # tumours and outcomes together in the second tier
    bg.Structure.from_edges([], nodes=nodes, tiers=[("who", patient),
                                                    ("what", [n for n in nodes if n not in patient])]).save(tiers)
    out = tmp_path / "learned.yaml"
    # epsilon inf: no noise, so the search is deterministic (and says it is not private)
    code, printed, err = run(["structure", "learn", registry, "--schema", "simulacrum_v2_core", "--epsilon", "inf",
                              "--max-parents", "1", "--tiers-from", tiers, "-o", out], capsys)
    assert code == 0, err
    assert "NOT differentially private" in printed
    learned = bg.Structure.load(out)
    learned.validate_for(schema)
    assert [(t.name, set(t.nodes)) for t in learned.tiers] == [("who", set(patient)),
                                                               ("what", set(nodes) - set(patient))]
    chosen = [edge for edge in learned.edges if "chosen by the DP search" in learned.reasons[edge]]
    assert len(chosen) >= 5  # without --max-parents the degree rule allows none at 2,000 patients
    for node in learned.nodes:  # at most one parent beyond the edges the schema's constraints require
        assert sum(1 for edge in chosen if edge[1] == node) <= 1, node


def test_learn_refuses_a_bad_drawing_name_before_learning(registry, tmp_path, capsys):
    out = tmp_path / "learned.yaml"
    code, printed, err = run(["structure", "learn", registry, "--schema", "simulacrum_v2_core", "-o", out,
                              "--draw", tmp_path / "learned.pdf"], capsys)
    assert code == 2
    assert "bayesgen structure: error: cannot draw to" in err and ".png or .svg" in err
    assert printed == "" and not out.exists()


def test_hill_climb_on_gbsg2_is_non_private_and_valid(gbsg2, tmp_path, capsys):
    out = tmp_path / "gbsg2.yaml"
    code, printed, err = run(["structure", "learn", gbsg2, "--schema", "schemas/gbsg2.yaml", "--method", "hill_climb",
                              "--max-parents", "2", "-o", out], capsys)
    assert code == 0, err
    schema = bg.Schema.load("gbsg2")
    learned = bg.Structure.load(out)
    learned.validate_for(schema)
    assert learned.edges and all(len(learned.parents(n)) <= 2 for n in learned.nodes)
    assert [t.name for t in learned.tiers] == ["patient", "tumour", "treatment", "outcome"]
    assert all("hill climbing" in learned.reasons[e] or "required" in learned.reasons[e] for e in learned.edges)
    assert "(hill_climb)" in printed and "NOT differentially private" in printed
    assert "Privacy ledger" not in printed


@pytest.mark.parametrize("score", ["bic", "bdeu", "k2"])
def test_hill_climb_takes_each_score(gbsg2, tmp_path, capsys, score):
    out = tmp_path / f"{score}.yaml"
    code, _, err = run(["structure", "learn", gbsg2 / "GBSG2.csv", "--schema", "gbsg2", "--method", "hill_climb",
                        "--score", score, "-o", out], capsys)
    assert code == 0, err
    assert f"non-private hill climbing ({score})" in out.read_text(encoding="utf-8")


# -- show ------------------------------------------------------------------------------------------
def test_show_prints_every_tier_node_parents_cells_and_reason(schema, tmp_path, capsys):
    picture = tmp_path / "full.svg"
    code, printed, err = run(["structure", "show", FULL, "--schema", "simulacrum_v2_core", "--draw", picture], capsys)
    assert code == 0, err
    structure = bg.Structure.load(FULL)
    lines = printed.splitlines()
    assert lines[0] == f"{FULL}: 38 nodes, 53 edges, 3 tiers (schema simulacrum_v2_core)"
    assert "valid for schema simulacrum_v2_core" in lines
    for tier in structure.tiers:
        assert f"  {tier.name} ({len(tier.nodes)} nodes)" in lines
    variables = schema.variables
    written = set(structure.event_nodes(schema))
    assert written == {"VITALSTATUS", "VITALSTATUSDATE", "DATE_FIRST_SURGERY"}
    total = {}
    for node in structure.nodes:
        if node in written:
            assert re.search(rf"^    {node} +written by the events module \(process \w+\)$", printed, re.MULTILINE)
            continue
        parents = structure.parents(node)
        total[node] = cells = math.prod(variables[n].n_states for n in (*parents, node))
        pattern = rf"^    {node} +{cells:,} cells  <- {re.escape(', '.join(parents) or '(no parents)')}$"
        assert re.search(pattern, printed, re.MULTILINE), node
    largest = max(total, key=total.get)
    assert f"{sum(total.values()):,} cells in all; the largest is {largest}'s ({total[largest]:,} cells)" in printed
    assert "  DEATH: STAGE_BEST (6 groups), AGE (5 groups)" in lines
    assert "  SURGERY: CANCERCAREPLANINTENT, STAGE_BEST (6 groups)" in lines
    for (parent, child), why in structure.reasons.items():
        assert f"  {parent} -> {child}: {why}" in lines
    assert "tumour" in picture.read_text(encoding="utf-8")


def test_show_without_a_schema_prints_no_cells(capsys):
    code, printed, err = run(["structure", "show", "gbsg2"], capsys)
    assert code == 0, err
    assert "cells" not in printed and "valid for schema" not in printed
    for tier in ("patient", "tumour", "treatment", "outcome"):
        assert re.search(rf"^  {tier} \(\d nodes?\)$", printed, re.MULTILINE), tier
    assert "    tsize     <- tgrade" in printed.splitlines()


def test_show_against_the_wrong_schema_exits_2_naming_the_problem(capsys):
    code, printed, err = run(["structure", "show", "gbsg2", "--schema", "simulacrum_v2_core"], capsys)
    assert code == 2 and printed == ""
    assert "node 'age' is not a model variable of schema simulacrum_v2_core" in err


# -- diff ------------------------------------------------------------------------------------------
def test_diff_of_the_full_and_compact_structures_is_10_removed_edges(capsys):
    code, printed, err = run(["structure", "diff", FULL, COMPACT], capsys)
    assert code == 0, err
    assert "SHD 10: 0 added, 10 removed, 0 reversed" in printed
    full, compact = bg.Structure.load(FULL), bg.Structure.load(COMPACT)
    removed = [line.split(":", 1)[1].strip() for line in printed.splitlines() if line.startswith("  removed:")]
    assert sorted(removed) == sorted(f"{a} -> {b}" for a, b in set(full.edges) - set(compact.edges))
    code, printed, _ = run(["structure", "diff", COMPACT, FULL], capsys)
    assert "SHD 10: 10 added, 0 removed, 0 reversed" in printed


def test_diff_reports_reversed_edges_and_identical_files(tmp_path, capsys):
    shipped = bg.Structure.load("gbsg2")
    flipped = [(b, a) if (a, b) == ("estrec", "progrec") else (a, b) for a, b in shipped.edges]
    other = tmp_path / "flipped.yaml"
    bg.Structure.from_edges(flipped, nodes=shipped.nodes).save(other)
    code, printed, err = run(["structure", "diff", "gbsg2", other], capsys)
    assert code == 0, err
    assert "SHD 1: 0 added, 0 removed, 1 reversed" in printed
    assert "  reversed: estrec -> progrec (now progrec -> estrec)" in printed.splitlines()
    code, printed, _ = run(["structure", "diff", "gbsg2", "structures/gbsg2.yaml"], capsys)
    assert code == 0 and "SHD 0: the structures have the same edges" in printed


def test_diff_of_a_missing_file_exits_2(tmp_path, capsys):
    code, _, err = run(["structure", "diff", "gbsg2", tmp_path / "nope.yaml"], capsys)
    assert code == 2 and "cannot read structure file" in err


def test_structure_help_lists_its_actions(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["structure", "--help"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out
    for action in ("learn", "show", "diff"):
        assert re.search(rf"^\s+{action}\s", printed, re.MULTILINE), action


def test_fit_can_learn_the_structure_on_the_same_budget(tmp_path, capsys):
    import bayesgen as bg
    from bayesgen.tables.io import write_tables

    data = tmp_path / "data"
    write_tables(bg.datasets.simulate_registry(1500, rng=0, full=False), data)
    model_path = tmp_path / "model.json"
    code, printed, _ = run(["fit", data, "--schema", "simulacrum_v2_core", "--structure", "learn", "--epsilon", "1",
                            "--structure-share", "0.25", "-o", model_path], capsys)
    assert code == 0
    assert "learned a structure" in printed and "25% of the budget" in printed
    model = bg.Synthesizer.load(model_path)
    model.structure_.validate_for(bg.Schema.load("simulacrum_v2_core"))
    spent = sum(e["cost"] for e in model.ledger_["entries"])
    structure_spent = sum(e["cost"] for e in model.ledger_["entries"] if not e["what"].startswith("counts of"))
    assert spent == pytest.approx(1.0) and 0 < structure_spent <= 0.25 + 1e-9
