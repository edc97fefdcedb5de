"""The benchmark suite: bayesgen against copula models and DP synthesizers, fidelity and privacy.

One command, one run, the same data for every method::

    python benchmarks/run.py --suite quick     # about 12 minutes on 2 cores
    python benchmarks/run.py --suite full      # hours: larger data, every epsilon for every peer

Data sets (each split once into training persons, 80 %, and held-out persons, 20 %, that no method
sees; the hold-out is the test set of TSTR and the baseline of the privacy metrics):

* ``simulated registry``: ``bayesgen.datasets.simulate_registry`` (SIMULATED Simulacrum v2 patients
  and tumours; quick: 10,000 persons, full: 62,500);
* ``GBSG2``: the German Breast Cancer Study Group 2 trial (686 women, lifelines);
* ``NCCTG lung``: the North Central Cancer Treatment Group advanced lung cancer data (228
  patients, lifelines ``load_lung``; the institution code is left out), with a schema declared
  below from public clinical scales (ECOG, Karnofsky), never from the data.

Every method is fitted on the same training persons. bayesgen fits the data set's own schema (two
tables for the registry). Its rows, and the peer each is compared with:

* "bayesgen": the library's defaults (pure ε-DP, expert structure where one is shipped, otherwise
  ``structure="learn"``; tables pruned to the noise), at every ε. Pure ε-DP, like DataSynthesizer
  and the independent marginals: compared with them.
* "bayesgen zCDP δ=1e-6": the same defaults (same structure, same pruning) except
  ``privacy="zcdp"``, ``delta=1e-6``: the (ε, δ = 1e-6)-DP guarantee MST and AIM give, at the
  peers' ε: compared with MST and AIM.
* "bayesgen zCDP δ=1e-6, learned" (ε = 1; only where an expert structure is shipped, elsewhere the
  row above is already learned) and, on the registry, "bayesgen, person table, learned" (exactly
  what the peers fit: the one-table person-level table, same columns, pure ε-DP, learned structure,
  at the peers' ε): variants, shown for reference.

The peers fit the
person-level table (``bayesgen.evaluate.person_view``: a patient's row with their index tumour
and tumour count, one row per person, so one row is the privacy unit for every method); the
discrete peers get its schema codes (declared code sets and bins). Every method's output is
turned into person-level rows and scored by ``bayesgen.evaluate`` against the training persons,
with the data set's survival outcome and TSTR target. Peers:

* Gaussian copula: ``copulas`` ``GaussianMultivariate`` with SDV's preprocessing (see
  ``peers/copula.py``), not private. SDV itself is not installed: it pulls PyTorch with CUDA.
* DataSynthesizer 0.1.13, correlated attribute mode (PrivBayes), degree k = 2, at the same ε (its
  accounting is per row = per person here). Its automatic degree (k = 0) ignores the ε it is given
  (it calls ``calculate_k`` with its default ε = 0.1) and falls back to 3 on the registry, 5 on
  GBSG2; 2 is the usual PrivBayes degree and the one ``benchmarks/structure.py`` uses.
* MST and AIM on private-pgm's engine (PyPI ``mbi`` 2.x; ``peers/pgm.py``) at (ε, δ = 1e-6). AIM's
  budget is split over T = 16·d rounds in its paper (the full suite); the quick suite uses T = d
  rounds and fewer mirror-descent iterations per round so that it can finish in its time limit.
* Independent marginals (DP histograms, ε/d each).

The quick suite compares the methods on the registry on 19 of its 38 person-level variables
(``SIM_SUBSET``: DataSynthesizer cannot handle all 38 in the time; bayesgen still fits all 38) and
runs the peers at ε = 1 only (bayesgen at every ε); ``--suite full`` runs every
peer at every finite ε. A peer that is missing, fails or runs out of time gets a row saying why.
DataSynthesizer runs in a child process (it starts a process pool; a hard time limit must be able
to stop it); MST and AIM run in this process under a time limit. Sampling speed: bayesgen and the
copula each generate the same number of person rows (quick and full: 1,000,000), timed in this run
after a warm-up call of the same size (see ``sampling_speed``).

Outputs: the Markdown table is printed and written to ``benchmarks/results/SUITE.md`` with the
plots ``SUITE_fidelity.png`` and ``SUITE_privacy.png``. Figures vary between runs (DP noise is
not seeded in bayesgen).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import platform
import sys
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.chdir(HERE.parent)  # schemas/ and structures/ are read relative to the repository

from peers.common import BenchData, PeerResult, codes_to_frame, guarded  # noqa: E402

import bayesgen as bg  # noqa: E402
from bayesgen.evaluate import SurvivalSpec, TargetSpec, person_schema, person_view  # noqa: E402
from bayesgen.evaluate.presets import preset_for  # noqa: E402
from bayesgen.evaluate.rows import split_persons  # noqa: E402
from bayesgen.schema.encode import encode_tables  # noqa: E402

BAYESGEN_EPSILONS = [0.1, 0.3, 1.0, 3.0, math.inf]
DS_DEGREE = 2
# The registry's person-level table has 38 variables; on it, with 10,000 rows, DataSynthesizer's greedy
# search (pure Python) had not finished after 18 minutes at its automatic degree (3) nor after 9 minutes
# at degree 2 (both stopped); on the 19 variables below degree 2 took 3 minutes. The quick suite compares every
# method on these 19 variables, chosen before any run for their clinical weight (demography,
# diagnosis, stage, grade, treatment, outcome): the peers fit and every method is scored on them
# only; bayesgen still fits (and spends its budget on) all 38. The full suite uses all 38.
SIM_SUBSET = ["GENDER", "ETHNICITY", "DEATHCAUSECODE_UNDERLYING", "VITALSTATUS", "VITALSTATUSDATE",
              "DIAGNOSISDATEBEST", "SITE_ICD10_O2", "MORPH_ICD10_O2", "T_BEST", "N_BEST", "M_BEST", "STAGE_BEST",
              "GRADE", "AGE", "ER_STATUS", "DATE_FIRST_SURGERY", "CANCERCAREPLANINTENT", "PERFORMANCESTATUS",
              "N_TUMOURS"]
DELTA = 1e-6
SAME_DELTA = "bayesgen zCDP δ=1e-6"  # the defaults with the (ε, DELTA)-DP guarantee of MST and AIM
SUITES = {
    "quick": {"sim_persons": 10_000, "sim_columns": SIM_SUBSET, "peer_epsilons": [1.0], "ds_timeout": 300.0,
              "mst_timeout": 180.0, "aim_timeout": 240.0, "aim_round_factor": 1, "aim_round_iters": 100, "aim_final_iters": 500,
              "mst_iters": 1500, "speed_rows": 1_000_000, "max_combinations": 1000},
    "full": {"sim_persons": 62_500, "sim_columns": None, "peer_epsilons": [0.1, 0.3, 1.0, 3.0], "ds_timeout": 3600.0,
             "mst_timeout": 1800.0, "aim_timeout": 3600.0, "aim_round_factor": 16, "aim_round_iters": 250,
             "aim_final_iters": 1000, "mst_iters": 3000, "speed_rows": 1_000_000, "max_combinations": 2000},
}
RESULTS = HERE / "results"

LUNG_SCHEMA = {
    "spec_version": 1, "name": "ncctg_lung",
    "description": "NCCTG advanced lung cancer (Loprinzi et al. 1994), lifelines load_lung; bounds and bins "
                   "from the ECOG and Karnofsky scales and clinical ranges, not from the data.",
    "root_table": "LUNG",
    "tables": {"LUNG": {"primary_key": "patient_id", "columns": [
        {"name": "patient_id", "type": "id"},
        {"name": "time", "type": "integer", "min": 0, "max": 1200, "bins": [0, 91, 182, 365, 548, 730, 1201]},
        {"name": "status", "type": "integer", "min": 0, "max": 1, "bins": [0, 1, 2]},
        {"name": "age", "type": "integer", "min": 18, "max": 100, "bins": [18, 50, 55, 60, 65, 70, 75, 101]},
        {"name": "sex", "type": "categorical", "categories": ["1", "2"]},
        {"name": "ph.ecog", "type": "ordinal", "categories": ["0", "1", "2", "3", "4"], "missing": True},
        {"name": "ph.karno", "type": "integer", "min": 0, "max": 100, "missing": True,
         "bins": [0, 60, 70, 80, 90, 100, 101]},
        {"name": "pat.karno", "type": "integer", "min": 0, "max": 100, "missing": True,
         "bins": [0, 60, 70, 80, 90, 100, 101]},
        {"name": "meal.cal", "type": "integer", "min": 0, "max": 4000, "missing": True,
         "bins": [0, 500, 750, 1000, 1250, 1500, 2000, 4001]},
        {"name": "wt.loss", "type": "integer", "min": -50, "max": 100, "missing": True,
         "bins": [-50, 0, 1, 5, 10, 20, 101]}]}},
}
LUNG_SURVIVAL = SurvivalSpec("LUNG", event="status", event_values=("1",), duration="time",
                             label="overall survival")
LUNG_TARGET = TargetSpec("dead within 1 year", survival=LUNG_SURVIVAL, horizon=365)


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def fmt_eps(epsilon: float) -> str:
    return "∞" if math.isinf(epsilon) else f"{epsilon:g}"


# -- data sets -------------------------------------------------------------------------------------
def load_lung() -> dict:
    from lifelines.datasets import load_lung as lifelines_lung

    raw = lifelines_lung().reset_index(drop=True)
    frame = pd.DataFrame({"patient_id": np.arange(1, len(raw) + 1)})
    frame["time"] = raw["time"].astype("int64")
    frame["status"] = raw["status"].astype("int64")
    frame["age"] = raw["age"].astype("int64")
    frame["sex"] = raw["sex"].astype("int64").astype(str)
    frame["ph.ecog"] = raw["ph.ecog"].astype("Int64").astype("string")
    for name in ("ph.karno", "pat.karno", "meal.cal", "wt.loss"):
        frame[name] = raw[name].round().astype("Int64")
    return {"LUNG": frame}


def datasets(suite: dict, seed: int) -> list[tuple]:
    """(name, schema, tables, structure, survival, target) of each data set."""
    out = []
    sim_schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    out.append(("simulated registry", sim_schema, bg.datasets.simulate_registry(suite["sim_persons"], rng=seed, full=False),
                bg.Structure.load("structures/simulacrum_v2_compact.yaml"), *preset_for("simulacrum_v2")))
    out.append(("GBSG2", bg.Schema.load("schemas/gbsg2.yaml"), bg.datasets.load_gbsg2(),
                bg.Structure.load("structures/gbsg2.yaml"), *preset_for("gbsg2")))
    out.append(("NCCTG lung", bg.Schema.from_dict(LUNG_SCHEMA, "benchmarks/run.py"), load_lung(), "learn",
                LUNG_SURVIVAL, LUNG_TARGET))
    return out


def restrict(flat, columns: list[str] | None):
    """The person-level schema with only ``columns`` (and the key); None keeps every column."""
    if columns is None:
        return flat
    body = flat.to_dict()
    table = body["tables"][flat.root_table]
    table["columns"] = [c for c in table["columns"] if c["name"] in columns or c["type"] == "id"]
    return bg.Schema.from_dict(body, "benchmark column subset")


def flat_specs(survival: SurvivalSpec, target: TargetSpec, flat_table: str):
    """The survival and target specs re-pointed at the person-level table."""
    survival = dataclasses.replace(survival, table=flat_table)
    target = dataclasses.replace(target, survival=survival) if target.survival is not None else \
        dataclasses.replace(target, table=flat_table)
    return survival, target


# -- methods ---------------------------------------------------------------------------------------
def run_bayesgen(data: BenchData, epsilon: float, seed: int, privacy: str = "pure", structure=None,
                 label: str = "bayesgen") -> PeerResult:
    def body():
        n = len(data.train[data.schema.root_table])
        started = time.perf_counter()
        model = bg.Synthesizer(data.schema, data.structure if structure is None else structure, epsilon=epsilon,
                               privacy=privacy, delta=DELTA if privacy == "zcdp" else 0.0, rng=seed).fit(data.train)
        fitted = time.perf_counter()
        tables = model.sample(n, rng=seed + 1)
        sampled = time.perf_counter()
        flat = person_view(tables, data.schema)[data.flat_schema.root_table][data.flat_schema.root.column_names]
        return PeerResult(label, epsilon, flat=flat, tables=tables, fit_seconds=fitted - started,
                          sample_seconds=sampled - fitted, n_sampled=n)

    guarantee = "not private" if math.isinf(epsilon) else (
        f"({fmt_eps(epsilon)}, {DELTA:g})-DP via zCDP" if privacy == "zcdp" else f"{fmt_eps(epsilon)}-DP")
    return guarded(label, epsilon, guarantee, body)


def run_bayesgen_flat(data: BenchData, epsilon: float, seed: int) -> PeerResult:
    """bayesgen on exactly the peers' input: the person-level table, structure learned (same ε)."""
    label = "bayesgen, person table, learned"

    def body():
        name = data.flat_schema.root_table
        n = len(data.train_flat)
        started = time.perf_counter()
        model = bg.Synthesizer(data.flat_schema, "learn", epsilon=epsilon, rng=seed).fit({name: data.train_flat})
        fitted = time.perf_counter()
        flat = model.sample(n, rng=seed + 1)[name]
        return PeerResult(label, epsilon, flat=flat, fit_seconds=fitted - started,
                          sample_seconds=time.perf_counter() - fitted, n_sampled=n)

    return guarded(label, epsilon, "not private" if math.isinf(epsilon) else f"{fmt_eps(epsilon)}-DP", body)


