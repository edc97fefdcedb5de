"""The ``bayesgen`` command line: fit, sample, ledger, demo, structure (learn, show, diff)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

from bayesgen.cli import evaluate as evaluate_command
from bayesgen.cli import export as export_command
from bayesgen.cli import sweep as sweep_command
from bayesgen.errors import BayesgenError

DESCRIPTION = """\
bayesgen generates synthetic cancer-registry tables from a Bayesian network fitted under
differential privacy. Typical use:

  bayesgen fit data/ --schema schemas/simulacrum_v2.yaml --structure structures/simulacrum_v2.yaml \\
      --epsilon 1 -o model.json          # inside the registry: the model file is what you release
  bayesgen sample model.json -n 100000 -o synthetic/ --format parquet --seed 7
  bayesgen demo                           # all of it on simulated data, in about a minute
  bayesgen structure learn data/ --schema schemas/simulacrum_v2_core.yaml --epsilon 0.3 -o learned.yaml
  bayesgen structure diff structures/simulacrum_v2_core.yaml learned.yaml
"""

STRUCTURE_DESCRIPTION = """\
Learn, inspect and compare Bayesian-network structures (DAG YAML files):

  bayesgen structure learn data/ --schema schemas/simulacrum_v2_core.yaml --epsilon 0.3 -o learned.yaml
  bayesgen structure show learned.yaml --schema schemas/simulacrum_v2_core.yaml --draw learned.svg
  bayesgen structure diff structures/simulacrum_v2_core.yaml learned.yaml

