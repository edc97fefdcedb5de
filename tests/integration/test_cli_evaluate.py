"""`bayesgen evaluate` and `bayesgen sweep` end to end, on files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import bayesgen as bg
from bayesgen.cli.main import main
from bayesgen.evaluate.rows import split_persons
from bayesgen.tables.io import write_tables

pytest.importorskip("sklearn")
pytest.importorskip("lifelines")
pytest.importorskip("matplotlib")


def test_evaluate_command_writes_html_and_json(tmp_path, capsys):
    schema = bg.Schema.load("schemas/gbsg2.yaml")
    train, holdout = split_persons(bg.datasets.load_gbsg2(), schema, 0.2, rng=0)
    model = bg.Synthesizer(schema, epsilon=1.0).fit(train)
    model.save(tmp_path / "model.json")
    write_tables(train, tmp_path / "real", "csv")
    write_tables(holdout, tmp_path / "holdout", "csv")
    write_tables(model.sample(500, rng=0), tmp_path / "synthetic", "csv")
    code = main(["evaluate", str(tmp_path / "real"), str(tmp_path / "synthetic"), "--schema", "schemas/gbsg2.yaml",
                 "-o", str(tmp_path / "report.html"), "--holdout", str(tmp_path / "holdout"),
                 "--model", str(tmp_path / "model.json"), "--json", str(tmp_path / "report.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert "| GBSG2 |" in out and "not differentially private" in out
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count('data-plot="') >= 5 and "epsilon spent" in html.replace("ε spent", "epsilon spent")
    body = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert 0 <= body["tables"]["GBSG2"]["fidelity"]["mean_tvd_2way"] <= 1
    assert 0 <= body["tables"]["GBSG2"]["privacy"]["mia_auc"] <= 1
    assert body["utility"]["test_set"] == "holdout"


def test_evaluate_command_reports_bad_input(tmp_path, capsys):
    write_tables(bg.datasets.load_gbsg2(), tmp_path / "real", "csv")
    code = main(["evaluate", str(tmp_path / "real"), str(tmp_path / "missing"), "--schema", "schemas/gbsg2.yaml",
                 "-o", str(tmp_path / "r.html")])
    assert code == 2 and "error" in capsys.readouterr().err


def test_sweep_command_writes_table_and_plot(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", "--simulate", "800", "--schema", "schemas/simulacrum_v2_core.yaml", "--epsilons", "1", "inf",
                 "--structures", "structures/simulacrum_v2_compact.yaml", "-o", str(out)])
    assert code == 0
    table = pd.read_csv(out / "sweep.csv")
    assert table["epsilon"].tolist() == [1.0, float("inf")]
    assert table.loc[1, "mean_tvd_2way"] < table.loc[0, "mean_tvd_2way"]
    assert (out / "utility_vs_epsilon.png").read_bytes().startswith(b"\x89PNG")
    assert "| structure | epsilon |" in (out / "sweep.md").read_text(encoding="utf-8")
    assert "not a release" in capsys.readouterr().out
