"""``bayesgen.evaluate(real, synthetic, schema, holdout=None) -> Report``.

The evaluation reads the real data: it is NOT differentially private, and neither is its report.
It belongs inside the registry, next to the fit; only the model file is meant for release.
"""

from __future__ import annotations

import numpy as np

from bayesgen.evaluate.association import association_summary
from bayesgen.evaluate.marginals import MAX_COMBINATIONS, code_distances
from bayesgen.evaluate.persons import person_schema, person_view
from bayesgen.evaluate.presets import preset_for
from bayesgen.evaluate.privacy_metrics import (
    QUERY_ROWS,
    REFERENCE_ROWS,
    privacy_summary,
    row_matrix,
)
from bayesgen.evaluate.report import Report
from bayesgen.evaluate.specs import SurvivalSpec, TargetSpec
from bayesgen.schema.encode import check_table_set, encode_tables
from bayesgen.schema.schema import Schema

PRESET = "preset"
_SKIPPABLE = (ImportError, KeyError, ValueError)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ImportError):
        return f"needs {exc.name or 'an optional package'}: pip install 'bayesgen[evaluate]'"
    return f"{type(exc).__name__}: {exc}"


def _distribution(codes: np.ndarray, n_states: int) -> np.ndarray:
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=n_states).astype(float)
    return counts / max(counts.sum(), 1.0)


def _view_metrics(name, table, real_codes, synth_codes, cards, ways, max_combinations) -> tuple[dict, dict]:
    names = [c.name for c in table.modelled_columns]
    fidelity, plots = {}, {}
    for way in ways:
        distances = code_distances(real_codes, synth_codes, cards, names, way, max_combinations)
        values = np.array(list(distances.values()))
        fidelity[f"n_{way}way"] = int(values.size)
        fidelity[f"mean_tvd_{way}way"] = float(values.mean()) if values.size else float("nan")
        fidelity[f"max_tvd_{way}way"] = float(values.max()) if values.size else float("nan")
        if values.size:
            worst = max(distances, key=distances.get)
            fidelity[f"worst_{way}way"] = " × ".join(worst)
        if way == 1:
            plots["marginals"] = [
                {"column": column.name, "tvd": distances.get((column.name,), float("nan")),
                 "labels": [_label(s) for s in column.states()],
                 "real": _distribution(real_codes[column.name], column.n_states),
                 "synthetic": _distribution(synth_codes[column.name], column.n_states)}
                for column in table.modelled_columns]
    return fidelity, plots


def _label(state) -> str:
    if state is None:
        return "(missing)"
    if isinstance(state, tuple):
        return f"{state[0]}–{state[1]}"
    return str(state)


