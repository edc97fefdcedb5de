"""Drawing a structure as a PNG or SVG picture: tiers as horizontal bands, edges as arrows.

The layout is deterministic and needs no graph-drawing package beyond matplotlib (an optional
dependency: ``pip install 'bayesgen[plot]'``, imported only when a picture is drawn):

* one horizontal band per tier, top to bottom in tier order, labelled with the tier's name; nodes in
  no tier get an extra band at the bottom ("(no tier)");
* inside a band, nodes are spread over the whole width, left to right by topological depth (the
  longest path from a node without parents), ties in the structure's topological order; a band's
  nodes are staggered over a few sub-rows so that edges between nodes of one tier stay visible;
* edges are arrows, curved inside a band; the figure grows with the number of nodes (about 0.8 inch
  per node of the widest band) and uses a small font, so a 40-node DAG stays readable.

With a schema, nodes are coloured by the table they belong to.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from bayesgen.errors import BayesgenError
from bayesgen.files import atomic_path

FORMATS = {".png": "png", ".svg": "svg"}
NO_TIER = "(no tier)"

NODE_SPACING = 0.8    # inches per node of the widest band
LABEL_MARGIN = 1.5    # inches on the left for the band labels
RIGHT_MARGIN = 0.4
TITLE_HEIGHT = 0.6
SUBROW_HEIGHT = 0.55
BAND_PADDING = 0.3
MIN_WIDTH = 6.0
FONT_SIZE = 7
WRAP_AT = 14          # node names longer than this are wrapped at underscores
DPI = 150
MAX_BULGE = 0.25      # inches an arrow between two nodes of one band may curve away from the straight line

BAND_COLOURS = ("#f3f5f8", "#ffffff")
NODE_COLOUR = "#dbe8f6"
UNKNOWN_COLOUR = "#eeeeee"
TABLE_COLOURS = ("#dbe8f6", "#fde3c8", "#d9f0d3", "#f6d5e5", "#e6defa", "#fff3b0", "#d4f1f4", "#f2e0d0")


def draw_structure(structure, path: str | os.PathLike, schema=None) -> None:
    """Write a picture of ``structure`` to ``path`` (``.png`` or ``.svg``), atomically.

    Parameters
    ----------
    structure : Structure
    path : str or PathLike
        The suffix chooses the format: ``.png`` or ``.svg`` (SVG text stays text, searchable).
    schema : Schema or str, optional
        Colour nodes by table (a path or shipped schema name is loaded).

    Raises
    ------
    BayesgenError
        If the suffix is neither ``.png`` nor ``.svg``, or matplotlib is not installed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from bayesgen import Structure
    >>> dag = Structure.from_edges([("SEX", "SITE"), ("SITE", "STAGE")], tiers=[("patient", ["SEX"]),
    ...                                                                      ("tumour", ["SITE", "STAGE"])])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "dag.svg"
    >>> draw_structure(dag, out)
    >>> "tumour" in out.read_text()
    True
    """
    target = Path(path)
    fmt = check_drawable(target)
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    if isinstance(schema, str | os.PathLike):
        from bayesgen.schema.schema import Schema

        schema = Schema.load(schema)

    bands = _bands(structure)
    widest = max([len(nodes) for _, nodes in bands] + [1])
    width = LABEL_MARGIN + max(MIN_WIDTH, NODE_SPACING * widest) + RIGHT_MARGIN
    content = width - LABEL_MARGIN - RIGHT_MARGIN
    heights = [2 * BAND_PADDING + _subrows(len(nodes)) * SUBROW_HEIGHT for _, nodes in bands]
    height = TITLE_HEIGHT + sum(heights) + 0.1

    colour_of, tables = _colours(structure, schema)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bayesgen", "font.size": FONT_SIZE}):
        figure = Figure(figsize=(width, height), dpi=DPI)
        canvas = FigureCanvasAgg(figure)
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(0, width)
        axes.set_ylim(0, height)
        axes.set_axis_off()

        title = f"{structure.schema_name or 'structure'}: {len(structure.nodes)} nodes, {len(structure.edges)} edges"
        axes.text(0.15, height - TITLE_HEIGHT / 2, title, fontsize=FONT_SIZE + 3, va="center", ha="left",
                  parse_math=False)
        if tables:
            handles = [Patch(facecolor=colour, edgecolor="#555555", linewidth=0.5, label=table)
                       for table, colour in tables.items()]
            axes.legend(handles=handles, loc="center right", bbox_to_anchor=(width - 0.1, height - TITLE_HEIGHT / 2),
                        bbox_transform=axes.transData, ncol=len(handles), frameon=False, fontsize=FONT_SIZE,
                        handlelength=1.2, columnspacing=1.0)

        position: dict[str, tuple[float, float]] = {}
        band_of: dict[str, int] = {}
        top = height - TITLE_HEIGHT
        for index, ((name, nodes), band_height) in enumerate(zip(bands, heights, strict=True)):
            bottom = top - band_height
            axes.axhspan(bottom, top, facecolor=BAND_COLOURS[index % 2], edgecolor="none", zorder=0)
            axes.axhline(bottom, color="#c8ccd2", linewidth=0.6, zorder=0)
            axes.text(0.15, (top + bottom) / 2, f"{name}\n{len(nodes)} node{'s' * (len(nodes) != 1)}",
                      fontsize=FONT_SIZE + 2, fontweight="bold", va="center", ha="left", linespacing=1.4,
                      parse_math=False, zorder=4)
            rows = _subrows(len(nodes))
            step = content / max(len(nodes), 1)
            for i, node in enumerate(nodes):
                x = LABEL_MARGIN + (i + 0.5) * step
                y = top - BAND_PADDING - (i % rows + 0.5) * SUBROW_HEIGHT
                position[node] = (x, y)
                band_of[node] = index
            top = bottom

        renderer = canvas.get_renderer()
        boxes = {}
        for node, (x, y) in position.items():
            label = axes.text(x, y, _wrap(node), ha="center", va="center", fontsize=FONT_SIZE, linespacing=1.1,
                              parse_math=False, zorder=4)
            extent = label.get_window_extent(renderer)
            w, h = extent.width / figure.dpi, extent.height / figure.dpi
            pad = 0.05
            boxes[node] = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=f"round,pad={pad}",
                                         facecolor=colour_of[node], edgecolor="#4a5560", linewidth=0.6, zorder=3)
            boxes[node].set_gid(f"node:{node}")
            axes.add_patch(boxes[node])
        for parent, child in structure.edges:
            (x1, y1), (x2, y2) = position[parent], position[child]
            if band_of[parent] == band_of[child]:  # curved, bulging at most MAX_BULGE inches
                rad = min(0.35, 2 * MAX_BULGE / max(math.hypot(x2 - x1, y2 - y1), 1e-9))
            else:
                rad = 0.06
            arrow = FancyArrowPatch((x1, y1), (x2, y2), patchA=boxes[parent], patchB=boxes[child],
                                    arrowstyle="-|>", mutation_scale=7, shrinkA=1, shrinkB=1, linewidth=0.6,
                                    color="#3b4a5a", alpha=0.7, connectionstyle=f"arc3,rad={rad:.4f}", zorder=2)
            arrow.set_gid(f"edge:{parent}->{child}")  # the SVG group's id, for whoever edits the picture
            axes.add_patch(arrow)

        with atomic_path(target) as tmp:
            metadata = {"Date": None} if fmt == "svg" else None
            figure.savefig(tmp, format=fmt, dpi=DPI, metadata=metadata)


def check_drawable(path: str | os.PathLike) -> str:
    """The format (``"png"`` or ``"svg"``) of ``path``; :class:`BayesgenError` if it cannot be drawn.

    Checks the suffix and that matplotlib can be imported, so that a command can refuse before
    doing (and spending budget on) the work whose result it would draw.
    """
    target = Path(path)
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise BayesgenError(f"cannot draw to {target}: the file name must end in .png or .svg")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BayesgenError("drawing a structure needs matplotlib, which is not installed: "
                            "pip install 'bayesgen[plot]'") from None
    return fmt


def _bands(structure) -> list[tuple[str, tuple[str, ...]]]:
    """(name, nodes left to right) for each tier in order, then the nodes in no tier."""
    order = structure.topological_order()
    rank = {node: i for i, node in enumerate(order)}
    depth: dict[str, int] = {}
    for node in order:
        depth[node] = 1 + max((depth[p] for p in structure.parents(node)), default=-1)

    def arrange(nodes) -> tuple[str, ...]:
        return tuple(sorted(nodes, key=lambda n: (depth[n], rank[n])))

    bands = [(tier.name, arrange(tier.nodes)) for tier in structure.tiers if tier.nodes]
    tiered = {node for tier in structure.tiers for node in tier.nodes}
    rest = [node for node in structure.nodes if node not in tiered]
    if rest:
        bands.append((NO_TIER if structure.tiers else "nodes", arrange(rest)))
    return bands


def _subrows(count: int) -> int:
    """Sub-rows a band of ``count`` nodes is staggered over."""
    if count <= 2:
        return 1
    return min(4, 1 + math.ceil(count / 8))


def _wrap(name: str) -> str:
    """Break a long node name after underscores into lines of about ``WRAP_AT`` characters."""
    if len(name) <= WRAP_AT or "_" not in name:
        return name
    parts = name.split("_")
    lines, current = [], parts[0]
    for part in parts[1:]:
        if len(current) + 1 + len(part) > WRAP_AT:
            lines.append(current + "_")
            current = part
        else:
            current = f"{current}_{part}"
    lines.append(current)
    return "\n".join(lines)


def _colours(structure, schema) -> tuple[dict[str, str], dict[str, str]]:
    """Node -> face colour, and table -> colour for the legend (empty without a schema)."""
    if schema is None:
        return {node: NODE_COLOUR for node in structure.nodes}, {}
    variables = schema.variables
    tables = {name: TABLE_COLOURS[i % len(TABLE_COLOURS)] for i, name in enumerate(schema.tables)}
    colour_of = {node: tables[variables[node].table] if node in variables else UNKNOWN_COLOUR
                 for node in structure.nodes}
    used = {variables[node].table for node in structure.nodes if node in variables}
    return colour_of, {name: colour for name, colour in tables.items() if name in used}
