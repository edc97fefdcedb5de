"""The HTML report: self-contained, every plot present as a PNG; optionally rendered by Chromium."""

from __future__ import annotations

import base64
import importlib.util
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import bayesgen as bg
from bayesgen.evaluate.rows import split_persons

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
pytest.importorskip("lifelines")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links = {}, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images[attrs.get("data-plot")] = attrs["src"]
        for key in ("src", "href"):
            if key in attrs and not attrs[key].startswith("data:"):
                self.links.append(attrs[key])


@pytest.fixture(scope="module")
def registry_report(tmp_path_factory):
    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    real = bg.datasets.simulate_registry(1_500, rng=0, full=False)
    train, holdout = split_persons(real, schema, 0.25, rng=0)
    model = bg.Synthesizer(schema, bg.Structure.load("structures/simulacrum_v2_compact.yaml"), epsilon=3.0).fit(train)
    report = bg.evaluate(train, model.sample(1_200, rng=1), schema, holdout=holdout, ledger=model.ledger_,
                         max_combinations=200)
    path = tmp_path_factory.mktemp("report") / "report.html"
    report.to_html(path)
    return report, path


def test_html_is_self_contained_with_every_plot(registry_report):
    report, path = registry_report
    parser = _Images()
    parser.feed(path.read_text(encoding="utf-8"))
    assert parser.links == []  # no external asset of any kind
    expected = {"km"}
    for table in ("SIM_AV_PATIENT", "SIM_AV_TUMOUR", "PERSONS"):
        expected |= {f"marginals-{table}", f"cramer-{table}", f"dcr-{table}"}
    expected |= {"spearman-SIM_AV_TUMOUR", "spearman-PERSONS"}
    assert expected <= set(parser.images)
    for name, src in parser.images.items():
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix), name
        assert base64.b64decode(src[len(prefix):]).startswith(PNG_MAGIC), name
    text = path.read_text(encoding="utf-8")
    for section in ("Summary", "Marginals", "Pairwise associations", "Survival", "train on synthetic",
                    "Privacy ledger", "Empirical privacy metrics"):
        assert section in text
    assert "discrete_laplace" in text or "Laplace" in text or "laplace" in text.lower()  # the ledger's entries


def test_ledger_of_a_non_private_model_is_flagged(tmp_path):
    schema = bg.Schema.load("schemas/gbsg2.yaml")
    data = bg.datasets.load_gbsg2()
    model = bg.Synthesizer(schema, epsilon=float("inf")).fit(data)
    path = tmp_path / "r.html"
    bg.evaluate(data, model.sample(300, rng=0), schema, ledger=model.ledger_, ways=(1, 2)).to_html(path)
    assert "NOT differentially private" in path.read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (optional browser check)")
def test_report_renders_in_headless_chromium(registry_report, tmp_path):
    spec = importlib.util.spec_from_file_location("screenshot_report", ROOT / "scripts" / "screenshot_report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["screenshot_report"] = module
    spec.loader.exec_module(module)
    _, path = registry_report
    png = module.screenshot(path, tmp_path / "shot.png", width=1200, height=2400)
    facts = module.check_screenshot(png, 1200, 2400)
    assert facts["non_white"] > 0.05 and facts["colours"] > 200