def run_codes_peer(method: str, data: BenchData, epsilon: float, seed: int, privacy: str, call) -> PeerResult:
    """A peer that returns codes (and fit/sample seconds); decoded like bayesgen's output."""
    def body():
        n = len(data.train_flat)
        codes, fit_seconds, sample_seconds, extra = call(n)
        flat = codes_to_frame(codes, data.flat_schema, np.random.default_rng(seed))
        return PeerResult(method, epsilon, flat=flat, fit_seconds=fit_seconds, sample_seconds=sample_seconds,
                          n_sampled=n, extra=extra)

    return guarded(method, epsilon, privacy, body)


def run_peers(data: BenchData, suite: dict, seed: int, skip: set) -> list[PeerResult]:
    from peers import copula, datasynthesizer, independent
    from peers.pgm import aim, mst, time_limit

    results = []
    if "copula" not in skip:
        def copula_call(n):
            codes, fit_s, sample_s = copula.run(data.train_flat, data.flat_schema, n, seed)
            return codes, fit_s, sample_s, {}
        results.append(run_codes_peer("Gaussian copula (copulas)", data, math.inf, seed, "not private", copula_call))
    results.append(PeerResult("SDV GaussianCopulaSynthesizer", math.inf, privacy="not private",
                              note="not installed: sdv depends on ctgan/deepecho, which pull PyTorch with CUDA "
                                   "(several GB, no GPU here); its preprocessing is restated on copulas above"))
    for epsilon in suite["peer_epsilons"]:
        if "datasynthesizer" not in skip:
            def ds_call(n, epsilon=epsilon):
                codes, timings = datasynthesizer.run(data.codes, data.cards, epsilon, n, seed, suite["ds_timeout"],
                                                     k=DS_DEGREE)
                return codes, timings["describe_seconds"], timings["generate_seconds"], {"degree": timings["degree"]}
            results.append(run_codes_peer("DataSynthesizer (PrivBayes)", data, epsilon, seed,
                                          f"{fmt_eps(epsilon)}-DP per row", ds_call))
        if "mst" not in skip:
            def mst_call(n, epsilon=epsilon):
                with time_limit(suite["mst_timeout"], "MST"):
                    codes, fit_s, sample_s = mst(data.codes, data.cards, epsilon, DELTA, n, seed,
                                                 iters=suite["mst_iters"])
                return codes, fit_s, sample_s, {}
            results.append(run_codes_peer("MST (mbi)", data, epsilon, seed,
                                          f"({fmt_eps(epsilon)}, {DELTA:g})-DP", mst_call))
        if "aim" not in skip:
            def aim_call(n, epsilon=epsilon):
                with time_limit(suite["aim_timeout"], "AIM"):
                    codes, fit_s, sample_s = aim(data.codes, data.cards, epsilon, DELTA, n, seed,
                                                 rounds=suite["aim_round_factor"] * len(data.cards), round_iters=suite["aim_round_iters"],
                                                 final_iters=suite["aim_final_iters"])
                return codes, fit_s, sample_s, {}
            results.append(run_codes_peer("AIM (mbi)", data, epsilon, seed, f"({fmt_eps(epsilon)}, {DELTA:g})-DP",
                                          aim_call))
    for epsilon in sorted(set(suite["peer_epsilons"]) | {math.inf}):
        def independent_call(n, epsilon=epsilon):
            codes, fit_s, sample_s = independent.run(data.codes, data.cards, epsilon, n, seed)
            return codes, fit_s, sample_s, {}
        results.append(run_codes_peer("independent marginals", data, epsilon, seed,
                                      "not private" if math.isinf(epsilon) else f"{fmt_eps(epsilon)}-DP",
                                      independent_call))
    return results


