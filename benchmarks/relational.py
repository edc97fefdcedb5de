"""Rows per parent of the ten-table Simulacrum set: simulated truth vs models fitted at epsilon = 1 (200,000 patients).

Issue 5 asks each child/parent row-count ratio to be within 5 % of the truth. Run:
``.venv/bin/python benchmarks/relational.py [--fits 3] [--patients 200000] [--no-prune]``.
DP noise is not seeded, so every fit differs: the script fits several times on the same truth and
prints every fit's ratios and the largest deviation of each ratio over the fits.
"""

import argparse
import time

import bayesgen as bg

PAIRS = [("SIM_AV_TUMOUR", "SIM_AV_PATIENT"), ("SIM_SACT_REGIMEN", "SIM_AV_PATIENT"),
         ("SIM_SACT_CYCLE", "SIM_SACT_REGIMEN"), ("SIM_SACT_DRUG_DETAIL", "SIM_SACT_CYCLE"),
         ("SIM_SACT_OUTCOME", "SIM_SACT_REGIMEN"),
         ("SIM_RTDS_EPISODE", "SIM_AV_PATIENT"), ("SIM_RTDS_PRESCRIPTION", "SIM_RTDS_EPISODE"),
         ("SIM_RTDS_EXPOSURE", "SIM_RTDS_PRESCRIPTION"), ("SIM_AV_GENE", "SIM_AV_TUMOUR")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--no-prune", action="store_true", help="fit the shipped structure as given")
    args = parser.parse_args()
    n = args.patients
    start = time.perf_counter()
    truth = bg.datasets.simulate_registry(n, rng=0)
    print(f"truth (SIMULATED): {n:,} patients, 10 tables, in {time.perf_counter() - start:.1f} s; "
          f"{args.fits} fits at epsilon = {args.epsilon:g}{' without pruning' if args.no_prune else ''}")
    schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    real = {pair: len(truth[pair[0]]) / len(truth[pair[1]]) for pair in PAIRS}
    worst = dict.fromkeys(PAIRS, 0.0)
    for fit in range(args.fits):
        start = time.perf_counter()
        model = bg.Synthesizer(schema, epsilon=args.epsilon, prune=None if args.no_prune else 4.0).fit(truth)
        fitted = time.perf_counter() - start
        start = time.perf_counter()
        synthetic = model.sample(n, rng=fit + 1)
        print(f"fit {fit + 1}: fitted in {fitted:.1f} s ({len(model.pruned_edges_)} edges pruned), "
              f"sampled {n:,} in {time.perf_counter() - start:.1f} s")
        for pair in PAIRS:
            made = len(synthetic[pair[0]]) / max(len(synthetic[pair[1]]), 1)
            deviation = made / real[pair] - 1
            worst[pair] = max(worst[pair], abs(deviation), key=abs)
            print(f"  {pair[0]:22s}/ {pair[1]:17s} truth {real[pair]:.3f} synthetic {made:.3f} ({deviation:+.1%})")
    print(f"largest deviation over the {args.fits} fits:")
    for pair in PAIRS:
        verdict = "within 5 %" if worst[pair] <= 0.05 else "NOT within 5 %"
        print(f"  {pair[0]:22s}/ {pair[1]:17s} {worst[pair]:.1%}: {verdict}")


if __name__ == "__main__":
    main()
