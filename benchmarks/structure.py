"""Structure learning on the simulated registry: distance to the true DAG, fidelity, and DataSynthesizer.

Everything runs on the embedded SIMULATED reference registry
(``bayesgen.datasets.simulate_registry(--patients, rng=--seed, full=False)``), whose true DAG is
``structures/simulacrum_v2_core.yaml``. Figures vary between runs: the DP noise is never seeded.

1. **Structure learning.** For each ε_structure in ``--structure-epsilons`` the DP search
   (``learn_structure(real, schema, epsilon=ε_s, fit_epsilon=1)``; ∞: no noise, ``max_parents=2``)
   and pgmpy's non-private hill climbing (``method="hill_climb", max_parents=2``) learn a DAG; its
   structural Hamming distance (SHD) to the true DAG is printed, then parameters are fitted on it at
   ε = 1 (``Synthesizer(schema, structure=learned, epsilon=1)``) and as many synthetic patients as
   real ones are sampled. Such a row spends ε_s + 1 in all. TVD: mean total variation distance of
   the 2-way marginals (``bayesgen.evaluate.fidelity_summary``) per table, and over all pairs of
   both tables together.
2. **ε = 1 in total.** The expert full structure (the true DAG), the expert compact structure and a
   structure learned inside the budget (``Synthesizer(schema, structure="learn", epsilon=1,
   structure_share=0.3)``), all fitted at ε = 1 in total. Target: the learned structure's 2-way TVD
   within 10 % of the expert (true) structure's.
3. **DataSynthesizer** (correlated attribute mode, PrivBayes) against bayesgen on ONE flat table:
   one row per tumour with its patient's columns, all 38 model variables as the schema's codes
   (so both tools see the same discretisation), all declared categorical. DataSynthesizer is pure
   Python, far too slow for the whole table (minutes per thousand rows at degree 2), so it is given a
   random subset of patients (``--ds-rows`` tumour rows, run once, with a time limit
   ``--ds-timeout``); bayesgen is fitted on exactly the same patients, and also on the whole
   registry. Each model generates as many rows as the whole reference flat table, and
   the 2-way TVD over all pairs of the 38 variables is measured against it. Targets: bayesgen's
   2-way TVD at least 25 % lower and its learning + fitting at least 10x faster, on the same data.

Run ``python benchmarks/structure.py`` (default size; most of the time is DataSynthesizer's), or
``--quick`` for a smoke run, ``--skip-datasynthesizer`` without part 3.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import shlex
import sys
import time
import warnings
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from bayesgen import Schema, Structure, Synthesizer, learn_structure
from bayesgen.datasets import simulate_registry
from bayesgen.evaluate import fidelity_summary, total_variation
from bayesgen.schema.encode import encode_tables

EPSILON = 1.0  # the total budget of the comparisons
STRUCTURE_SHARE = 0.3
TVD_TARGET = 1.10  # learned / expert at epsilon = 1 in total
DS_TVD_TARGET = 0.75  # ours / DataSynthesizer
DS_SPEED_TARGET = 10.0  # DataSynthesizer seconds / ours
SCHEMA = "schemas/simulacrum_v2_core.yaml"
TRUE_DAG = "structures/simulacrum_v2_core.yaml"
COMPACT_DAG = "structures/simulacrum_v2_compact.yaml"


# -- structures ------------------------------------------------------------------------------------
def shd(learned: Structure, true: Structure) -> tuple[int, int, int, int]:
    """Structural Hamming distance to the true DAG (``Structure.diff``), and its parts.

    Missing (true edges absent), extra (learned edges absent from the truth) and reversed edges; a
    reversed edge counts once.
    """
    change = true.diff(learned)
    return change.shd, len(change.removed), len(change.added), len(change.reversed)


def max_in_degree(structure: Structure) -> int:
    return max((len(structure.parents(n)) for n in structure.nodes), default=0)


# -- fidelity on the registry tables --------------------------------------------------------------
def registry_tvd(real, synthetic, schema) -> tuple[float, float, float]:
    """Mean 2-way TVD per table (patient, tumour) and over all pairs of both tables."""
    summary = fidelity_summary(real, synthetic, schema)
    pairs = {name: math.comb(len(table.modelled_columns), 2) for name, table in schema.tables.items()}
    overall = sum(summary[n]["mean_tvd_2way"] * pairs[n] for n in pairs) / sum(pairs.values())
    root, child = schema.root_table, schema.child_tables[0].name
    return summary[root]["mean_tvd_2way"], summary[child]["mean_tvd_2way"], overall


# -- the flat table: one row per tumour, its patient's columns joined -----------------------------
def flat_codes(tables, schema) -> dict[str, np.ndarray]:
    """Schema codes of every model variable, one row per kept child row (patient columns joined)."""
    encoded = encode_tables(tables, schema)
    child = schema.child_tables[0].name
    parent = encoded.parent_row[child]
    out = {}
    for name, variable in schema.variables.items():
        codes = encoded.codes[name].astype(np.int64)
        out[name] = codes if variable.table == child else codes[parent]
    return out


def flat_tvd(real: dict, synthetic: dict, cards: dict) -> float:
    """Mean TVD over all 2-way marginals of the flat table (codes; ``cards`` includes a spare state)."""
    distances = []
    for a, b in itertools.combinations(list(cards), 2):
        size = cards[a] * cards[b]
        p = np.bincount(real[a] * cards[b] + real[b], minlength=size)
        q = np.bincount(synthetic[a] * cards[b] + synthetic[b], minlength=size)
        distances.append(total_variation(p, q))
    return float(np.mean(distances))


def subsample_patients(real, schema, max_rows: int, rng) -> dict[str, pd.DataFrame]:
    """A random subset of patients with at most ``max_rows`` tumour rows in all (all their rows)."""
    root, child = schema.root, schema.child_tables[0]
    key = root.primary_key
    patients, tumours = real[root.name], real[child.name]
    per_patient = tumours.groupby(key).size().reindex(patients[key]).fillna(0).to_numpy()
    order = rng.permutation(len(patients))
    keep = order[: int(np.searchsorted(np.cumsum(per_patient[order]), max_rows, side="right"))]
    ids = patients[key].iloc[np.sort(keep)]
    return {root.name: patients[patients[key].isin(ids)].reset_index(drop=True),
            child.name: tumours[tumours[key].isin(ids)].reset_index(drop=True)}


# -- DataSynthesizer, in its own process group (it starts a multiprocessing pool) ------------------
def run_datasynthesizer(flat: dict, k: int, epsilon: float, n_rows: int, seed: int, timeout: float):
    """Run DataSynthesizer on ``flat`` (codes) in a child process; returns (result dict or None, message).

    The child process is the benchmark suite's (``benchmarks/peers/datasynthesizer.py``).
    """
    from peers.datasynthesizer import run_frame

    try:
        synthetic, result = run_frame(flat, k, epsilon, n_rows, seed, timeout, log_lines=5)
    except TimeoutError:
        return None, f"did not finish within --ds-timeout {timeout:g} s (stopped)"
    except RuntimeError as error:
        return None, f"failed: {error}"
    codes = {}
    for name in flat:
        values = synthetic[name]
        # a value DataSynthesizer could not produce (NaN) is kept, as one spare state
        codes[name] = np.where(values.isna(), -1, values.fillna("s-1").str[1:].astype(np.int64))
    result["codes"] = codes
    return result, ""


# -- printing --------------------------------------------------------------------------------------
def table(header: list[str], rows: list[list[str]], first_left: int = 1) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i < first_left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def fmt_eps(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:g}"


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


# -- the benchmark ---------------------------------------------------------------------------------
def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=None, help="simulated patients (default 200,000; "
                        "--quick: 20,000)")
    parser.add_argument("--quick", action="store_true", help="a smaller smoke run: 20,000 patients, 1 repeat, "
                        "DataSynthesizer on 200 rows")
    parser.add_argument("--skip-datasynthesizer", action="store_true", help="leave out part 3")
    parser.add_argument("--structure-epsilons", type=float, nargs="+", default=[0.1, 0.5, 1.0, math.inf])
    parser.add_argument("--repeats", type=int, default=None, help="fits per row, averaged (default 3; --quick: 1)")
    parser.add_argument("--ds-rows", type=int, default=None, help="tumour rows (whole patients) given to "
                        "DataSynthesizer and to bayesgen in part 3 (default 1,000; --quick: 200)")
    parser.add_argument("--ds-k", type=int, default=None, help="DataSynthesizer's degree (default: the max "
                        "in-degree of the structure bayesgen learned at epsilon = 1 in part 2, or 2)")
    parser.add_argument("--ds-timeout", type=float, default=3600.0, help="seconds before DataSynthesizer is "
                        "stopped (default 3600)")
    parser.add_argument("--seed", type=int, default=0, help="of the simulated registry and the samples")
    args = parser.parse_args(argv)
    n_patients = args.patients or (20_000 if args.quick else 200_000)
    repeats = args.repeats or (1 if args.quick else 3)
    ds_rows = args.ds_rows or (200 if args.quick else 1_000)
    warnings.filterwarnings("ignore", category=FutureWarning)
    started = time.perf_counter()
    try:
        run(args, argv, n_patients, repeats, ds_rows)
    finally:
        print(f"\nrun time {time.perf_counter() - started:,.0f} s")


def run(args, argv, n_patients: int, repeats: int, ds_rows: int) -> None:

    print("command: python benchmarks/structure.py" + (" " + shlex.join(argv) if argv else ""))
    print(f"bayesgen {package_version('bayesgen')}, DataSynthesizer {package_version('DataSynthesizer')}, "
          f"pgmpy {package_version('pgmpy')}, numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores")
    schema = Schema.load(SCHEMA)
    true_dag, compact_dag = Structure.load(TRUE_DAG), Structure.load(COMPACT_DAG)
    real = simulate_registry(n_patients, rng=args.seed, full=False)
    root, child = schema.root_table, schema.child_tables[0].name
    print(f"SIMULATED registry (simulate_registry({n_patients}, rng={args.seed}, full=False)): {len(real[root]):,} patients, "
          f"{len(real[child]):,} tumours, {len(schema.variables)} model variables; true DAG {TRUE_DAG} "
          f"({len(true_dag.edges)} edges, max in-degree {max_in_degree(true_dag)}); {repeats} fit(s) per row, "
          f"each sampling {n_patients:,} synthetic patients; DP noise unseeded, figures vary between runs")
    Synthesizer(schema, compact_dag, epsilon=EPSILON).fit(simulate_registry(500, rng=1, full=False)).sample(10)  # warm-up

    def fit_and_score(structure, repeat):
        started = time.perf_counter()
        model = Synthesizer(schema, structure=structure, epsilon=EPSILON, structure_share=STRUCTURE_SHARE,
                            rng=args.seed + repeat).fit(real)
        seconds = time.perf_counter() - started
        synthetic = model.sample(n_patients, rng=1000 + repeat)
        return model, seconds, registry_tvd(real, synthetic, schema)

    # -- 1. SHD and fidelity per structure budget ---------------------------------------------------
    print()
    print(f"1. Structure learning: SHD to the true DAG, then parameters fitted at epsilon = {EPSILON:g} on the "
          f"learned DAG.")
    print(f"   A DP row spends epsilon_structure + {EPSILON:g} in all; the inf and hill-climbing structures "
          f"are NOT private (only their parameters are).")
    print("   SHD = missing + extra + reversed edges; TVD = mean 2-way total variation distance (lower is better), "
          "mean of the repeats.")
    rows = []
    settings = [(f"DP search, eps_s={fmt_eps(e)}", e) for e in args.structure_epsilons] + [("hill climbing (BIC)", None)]
    for label, eps_s in settings:
        distances, degrees, edges, learn_seconds, scores = [], [], [], [], []
        hill = None
        for repeat in range(repeats):
            started = time.perf_counter()
            if eps_s is None:
                if hill is None:
                    hill = learn_structure(real, schema, method="hill_climb", max_parents=2)
                    learn_seconds.append(time.perf_counter() - started)
                learned = hill
            else:
                learned = learn_structure(real, schema, epsilon=eps_s, fit_epsilon=EPSILON, rng=args.seed + repeat,
                                          max_parents=None if math.isfinite(eps_s) else 2)
                learn_seconds.append(time.perf_counter() - started)
            distances.append(shd(learned, true_dag))
            degrees.append(max_in_degree(learned))
            edges.append(len(learned.edges))
            scores.append(fit_and_score(learned, repeat)[2])
        total = "not private" if eps_s is None or math.isinf(eps_s) else fmt_eps(eps_s + EPSILON)
        mean_shd = np.mean(distances, axis=0)
        mean_tvd = np.mean(scores, axis=0)
        rows.append([label, fmt_eps(eps_s) if eps_s is not None else "-", total, f"{np.mean(edges):.1f}",
                     f"{max(degrees)}", f"{mean_shd[0]:.1f}", f"{mean_shd[1]:.1f}", f"{mean_shd[2]:.1f}",
                     f"{mean_shd[3]:.1f}", f"{np.mean(learn_seconds):.1f}",
                     *(f"{v:.4f}" for v in mean_tvd)])
        print(f"   ... {label} done", file=sys.stderr, flush=True)
    table(["structure", "eps struct", "eps total", "edges", "max in", "SHD", "missing", "extra", "reversed",
           "learn s", "patient 2w", "tumour 2w", "all 2w"], rows)

    # -- 2. epsilon = 1 in total ------------------------------------------------------------------------
    print()
    print(f"2. epsilon = {EPSILON:g} in TOTAL (structure + parameters), {repeats} fit(s) each.")
    rows, overall, learned_models = [], {}, []
    for label, structure in [("expert full (true DAG)", true_dag), ("expert compact", compact_dag),
                             (f"learned (structure='learn', share {STRUCTURE_SHARE:g})", "learn")]:
        results = [fit_and_score(structure, repeat) for repeat in range(repeats)]
        if structure == "learn":
            learned_models = [model for model, _, _ in results]
        dags = [model.structure_ for model, _, _ in results]
        mean_tvd = np.mean([score for _, _, score in results], axis=0)
        overall[label] = mean_tvd[2]
        budget = (f"{STRUCTURE_SHARE * EPSILON:g} + {(1 - STRUCTURE_SHARE) * EPSILON:g}" if structure == "learn"
                  else f"0 + {EPSILON:g}")
        rows.append([label, budget, f"{np.mean([len(d.edges) for d in dags]):.1f}",
                     f"{max(max_in_degree(d) for d in dags)}", f"{np.mean([shd(d, true_dag)[0] for d in dags]):.1f}",
                     f"{np.mean([s for _, s, _ in results]):.2f}", *(f"{v:.4f}" for v in mean_tvd)])
        print(f"   ... {label} done", file=sys.stderr, flush=True)
    table(["structure", "eps struct + params", "edges", "max in", "SHD", "learn+fit s", "patient 2w", "tumour 2w",
           "all 2w"], rows)
    learned_label = rows[2][0]
    ratio = overall[learned_label] / overall["expert full (true DAG)"]
    ratio_compact = overall[learned_label] / overall["expert compact"]
    print(f"learned / expert full 2-way TVD (all pairs) = {ratio:.3f}; target <= {TVD_TARGET:.2f}: "
          f"{'MET' if ratio <= TVD_TARGET else 'NOT MET'}")
    print(f"learned / expert compact 2-way TVD (all pairs) = {ratio_compact:.3f} (for information)")

    if args.skip_datasynthesizer:
        print()
        print("3. DataSynthesizer comparison skipped (--skip-datasynthesizer).")
        return
    if package_version("DataSynthesizer") == "not installed":
        print()
        print("3. DataSynthesizer is not installed: pip install -e '.[bench]' (or --skip-datasynthesizer).")
        return

    # -- 3. DataSynthesizer -----------------------------------------------------------------------------
    k = args.ds_k if args.ds_k is not None else (max(max_in_degree(m.structure_) for m in learned_models) or 2)
    rng = np.random.default_rng(args.seed)
    subset = subsample_patients(real, schema, ds_rows, rng)
    reference = flat_codes(real, schema)
    flat_subset = flat_codes(subset, schema)
    n_flat, n_subset = len(next(iter(reference.values()))), len(next(iter(flat_subset.values())))
    cards = {name: v.n_states + 1 for name, v in schema.variables.items()}  # + a spare state for a NaN
    d = len(schema.variables)
    print()
    print(f"3. DataSynthesizer {package_version('DataSynthesizer')} (correlated attribute mode = PrivBayes) vs "
          f"bayesgen, epsilon = {EPSILON:g}, degree k = {k}.")
    print(f"   Flat table: one row per tumour with its patient's columns, {d} model variables as schema codes, "
          f"all categorical; 2-way TVD over all {math.comb(d, 2)} pairs against the whole reference flat table "
          f"({n_flat:,} rows).")
    print(f"   DataSynthesizer is given {n_subset:,} tumour rows ({len(subset[root]):,} random whole patients, "
          f"--ds-rows {ds_rows}) because it is too slow for {n_flat:,}; bayesgen is fitted on the same patients "
          f"(and, last row, on all of them). Every model generates about {n_flat:,} rows. DataSynthesizer: one "
          f"run (seed {args.seed}), no tiers; bayesgen: mean of {repeats} fit(s), tiers of {TRUE_DAG}.")
    print(f"   Budgets: DataSynthesizer is passed epsilon={EPSILON:g}; its source spends epsilon/2 on the greedy "
          f"network (exponential mechanism, epsilon/(2(d-1)) per step) and epsilon/2 on the noisy conditional "
          f"tables, and first adds Laplace noise with the whole epsilon to the 1-way marginals (kept in the "
          f"description), so by its own accounting it spends {2 * EPSILON:g} per ROW (a tumour; up to 3 per "
          f"patient). bayesgen spends {EPSILON:g} in all per PATIENT (structure {STRUCTURE_SHARE * EPSILON:g}, "
          f"parameters {(1 - STRUCTURE_SHARE) * EPSILON:g}).")
    print("   Seconds: DataSynthesizer describe (read CSV, network, conditionals) vs bayesgen Synthesizer.fit "
          "(validate, encode, learn, fit); generation/sampling reported apart. Running...", flush=True)

    ds, message = run_datasynthesizer(flat_subset, k, EPSILON, n_flat, args.seed, args.ds_timeout)

    def ours(tables, max_parents):
        scores, seconds, sample_seconds, dags = [], [], [], []
        for repeat in range(repeats):
            started = time.perf_counter()
            model = Synthesizer(schema, structure="learn", epsilon=EPSILON, structure_share=STRUCTURE_SHARE,
                                max_parents=max_parents, rng=args.seed + repeat).fit(tables)
            seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            synthetic = model.sample(n_patients, rng=2000 + repeat)
            sample_seconds.append(time.perf_counter() - started)
            codes = flat_codes(synthetic, schema)
            scores.append(flat_tvd(reference, codes, cards))
            dags.append(model.structure_)
        return (float(np.mean(scores)), float(np.mean(seconds)), float(np.mean(sample_seconds)),
                np.mean([shd(g, true_dag)[0] for g in dags]), max(max_in_degree(g) for g in dags),
                len(next(iter(codes.values()))))

    rows = []
    if ds is not None:
        ds_tvd = flat_tvd(reference, {n: np.where(c < 0, cards[n] - 1, c) for n, c in ds["codes"].items()}, cards)
        ds_dag = Structure.from_edges([(p, c) for c, parents in ds["network"] for p in parents],
                                      nodes=list(schema.variables))
        rows.append([f"DataSynthesizer, k={k}", f"{n_subset:,}", f"{ds['describe_seconds']:.1f}",
                     f"{1000 * ds['describe_seconds'] / n_subset:.2f}", f"{ds['generate_seconds']:.1f}",
                     f"{n_flat:,}", f"{shd(ds_dag, true_dag)[0]}", f"{max_in_degree(ds_dag)}", f"{ds_tvd:.4f}"])
    default = ours(subset, None)
    same = ours(subset, k)
    full = ours(real, k)
    variants = [("bayesgen default (degree by theta-usefulness), same rows", default, n_subset),
                (f"bayesgen max_parents={k} (every parent set up to {k}), same rows", same, n_subset),
                (f"bayesgen max_parents={k}, whole registry", full, n_flat)]
    for label, (tvd, seconds, sample_seconds, mean_shd, degree, n_out), n_in in variants:
        rows.append([label, f"{n_in:,}", f"{seconds:.2f}", f"{1000 * seconds / n_in:.4f}", f"{sample_seconds:.2f}",
                     f"{n_out:,}", f"{mean_shd:.1f}", f"{degree}", f"{tvd:.4f}"])
    table(["model (epsilon 1)", "input rows", "learn+fit s", "s per 1k rows", "generate s", "rows out", "SHD",
           "max in", "flat 2w TVD"], rows)
    if ds is None:
        print(f"DataSynthesizer {message}; no DataSynthesizer figures, targets not evaluated.")
        return
    print(f"Targets, on the same rows (2-way TVD at least {100 * (1 - DS_TVD_TARGET):.0f} % lower; learning + fitting "
          f"at least {DS_SPEED_TARGET:g}x faster):")
    for label, (tvd, seconds, *_), _ in variants[:2]:
        reduction, speedup = 1 - tvd / ds_tvd, ds["describe_seconds"] / seconds
        print(f"  {label}: TVD {100 * reduction:.1f} % lower, "
              f"{'MET' if tvd <= DS_TVD_TARGET * ds_tvd else 'NOT MET'}; {speedup:,.0f}x faster, "
              f"{'MET' if speedup >= DS_SPEED_TARGET else 'NOT MET'}")
    per_row = (ds["describe_seconds"] / n_subset) / (full[1] / n_flat)
    print(f"per 1,000 input rows: DataSynthesizer {1000 * ds['describe_seconds'] / n_subset:.2f} s on {n_subset:,} rows, "
          f"bayesgen {1000 * full[1] / n_flat:.4f} s on {n_flat:,} rows ({per_row:,.0f}x)")

if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
