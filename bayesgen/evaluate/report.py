"""The evaluation report: every metric of :func:`bayesgen.evaluate`, as a dict, Markdown or HTML."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

HEADLINE_KEYS = ("mean_tvd_1way", "max_tvd_1way", "mean_tvd_2way", "max_tvd_2way", "mean_tvd_3way",
                 "max_tvd_3way")


def _plain(value):
    """JSON-ready copy: numpy scalars and arrays to Python, NaN to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return None if math.isnan(value) else value
    return value


@dataclass
class Report:
    """Fidelity and privacy of a synthetic dataset against the real one (see :func:`bayesgen.evaluate`).

    Attributes
    ----------
    schema_name : str
    tables : dict of str to dict
        Per table of the schema, and for a multi-table schema the person view (``"PERSONS"``):
        ``rows_real``, ``rows_synthetic``, ``fidelity`` (mean and worst k-way TVD),
        ``association`` (Cramér's V and Spearman differences) and ``privacy`` metrics.
    survival : dict or None
        Kaplan–Meier comparison of the declared outcome.
    utility : dict or None
        TSTR against TRTR AUC of the declared target.
    not_applicable : dict of str to str
        Metrics that were skipped, with the reason.
    settings : dict
        How the report was made (specs, caps, seed, whether a holdout was given).
    ledger : dict or None
        The model's privacy ledger, when given.
    """

    schema_name: str
    tables: dict
    survival: dict | None = None
    utility: dict | None = None
    not_applicable: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    ledger: dict | None = None
    plots: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """Every metric as plain Python values (JSON-ready; NaN becomes None; no plot data)."""
        tables = {}
        for name, body in self.tables.items():
            association = {k: v for k, v in body.get("association", {}).items() if not isinstance(v, np.ndarray)
                           and k not in ("names", "spearman_names")}
            tables[name] = {**{k: v for k, v in body.items() if k != "association"}, "association": association}
        survival = None if self.survival is None else {k: v for k, v in self.survival.items() if k != "curves"}
        return _plain({"schema": self.schema_name, "settings": self.settings, "tables": tables,
                       "survival": survival, "utility": self.utility, "not_applicable": self.not_applicable,
                       "ledger": self.ledger})

    def to_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON."""
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=2)

    def headline(self, table: str | None = None) -> dict:
        """A flat dict of the main figures of one table (default: the person view if any, else the root).

        Keys: the k-way TVDs, ``mean_abs_diff_cramer``, ``mean_abs_diff_spearman``, ``km_sup``,
        ``auc_trtr``, ``auc_tstr``, ``exact_match_rate``, ``dcr_synthetic_median``,
        ``dcr_holdout_median``, ``nndr_synthetic_median``, ``mia_auc`` (NaN when not computed).
        """
        name = table or self.settings.get("main_table") or next(iter(self.tables))
        body = self.tables[name]
        out = {key: body["fidelity"].get(key, float("nan")) for key in HEADLINE_KEYS}
        for key in ("mean_abs_diff_cramer", "mean_abs_diff_spearman"):
            out[key] = body.get("association", {}).get(key, float("nan"))
        out["km_sup"] = self.survival["km_sup"] if self.survival else float("nan")
        out["km_mean_abs"] = self.survival["km_mean_abs"] if self.survival else float("nan")
        for key in ("auc_trtr", "auc_tstr"):
            out[key] = self.utility[key] if self.utility else float("nan")
        for key in ("exact_match_rate", "exact_match_rate_holdout", "dcr_synthetic_median", "dcr_holdout_median",
                    "nndr_synthetic_median", "nndr_holdout_median", "mia_auc"):
            out[key] = body.get("privacy", {}).get(key, float("nan"))
        return out

    def to_markdown(self) -> str:
        """A Markdown summary: one row per table, then survival, utility and skipped metrics."""
        lines = [f"# Evaluation: schema {self.schema_name}", "",
                 "| table | rows real | rows synthetic | mean 1-way TVD | mean 2-way TVD | mean 3-way TVD | "
                 "worst 2-way TVD | Cramér's V diff | Spearman diff | exact matches | DCR synth / holdout | "
                 "MIA AUC |", "|" + "---|" * 12]
        for name, body in self.tables.items():
            f, a, p = body["fidelity"], body.get("association", {}), body.get("privacy", {})
            lines.append(f"| {name} | {body['rows_real']:,} | {body['rows_synthetic']:,} | "
                         f"{_fmt(f.get('mean_tvd_1way'))} | {_fmt(f.get('mean_tvd_2way'))} | "
                         f"{_fmt(f.get('mean_tvd_3way'))} | {_fmt(f.get('max_tvd_2way'))} | "
                         f"{_fmt(a.get('mean_abs_diff_cramer'))} | {_fmt(a.get('mean_abs_diff_spearman'))} | "
                         f"{_fmt(p.get('exact_match_rate'))} | {_fmt(p.get('dcr_synthetic_median'))} / "
                         f"{_fmt(p.get('dcr_holdout_median'))} | {_fmt(p.get('mia_auc'))} |")
        if self.survival:
            s = self.survival
            lines += ["", f"Survival ({self.settings.get('survival', '')}): KM sup distance {_fmt(s['km_sup'])}, "
                      f"mean absolute gap {_fmt(s['km_mean_abs'])}; 1-year survival real "
                      f"{_fmt(s['survival_1y_real'])}, synthetic {_fmt(s['survival_1y_synthetic'])}."]
        if self.utility:
            u = self.utility
            lines += ["", f"TSTR ({self.settings.get('target', '')}): AUC train-on-real {_fmt(u['auc_trtr'])}, "
                      f"train-on-synthetic {_fmt(u['auc_tstr'])} (test: {u['test_set']}, {u['n_test']:,} rows)."]
        for metric, reason in self.not_applicable.items():
            lines.append(f"- not applicable: {metric}: {reason}")
        return "\n".join(lines) + "\n"

    def to_html(self, path: str | os.PathLike) -> None:
        """Write one self-contained HTML page: summary, marginal bars, association heatmaps, KM
        curves, privacy ledger and metrics; plots are PNG images embedded in the page (matplotlib)."""
        from bayesgen.evaluate.html import render

        text = render(self)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def __str__(self) -> str:
        return self.to_markdown()


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"
