"""Structure tools: diff (added, removed, reversed edges, SHD) and drawing (PNG, SVG, tier bands)."""

from __future__ import annotations

import dataclasses
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import bayesgen as bg
from bayesgen import BayesgenError, Structure, StructureDiff
from bayesgen.structure import draw as draw_module

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture()
def before() -> Structure:
    return Structure.from_edges([("A", "B"), ("B", "C"), ("A", "D"), ("C", "E")], nodes=["A", "B", "C", "D", "E"])


@pytest.fixture()
def after() -> Structure:
    # A -> B reversed, C -> E reversed, A -> D removed, B -> D and A -> E added, B -> C kept
    return Structure.from_edges([("B", "A"), ("B", "C"), ("E", "C"), ("B", "D"), ("A", "E")],
                                nodes=["A", "B", "C", "D", "E"])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()  # raises if the SVG is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return ["".join(element.itertext()).strip() for element in root.iter(f"{SVG}text")]


def svg_ids(path: Path, prefix: str) -> list[str]:
    return [e.get("id") for e in ET.parse(path).getroot().iter() if (e.get("id") or "").startswith(prefix)]


# -- diff ------------------------------------------------------------------------------------------
def test_diff_sorts_edges_into_added_removed_and_reversed(before, after):
    change = before.diff(after)
    assert isinstance(change, StructureDiff)
    assert change.added == (("B", "D"), ("A", "E"))          # in the other's file order
    assert change.removed == (("A", "D"),)
    assert change.reversed == (("A", "B"), ("C", "E"))       # as this structure has them
    assert change.shd == 5


def test_diff_the_other_way_round_swaps_added_and_removed_and_keeps_the_shd(before, after):
    forward, backward = before.diff(after), after.diff(before)
    assert set(backward.added) == set(forward.removed)
    assert set(backward.removed) == set(forward.added)
    assert set(backward.reversed) == {(b, a) for a, b in forward.reversed}
    assert backward.shd == forward.shd


def test_a_reversed_edge_counts_once_not_as_added_plus_removed():
    change = Structure.from_edges([("A", "B")]).diff(Structure.from_edges([("B", "A")]))
    assert (change.added, change.removed, change.reversed, change.shd) == ((), (), (("A", "B"),), 1)


@pytest.mark.parametrize("name", ["simulacrum_v2", "simulacrum_v2_core", "simulacrum_v2_compact", "ncr_breast", "gbsg2"])
def test_diff_of_a_structure_with_itself_is_empty(name):
    structure = Structure.load(REPO / "structures" / f"{name}.yaml")
    change = structure.diff(Structure.load(REPO / "structures" / f"{name}.yaml"))
    assert (change.added, change.removed, change.reversed, change.shd) == ((), (), (), 0)
    assert str(change) == "SHD 0: the structures have the same edges"


def test_diff_compares_edges_only_and_counts_edges_of_new_nodes():
    small = Structure.from_edges([("A", "B")])
    large = Structure.from_edges([("A", "B"), ("B", "Z")], nodes=["A", "B", "Z", "Y"])
    assert large.diff(small).removed == (("B", "Z"),) and small.diff(large).added == (("B", "Z"),)
    assert Structure.from_edges([], nodes=["A"]).diff(Structure.from_edges([], nodes=["B"])).shd == 0


def test_diff_str_names_every_edge_and_the_counts(before, after):
    text = str(before.diff(after))
    lines = text.splitlines()
    assert lines[0] == "SHD 5: 2 added, 1 removed, 2 reversed"
    assert "  added:    B -> D" in lines and "  added:    A -> E" in lines
    assert "  removed:  A -> D" in lines
    assert "  reversed: A -> B (now B -> A)" in lines and "  reversed: C -> E (now E -> C)" in lines
    assert len(lines) == 1 + 5


def test_structure_diff_is_frozen_exported_and_refuses_non_structures(before):
    change = before.diff(before)
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.added = (("X", "Y"),)
    assert "StructureDiff" in bg.__all__ and "StructureDiff" in bg.structure.__all__
    assert bg.StructureDiff is bg.structure.StructureDiff is StructureDiff
    with pytest.raises(TypeError, match="Structure"):
        before.diff([("A", "B")])


# -- draw ------------------------------------------------------------------------------------------
@pytest.fixture()
def tiered() -> Structure:
    return Structure.from_edges(
        [("SEX", "SITE"), ("SITE", "STAGE"), ("AGE", "STAGE"), ("STAGE", "DEAD"), ("SITE", "LOOSE")],
        nodes=["SEX", "AGE", "STAGE", "SITE", "DEAD", "LOOSE"],
        tiers=[("patient", ["SEX", "AGE"]), ("tumour", ["STAGE", "SITE"]), ("outcome", ["DEAD"])])


def test_draw_writes_a_non_empty_png(tiered, tmp_path):
    out = tmp_path / "dag.png"
    tiered.draw(out)
    width, height = png_size(out)
    assert width > 500 and height > 300
    assert out.stat().st_size > 5_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dag.png"]  # no temporary file left behind