# -- evaluation and speed --------------------------------------------------------------------------
def score(result: PeerResult, data: BenchData, holdout_flat: dict, survival, target, suite, seed) -> dict:
    if not result.ok:
        return {}
    name = data.flat_schema.root_table
    report = bg.evaluate({name: data.train_flat}, {name: result.flat}, data.flat_schema, holdout=holdout_flat,
                         survival=survival, target=target, max_combinations=suite["max_combinations"], rng=seed)
    out = report.headline(name)
    out["not_applicable"] = "; ".join(f"{k}: {v}" for k, v in report.not_applicable.items())
    return out


def _timed_calls(call, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def sampling_speed(data: BenchData, n_rows: int, seed: int, repeats: int = 2) -> dict:
    """Sampling throughput of bayesgen (an ε = 1 model) and the Gaussian copula, measured alike.

    Each method generates ``n_rows`` person rows ``repeats`` times in a row, with the same seed. The
    first call is warm-up and is not counted (bayesgen: numba compilation and first use of the
    memory; the copula: its own set-up); the figure is the fastest later call. What is counted:

    * bayesgen: ``Synthesizer.sample`` end to end, i.e. the persons and all their tumour rows, both
      tables decoded into typed values (dates, numbers, categories, keys, derived columns), on all
      cores (numba), and once more on one thread;
    * the copula: ``GaussianMultivariate.sample`` (its numbers) mapped to schema codes, for the
      compared person-level columns only, not decoded into typed values.

    bayesgen therefore does more per person row; rows/s and values/s (rows x columns) are reported
    for both.
    """
    import numba
    from peers.copula import GaussianCopula

    model = bg.Synthesizer(data.schema, data.structure, epsilon=1.0).fit(data.train)
    produced = {}

    def ours(threads=None):
        tables = model.sample(n_rows, rng=seed, n_threads=threads)
        produced["values"] = sum(frame.shape[0] * frame.shape[1] for frame in tables.values())
        produced["rows"] = {name: len(frame) for name, frame in tables.items()}

    ours_all = _timed_calls(ours, repeats)
    ours_one = _timed_calls(lambda: ours(1), repeats)
    copula = GaussianCopula(data.flat_schema, seed).fit(data.train_flat)
    copula_values = {}

    def theirs():
        codes = copula.sample_codes(n_rows)
        copula_values["values"] = n_rows * len(codes)

    copula_seconds = _timed_calls(theirs, repeats)
    best = {"bayesgen": min(ours_all[1:] or ours_all), "bayesgen_1": min(ours_one[1:] or ours_one),
            "copula": min(copula_seconds[1:] or copula_seconds)}
    return {"rows": n_rows, "repeats": repeats, "threads": numba.get_num_threads(),
            "bayesgen_seconds": best["bayesgen"], "bayesgen_one_thread_seconds": best["bayesgen_1"],
            "copula_seconds": best["copula"], "bayesgen_first_seconds": ours_all[0],
            "copula_first_seconds": copula_seconds[0], "bayesgen_tables": produced["rows"],
            "bayesgen_values": produced["values"], "copula_values": copula_values["values"],
            "ratio": best["copula"] / best["bayesgen"],
            "ratio_one_thread": best["copula"] / best["bayesgen_1"]}


def speed_text(speed: dict) -> str:
    """The sampling-speed paragraph of the report."""
    n = speed["rows"]
    tables = ", ".join(f"{rows:,} {name}" for name, rows in speed["bayesgen_tables"].items())
    return (f"Sampling speed, same run, {n:,} person rows each, fastest of {speed['repeats'] - 1} timed call(s) "
            f"after a warm-up call of the same size: bayesgen {speed['bayesgen_seconds']:.2f} s "
            f"({n / speed['bayesgen_seconds']:,.0f} person rows/s, {speed['threads']} threads; one thread "
            f"{speed['bayesgen_one_thread_seconds']:.2f} s, {n / speed['bayesgen_one_thread_seconds']:,.0f} rows/s), "
            f"Gaussian copula {speed['copula_seconds']:.2f} s ({n / speed['copula_seconds']:,.0f} rows/s): "
            f"bayesgen is {speed['ratio']:.0f}x faster per person row ({speed['ratio_one_thread']:.0f}x on one "
            f"thread). bayesgen's output: {tables} rows, both tables decoded into typed values "
            f"({speed['bayesgen_values'] / speed['bayesgen_seconds']:,.0f} values/s); the copula's: "
            f"{speed['copula_values'] // n} person-level columns as schema codes, not decoded "
            f"({speed['copula_values'] / speed['copula_seconds']:,.0f} values/s). Warm-up calls: bayesgen "
            f"{speed['bayesgen_first_seconds']:.2f} s, copula {speed['copula_first_seconds']:.2f} s.")


# -- output ----------------------------------------------------------------------------------------
COLUMNS = [("method", None), ("ε", None), ("guarantee", None), ("1-way TVD", "mean_tvd_1way"),
           ("2-way TVD", "mean_tvd_2way"), ("3-way TVD", "mean_tvd_3way"), ("Cramér's V diff", "mean_abs_diff_cramer"),
           ("KM sup", "km_sup"), ("TSTR AUC", "auc_tstr"), ("exact match", "exact_match_rate"),
           ("DCR synth / holdout", None), ("NNDR synth", "nndr_synthetic_median"), ("MIA AUC", "mia_auc"),
           ("fit s", None), ("sample rows/s", None), ("note", None)]


def table_rows(results: list[PeerResult], scores: list[dict]) -> list[list[str]]:
    rows = []
    for result, metrics in zip(results, scores, strict=True):
        row = [result.method, fmt_eps(result.epsilon), result.privacy]
        for _, key in COLUMNS[3:]:
            if key is None:
                continue
            value = metrics.get(key, float("nan")) if result.ok else float("nan")
            row.append("–" if value is None or not np.isfinite(value) else f"{value:.4f}")
        row.insert(10, "–" if not result.ok else
                   f"{metrics['dcr_synthetic_median']:.3f} / {metrics['dcr_holdout_median']:.3f}")
        row.append("–" if not np.isfinite(result.fit_seconds) or not result.ok else f"{result.fit_seconds:.1f}")
        rate = result.n_sampled / result.sample_seconds if result.ok and result.sample_seconds > 0 else float("nan")
        row.append("–" if not np.isfinite(rate) else f"{rate:,.0f}")
        note = result.note
        if metrics.get("not_applicable"):
            note = (note + "; " if note else "") + "not computed: " + metrics["not_applicable"].replace("ValueError: ", "")
        if result.extra.get("degree") is not None:
            note = (note + "; " if note else "") + f"degree {result.extra['degree']}"
        row.append(note)
        rows.append(row)
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    header = [name for name, _ in COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r.replace("|", "/") for r in row) + " |" for row in rows]
    return "\n".join(lines)


