"""Fitting speed: bayesgen at epsilon = 1 vs pgmpy's MaximumLikelihoodEstimator (no noise), one run.

Same data (1,000,000 rows x 30 categorical columns sampled from the shared random network, as a
typed DataFrame with categorical columns) and the same DAG. bayesgen's time covers everything
``Synthesizer.fit`` does: validating and encoding the table, counting, drawing OpenDP noise, and
post-processing into CPTs. pgmpy's covers ``DiscreteBayesianNetwork.fit`` with its MLE.
Targets (issue 2): bayesgen under 3 s, and at least 3x faster than pgmpy.

    python benchmarks/fit.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))
from network import random_network  # noqa: E402

from bayesgen import Synthesizer  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    schema, structure, cpts = random_network()
    data = Synthesizer.from_cpts(schema, structure, cpts).sample(args.rows, rng=3)
    Synthesizer(schema, structure, epsilon=1.0).fit({"BENCH": data["BENCH"].head(1000)})  # warm-up

    ours = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model = Synthesizer(schema, structure, epsilon=1.0).fit(data)
        ours.append(time.perf_counter() - start)
    ours_seconds = min(ours)
    n_cells = sum(t.n_cells for t in model.cpts_.values())

    from pgmpy.estimators import MaximumLikelihoodEstimator
    from pgmpy.models import DiscreteBayesianNetwork

    frame = data["BENCH"].drop(columns=["ROW_ID"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = DiscreteBayesianNetwork()
        network.add_nodes_from(structure.nodes)
        network.add_edges_from(structure.edges)
        start = time.perf_counter()
        network.add_cpds(*MaximumLikelihoodEstimator(network, frame).get_parameters(n_jobs=1))
        pgmpy_seconds = time.perf_counter() - start
    assert network.check_model()

    n = args.rows
    print(f"{n:,} rows x {len(structure.nodes)} columns, {len(structure.edges)} edges, {n_cells:,} CPT cells; "
          f"bayesgen best of {args.repeats}")
    print(f"{'fit':<52} {'seconds':>8} {'rows/s':>12}")
    print(f"{'bayesgen Synthesizer.fit, epsilon = 1 (discrete Laplace)':<52} {ours_seconds:>8.2f} {n / ours_seconds:>12,.0f}")
    print(f"{'pgmpy MaximumLikelihoodEstimator (no noise)':<52} {pgmpy_seconds:>8.2f} {n / pgmpy_seconds:>12,.0f}")
    print()
    print(f"bayesgen: {ours_seconds:.2f} s (target < 3 s); ratio pgmpy / bayesgen: "
          f"{pgmpy_seconds / ours_seconds:.1f}x (target >= 3x)")


if __name__ == "__main__":
    main()