def evaluate(real, synthetic, schema: Schema, holdout=None, *, survival: SurvivalSpec | str | None = PRESET,
             target: TargetSpec | str | None = PRESET, ledger: dict | None = None, ways=(1, 2, 3),
             max_combinations: int | None = MAX_COMBINATIONS, query_rows: int | None = QUERY_ROWS,
             reference_rows: int | None = REFERENCE_ROWS, privacy: bool = True, rng: int = 0) -> Report:
    """Compare synthetic tables with the real ones: fidelity, survival, utility and privacy.

    The evaluation reads the real data and is **not** differentially private: run it where the
    real data may be read, and treat its report as you would the data.

    Parameters
    ----------
    real, synthetic : dict of str to DataFrame
        Tables of ``schema`` (a single DataFrame for a one-table schema). ``real`` is what the
        synthesizer was fitted on.
    schema : Schema
        Both datasets are encoded with its declared code sets and bins (never with data-derived
        ones), per table; a multi-table schema also gets a person view (``"PERSONS"``: each
        person's row with the index rows of the child tables, see :func:`person_view`).
    holdout : dict of str to DataFrame, optional
        Real persons the synthesizer never saw. Needed for the holdout baselines of the privacy
        metrics and the membership attack; TSTR is tested on it (otherwise on a split of ``real``).
    survival, target : SurvivalSpec, TargetSpec, "preset" or None
        The survival outcome (Kaplan–Meier) and the TSTR target; ``"preset"`` (default) takes the
        schema's preset (:mod:`bayesgen.evaluate.presets`), None skips the metric.
    ledger : dict, optional
        The model's privacy ledger (``model.ledger_``), shown in the report.
    ways : tuple of int
        Which k-way marginals to compare (default 1, 2 and 3).
    max_combinations : int or None
        At most this many k-way marginals per table and k (a fixed random subset beyond it).
    query_rows, reference_rows : int or None
        Row caps of the nearest-neighbour privacy metrics (see :mod:`.privacy_metrics`).
    privacy : bool
        Compute the privacy metrics (default True).
    rng : int
        Seed of the subsets and the TSTR split (metrics are deterministic for a seed).

    Returns
    -------
    Report
        ``.to_dict()``, ``.to_markdown()``, ``.to_html(path)``, ``.headline()``.

    Examples
    --------
    >>> import bayesgen as bg
    >>> data = bg.datasets.load_gbsg2()
    >>> schema = bg.Schema.load("schemas/gbsg2.yaml")
    >>> report = bg.evaluate(data, data, schema, ways=(1, 2))
    >>> report.tables["GBSG2"]["fidelity"]["mean_tvd_2way"], report.survival["km_sup"]
    (0.0, 0.0)
    >>> report.tables["GBSG2"]["privacy"]["exact_match_rate"]
    1.0
    """
    real = check_table_set(real, schema)
    synthetic = check_table_set(synthetic, schema)
    holdout = check_table_set(holdout, schema) if holdout is not None else None
    skipped: dict[str, str] = {}
    preset_survival, preset_target = preset_for(schema.name)
    survival = preset_survival if isinstance(survival, str) and survival == PRESET else survival
    target = preset_target if isinstance(target, str) and target == PRESET else target
    settings = {"ways": list(ways), "max_combinations": max_combinations, "query_rows": query_rows,
                "reference_rows": reference_rows, "seed": rng, "holdout": holdout is not None,
                "survival": survival.describe() if survival else None,
                "target": target.describe() if target else None}

    views = [(schema, table, real, synthetic, holdout) for table in schema.tables.values()]
    if schema.child_tables:
        flat = person_schema(schema)
        views.append((flat, flat.root, person_view(real, schema), person_view(synthetic, schema),
                      person_view(holdout, schema) if holdout is not None else None))
        settings["main_table"] = flat.root_table
    else:
        settings["main_table"] = schema.root_table
    encoded = {}
    tables, plots = {}, {"tables": {}}
    for view_schema, table, r, s, h in views:
        if id(view_schema) not in encoded:
            encoded[id(view_schema)] = (encode_tables(r, view_schema), encode_tables(s, view_schema))
        real_codes, synth_codes = encoded[id(view_schema)]
        cards = {name: v.n_states for name, v in view_schema.variables.items()}
        fidelity, view_plots = _view_metrics(table.name, table, real_codes.codes, synth_codes.codes, cards,
                                             ways, max_combinations)
        body = {"rows_real": int(len(r[table.name])), "rows_synthetic": int(len(s[table.name])),
                "fidelity": fidelity}
        try:
            body["association"] = association_summary(real_codes.codes, synth_codes.codes, table, cards)
            view_plots["association"] = body["association"]
        except _SKIPPABLE as exc:
            skipped[f"association ({table.name})"] = _reason(exc)
        if privacy:
            try:
                body["privacy"] = privacy_summary(
                    row_matrix(r[table.name], table), row_matrix(s[table.name], table),
                    row_matrix(h[table.name], table) if h is not None else None,
                    query_rows, reference_rows, rng, distances=True)
                view_plots["dcr"] = {k: body["privacy"].pop(k) for k in ("dcr_synthetic", "dcr_holdout")
                                     if k in body["privacy"]}
            except _SKIPPABLE as exc:
                skipped[f"privacy ({table.name})"] = _reason(exc)
        tables[table.name] = body
        plots["tables"][table.name] = view_plots
    if holdout is None and privacy:
        skipped["holdout baselines and membership inference"] = "no holdout given"

    survival_result = None
    if survival is None:
        skipped["survival (Kaplan–Meier)"] = f"no survival outcome declared for schema {schema.name}"
    else:
        try:
            from bayesgen.evaluate.survival import survival_summary

            survival_result = survival_summary(real, synthetic, schema, survival)
            plots["survival"] = {"label": survival.label, **survival_result["curves"]}
        except _SKIPPABLE as exc:
            skipped["survival (Kaplan–Meier)"] = _reason(exc)
    utility_result = None
    if target is None:
        skipped["TSTR"] = f"no target declared for schema {schema.name}"
    else:
        try:
            from bayesgen.evaluate.utility import tstr

            utility_result = tstr(real, synthetic, schema, target, holdout=holdout, rng=rng)
        except _SKIPPABLE as exc:
            skipped["TSTR"] = _reason(exc)
    return Report(schema_name=schema.name, tables=tables, survival=survival_result, utility=utility_result,
                  not_applicable=skipped, settings=settings, ledger=ledger, plots=plots)
