"""``bayesgen evaluate REAL SYNTH --schema S -o report.html``: the evaluation report from files."""

from __future__ import annotations

import argparse
import time

DESCRIPTION = """\
Compare synthetic tables with the real ones and write one self-contained HTML report: 1-, 2- and
3-way marginal distances, pairwise associations, Kaplan-Meier curves, train-on-synthetic-test-on-real
AUC, and privacy metrics (exact matches, distance to closest record, a membership attack).

  bayesgen evaluate data/ synthetic/ --schema schemas/simulacrum_v2.yaml -o report.html \\
      --holdout holdout/ --model model.json --json report.json

REAL, SYNTH and --holdout are folders with TABLE.csv/TABLE.parquet files (or, for a one-table
schema, the file itself). The report reads the real data: it is NOT differentially private.
Needs scikit-learn, lifelines and matplotlib: pip install 'bayesgen[evaluate]'.
"""


def add_parser(commands) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand on ``commands`` (an argparse subparsers object)."""
    parser = commands.add_parser("evaluate", help="compare synthetic with real tables (HTML report)",
                                 description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("real", help="the real tables the model was fitted on (folder or file)")
    parser.add_argument("synthetic", help="the synthetic tables (folder or file)")
    parser.add_argument("--schema", required=True, help="schema YAML (e.g. schemas/simulacrum_v2.yaml)")
    parser.add_argument("-o", "--output", required=True, help="where to write the HTML report")
    parser.add_argument("--holdout", help="real persons the model never saw (folder or file): privacy baselines, "
                                          "membership attack, and the TSTR test set")
    parser.add_argument("--model", help="the model file, to show its privacy ledger in the report")
    parser.add_argument("--json", metavar="PATH", help="also write every metric as JSON")
    parser.add_argument("--ways", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3],
                        help="which k-way marginals to compare (default 1 2 3)")
    parser.add_argument("--no-privacy", action="store_true", help="skip the nearest-neighbour privacy metrics")
    parser.add_argument("--seed", type=int, default=0, help="seed of the metric subsets and splits (default 0)")
    parser.add_argument("--sep", default=",", help="CSV separator of the inputs (default ',')")
    return parser


def run(args) -> None:
    """Read the tables, evaluate, write the report(s) and print the summary."""
    from bayesgen.evaluate import evaluate
    from bayesgen.schema.schema import Schema
    from bayesgen.tables.io import read_tables

    schema = Schema.load(args.schema)
    real = read_tables([args.real], schema, sep=args.sep)
    synthetic = read_tables([args.synthetic], schema, sep=args.sep)
    holdout = read_tables([args.holdout], schema, sep=args.sep) if args.holdout else None
    ledger = None
    if args.model:
        from bayesgen.model.model_file import read_model_file

        ledger = read_model_file(args.model)["privacy"]
    started = time.perf_counter()
    report = evaluate(real, synthetic, schema, holdout=holdout, ledger=ledger, ways=tuple(args.ways),
                      privacy=not args.no_privacy, rng=args.seed)
    report.to_html(args.output)
    if args.json:
        report.to_json(args.json)
    print(report.to_markdown())
    print(f"report written to {args.output}" + (f" and {args.json}" if args.json else "")
          + f" in {time.perf_counter() - started:.1f} s (it reads the real data: not differentially private)")
