"""The full Simulacrum v2 set (all ten tables) for 1,000,000 patients: time, peak memory, DuckDB check.

Issue 5: "Generating the full Simulacrum set for 1,000,000 patients (all tables) in under 3 minutes
on this machine, peak memory under 8 GiB", and the DuckDB referential-integrity check (zero primary,
unique and foreign key violations) on those 1,000,000 patients.

What it does:

1. simulates the ground truth (``--fit-patients``, default 200,000 SIMULATED patients, all ten
   tables, seed 0) and fits a model at epsilon = 1 on it, in this process (DP noise is never
   seeded: row counts vary a little between runs); the model is saved to ``OUT/model.json``;
2. generates ``--patients`` patients (default 1,000,000) with every table and writes them to disk
   (Parquet by default, ``--format csv``), each way in a fresh Python process that loads the model
   file, so that its peak memory is that of generating and writing only (not of the fit):

   - ``memory``: ``model.sample(n)`` (every table in memory at once), then
     ``bayesgen.tables.write_tables`` (one file per table, the folder appears atomically);
   - ``parts``: ``model.sample_to(folder, n)`` (chunks of ``--chunk-rows`` patients, one part per
     table per chunk, each part atomic, a manifest with every part's SHA-256; resumable);

   the time is that of generating and writing (the model load and a 1,000-patient warm-up, which
   loads the compiled sampler, are reported apart, as is the whole process's wall time); the peak
   memory is the peak resident set size of that process while it generates and writes (Linux: its
   ``VmHWM`` restarted after the warm-up through ``/proc/self/clear_refs``, so the figure is the
   highest resident size during the step, the model and libraries resident meanwhile included;
   elsewhere the process's ``ru_maxrss``);
3. reads the written tables back (every column) and runs ``bayesgen.tables.integrity.check_integrity``
   on them (DuckDB: PRIMARY KEY / UNIQUE / FOREIGN KEY declared, plus explicit duplicate and
   anti-join counts), in a fresh process too, and prints the violations per table, the time and
   that process's peak memory.

Run (about 2 minutes with Parquet on 2 cores)::

    .venv/bin/python benchmarks/full_set.py [--patients 1000000] [--format parquet|csv]
        [--out DIR] [--paths memory,parts] [--check memory|parts|both|none] [--chunk-rows 250000]

The output folder (default: a new temporary folder) is deleted at the end unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import inspect
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIB = 1024**3
TARGET_SECONDS = 180
TARGET_BYTES = 8 * GIB
SEED = 1  # of the generated patients
FIT_SEED = 0  # of the simulated ground truth (the fit's DP noise is never seeded)
# the ten-table Simulacrum v2 schema: its name after the rename first, then its name before it
SCHEMA_CANDIDATES = ("simulacrum_v2.yaml", "simulacrum_v2_full.yaml")
N_TABLES = 10
ROOT = Path(__file__).resolve().parent.parent


def peak_rss() -> int:
    """Peak resident memory of this process, in bytes: since its start, or since :func:`reset_peak_rss`.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this process's own memory
    (``getrusage``'s ``ru_maxrss`` is not used there: it keeps the parent's resident size at the fork
    that started this process, so a process started by a big one reads big). Elsewhere ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def reset_peak_rss() -> bool:
    """Restart the peak at the current resident size (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def full_schema_files() -> tuple[Path, Path]:
    """The schema and structure files of the ten-table set (whichever name it has)."""
    import bayesgen as bg

    for name in SCHEMA_CANDIDATES:
        schema, structure = ROOT / "schemas" / name, ROOT / "structures" / name
        if schema.exists() and structure.exists() and len(bg.Schema.load(schema).tables) == N_TABLES:
            return schema, structure
    raise SystemExit(f"no ten-table Simulacrum schema among {SCHEMA_CANDIDATES} in {ROOT / 'schemas'}")


def simulate_truth(n: int) -> dict:
    import bayesgen as bg

    simulate = bg.datasets.simulate_registry
    if "full" in inspect.signature(simulate).parameters:
        return simulate(n, rng=FIT_SEED, full=True)
    return simulate(n, rng=FIT_SEED)


# -- the steps run in their own process --------------------------------------------------------------
def generate(config: dict) -> dict:
    """Load the model, warm up, then generate and write the tables one way; time and peak memory."""
    start = time.perf_counter()
    import bayesgen as bg
    from bayesgen.tables.io import write_tables

    model = bg.Synthesizer.load(config["model"])
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    model.sample(1_000, rng=0)  # loads the compiled sampler (numba cache) and warms the decoders
    warm_up = time.perf_counter() - start
    peak_before = peak_rss()
    reset = reset_peak_rss()
    out = Path(config["folder"])
    n, fmt = config["patients"], config["format"]
    result = {"path": config["path"], "load_seconds": loaded, "warm_up_seconds": warm_up,
              "peak_before_bytes": peak_before, "peak_reset": reset}
    start = time.perf_counter()
    if config["path"] == "memory":
        tables = model.sample(n, rng=SEED)
        result["sample_seconds"] = time.perf_counter() - start
        written = time.perf_counter()
        write_tables(tables, out, fmt)
        result["write_seconds"] = time.perf_counter() - written
        result["rows"] = {name: len(frame) for name, frame in tables.items()}
        del tables
    else:
        done = model.sample_to(out, n, format=fmt, rng=SEED, chunk_rows=config["chunk_rows"])
        result["chunks"] = done.manifest["n_chunks"]
        result["chunk_seconds"] = sorted(done.seconds.values())
        result["rows"] = {name: 0 for name in model.schema.tables}
        for chunk in done.manifest["chunks"]:
            for name, entry in chunk["files"].items():
                result["rows"][name] += entry["rows"]
    result["seconds"] = time.perf_counter() - start
    result["peak_bytes"] = peak_rss()
    result["bytes_on_disk"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return result


def read_back(folder: Path, names, fmt: str) -> dict:
    """Every table of ``folder`` (``TABLE.<fmt>`` or ``TABLE/part-*.<fmt>``), every column."""
    import pandas as pd

    tables = {}
    for name in names:
        single = folder / f"{name}.{fmt}"
        files = [single] if single.exists() else sorted((folder / name).glob(f"part-*.{fmt}"))
        if fmt == "parquet":
            frames = [pd.read_parquet(path) for path in files]
        else:  # as bayesgen reads CSV: text, empty = missing; keys are then compared as text
            frames = [pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]) for path in files]
        tables[name] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return tables


def check(config: dict) -> dict:
    """Read the written tables back and check their keys in DuckDB."""
    import bayesgen as bg
    from bayesgen.tables.integrity import check_integrity, count_violations

    schema = bg.Schema.load(config["schema"])
    start = time.perf_counter()
    tables = read_back(Path(config["folder"]), list(schema.tables), config["format"])
    read = time.perf_counter() - start
    start = time.perf_counter()
    report = check_integrity(tables, schema)
    seconds = time.perf_counter() - start
    return {"path": config["path"], "read_seconds": read, "check_seconds": seconds,
            "violations": count_violations(report), "report": report, "peak_bytes": peak_rss()}


STEPS = {"generate": generate, "check": check}


def in_subprocess(step: str, config: dict) -> dict:
    """Run ``step`` in a fresh Python process (its own peak memory); its result as a dict."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--step", step, json.dumps(config)], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"step {step} ({config.get('path')}) failed")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "process_seconds": time.perf_counter() - start}