def plots(all_results: dict, suite_name: str) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    paths = []
    names = list(all_results)
    methods = list(dict.fromkeys(r.method for results, _, _ in all_results.values() for r in results if r.ok))
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]
    colours = {method: palette[i % len(palette)] for i, method in enumerate(methods)}
    for kind, keys in (("fidelity", [("mean_tvd_2way", "mean 2-way TVD (lower is better)"),
                                     ("auc_tstr", "TSTR AUC (dashed: train on real)")]),
                       ("privacy", [("mia_auc", "membership-attack AUC (0.5 = no signal)"),
                                    ("dcr_synthetic_median", "median DCR, synthetic (dotted: holdout)")])):
        figure = Figure(figsize=(5.2 * len(names), 7.5), layout="constrained")
        FigureCanvasAgg(figure)
        for column, name in enumerate(names):
            results, scores, _ = all_results[name]
            finite = sorted({r.epsilon for r in results if np.isfinite(r.epsilon)})
            top = max(finite) * 3 if finite else 1.0
            for row, (key, title) in enumerate(keys):
                ax = figure.add_subplot(2, len(names), row * len(names) + column + 1)
                for method in methods:
                    points = sorted(((r.epsilon if np.isfinite(r.epsilon) else top, s.get(key, np.nan))
                                     for r, s in zip(results, scores, strict=True) if r.method == method and r.ok))
                    if not points:
                        continue
                    xs, ys = zip(*points, strict=True)
                    style = "o-" if len(points) > 1 else "s"
                    ax.plot(xs, ys, style, label=method, color=colours[method])
                baseline = {"auc_tstr": "auc_trtr", "dcr_synthetic_median": "dcr_holdout_median"}.get(key)
                if baseline:
                    values = [s.get(baseline) for s in scores if s]
                    if values:
                        ax.axhline(float(np.nanmean(values)), color="grey", ls="--" if key == "auc_tstr" else ":")
                if key == "mia_auc":
                    ax.axhline(0.5, color="grey", ls=":")
                ax.set_xscale("log")
                ax.set_xticks(finite + [top], [f"{e:g}" for e in finite] + ["∞"])
                ax.set_xlabel("ε (∞: not private)")
                ax.set_title(f"{name}: {title}", fontsize=9)
                ax.grid(alpha=0.3)
        handles = [Line2D([], [], color=colours[m], marker="o", label=m) for m in methods]
        figure.legend(handles=handles, loc="outside lower center", ncol=min(len(methods), 5), fontsize=8)
        path = RESULTS / f"{suite_name}_{kind}.png"
        figure.savefig(path, dpi=80)
        paths.append(path)
    return paths


