"""``bayesgen sweep``: fit and evaluate across a grid of ε (and structures): the tuning tool.

For every structure and ε (and repeat), the model is fitted on the training persons, as many
synthetic persons are sampled, and :func:`bayesgen.evaluate` compares them with the training
persons (privacy metrics and TSTR against held-out persons). The table (CSV and Markdown) and a
utility-against-ε plot are written to the output folder.

Every fit spends its own budget on the same data: a sweep of k fits at ε spends k·ε in all, so
run it where the data may be read (or on simulated data), not as a release.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

DESCRIPTION = """\
Fit and evaluate a model at each epsilon (and structure) on the same data; write sweep.csv, sweep.md
and utility_vs_epsilon.png to the output folder.

  bayesgen sweep data/ --schema schemas/simulacrum_v2.yaml --epsilons 0.3 1 3 inf \\
      --structures structures/simulacrum_v2_compact.yaml learn -o sweep/
  bayesgen sweep --simulate 20000 --schema schemas/simulacrum_v2.yaml -o sweep/   # SIMULATED data

A fraction of the persons (--holdout-fraction, default 0.2) is held out: never fitted, used for
TSTR and the privacy baselines. Each fit spends its own budget on the same data: a sweep is a
methodologist's tool inside the registry, not a release.
"""

COLUMNS = ["structure", "epsilon", "repeats", "fit_seconds", "sample_seconds", "mean_tvd_1way", "mean_tvd_2way",
           "mean_tvd_3way", "max_tvd_2way", "mean_abs_diff_cramer", "km_sup", "auc_trtr", "auc_tstr",
           "exact_match_rate", "dcr_synthetic_median", "dcr_holdout_median", "mia_auc"]


def _epsilon(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("epsilon must be positive ('inf' for no privacy)")
    return value


def add_parser(commands) -> argparse.ArgumentParser:
    """Register the ``sweep`` subcommand on ``commands`` (an argparse subparsers object)."""
    parser = commands.add_parser("sweep", help="fit and evaluate across a grid of epsilons (and structures)",
                                 description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="*", help="a folder with TABLE.csv/TABLE.parquet files, or the files")
    parser.add_argument("--schema", required=True, help="schema YAML (e.g. schemas/simulacrum_v2.yaml)")
    parser.add_argument("--simulate", type=int, metavar="N",
                        help="instead of DATA: simulate N patients (simulacrum_v2 only; SIMULATED data)")
    parser.add_argument("--epsilons", type=_epsilon, nargs="+", default=[0.1, 0.3, 1.0, 3.0, math.inf],
                        help="the privacy budgets to try (default 0.1 0.3 1 3 inf)")
    parser.add_argument("--structures", nargs="+", default=[None], metavar="STRUCTURE",
                        help="structure YAML files and/or 'learn' (default: the shipped structure of the schema)")
    parser.add_argument("--privacy", choices=["pure", "zcdp"], default="pure")
    parser.add_argument("--delta", type=float, default=0.0, help="delta, with --privacy zcdp (e.g. 1e-6)")
    parser.add_argument("--holdout-fraction", type=float, default=0.2,
                        help="share of persons held out of every fit (default 0.2)")
    parser.add_argument("--repeats", type=int, default=1, help="fits per setting (DP noise differs; default 1)")
    parser.add_argument("--ways", type=int, nargs="+", default=[1, 2], choices=[1, 2, 3],
                        help="k-way marginals to compare (default 1 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the sampling and the metrics")
    parser.add_argument("--sep", default=",", help="CSV separator of the input (default ',')")
    parser.add_argument("-o", "--output", required=True, help="output folder (created if needed)")
    return parser


def sweep(train, holdout, schema, epsilons, structures, repeats: int = 1, privacy: str = "pure",
          delta: float = 0.0, ways=(1, 2), seed: int = 0, progress=None) -> list[dict]:
    """Fit, sample and evaluate at every (structure, ε); returns one row (means over repeats) each.

    Examples
    --------
    >>> import bayesgen as bg
    >>> from bayesgen.evaluate.rows import split_persons
    >>> schema = bg.Schema.load("schemas/gbsg2.yaml")
    >>> train, holdout = split_persons(bg.datasets.load_gbsg2(), schema, 0.2, rng=0)
    >>> rows = sweep(train, holdout, schema, [1.0, float("inf")], [None])
    >>> [row["epsilon"] for row in rows], rows[1]["mean_tvd_1way"] < rows[0]["mean_tvd_1way"]
    ([1.0, inf], True)
    """
    import numpy as np

    from bayesgen.evaluate import evaluate
    from bayesgen.model.synthesizer import Synthesizer
    from bayesgen.structure.structure import Structure

    n = len(train[schema.root_table])
    rows = []
    for label in structures:
        structure = Structure.load(label) if label not in (None, "learn") else label
        for epsilon in epsilons:
            results = []
            for repeat in range(repeats):
                started = time.perf_counter()
                model = Synthesizer(schema, structure, epsilon=epsilon, privacy=privacy,
                                    delta=delta if privacy == "zcdp" else 0.0, rng=seed + repeat).fit(train)
                fitted = time.perf_counter()
                synthetic = model.sample(n, rng=seed + 1000 + repeat)
                sampled = time.perf_counter()
                report = evaluate(train, synthetic, schema, holdout=holdout, ways=tuple(ways), rng=seed)
                results.append({"fit_seconds": fitted - started, "sample_seconds": sampled - fitted,
                                **report.headline()})
            row = {"structure": label or "shipped", "epsilon": epsilon, "repeats": repeats}
            for key in COLUMNS[3:]:
                values = [r.get(key, float("nan")) for r in results]
                row[key] = float(np.nanmean(values)) if not all(np.isnan(values)) else float("nan")
            rows.append(row)
            if progress:
                progress(row)
    return rows


def plot(rows: list[dict], path) -> None:
    """Utility against ε: mean 2-way TVD, TSTR AUC (with TRTR) and the KM distance, one line per structure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    finite = sorted({r["epsilon"] for r in rows if math.isfinite(r["epsilon"])})
    top = (max(finite) * 3) if finite else 1.0

    def x(eps):
        return eps if math.isfinite(eps) else top

    figure = Figure(figsize=(13, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    panels = [("mean_tvd_2way", "mean 2-way TVD (lower is better)"),
              ("auc_tstr", "TSTR AUC (dashed: train on real)"), ("km_sup", "Kaplan–Meier sup distance")]
    for i, (key, title) in enumerate(panels):
        ax = figure.add_subplot(1, 3, i + 1)
        for label in dict.fromkeys(r["structure"] for r in rows):
            mine = sorted((r for r in rows if r["structure"] == label), key=lambda r: x(r["epsilon"]))
            ax.plot([x(r["epsilon"]) for r in mine], [r[key] for r in mine], marker="o", label=label)
            if key == "auc_tstr":
                ax.plot([x(r["epsilon"]) for r in mine], [r["auc_trtr"] for r in mine], ls="--", color="grey")
        ax.set_xscale("log")
        ticks = finite + ([top] if any(not math.isfinite(r["epsilon"]) for r in rows) else [])
        ax.set_xticks(ticks, [f"{t:g}" if t != top or finite == [] else "∞" for t in ticks])
        ax.set_xlabel("ε")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8)
    figure.savefig(path, dpi=100)


def markdown(rows: list[dict]) -> str:
    """The sweep table as Markdown."""
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    body = ""
    for row in rows:
        cells = []
        for key in COLUMNS:
            value = row[key]
            if isinstance(value, float) and key != "epsilon":
                cells.append("–" if math.isnan(value) else f"{value:.4f}" if "seconds" not in key else f"{value:.2f}")
            else:
                cells.append(f"{value:g}" if isinstance(value, float) else str(value))
        body += "| " + " | ".join(cells) + " |\n"
    return head + body


def run(args) -> None:
    """Read (or simulate) the data, run the sweep, write the table and the plot."""
    import pandas as pd

    from bayesgen.errors import BayesgenError
    from bayesgen.evaluate.rows import split_persons
    from bayesgen.schema.schema import Schema
    from bayesgen.tables.io import read_tables

    schema = Schema.load(args.schema)
    if args.simulate:
        if args.data:
            raise BayesgenError("give DATA or --simulate, not both")
        from bayesgen.datasets import simulate_registry

        if schema.name not in ("simulacrum_v2", "simulacrum_v2_core"):
            raise BayesgenError("--simulate makes Simulacrum v2 tables: use --schema schemas/simulacrum_v2.yaml "
                                "(all ten tables) or schemas/simulacrum_v2_core.yaml (patients and tumours)")
        tables = simulate_registry(args.simulate, rng=args.seed, full=schema.name == "simulacrum_v2")
    elif args.data:
        tables = read_tables(args.data, schema, sep=args.sep)
    else:
        raise BayesgenError("give DATA (a folder or files) or --simulate N")
    if not 0 < args.holdout_fraction < 1:
        raise BayesgenError("--holdout-fraction must be between 0 and 1")
    train, holdout = split_persons(tables, schema, args.holdout_fraction, rng=args.seed)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    print(f"sweep: {len(train[schema.root_table]):,} training and {len(holdout[schema.root_table]):,} held-out "
          f"persons; {len(args.structures)} structure(s) x {len(args.epsilons)} epsilon(s) x {args.repeats} fit(s); "
          f"each fit spends its own budget (not a release)")

    def progress(row):
        print(f"  {row['structure']}  epsilon={row['epsilon']:g}: 2-way TVD {row['mean_tvd_2way']:.4f}, "
              f"TSTR AUC {row['auc_tstr']:.3f} (real {row['auc_trtr']:.3f}), fit {row['fit_seconds']:.1f} s",
              flush=True)

    rows = sweep(train, holdout, schema, args.epsilons, args.structures, args.repeats, args.privacy, args.delta,
                 tuple(args.ways), args.seed, progress)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(out / "sweep.csv", index=False)
    (out / "sweep.md").write_text(markdown(rows), encoding="utf-8")
    plot(rows, out / "utility_vs_epsilon.png")
    print(markdown(rows))
    print(f"wrote {out / 'sweep.csv'}, {out / 'sweep.md'} and {out / 'utility_vs_epsilon.png'}")