# -- printing --------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "meets the target" if ok else "MISSES the target"


def print_generation(result: dict, n: int, fmt: str) -> None:
    path = result["path"]
    what = ("model.sample(n) in memory + write_tables" if path == "memory"
            else f"model.sample_to(folder, n), {result['chunks']} chunks")
    total_rows = sum(result["rows"].values())
    print(f"\n[{path}] {what}, {fmt}")
    print(f"  model load {result['load_seconds']:.1f} s, warm-up (1,000 patients) {result['warm_up_seconds']:.1f} s"
          f" (not counted below; the whole process, Python start to exit: {result['process_seconds']:.1f} s)")
    if path == "memory":
        print(f"  sample {result['sample_seconds']:.1f} s + write {result['write_seconds']:.1f} s")
    else:
        seconds = result["chunk_seconds"]
        print(f"  per chunk (sample, renumber keys, write, SHA-256): {min(seconds):.1f}-{max(seconds):.1f} s")
    print(f"  generate + write {n:,} patients: {result['seconds']:.1f} s "
          f"({total_rows / result['seconds']:,.0f} rows/s; target < {TARGET_SECONDS} s: "
          f"{verdict(result['seconds'] < TARGET_SECONDS)})")
    during = "while generating and writing" if result["peak_reset"] else "of the whole process"
    print(f"  peak RSS {during}: {result['peak_bytes'] / GIB:.2f} GiB (target < 8 GiB: "
          f"{verdict(result['peak_bytes'] < TARGET_BYTES)}); peak of the model load and warm-up before it: "
          f"{result['peak_before_bytes'] / GIB:.2f} GiB")
    print(f"  on disk {result['bytes_on_disk'] / GIB:.2f} GiB; rows per table:")
    for name, rows in result["rows"].items():
        print(f"    {name:24s} {rows:>12,}")
    print(f"    {'total':24s} {total_rows:>12,}")