def target_lines(name: str, results: list[PeerResult], scores: list[dict], speed: dict | None) -> list[str]:
    """The issue's targets on the simulated registry at ε = 1, each MET or NOT MET.

    Each peer is compared with the bayesgen row that has its guarantee: DataSynthesizer (pure ε-DP)
    with "bayesgen" (the library's defaults, pure ε-DP); AIM ((ε, 1e-6)-DP) with "bayesgen zCDP
    δ=1e-6" (the same defaults with zCDP at δ = 1e-6); the non-private copula with the defaults. The
    TSTR criterion is checked for both rows, and target (a) (AIM's TVD bound and TSTR together) for
    the row compared with AIM. The learned variants are listed for reference and decide nothing.
    """
    def find(method, epsilon):
        for result, metrics in zip(results, scores, strict=True):
            if result.method == method and result.epsilon == epsilon and result.ok:
                return result, metrics
        return None, {}

    def missing(method, epsilon):
        return next((r.note for r in results if r.method == method and r.epsilon == epsilon), "") or "not run"

    def verdict(met):
        return "MET" if met else "NOT MET"

    lines = [f"Targets ({name}, ε = 1, scored on the person-level table). Each peer is compared with the bayesgen "
             f"row that has its privacy guarantee: 'bayesgen' (library defaults, pure ε-DP) with DataSynthesizer "
             f"(pure ε-DP); '{SAME_DELTA}' (the same defaults with zCDP, δ = {DELTA:g}) with AIM and MST "
             f"((ε, {DELTA:g})-DP):"]
    default, default_scores = find("bayesgen", 1.0)
    same, same_scores = find(SAME_DELTA, 1.0)
    if default is None:
        return lines + ["  bayesgen at ε = 1 did not run: no target can be checked"]

    def tvd_line(label, row, row_scores, method, epsilon, factor=1.0):
        other, theirs = find(method, epsilon)
        if other is None:
            return [f"  - {label}: not evaluated ({method}: {missing(method, epsilon)})"]
        bound = theirs["mean_tvd_2way"] * factor
        reference = f"{theirs['mean_tvd_2way']:.4f}" + (f" x {factor:g} = {bound:.4f}" if factor != 1.0 else "")
        ours = row_scores["mean_tvd_2way"]
        met = ours < bound if factor == 1.0 else ours <= bound
        return [f"  - {label}: {row.method} {ours:.4f} vs {method} {reference}: {verdict(met)}"]

    lines += tvd_line("mean 2-way TVD lower than DataSynthesizer's (both pure 1-DP)", default, default_scores,
                      "DataSynthesizer (PrivBayes)", 1.0)
    lines += tvd_line("mean 2-way TVD lower than the non-private Gaussian copula's (bayesgen defaults, pure 1-DP)",
                      default, default_scores, "Gaussian copula (copulas)", math.inf)
    if same is None:
        lines.append(f"  - mean 2-way TVD within 1.3x AIM's: not evaluated ({SAME_DELTA}: {missing(SAME_DELTA, 1.0)})")
    else:
        lines += tvd_line(f"mean 2-way TVD within 1.3x AIM's (both (1, {DELTA:g})-DP)", same, same_scores,
                          "AIM (mbi)", 1.0, 1.3)
    lines.append("  - TSTR AUC within 0.03 of train-on-real (logistic regression, tested on the held-out persons):")
    gaps = {}
    for row, row_scores, guarantee in ((default, default_scores, "pure 1-DP"),
                                       (same, same_scores, f"(1, {DELTA:g})-DP, the row compared with AIM")):
        if row is None:
            continue
        gap = row_scores["auc_trtr"] - row_scores["auc_tstr"]
        gaps[row.method] = gap
        lines.append(f"      {row.method} ({guarantee}): TSTR {row_scores['auc_tstr']:.4f}, TRTR "
                     f"{row_scores['auc_trtr']:.4f}, gap {gap:+.4f}: {verdict(abs(gap) <= 0.03)}")
    aim, aim_scores = find("AIM (mbi)", 1.0)
    if same is not None and aim is not None:
        both = same_scores["mean_tvd_2way"] <= 1.3 * aim_scores["mean_tvd_2way"] and abs(gaps[same.method]) <= 0.03
        lines.append(f"  - target (a), both conditions for the same row ({SAME_DELTA}, the guarantee of AIM): "
                     f"{verdict(both)}")
    else:
        lines.append(f"  - target (a), both conditions for the same row ({SAME_DELTA}, the guarantee of AIM): not "
                     f"evaluated ({SAME_DELTA if same is None else 'AIM'} did not run)")
    if speed:
        lines.append(f"  - sampling at least 100x faster than the Gaussian copula per synthetic row: "
                     f"{speed['rows']:,} person rows each (after a warm-up call), bayesgen "
                     f"{speed['bayesgen_seconds']:.2f} s ({speed['rows'] / speed['bayesgen_seconds']:,.0f} rows/s), "
                     f"copula {speed['copula_seconds']:.2f} s ({speed['rows'] / speed['copula_seconds']:,.0f} "
                     f"rows/s): {speed['ratio']:.0f}x, {verdict(speed['ratio'] >= 100)}")
    reference = []
    mst, mst_scores = find("MST (mbi)", 1.0)
    if same is not None and mst is not None:
        reference.append(f"  - same guarantee as MST ((1, {DELTA:g})-DP; no target): {SAME_DELTA} "
                         f"{same_scores['mean_tvd_2way']:.4f} vs MST (mbi) {mst_scores['mean_tvd_2way']:.4f}")
    if aim is not None:
        reference.append(f"  - the defaults (pure 1-DP, a stronger guarantee than AIM's) against the same AIM bound "
                         f"{1.3 * aim_scores['mean_tvd_2way']:.4f}: {default_scores['mean_tvd_2way']:.4f} "
                         f"({'within' if default_scores['mean_tvd_2way'] <= 1.3 * aim_scores['mean_tvd_2way'] else 'above'})")
    for label in ("bayesgen zCDP δ=1e-6, learned", "bayesgen, person table, learned"):
        row, row_scores = find(label, 1.0)
        if row is not None:
            reference.append(f"  - variant {label} ({row.privacy}): 2-way TVD {row_scores['mean_tvd_2way']:.4f}, "
                             f"TSTR gap {row_scores['auc_trtr'] - row_scores['auc_tstr']:+.4f}")
    if reference:
        lines += ["For reference (decide no target):", *reference]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["copula", "datasynthesizer", "mst", "aim"],
                        help="peers to leave out")
    parser.add_argument("--datasets", nargs="*", default=None, help="subset of data sets (by name)")
    args = parser.parse_args(argv)
    suite = SUITES[args.suite]
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = [f"# Benchmark suite: {args.suite}", "",
             f"Command: `python benchmarks/run.py --suite {args.suite}`" + (f" (seed {args.seed})" if args.seed else ""),
             f"bayesgen {package_version('bayesgen')}, copulas {package_version('copulas')}, DataSynthesizer "
             f"{package_version('DataSynthesizer')}, mbi {package_version('mbi')}, sdv {package_version('sdv')}, "
             f"scikit-learn {package_version('scikit-learn')}, lifelines {package_version('lifelines')}; python "
             f"{platform.python_version()}, {os.cpu_count()} cores.",
             "",
             "Every method is fitted on the same training persons (80 %) and scored on the person-level table "
             "against them; TSTR is tested on, and the privacy baselines use, the 20 % held-out persons. TVD: mean "
             "total variation distance over all 1-, 2- and 3-way marginals of the schema codes (3-way: at most "
             f"{suite['max_combinations']:,} fixed random triples). KM sup: largest gap between the Kaplan-Meier "
             "curves. DCR: median distance to the closest training row (0 = copy; holdout: the same for unseen "
             "real persons). MIA AUC: distance-based membership attack (0.5 = no signal). bayesgen rows: "
             "'bayesgen' = the library's defaults (pure ε-DP, like DataSynthesizer and the independent "
             f"marginals); '{SAME_DELTA}' = the same defaults (same structure and pruning) with zCDP at "
             f"δ = {DELTA:g}, the (ε, δ)-DP guarantee of MST and AIM; the rows marked 'learned' are variants "
             "(learned structure; 'person table': fitted on the peers' own one-table input). bayesgen's fit "
             "and sample seconds include encoding and decoding all its tables."]
    print("\n".join(lines), flush=True)
    all_results, targets = {}, []
    for name, schema, tables, structure, survival, target in datasets(suite, args.seed):
        if args.datasets and name not in args.datasets:
            continue
        train, holdout = split_persons(tables, schema, 0.2, rng=args.seed)
        columns = suite["sim_columns"] if name == "simulated registry" else None
        flat = restrict(person_schema(schema), columns)
        keep = flat.root.column_names
        train_flat = person_view(train, schema)[flat.root_table][keep]
        holdout_flat = {flat.root_table: person_view(holdout, schema)[flat.root_table][keep]}
        encoded = encode_tables({flat.root_table: train_flat}, flat)
        cards = {n: v.n_states for n, v in flat.variables.items()}
        data = BenchData(name, schema, flat, train, holdout, train_flat,
                         {n: encoded.codes[n].astype(np.int64) for n in cards}, cards, structure)
        flat_survival, flat_target = flat_specs(survival, target, flat.root_table)
        structure_name = "learned (structure='learn')" if structure == "learn" else "expert (shipped)"
        subset = (f" (a fixed subset of the {len(person_schema(schema).variables)} variables: "
                  f"{', '.join(columns)}; see SIM_SUBSET in benchmarks/run.py)" if columns else "")
        header = (f"\n## {name}\n\n{len(train[schema.root_table]):,} training and {len(holdout[schema.root_table]):,} "
                  f"held-out persons; person-level table: {len(cards)} variables{subset}, domain "
                  f"{math.prod(cards.values()):.2e} cells. bayesgen structure: {structure_name}. "
                  f"Survival: {flat_survival.describe()}. TSTR target: {flat_target.name}.")
        print(header, flush=True)
        results = []
        for epsilon in BAYESGEN_EPSILONS:
            results.append(run_bayesgen(data, epsilon, args.seed))
        # the guarantee of MST and AIM, (ε, 1e-6)-DP, with everything else at its default
        results += [run_bayesgen(data, epsilon, args.seed, privacy="zcdp", label=SAME_DELTA)
                    for epsilon in suite["peer_epsilons"]]
        if structure != "learn":  # (with no expert structure the row above is the learned one)
            results.append(run_bayesgen(data, 1.0, args.seed, privacy="zcdp", structure="learn",
                                        label="bayesgen zCDP δ=1e-6, learned"))
        if schema.child_tables or columns:
            results += [run_bayesgen_flat(data, epsilon, args.seed) for epsilon in suite["peer_epsilons"]]
        results += run_peers(data, suite, args.seed, set(args.skip))
        scores = []
        for result in results:
            try:
                scores.append(score(result, data, holdout_flat, flat_survival, flat_target, suite, args.seed))
            except Exception as exc:  # noqa: BLE001 - a broken output must not stop the suite
                result.note = (result.note + "; " if result.note else "") + f"evaluation failed: {exc}"
                result.flat = None
                scores.append({})
            print(f"  {result.method:<32} ε={fmt_eps(result.epsilon):<4} "
                  + (f"2-way TVD {scores[-1]['mean_tvd_2way']:.4f}, fit {result.fit_seconds:.1f} s"
                     if result.ok else result.note), flush=True)
        trtr = next((s["auc_trtr"] for s in scores if s and np.isfinite(s.get("auc_trtr", np.nan))), float("nan"))
        speed = sampling_speed(data, suite["speed_rows"], args.seed) if name == "simulated registry" else None
        table = markdown_table(table_rows(results, scores))
        section = [header, "", f"TSTR reference (logistic regression trained on the real training persons): "
                   f"AUC {trtr:.4f}.", "", table]
        if speed:
            section += ["", speed_text(speed)]
            targets = target_lines(name, results, scores, speed)
        print("\n".join(section[1:]), flush=True)
        lines += section
        all_results[name] = (results, scores, speed)
    if targets:
        lines += ["", *targets]
        print("\n" + "\n".join(targets))
    paths = plots(all_results, args.suite)
    elapsed = time.perf_counter() - started
    lines += ["", f"Plots: {', '.join(p.name for p in paths)}. Wall time {elapsed / 60:.1f} min."]
    (RESULTS / f"{args.suite}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS / (args.suite + '.md')} and {', '.join(str(p) for p in paths)}")
    print(f"wall time {elapsed:.0f} s ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