def test_draw_writes_a_valid_svg_with_tier_names_nodes_and_every_edge(tiered, tmp_path):
    out = tmp_path / "dag.SVG"  # the suffix is case-insensitive
    tiered.draw(out)
    texts = svg_texts(out)
    for tier in ("patient", "tumour", "outcome", draw_module.NO_TIER):  # LOOSE is in no tier
        assert tier in texts
    for node in tiered.nodes:
        assert node in texts
    assert sorted(svg_ids(out, "edge:")) == sorted(f"edge:{a}->{b}" for a, b in tiered.edges)
    assert sorted(svg_ids(out, "node:")) == sorted(f"node:{n}" for n in tiered.nodes)


def test_bands_follow_tier_order_with_untiered_nodes_last_and_nodes_by_depth(tiered):
    bands = draw_module._bands(tiered)
    assert [name for name, _ in bands] == ["patient", "tumour", "outcome", draw_module.NO_TIER]
    # within a tier, left to right by topological depth: SITE (depth 1) before STAGE (depth 2),
    # although the tier lists STAGE first
    assert dict(bands)["tumour"] == ("SITE", "STAGE")
    assert dict(bands)[draw_module.NO_TIER] == ("LOOSE",)
    untiered = Structure.from_edges([("B", "A")], nodes=["A", "B"])
    assert draw_module._bands(untiered) == [("nodes", ("B", "A"))]
    # depth, not the topological order (P, Q, R): R has no parents, Q has one
    one_tier = Structure.from_edges([("P", "Q")], nodes=["P", "Q", "R"], tiers=[("t", ["P", "Q", "R"])])
    assert one_tier.topological_order() == ("P", "Q", "R")
    assert draw_module._bands(one_tier) == [("t", ("P", "R", "Q"))]


def test_the_figure_grows_with_the_widest_tier(tmp_path):
    small = Structure.from_edges([(f"N{i}", f"N{i + 1}") for i in range(3)])
    large = Structure.from_edges([(f"N{i}", f"N{i + 1}") for i in range(39)])
    small.draw(tmp_path / "small.png")
    large.draw(tmp_path / "large.png")
    assert png_size(tmp_path / "large.png")[0] > 3 * png_size(tmp_path / "small.png")[0]


def test_draw_of_the_shipped_simulacrum_structure_shows_every_node_tier_and_table(tmp_path):
    structure = Structure.load(REPO / "structures" / "simulacrum_v2_core.yaml")
    structure.draw(tmp_path / "simulacrum.png", schema="simulacrum_v2")
    width, height = png_size(tmp_path / "simulacrum.png")
    assert width > 2_000 and height > 600  # 27 tumour nodes need room
    structure.draw(tmp_path / "simulacrum.svg", schema=bg.Schema.load("simulacrum_v2"))
    texts = svg_texts(tmp_path / "simulacrum.svg")
    for tier in structure.tiers:
        assert tier.name in texts
    for node in structure.nodes:  # long names are wrapped at underscores, one text element per line
        for line in draw_module._wrap(node).splitlines():
            assert line in texts, node
    assert {"SIM_AV_PATIENT", "SIM_AV_TUMOUR"} <= set(texts)  # the legend of tables
    assert len(svg_ids(tmp_path / "simulacrum.svg", "edge:")) == len(structure.edges) == 53


def test_node_names_are_drawn_literally_not_as_mathtext(tmp_path):
    dollars = Structure.from_edges([("$x$", "a_b")])
    dollars.draw(tmp_path / "dollars.svg")
    texts = svg_texts(tmp_path / "dollars.svg")
    assert "$x$" in texts and "a_b" in texts


def test_draw_refuses_other_suffixes_without_writing(tiered, tmp_path):
    with pytest.raises(BayesgenError, match=r"\.png or \.svg"):
        tiered.draw(tmp_path / "dag.pdf")
    assert list(tmp_path.iterdir()) == []


def test_draw_without_matplotlib_says_how_to_install_it(tiered, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    with pytest.raises(BayesgenError, match=r"pip install 'bayesgen\[plot\]'"):
        tiered.draw(tmp_path / "dag.png")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_draw_leaves_the_previous_picture_untouched(tiered, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    out = tmp_path / "dag.svg"
    out.write_text("previous picture", encoding="utf-8")

    def broken(self, *args, **kwargs):
        Path(args[0]).write_text("half a pict", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="No space"):
        tiered.draw(out)
    assert out.read_text(encoding="utf-8") == "previous picture"
    assert [p.name for p in tmp_path.iterdir()] == ["dag.svg"]


def test_a_drawn_picture_is_an_ordinary_file_not_a_private_temporary_one(tiered, tmp_path):
    import os

    old = os.umask(0o022)
    try:
        tiered.draw(tmp_path / "dag.png")
    finally:
        os.umask(old)
    assert (tmp_path / "dag.png").stat().st_mode & 0o777 == 0o644
