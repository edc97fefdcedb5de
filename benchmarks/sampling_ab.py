"""Sampling speed, this checkout against a git revision, side by side in one process.

The revision's ``bayesgen`` package is extracted (``git archive``) into a temporary folder and
imported as ``bayesgen_base`` (its imports rewritten), so both versions run in the same process,
on the same model file, alternately: noise from other work on the machine hits both alike. The
model is the one ``benchmarks/run.py``'s ``sampling_speed`` times: the simulated registry's 8,000
training persons (``simulate_registry(10_000, rng=0, full=False)``, 80 % split), the two-table core
schema, the compact expert structure, ε = 1; fitted with the revision and saved, then loaded by
both. Each call is ``Synthesizer.sample(rows, rng=0)``: persons and tumours, both tables decoded.

    python benchmarks/sampling_ab.py [--base HEAD | --base-dir DIR] [--rows 1000000] [--repeats 5] [--threads all 1]

Prints, per thread count, every timed call (after one warm-up call each), the fastest and the median
of each side and their ratio, then where the checkout's time goes (cProfile of one call, by module).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def extract(revision: str, folder: Path, base_dir: str | None = None) -> str:
    """Put ``revision``'s bayesgen package (or the one in ``base_dir``) into ``folder`` as ``bayesgen_base``;
    what it is."""
    if base_dir:
        shutil.copytree(Path(base_dir) / "bayesgen", folder / "bayesgen",
                        ignore=shutil.ignore_patterns("__pycache__"))
        described = f"the package in {base_dir}"
    else:
        commit = subprocess.run(["git", "rev-parse", revision], cwd=ROOT, check=True, capture_output=True,
                                text=True).stdout.strip()
        archive = subprocess.run(["git", "archive", commit, "bayesgen"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        described = f"{revision} ({commit[:10]})"
    package = folder / "bayesgen_base"
    (folder / "bayesgen").rename(package)
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\bfrom bayesgen(\.| import)", r"from bayesgen_base\1", text)
        text = re.sub(r"\bimport bayesgen\b", "import bayesgen_base", text)
        path.write_text(text, encoding="utf-8")
    return described


def fit_model(bg, path: Path) -> None:
    """Fit, with the package ``bg``, the model ``run.py``'s ``sampling_speed`` times, and save it."""
    rows = importlib.import_module(bg.__name__ + ".evaluate.rows")
    schema = bg.Schema.load(ROOT / "schemas/simulacrum_v2_core.yaml")
    train, _ = rows.split_persons(bg.datasets.simulate_registry(10_000, rng=0, full=False), schema, 0.2, rng=0)
    structure = bg.Structure.load(ROOT / "structures/simulacrum_v2_compact.yaml")
    bg.Synthesizer(schema, structure, epsilon=1.0).fit(train).save(path)


def profile_groups(model, rows: int, threads) -> list[tuple[str, float]]:
    """Seconds of one ``sample`` call by where the time is spent (cProfile's own time per function)."""
    profile = cProfile.Profile()
    profile.enable()
    model.sample(rows, rng=0, n_threads=threads)
    profile.disable()
    groups: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in pstats.Stats(profile).stats.items():
        if "bayesgen/sampling/kernels.py" in filename:
            label = "network kernel (sample_codes)" if function == "sample_codes" else "decoding kernels"
        elif "bayesgen/events/" in filename:
            label = "events module (bayesgen/events)" + (": its numba kernel" if function == "sample_events" else "")
        elif "bayesgen/" in filename:
            label = "other bayesgen Python (decode, order, assemble)"
        else:
            label = "NumPy / pandas / other"
        groups[label] = groups.get(label, 0.0) + own
    return sorted(groups.items(), key=lambda item: -item[1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD", help="git revision to compare with (default HEAD)")
    parser.add_argument("--base-dir", help="instead: a folder holding the bayesgen package to compare with (for "
                                           "example a copy of the checkout with some files reverted)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", nargs="*", default=["all", "1"], help="'all' or a number, one run each")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        described = extract(args.base, folder, args.base_dir)
        sys.path.insert(0, str(folder))
        import bayesgen_base
        import numba

        import bayesgen

        model_file = folder / "model.json"
        fit_model(bayesgen_base, model_file)
        models = {"base": bayesgen_base.Synthesizer.load(model_file), "this": bayesgen.Synthesizer.load(model_file)}
        print(f"base: {described}; this: the checkout in {ROOT}; {args.rows:,} persons per call, "
              f"{args.repeats} timed calls each after a warm-up call, alternating; numba threads available: "
              f"{numba.config.NUMBA_NUM_THREADS}")
        for setting in args.threads:
            threads = None if setting == "all" else int(setting)
            seconds = {name: [] for name in models}
            sizes = {}
            for name, model in models.items():
                sizes[name] = {t: len(f) for t, f in model.sample(args.rows, rng=0, n_threads=threads).items()}
            for _ in range(args.repeats):
                for name, model in models.items():
                    started = time.perf_counter()
                    model.sample(args.rows, rng=0, n_threads=threads)
                    seconds[name].append(time.perf_counter() - started)
            label = numba.config.NUMBA_NUM_THREADS if threads is None else threads
            print(f"\nthreads {label}:")
            for name in models:
                print(f"  {name:<4} rows {sizes[name]}: fastest {min(seconds[name]):.3f} s, median "
                      f"{statistics.median(seconds[name]):.3f} s; all {[round(s, 3) for s in seconds[name]]}")
            print(f"  speed-up (base / this): fastest {min(seconds['base']) / min(seconds['this']):.2f}x, median "
                  f"{statistics.median(seconds['base']) / statistics.median(seconds['this']):.2f}x")
            groups = profile_groups(models["this"], args.rows, threads)
            total = sum(s for _, s in groups)
            print(f"  where this checkout's time goes (one profiled call, {total:.3f} s):")
            for group, own in groups:
                print(f"    {group:<52} {own:6.3f} s  {100 * own / total:4.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