def print_check(result: dict) -> None:
    print(f"\n[{result['path']}] DuckDB integrity check on the written tables: read back "
          f"{result['read_seconds']:.1f} s, check {result['check_seconds']:.1f} s; peak RSS of that process "
          f"{result['peak_bytes'] / GIB:.2f} GiB")
    for name, entry in result["report"].items():
        unique = sum(entry["unique_duplicates"].values())
        detail = ", ".join(f"{label}: {count}" for label, count in entry["fk_detail"].items()) or "no foreign key"
        primary = "no PK declared" if entry["pk_duplicates"] is None else f"PK duplicates {entry['pk_duplicates']}"
        print(f"    {name:24s} rows {entry['rows']:>12,}  {primary}  "
              f"UNIQUE duplicates {unique}  FK orphans {entry['fk_orphans']} ({detail})  "
              f"constraints {'accepted' if entry['constraint_error'] is None else entry['constraint_error']}")
    print(f"  violations: {result['violations']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--fit-patients", type=int, default=200_000)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--out", help="output folder (kept); default: a temporary folder, deleted at the end")
    parser.add_argument("--paths", default="memory,parts", help="comma-separated: memory, parts")
    parser.add_argument("--check", choices=("memory", "parts", "both", "none"), default="both")
    parser.add_argument("--chunk-rows", type=int, default=None, help="patients per chunk of sample_to "
                        "(default: its default, bayesgen.tables.parts.DEFAULT_CHUNK_ROWS)")
    parser.add_argument("--step", choices=tuple(STEPS), help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.step:  # a step in its own process: the config as JSON, the result as the last line
        print(json.dumps(STEPS[args.step](json.loads(rest[0])), default=int))
        return

    import bayesgen as bg
    from bayesgen.tables.parts import DEFAULT_CHUNK_ROWS

    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if not paths or set(paths) - {"memory", "parts"}:
        parser.error("--paths: memory and/or parts")
    chunk_rows = args.chunk_rows or DEFAULT_CHUNK_ROWS
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bayesgen-full-set-"))
    if out.exists() and any(out.iterdir()):
        parser.error(f"--out {out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    schema_file, structure_file = full_schema_files()
    print(f"schema {schema_file.relative_to(ROOT)}, structure {structure_file.relative_to(ROOT)}; output {out}")
    try:
        start = time.perf_counter()
        truth = simulate_truth(args.fit_patients)
        print(f"ground truth: {args.fit_patients:,} SIMULATED patients, {len(truth)} tables, "
              f"{sum(map(len, truth.values())):,} rows, {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        model = bg.Synthesizer(bg.Schema.load(schema_file), bg.Structure.load(structure_file),
                               epsilon=1.0).fit(truth)
        model.save(out / "model.json")
        print(f"fit at epsilon = 1: {time.perf_counter() - start:.1f} s (peak RSS of this process "
              f"{peak_rss() / GIB:.2f} GiB; the fit is not part of the figures below)")
        del truth, model
        results = {}
        for path in paths:
            config = {"path": path, "model": str(out / "model.json"), "folder": str(out / path),
                      "patients": args.patients, "format": args.format, "chunk_rows": chunk_rows}
            results[path] = in_subprocess("generate", config)
            print_generation(results[path], args.patients, args.format)
        checked = [p for p in paths if args.check in (p, "both")]
        for path in checked:
            print_check(in_subprocess("check", {"path": path, "folder": str(out / path), "format": args.format,
                                                "schema": str(schema_file)}))
        if len(results) == 2:
            memory, parts = results["memory"], results["parts"]
            print(f"\nmemory path {memory['seconds']:.1f} s, {memory['peak_bytes'] / GIB:.2f} GiB; parts path "
                  f"{parts['seconds']:.1f} s, {parts['peak_bytes'] / GIB:.2f} GiB "
                  f"({parts['chunks']} chunks of {chunk_rows:,} patients)")
            print("recommended: sample_to (parts): as fast, its memory is bounded by --chunk-rows whatever the "
                  "number of patients (sample() holds every table at once), each part is written atomically "
                  "and a crashed run resumes; read a table back with pandas.read_parquet(folder / TABLE)")
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
