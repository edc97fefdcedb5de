"""Fidelity against the privacy budget and the post-processing settings, on the simulated registry.

Simulates the reference registry once (``--patients``, SIMULATED data with a known ground truth),
fits the shipped Simulacrum v2 schema and expert structure at each ε and each post-processing
setting, samples as many synthetic patients as there are real ones, and prints the mean 1-way and
2-way total variation distance (TVD) between real and synthetic marginals per table, averaged over
``--repeats`` independent fits (the DP noise differs on each fit). An ``inf`` row (no noise) is the
floor that the structure itself allows at this sample size.

Run: ``python benchmarks/fidelity.py`` (about a minute), or e.g.
``python benchmarks/fidelity.py --epsilons 0.3 1 3 inf --shrinkage 0 1 --postprocessing project``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np

from bayesgen import Schema, Structure, Synthesizer
from bayesgen.datasets import simulate_registry
from bayesgen.evaluate import fidelity_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.3, 1.0, 3.0, math.inf])
    parser.add_argument("--postprocessing", nargs="+", default=["project"])
    parser.add_argument("--shrinkage", type=float, nargs="+", default=[1.0])
    parser.add_argument("--allocation", nargs="+", default=["uniform"])
    parser.add_argument("--structure", default="structures/simulacrum_v2_compact.yaml")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    schema = Schema.load("schemas/simulacrum_v2_core.yaml")
    structure = Structure.load(args.structure)
    real = simulate_registry(args.patients, rng=args.seed, full=False)
    print(f"simulated registry: {args.patients:,} patients, {len(real['SIM_AV_TUMOUR']):,} tumours; "
          f"structure {args.structure} ({len(structure.edges)} edges); {args.repeats} fits per row")
    header = (f"{'epsilon':>8} {'postproc':>8} {'shrink':>6} {'alloc':>7} | {'patient 1w':>10} "
              f"{'patient 2w':>10} {'tumour 1w':>10} {'tumour 2w':>10} | {'fit s':>6}")
    print(header)
    print("-" * len(header))
    for epsilon, postprocessing, shrinkage, allocation in itertools.product(
            args.epsilons, args.postprocessing, args.shrinkage, args.allocation):
        if math.isinf(epsilon) and (postprocessing, shrinkage) != (args.postprocessing[0], args.shrinkage[0]):
            continue  # without noise the post-processing settings change nothing
        rows, fit_seconds = [], []
        for repeat in range(args.repeats):
            started = time.perf_counter()
            model = Synthesizer(schema, structure, epsilon=epsilon, allocation=allocation,
                                postprocessing=postprocessing, shrinkage=shrinkage).fit(real)
            fit_seconds.append(time.perf_counter() - started)
            synthetic = model.sample(args.patients, rng=1000 + repeat)
            summary = fidelity_summary(real, synthetic, schema)
            rows.append([summary[t][k] for t in ("SIM_AV_PATIENT", "SIM_AV_TUMOUR")
                         for k in ("mean_tvd_1way", "mean_tvd_2way")])
        mean = np.mean(rows, axis=0)
        print(f"{epsilon:>8g} {postprocessing:>8} {shrinkage:>6g} {allocation:>7} | "
              + " ".join(f"{v:>10.4f}" for v in mean) + f" | {np.mean(fit_seconds):>6.2f}", flush=True)


if __name__ == "__main__":
    main()