Drawing (--draw) needs matplotlib: pip install 'bayesgen[plot]'.
"""


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _epsilon(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("epsilon must be positive ('inf' for no privacy)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bayesgen", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = commands.add_parser("fit", help="fit a model to registry tables under a privacy budget",
                              description="Fit a differentially private model and write it as a JSON model file.")
    fit.add_argument("data", nargs="+", help="a folder with TABLE.csv/TABLE.parquet files, or the files themselves")
    fit.add_argument("--schema", required=True, help="schema YAML (e.g. schemas/simulacrum_v2.yaml)")
    fit.add_argument("--structure", help="structure YAML (default: the shipped one named like the schema), "
                                         "or 'learn' to learn it under DP from the same budget")
    fit.add_argument("--structure-share", type=float, default=0.3,
                     help="with --structure learn: share of the budget spent on the structure (default 0.3)")
    fit.add_argument("--epsilon", type=_epsilon, default=1.0, help="total privacy budget (default 1; 'inf' = no noise)")
    fit.add_argument("--delta", type=float, default=0.0, help="delta, with --privacy zcdp (e.g. 1e-6)")
    fit.add_argument("--privacy", choices=["pure", "zcdp"], default="pure",
                     help="pure: epsilon-DP, discrete Laplace; zcdp: discrete Gaussian (default pure)")
    fit.add_argument("--allocation", choices=["uniform", "size"], default="uniform",
                     help="how the budget is split between node families (default uniform)")
    fit.add_argument("--postprocessing", choices=["project", "clip"], default="project",
                     help="how noisy counts are made non-negative (default project: norm-sub onto the "
                          "pooled row count)")
    fit.add_argument("--shrinkage", type=float, default=1.0,
                     help="pooling of noisy CPT rows towards coarser rows, in noise units (default 1; 0 = off)")
    fit.add_argument("--events-share", type=float, default=0.35,
                     help="with a structure that has an events section: share of the budget spent on the "
                          "event hazards (default 0.35)")
    fit.add_argument("--prune", type=_prune, default=4.0,
                     help="size each conditional table to its noise (theta-usefulness): drop a node's "
                          "last-listed parents until its average count per cell is at least PRUNE noise "
                          "scales (default 4; 'none' fits the structure as given)")
    fit.add_argument("--sep", default=None, help="CSV separator of the input (default: the schema's, "
                     "usually ',')")
    fit.add_argument("-o", "--output", required=True, help="where to write the model file (JSON)")

    sample = commands.add_parser("sample", help="generate synthetic tables from a model file",
                                 description="Generate synthetic registry tables from a model file.")
    sample.add_argument("model", help="model file written by 'bayesgen fit'")
    sample.add_argument("-n", "--patients", type=int, required=True, help="number of synthetic patients")
    sample.add_argument("-o", "--output", required=True, help="output folder (one file per table)")
    sample.add_argument("--format", choices=["csv", "parquet"], default="csv")
    sample.add_argument("--seed", type=int, default=None, help="seed for reproducible output")
    sample.add_argument("--chunk-size", type=int, default=1_000_000, help="patients per chunk (memory bound)")
    sample.add_argument("--threads", type=int, default=None, help="sampler threads (default: all cores)")
    sample.add_argument("--sep", default=None, help="CSV separator (default: the schema's csv_separator, "
                        "e.g. ';' for the NCR)")
    sample.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    scale = sample.add_argument_group(
        "partitioned output (docs/scale-out.md)",
        "Write each table as a folder of parts, TABLE/part-NNNNN.csv|parquet, one per chunk of --chunk-rows "
        "patients, then manifest.json. Memory is bounded by the chunk, not by -n; the files are the same for "
        "every backend and number of workers; rerunning the same command after a crash writes only the "
        "missing parts.")
    scale.add_argument("--parts", action="store_true", help="write partitioned output (implied by --backend)")
    scale.add_argument("--backend", choices=["local", "dask"], default=None,
                       help="where chunks are generated: local (this process, default) or dask (needs "
                            "pip install 'bayesgen[dask]')")
    scale.add_argument("--workers", type=int, default=None, metavar="N",
                       help="with --backend dask: start a local Dask cluster of N worker processes, one thread each")
    scale.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="with --backend dask: use the running Dask cluster at ADDRESS (tcp://host:8786); "
                            "the output folder must be reachable by every worker under the same path")
    scale.add_argument("--chunk-rows", type=int, default=None, metavar="N",
                       help="patients per chunk and part (default 250,000)")

    ledger = commands.add_parser("ledger", help="print the privacy ledger of a model file")
    ledger.add_argument("model")

    demo = commands.add_parser("demo", help="simulate a registry, fit at epsilon=1, sample, report",
                               description="Simulate 50,000 patients (SIMULATED data), fit with the expert "
                                           "structure at epsilon=1, sample 50,000, write the tables, and print "
                                           "the privacy ledger and a fidelity summary.")
    demo.add_argument("--out", default="out", help="output folder (default out/)")
    demo.add_argument("--patients", type=int, default=50_000)
    demo.add_argument("--epsilon", type=_epsilon, default=1.0)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--structure", default="structures/simulacrum_v2.yaml",
                      help="expert structure to fit (default: the shipped one, over all ten tables; it is also "
                           "the simulator's true DAG)")
    demo.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")

    structure = commands.add_parser("structure", help="learn, show or compare structures (DAG YAML files)",
                                    description=STRUCTURE_DESCRIPTION,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = structure.add_subparsers(dest="structure_command", required=True, metavar="ACTION")

    learn = actions.add_parser(
        "learn", help="learn a structure from registry tables",
        description="Learn a DAG over the schema's model variables and write it as a structure YAML file. "
                    "privbayes (default) is a differentially private greedy search that spends --epsilon; "
                    "hill_climb is pgmpy's NON-PRIVATE hill climbing, only for data in a safe setting. "
                    "Tiers come from --tiers-from, else from the shipped structure named like the schema.")
    learn.add_argument("data", nargs="+", help="a folder with TABLE.csv/TABLE.parquet files, or the files themselves")
    learn.add_argument("--schema", required=True, help="schema YAML (e.g. schemas/simulacrum_v2.yaml)")
    learn.add_argument("--method", choices=["privbayes", "hill_climb"], default="privbayes",
                       help="privbayes: DP greedy search (default); hill_climb: non-private, spends no budget "
                            "and gives no guarantee")
    learn.add_argument("--epsilon", type=_epsilon, default=0.3,
                       help="privacy budget of the privbayes search (default 0.3; 'inf' = no noise); "
                            "this is on top of the budget of the later fit")
    learn.add_argument("--max-parents", type=_non_negative_int, default=None, metavar="K",
                       help="at most K parents per node (default: privbayes chooses the degree from the data "
                            "size and budget; hill_climb has no limit)")
    learn.add_argument("--score", choices=["bic", "bdeu", "k2"], default="bic",
                       help="score of hill_climb (default bic; privbayes always uses its R score)")
    learn.add_argument("--seed", type=int, default=None,
                       help="seed for the data-independent choices (the DP noise is never seeded)")
    learn.add_argument("--tiers-from", metavar="STRUCTURE.yaml",
                       help="take the tiers (e.g. patient, tumour, outcome) from this structure file")
    learn.add_argument("--sep", default=None, help="CSV separator of the input (default: the schema's)")
    learn.add_argument("-o", "--output", required=True, help="where to write the learned structure (YAML)")
    learn.add_argument("--draw", metavar="OUT.png|OUT.svg", help="also draw the learned structure")

    show = actions.add_parser(
        "show", help="print a structure's nodes by tier, parents and edges",
        description="Print a structure's nodes tier by tier with their parents, and every edge with the "
                    "reason given for it. With --schema, the structure is checked against the schema and "
                    "each node's conditional table size (cells) is shown.")
    show.add_argument("structure", help="structure YAML (e.g. structures/simulacrum_v2.yaml)")
    show.add_argument("--schema", help="schema YAML, to check the structure and count table cells")
    show.add_argument("--draw", metavar="OUT.png|OUT.svg", help="also draw the structure")

    diff = actions.add_parser(
        "diff", help="compare two structures: added, removed, reversed edges and SHD",
        description="Print the edges of B that A lacks (added), the edges of A that B lacks (removed), the "
                    "edges of A that B has the other way round (reversed), and the structural Hamming "
                    "distance (SHD, their total).")
    diff.add_argument("a", metavar="A.yaml", help="the reference structure")
    diff.add_argument("b", metavar="B.yaml", help="the structure compared with it")
    evaluate_command.add_parser(commands)
    sweep_command.add_parser(commands)
    export_command.add_parser(commands)
    return parser


def format_ledger(ledger: dict) -> str:
    """The privacy ledger as a readable table."""
    unit = ledger.get("unit", "epsilon")
    lines = [f"Privacy ledger ({ledger['definition']} DP; budget {ledger['budget']:g} {unit}"
             + (f", from epsilon={ledger['epsilon']:g}, delta={ledger['delta']:g}" if unit == "rho" else "") + ")"]
    if math.isinf(float(ledger["epsilon"])):
        lines.append("  epsilon = inf: fitted WITHOUT noise; this model is NOT differentially private.")
        return "\n".join(lines)
    width = max([len(e["what"]) for e in ledger["entries"]] + [10])
    lines.append(f"  {'what':<{width}}  {'mechanism':<17} {'sens.':>5} {'scale':>9} {unit:>9}")
    for entry in ledger["entries"]:
        lines.append(f"  {entry['what']:<{width}}  {entry['mechanism']:<17} {entry['sensitivity']:>5g} "
                     f"{entry['scale']:>9.3f} {entry['cost']:>9.5f}")
    lines.append(f"  {'total':<{width}}  {'':<17} {'':>5} {'':>9} {ledger['spent']:>9.5f}"
                 f"   (epsilon spent: {ledger['epsilon_spent']:.4f})")
    return "\n".join(lines)


def _progress(iterable, total, desc):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit="chunk", disable=not sys.stderr.isatty())


def _prune(text: str) -> float | None:
    if text.lower() == "none":
        return None
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--prune must be a positive number or 'none', got {text}")
    return value


def run_fit(args) -> None:
    from bayesgen.model.synthesizer import Synthesizer
    from bayesgen.schema.schema import Schema
    from bayesgen.structure.structure import Structure
    from bayesgen.tables.io import read_tables

    schema = Schema.load(args.schema)
    if args.structure == "learn":
        structure = "learn"
    else:
        structure = Structure.load(args.structure) if args.structure else None
    tables = read_tables(args.data, schema, sep=args.sep or schema.csv_separator)
    start = time.perf_counter()
    model = Synthesizer(schema, structure, epsilon=args.epsilon, delta=args.delta, privacy=args.privacy,
                        allocation=args.allocation, postprocessing=args.postprocessing,
                        shrinkage=args.shrinkage, structure_share=args.structure_share,
                        events_share=args.events_share, prune=args.prune).fit(tables)
    if model.pruned_edges_:
        print(f"sized the tables to the noise: {len(model.pruned_edges_)} of {len(model.pruned_edges_) + len(model.structure_.edges)} "
              f"edges dropped (theta = {args.prune:g}): "
              + ", ".join(f"{a} -> {b}" for a, b in model.pruned_edges_[:8])
              + (" ..." if len(model.pruned_edges_) > 8 else ""))
    if structure == "learn":
        print(f"learned a structure with {len(model.structure_.edges)} edges under DP "
              f"({args.structure_share:.0%} of the budget)")
    model.save(args.output)
    print(f"fitted in {time.perf_counter() - start:.1f} s; model written to {args.output}")
    dropped = {t: n for t, n in model.bounding_report_.items() if n}
    if dropped:
        print(f"contribution bounding dropped rows (for your eyes only, not in the model file): {dropped}")
    print(format_ledger(model.ledger_))


def _sample_to(model, n, out, fmt, seed, chunk_size, threads, sep, overwrite) -> dict:
    import pandas as pd

    from bayesgen.tables.io import write_tables

    chunks = -(-n // chunk_size)
    parts: dict[str, list] = {}
    for chunk in _progress(model.iter_chunks(n, rng=seed, chunk_size=chunk_size, n_threads=threads),
                           chunks, "sampling"):
        for name, frame in chunk.items():
            parts.setdefault(name, []).append(frame)
    from bayesgen.tables.dictionary import data_dictionary

    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    write_tables(tables, out, fmt, overwrite=overwrite, sep=sep or model.schema.csv_separator,
                 texts={"DATA_DICTIONARY.md": data_dictionary(model.schema, tables)})
    return tables


def _sample_parts(model, args) -> None:
    from bayesgen.tables.parts import DEFAULT_CHUNK_ROWS

    backend = args.backend or "local"
    if backend != "dask" and (args.workers is not None or args.scheduler is not None):
        raise BayesgenError("--workers and --scheduler need --backend dask")
    if args.workers is not None and args.scheduler is not None:
        raise BayesgenError("give --workers (start a local cluster) or --scheduler (use a running one), not both")
    if args.workers is not None and args.workers < 1:
        raise BayesgenError("--workers must be at least 1")
    chunk_rows = args.chunk_rows if args.chunk_rows is not None else DEFAULT_CHUNK_ROWS
    if chunk_rows < 1:
        raise BayesgenError("--chunk-rows must be at least 1")
    n_chunks = -(-args.patients // chunk_rows)
    start = time.perf_counter()
    bar = None
    try:
        from tqdm import tqdm

        bar = tqdm(total=n_chunks, desc="sampling", unit="part", disable=not sys.stderr.isatty())
    except ImportError:  # pragma: no cover
        pass
    try:
        done = model.sample_to(args.output, args.patients, format=args.format, rng=args.seed, chunk_rows=chunk_rows,
                               backend=backend, workers=args.workers, scheduler=args.scheduler,
                               n_threads=args.threads, overwrite=args.overwrite,
                               sep=args.sep or model.schema.csv_separator,
                               progress=(lambda _: bar.update(1)) if bar is not None else None)
    except ValueError as exc:
        raise BayesgenError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    manifest = done.manifest
    rows = ", ".join(f"{name}: {count:,}" for name, count in manifest["rows"].items())
    where = f"{backend}" + (f", {args.workers} workers" if args.workers else "") + \
        (f", scheduler {args.scheduler}" if args.scheduler else "")
    reused = manifest["n_chunks"] - len(done.generated)
    print(f"wrote {rows} rows in {manifest['n_chunks']} parts per table to {args.output}/ in "
          f"{time.perf_counter() - start:.1f} s ({where}; {len(done.generated)} parts written"
          + (f", {reused} already there" if reused else "") + "); manifest.json lists every part")


def run_sample(args) -> None:
    from bayesgen.model.synthesizer import Synthesizer

    if args.patients < 1:
        raise BayesgenError("--patients must be at least 1")
    partitioned = args.parts or args.backend is not None
    if not partitioned and (args.workers is not None or args.scheduler is not None or args.chunk_rows is not None):
        raise BayesgenError("--workers, --scheduler and --chunk-rows need partitioned output: add --parts or "
                            "--backend local|dask")
    model = Synthesizer.load(args.model)
    if partitioned:
        _sample_parts(model, args)
        return
    start = time.perf_counter()
    tables = _sample_to(model, args.patients, args.output, args.format, args.seed, args.chunk_size, args.threads,
                        args.sep, args.overwrite)
    rows = ", ".join(f"{name}: {len(frame):,}" for name, frame in tables.items())
    print(f"wrote {rows} rows to {args.output}/ in {time.perf_counter() - start:.1f} s")


def run_ledger(args) -> None:
    from bayesgen.model.model_file import read_model_file

    print(format_ledger(read_model_file(args.model)["privacy"]))


def run_demo(args) -> None:
    from bayesgen.datasets import simulate_registry
    from bayesgen.evaluate import fidelity_summary
    from bayesgen.model.synthesizer import Synthesizer
    from bayesgen.schema.schema import Schema
    from bayesgen.structure.structure import Structure

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise BayesgenError(f"output folder {out} exists and is not empty; pass --overwrite to replace it")
    schema = Schema.load("schemas/simulacrum_v2.yaml")
    structure = Structure.load(args.structure)
    t0 = time.perf_counter()
    real = simulate_registry(args.patients, rng=args.seed)
    t1 = time.perf_counter()
    print(f"simulated {args.patients:,} patients, {len(real['SIM_AV_TUMOUR']):,} tumours, "
          f"{len(real['SIM_SACT_REGIMEN']):,} SACT regimens, {len(real['SIM_RTDS_EPISODE']):,} radiotherapy episodes "
          f"(SIMULATED reference registry, {len(real)} tables) in {t1 - t0:.1f} s")
    model = Synthesizer(schema, structure, epsilon=args.epsilon).fit(real)
    t2 = time.perf_counter()
    print(f"fitted at epsilon={args.epsilon:g} with the expert structure {args.structure} "
          f"({len(structure.edges)} edges, {len(model.pruned_edges_)} dropped to size the tables to the noise) "
          f"in {t2 - t1:.1f} s")
    synthetic = _sample_to(model, args.patients, out, "csv", args.seed + 1, 1_000_000, None, ",", args.overwrite)
    model.save(out / "model.json")
    t3 = time.perf_counter()
    rows = ", ".join(f"{len(frame):,} {name}" for name, frame in synthetic.items())
    print(f"sampled {args.patients:,} synthetic patients in {t3 - t2:.1f} s: {rows}; wrote one CSV per table "
          f"and model.json to {out}/")
    from bayesgen.schema.check import check_tables

    violations = check_tables(synthetic, schema, structure)
    print(f"schema check of every written row (code sets, derived columns, {len(schema.constraints)} constraints, "
          f"dates): violations: {'none' if not violations else ''}")
    for violation in violations:
        print(f"  {violation}")
    print()
    print(format_ledger(model.ledger_))
    print()
    print("Fidelity (total variation distance between real and synthetic marginals; 0 = identical):")
    summary = fidelity_summary(real, synthetic, schema)
    print(f"  {'table':<16} {'mean 1-way':>10} {'worst 1-way':>11} {'mean 2-way':>10} {'worst 2-way':>11}")
    for table, row in summary.items():
        print(f"  {table:<16} {row['mean_tvd_1way']:>10.4f} {row['max_tvd_1way']:>11.4f} "
              f"{row['mean_tvd_2way']:>10.4f} {row['max_tvd_2way']:>11.4f}")


def run_structure(args) -> None:
    handlers = {"learn": run_structure_learn, "show": run_structure_show, "diff": run_structure_diff}
    handlers[args.structure_command](args)


def run_structure_learn(args) -> None:
    from bayesgen.files import resolve_resource
    from bayesgen.privacy.accountant import PrivacyAccountant
    from bayesgen.schema.schema import Schema
    from bayesgen.structure.constraints import StructureConstraints
    from bayesgen.structure.draw import check_drawable
    from bayesgen.structure.learn import learn_structure
    from bayesgen.structure.structure import Structure
    from bayesgen.tables.io import read_tables

    if args.draw:
        check_drawable(args.draw)  # before any budget is spent
    schema = Schema.load(args.schema)
    tier_source = Structure.load(args.tiers_from) if args.tiers_from else None
    constraints = StructureConstraints.from_structure(tier_source) if tier_source else None
    tables = read_tables(args.data, schema, sep=args.sep or schema.csv_separator)
    private = args.method == "privbayes"
    accountant = PrivacyAccountant(args.epsilon) if private else None
    start = time.perf_counter()
    learned = learn_structure(tables, schema, method=args.method, epsilon=args.epsilon, max_parents=args.max_parents,
                              constraints=constraints, rng=args.seed, accountant=accountant, score=args.score)
    elapsed = time.perf_counter() - start
    if tier_source is None:  # the learner took its tiers from the shipped structure, if there is one
        shipped = resolve_resource(schema.name, "structures")
        tier_source = Structure.load(shipped) if shipped.exists() else None
    learned = _with_tier_names(learned, tier_source)
    learned.validate_for(schema)
    learned.save(args.output)
    print(f"learned {len(learned.edges)} edges over {len(learned.nodes)} nodes ({args.method}) in {elapsed:.1f} s; "
          f"structure written to {args.output}")
    if args.draw:
        learned.draw(args.draw, schema=schema)
        print(f"drawing written to {args.draw}")
    if private:
        print(format_ledger(accountant.ledger()))
    else:
        print("hill_climb is NOT differentially private: the structure was learned from the exact data and "
              "may reveal information about individuals; release it only from a safe setting.")


def _with_tier_names(structure, source):
    """``structure`` with the tier names of ``source`` where their nodes match (the learner numbers tiers)."""
    from bayesgen.structure.structure import Tier

    if source is None:
        return structure
    names = {frozenset(t.nodes): t.name for t in source.tiers}
    tiers = tuple(Tier(names.get(frozenset(t.nodes), t.name), t.nodes) for t in structure.tiers)
    if len({t.name for t in tiers}) != len(tiers):
        return structure
    return dataclasses.replace(structure, tiers=tiers)


def run_structure_show(args) -> None:
    from bayesgen.schema.schema import Schema
    from bayesgen.structure.draw import check_drawable
    from bayesgen.structure.structure import Structure

    if args.draw:
        check_drawable(args.draw)
    structure = Structure.load(args.structure)
    schema = Schema.load(args.schema) if args.schema else None
    if schema is not None:
        structure.validate_for(schema)
    print(f"{args.structure}: {len(structure.nodes)} nodes, {len(structure.edges)} edges, "
          f"{len(structure.tiers)} tiers" + (f" (schema {structure.schema_name})" if structure.schema_name else ""))
    if schema is not None:
        print(f"valid for schema {schema.name}")
    cells = {}
    written = {}
    if schema is not None:
        variables = schema.variables
        if structure.events is not None and schema.events is not None:
            written = {node: schema.events.written_columns[node] for node in structure.event_nodes(schema)}
        for node in structure.nodes:
            if node not in written:
                cells[node] = math.prod(variables[p].n_states for p in (*structure.parents(node), node))
    groups = [(tier.name, tier.nodes) for tier in structure.tiers]
    tiered = {node for tier in structure.tiers for node in tier.nodes}
    rest = tuple(node for node in structure.nodes if node not in tiered)
    if rest:
        groups.append(("(no tier)" if structure.tiers else "nodes", rest))
    width = max([len(node) for node in structure.nodes] + [4])
    print()
    print("Nodes by tier, with their parents" + (" and the cells of their conditional tables:" if cells else ":"))
    for name, nodes in groups:
        print(f"  {name} ({len(nodes)} node{'s' * (len(nodes) != 1)})")
        for node in nodes:
            parents = structure.parents(node)
            if node in written:
                print(f"    {node:<{width}}  written by the events module (process {written[node]})")
                continue
            size = f"{cells[node]:>9,} cells  " if cells else ""
            print(f"    {node:<{width}}  {size}<- {', '.join(parents) if parents else '(no parents)'}")
    if cells:
        largest = max(cells, key=cells.get)
        print(f"  conditional tables: {sum(cells.values()):,} cells in all; the largest is {largest}'s "
              f"({cells[largest]:,} cells)")
    print()
    print(f"Edges ({len(structure.edges)}):")
    for parent, child in structure.edges:
        why = structure.reasons.get((parent, child))
        print(f"  {parent} -> {child}" + (f": {why}" if why else ""))
    if structure.events is not None:
        print()
        print("Event hazards (time-to-event module), each given:")
        for conditioning in structure.events.conditioning:
            given = [g.variable + (f" ({len(g.groups)} groups)" if g.groups else "") for g in conditioning.given]
            after = f"; after {', '.join(conditioning.after)}" if conditioning.after else ""
            print(f"  {conditioning.event}: {', '.join(given) if given else '(nothing)'}{after}")
    if args.draw:
        structure.draw(args.draw, schema=schema)
        print(f"drawing written to {args.draw}")


def run_structure_diff(args) -> None:
    from bayesgen.structure.structure import Structure

    a, b = Structure.load(args.a), Structure.load(args.b)
    print(f"A: {args.a} ({len(a.edges)} edges)")
    print(f"B: {args.b} ({len(b.edges)} edges)")
    print(a.diff(b))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"fit": run_fit, "sample": run_sample, "ledger": run_ledger, "demo": run_demo,
                "structure": run_structure, "evaluate": evaluate_command.run, "sweep": sweep_command.run,
                "export": export_command.run}
    try:
        handlers[args.command](args)
    except BayesgenError as exc:
        print(f"bayesgen {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and cut short: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except OSError as exc:  # a full disk, a read-only folder: say so, without a traceback
        print(f"bayesgen {args.command}: error: {exc.strerror or exc} ({exc.filename or 'file system'})",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
