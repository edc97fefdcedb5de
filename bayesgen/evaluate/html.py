"""One self-contained HTML page for a :class:`~bayesgen.evaluate.Report` (PNG plots embedded).

matplotlib draws on its Agg canvas directly (no pyplot, no global state); every image is a
``data:image/png;base64`` URI with a ``data-plot`` attribute naming it, and the page loads nothing
from anywhere else.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math

import numpy as np

from bayesgen.evaluate.report import Report, _fmt

MARGINAL_PANELS = 6  # columns with the largest 1-way TVD drawn per table
MAX_BARS = 16  # states per marginal panel (those that differ most)
REAL, SYNTHETIC = "#1f77b4", "#ff7f0e"

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1250px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 0.6em 0; border: 1px solid #eee; }
.note { color: #555; font-size: 0.9em; } .warn { background: #fff4e5; border-left: 4px solid #f0a020; padding: 0.6em; }
"""


def _png(figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(name: str, figure, alt: str) -> str:
    return (f'<img data-plot="{html.escape(name)}" alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{_png(figure)}">')


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def marginal_figure(panels: list[dict], title: str):
    """Bars of real against synthetic shares for the given 1-way marginals."""
    n = len(panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    figure = _figure(5.2 * cols, 3.2 * rows)
    figure.suptitle(title)
    for i, panel in enumerate(panels):
        ax = figure.add_subplot(rows, cols, i + 1)
        real, synth = np.asarray(panel["real"]), np.asarray(panel["synthetic"])
        order = np.arange(len(real))
        if len(real) > MAX_BARS:
            order = np.sort(np.argsort(-np.abs(real - synth), kind="stable")[:MAX_BARS])
        x = np.arange(len(order))
        ax.bar(x - 0.2, real[order], 0.4, label="real", color=REAL)
        ax.bar(x + 0.2, synth[order], 0.4, label="synthetic", color=SYNTHETIC)
        labels = [panel["labels"][j] for j in order]
        ax.set_xticks(x, labels, rotation=60 if len(order) > 5 else 0, ha="right" if len(order) > 5 else "center",
                      fontsize=7)
        shown = "" if len(order) == len(real) else f" ({len(order)} of {len(real)} states)"
        ax.set_title(f"{panel['column']}: TVD {panel['tvd']:.3f}{shown}", fontsize=9)
        ax.set_ylabel("share", fontsize=8)
        if i == 0:
            ax.legend(fontsize=8)
    return figure


def heatmap_figure(names: list[str], real: np.ndarray, synthetic: np.ndarray, title: str, vmin: float = 0.0):
    """Real, synthetic and absolute-difference matrices side by side."""
    size = max(4.0, min(0.22 * len(names) + 2.0, 9.0))
    figure = _figure(3 * size, size)
    figure.suptitle(title)
    for i, (label, matrix, limits, cmap) in enumerate((
            ("real", real, (vmin, 1.0), "viridis"), ("synthetic", synthetic, (vmin, 1.0), "viridis"),
            ("|real − synthetic|", np.abs(real - synthetic), (0.0, 1.0), "magma"))):
        ax = figure.add_subplot(1, 3, i + 1)
        image = ax.imshow(np.nan_to_num(matrix, nan=0.0), vmin=limits[0], vmax=limits[1], cmap=cmap)
        ax.set_title(label, fontsize=9)
        ticks = np.arange(len(names))
        fontsize = 7 if len(names) <= 20 else 5
        ax.set_xticks(ticks, names, rotation=90, fontsize=fontsize)
        ax.set_yticks(ticks, names if i == 0 else [""] * len(names), fontsize=fontsize)
        figure.colorbar(image, ax=ax, shrink=0.7)
    return figure


def km_figure(curves: dict, label: str):
    figure = _figure(7.5, 4.2)
    ax = figure.add_subplot(1, 1, 1)
    for side, color in (("real", REAL), ("synthetic", SYNTHETIC)):
        ax.step(curves[side]["days"] / 365.25, curves[side]["survival"], where="post", color=color, label=side)
    ax.set_xlabel("years")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Kaplan–Meier: {label}")
    ax.legend()
    ax.grid(alpha=0.3)
    return figure


def dcr_figure(distances: dict, table: str):
    figure = _figure(7.0, 3.6)
    ax = figure.add_subplot(1, 1, 1)
    top = max(float(np.max(v)) for v in distances.values() if len(v)) or 1.0
    bins = np.linspace(0, top, 40)
    for key, label, color in (("dcr_synthetic", "synthetic → training", SYNTHETIC),
                              ("dcr_holdout", "holdout → training", REAL)):
        if key in distances:
            ax.hist(distances[key], bins=bins, alpha=0.55, density=True, label=label, color=color)
    ax.set_xlabel("distance to the closest training row (0 = identical)")
    ax.set_ylabel("density")
    ax.set_title(f"Distance to closest record: {table}")
    ax.legend()
    return figure


def _rows(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _ledger_html(ledger: dict | None) -> str:
    if not ledger:
        return ('<p class="note">No model ledger was given (pass <code>ledger=model.ledger_</code>, or '
                '<code>--model model.json</code> on the command line).</p>')
    unit = ledger.get("unit", "epsilon")
    if math.isinf(float(ledger.get("epsilon", math.inf))):
        return '<p class="warn">ε = ∞: the model was fitted WITHOUT noise and is NOT differentially private.</p>'
    rows = [[e["what"], e["mechanism"], f"{e['sensitivity']:g}", f"{e['scale']:.3f}", f"{e['cost']:.5f}"]
            for e in ledger.get("entries", [])]
    rows.append(["total", "", "", "", f"{ledger['spent']:.5f}"])
    intro = (f"<p>{html.escape(str(ledger.get('definition', '')))} differential privacy; budget "
             f"{ledger.get('budget', float('nan')):g} {html.escape(unit)}; ε spent "
             f"{ledger.get('epsilon_spent', float('nan')):.4f}.</p>")
    return intro + _rows(["what", "mechanism", "sensitivity", "scale", unit], rows)


def render(report: Report) -> str:
    """The page as a string (see the module docstring)."""
    parts = [f"<h1>Synthetic data evaluation: {html.escape(report.schema_name)}</h1>",
             f'<p class="note">Generated {dt.datetime.now().isoformat(timespec="seconds")} by bayesgen. This report '
             "was computed from the REAL data and is not differentially private: handle it like the data.</p>"]
    # -- summary
    parts.append("<h2>Summary</h2>")
    header = ["table", "rows real", "rows synthetic", "mean 1-way TVD", "mean 2-way TVD", "mean 3-way TVD",
              "worst 2-way TVD", "Cramér's V |diff|", "Spearman |diff|", "exact matches", "DCR synth (median)",
              "DCR holdout (median)", "MIA AUC"]
    rows = []
    for name, body in report.tables.items():
        f, a, p = body["fidelity"], body.get("association", {}), body.get("privacy", {})
        rows.append([name, f"{body['rows_real']:,}", f"{body['rows_synthetic']:,}", _fmt(f.get("mean_tvd_1way")),
                     _fmt(f.get("mean_tvd_2way")), _fmt(f.get("mean_tvd_3way")), _fmt(f.get("max_tvd_2way")),
                     _fmt(a.get("mean_abs_diff_cramer")), _fmt(a.get("mean_abs_diff_spearman")),
                     _fmt(p.get("exact_match_rate")), _fmt(p.get("dcr_synthetic_median")),
                     _fmt(p.get("dcr_holdout_median")), _fmt(p.get("mia_auc"))])
    parts.append(_rows(header, rows))
    facts = []
    if report.survival:
        s = report.survival
        facts.append(["survival: Kaplan–Meier sup distance", _fmt(s["km_sup"])])
        facts.append(["survival: mean absolute gap", _fmt(s["km_mean_abs"])])
        facts.append(["survival at 1 year, real / synthetic",
                      f"{_fmt(s['survival_1y_real'])} / {_fmt(s['survival_1y_synthetic'])}"])
    if report.utility:
        u = report.utility
        facts.append(["TSTR: AUC train on real / train on synthetic", f"{_fmt(u['auc_trtr'])} / {_fmt(u['auc_tstr'])}"])
        facts.append(["TSTR: test rows", f"{u['n_test']:,} ({u['test_set']})"])
    if facts:
        parts.append(_rows(["metric", "value"], facts))
    if report.not_applicable:
        parts.append("<p>Not computed:</p><ul>" + "".join(
            f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in report.not_applicable.items()) + "</ul>")
    parts.append('<p class="note">TVD: total variation distance between real and synthetic shares over the '
                 "schema's declared codes and bins (0 = identical, 1 = disjoint). DCR: distance to the closest "
                 "training row on the scaled mixed-type encoding (0 = a copy). MIA AUC: distance-based "
                 "membership-inference attack (0.5 = no signal).</p>")
    # -- marginals
    parts.append("<h2>Marginals: real against synthetic</h2>")
    parts.append(f'<p class="note">Per table, the {MARGINAL_PANELS} columns whose 1-way marginals differ most.</p>')
    for name, plots in report.plots.get("tables", {}).items():
        panels = sorted(plots.get("marginals", []), key=lambda p: -p["tvd"])[:MARGINAL_PANELS]
        if panels:
            parts.append(_img(f"marginals-{name}", marginal_figure(panels, name), f"marginals of {name}"))
    # -- associations
    parts.append("<h2>Pairwise associations</h2>")
    parts.append('<p class="note">Cramér\'s V between every pair of columns (codes, missing as a state) and '
                 "Spearman's ρ between ordered columns, real and synthetic side by side.</p>")
    for name, plots in report.plots.get("tables", {}).items():
        association = plots.get("association")
        if not association:
            continue
        parts.append(_img(f"cramer-{name}", heatmap_figure(association["names"], association["cramer_real"],
                                                            association["cramer_synthetic"],
                                                            f"Cramér's V: {name}"), f"Cramér's V of {name}"))
        if "spearman_real" in association:
            parts.append(_img(f"spearman-{name}", heatmap_figure(
                association["spearman_names"], association["spearman_real"], association["spearman_synthetic"],
                f"Spearman's ρ: {name}", vmin=-1.0), f"Spearman of {name}"))
    # -- survival
    parts.append("<h2>Survival</h2>")
    if "survival" in report.plots:
        curves = report.plots["survival"]
        parts.append(f"<p>{html.escape(report.settings.get('survival') or '')}</p>")
        parts.append(_img("km", km_figure(curves, curves["label"]), "Kaplan–Meier curves"))
    else:
        parts.append(f"<p>Not computed: {html.escape(report.not_applicable.get('survival (Kaplan–Meier)', ''))}</p>")
    # -- utility
    parts.append("<h2>Utility: train on synthetic, test on real</h2>")
    if report.utility:
        u = report.utility
        parts.append(f"<p>{html.escape(report.settings.get('target') or '')}</p>")
        parts.append(_rows(["trained on", "rows", "share positive", "AUC on the real test rows"], [
            ["real", f"{u['n_train_real']:,}", _fmt(u["positive_real"], 3), _fmt(u["auc_trtr"])],
            ["synthetic", f"{u['n_train_synthetic']:,}", _fmt(u["positive_synthetic"], 3), _fmt(u["auc_tstr"])]]))
    else:
        parts.append(f"<p>Not computed: {html.escape(report.not_applicable.get('TSTR', ''))}</p>")
    # -- privacy
    parts.append("<h2>Privacy ledger</h2>")
    parts.append(_ledger_html(report.ledger))
    parts.append("<h2>Empirical privacy metrics</h2>")
    parts.append('<p class="note">Measurements on this sample, not a guarantee; the guarantee is the ledger '
                 "above.</p>")
    keys = [("exact_match_rate", "exact matches, synthetic"), ("exact_match_rate_holdout", "exact matches, holdout"),
            ("dcr_synthetic_median", "DCR synthetic, median"), ("dcr_holdout_median", "DCR holdout, median"),
            ("dcr_synthetic_p5", "DCR synthetic, 5th pct"), ("dcr_holdout_p5", "DCR holdout, 5th pct"),
            ("dcr_share_below_holdout_p5", "synthetic below holdout 5th pct"),
            ("nndr_synthetic_median", "NNDR synthetic, median"), ("nndr_holdout_median", "NNDR holdout, median"),
            ("mia_auc", "membership attack AUC")]
    parts.append(_rows(["metric"] + list(report.tables), [
        [label] + [_fmt(body.get("privacy", {}).get(key)) for body in report.tables.values()] for key, label in keys]))
    for name, plots in report.plots.get("tables", {}).items():
        if plots.get("dcr"):
            parts.append(_img(f"dcr-{name}", dcr_figure(plots["dcr"], name), f"distance to closest record, {name}"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>bayesgen evaluation: {html.escape(report.schema_name)}</title><style>{STYLE}</style></head>"
            "<body>" + "\n".join(parts) + "</body></html>\n")
