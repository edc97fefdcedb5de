"""Sampler throughput: bayesgen vs pgmpy forward sampling, same 30-node network, one run.

Prints rows/s for bayesgen codes-only on one thread and on all threads, bayesgen decoded to a typed
DataFrame, pgmpy ``BayesianModelSampling.forward_sample`` (which returns a decoded DataFrame), and
the ratios. Targets (issue 2): >= 3,000,000 rows/s codes-only on one core; >= 100x pgmpy decoded.

    python benchmarks/sampler.py [--rows 1000000] [--pgmpy-rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numba

sys.path.insert(0, os.path.dirname(__file__))
from network import random_network  # noqa: E402

from bayesgen import Synthesizer  # noqa: E402
from bayesgen.sampling import sample_ancestral  # noqa: E402


def best_of(repeats, func):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pgmpy-rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    schema, structure, cpts = random_network()
    order = structure.topological_order()
    model = Synthesizer.from_cpts(schema, structure, cpts)
    n = args.rows
    sample_ancestral(cpts, order, 1000, rng=0)  # compile
    model.sample(1000, rng=0)
    all_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    codes_1 = best_of(args.repeats, lambda: sample_ancestral(cpts, order, n, rng=1))
    numba.set_num_threads(all_threads)
    codes_all = best_of(args.repeats, lambda: sample_ancestral(cpts, order, n, rng=1))
    decoded_1 = best_of(args.repeats, lambda: model.sample(n, rng=1, n_threads=1))
    decoded_all = best_of(args.repeats, lambda: model.sample(n, rng=1))

    from pgmpy.sampling import BayesianModelSampling

    pgmpy_model = model.to_pgmpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        frame = BayesianModelSampling(pgmpy_model).forward_sample(size=args.pgmpy_rows, show_progress=False, seed=1)
        pgmpy_seconds = time.perf_counter() - start
    assert len(frame) == args.pgmpy_rows
    pgmpy_rate = args.pgmpy_rows / pgmpy_seconds

    print(f"30-node network ({len(structure.edges)} edges), N = {n:,} rows; pgmpy N = {args.pgmpy_rows:,}; "
          f"{all_threads} threads available; best of {args.repeats}")
    print(f"{'sampler':<44} {'seconds':>9} {'rows/s':>14}")
    rows = [("bayesgen codes only, 1 thread", codes_1), (f"bayesgen codes only, {all_threads} threads", codes_all),
            ("bayesgen decoded DataFrame, 1 thread", decoded_1),
            (f"bayesgen decoded DataFrame, {all_threads} threads", decoded_all)]
    for label, seconds in rows:
        print(f"{label:<44} {seconds:>9.3f} {n / seconds:>14,.0f}")
    print(f"{'pgmpy forward_sample (decoded DataFrame)':<44} {pgmpy_seconds:>9.3f} {pgmpy_rate:>14,.0f}")
    print()
    print(f"codes only, 1 thread: {n / codes_1:,.0f} rows/s (target >= 3,000,000)")
    print(f"decoded ratio bayesgen / pgmpy, 1 thread: {n / decoded_1 / pgmpy_rate:,.0f}x; "
          f"{all_threads} threads: {n / decoded_all / pgmpy_rate:,.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
