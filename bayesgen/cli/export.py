"""``bayesgen export omop SYNTH_DIR --schema S -o OUT_DIR``: generated tables to OMOP CDM v5.4."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DESCRIPTION = """\
Convert registry tables to another data model. One target so far:

  bayesgen export omop synthetic/ --schema schemas/simulacrum_v2.yaml -o omop/ --format parquet

writes PERSON, OBSERVATION_PERIOD, CONDITION_OCCURRENCE, DRUG_EXPOSURE, PROCEDURE_OCCURRENCE,
MEASUREMENT, DEATH, EPISODE and EPISODE_EVENT (OMOP CDM v5.4 columns) as OUT_DIR/TABLE.csv or
.parquet. See docs/omop.md for the mapping and its concept ids.
"""

OMOP_DESCRIPTION = """\
Convert a Simulacrum v2 table set (SIM_AV_PATIENT and SIM_AV_TUMOUR, and the SACT and RTDS tables
when present) to OMOP CDM v5.4 tables, written atomically to OUT_DIR. Standard concept ids are used
where a public mapping exists; elsewhere the concept id is 0 and the source code is kept in the
*_source_value column (docs/omop.md lists every field). --check loads the result into DuckDB with
its primary and foreign keys declared and reports any violation (needs: pip install duckdb).
"""

# Simulacrum tables the exporter reads, also when the schema does not declare them (yet)
_SIMULACRUM_TABLES = ("SIM_AV_PATIENT", "SIM_AV_TUMOUR", "SIM_SACT_REGIMEN", "SIM_SACT_CYCLE",
                      "SIM_SACT_DRUG_DETAIL", "SIM_SACT_OUTCOME", "SIM_RTDS_EPISODE", "SIM_RTDS_PRESCRIPTION",
                      "SIM_RTDS_EXPOSURE")


def add_parser(commands) -> argparse.ArgumentParser:
    """Register the ``export`` subcommand on ``commands`` (an argparse subparsers object)."""
    parser = commands.add_parser("export", help="convert generated tables to OMOP CDM v5.4",
                                 description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    targets = parser.add_subparsers(dest="export_target", required=True, metavar="TARGET")
    omop = targets.add_parser("omop", help="Simulacrum v2 tables to OMOP CDM v5.4", description=OMOP_DESCRIPTION)
    omop.add_argument("data", metavar="SYNTH_DIR", help="folder with TABLE.csv / TABLE.parquet files")
    omop.add_argument("--schema", required=True, help="schema YAML (e.g. schemas/simulacrum_v2.yaml)")
    omop.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output folder (one file per table)")
    omop.add_argument("--format", choices=["csv", "parquet"], default="csv", help="output format (default csv)")
    omop.add_argument("--sep", default=None, help="CSV separator of the input (default: the schema's, usually ',')")
    omop.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    omop.add_argument("--check", action="store_true",
                      help="check primary and foreign keys of the output in DuckDB (pip install duckdb)")
    return parser


def _input_paths(folder: Path, schema) -> list[Path]:
    """The folder, plus the Simulacrum table files the schema does not declare."""
    paths = [folder]
    for name in _SIMULACRUM_TABLES:
        if name in schema.tables:
            continue
        for suffix in (".parquet", ".csv"):
            if (folder / f"{name}{suffix}").exists():
                paths.append(folder / f"{name}{suffix}")
                break
    return paths


def run(args) -> None:
    """Read the tables, export them, print the row counts (and the key check)."""
    from bayesgen.errors import BayesgenError
    from bayesgen.export.omop import check_omop_integrity, export_omop
    from bayesgen.schema.schema import Schema
    from bayesgen.tables.io import read_tables

    folder = Path(args.data)
    if not folder.is_dir():
        raise BayesgenError(f"input folder {folder} does not exist")
    schema = Schema.load(args.schema)
    tables = read_tables(_input_paths(folder, schema), schema, sep=args.sep or getattr(schema, "csv_separator", ","))
    started = time.perf_counter()
    omop = export_omop(tables, schema, args.output, args.format, overwrite=args.overwrite)
    rows = ", ".join(f"{name}: {len(frame):,}" for name, frame in omop.items())
    print(f"read {', '.join(sorted(tables))}; wrote OMOP CDM v5.4 tables ({rows}) to {args.output}/ "
          f"in {time.perf_counter() - started:.1f} s")
    if args.check:
        from bayesgen.tables.integrity import count_violations

        report = check_omop_integrity(omop)
        violations = count_violations(report)
        print(f"DuckDB key check (primary keys, foreign keys to PERSON, EPISODE and the event tables): "
              f"{violations} violation{'s' * (violations != 1)}")
        for name, entry in report.items():
            if entry["constraint_error"] or entry["fk_orphans"] or entry["pk_duplicates"]:
                print(f"  {name}: {entry}")
        if violations:
            raise BayesgenError(f"the OMOP tables written to {args.output} break {violations} key constraints")
