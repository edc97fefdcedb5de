"""Canary audit of the whole pipeline: empirical ε lower bounds against the claimed ε.

For each claimed ε, the pipeline is fitted ``--fits`` times on a registry without and ``--fits`` times
with one extreme canary patient (the patient with most tumours, given the rarest value of every free
column), for the parameter fit alone (expert structure) and for DP structure learning + fit. Two
attacks score each released model: the canary's log-likelihood under the model's CPTs ("model") and,
optionally, how many synthetic patients share its rare values ("sample"). Half the fits choose the
attack's threshold, the other half measure its true/false-positive rates; the printed bound is the
lower end of the 95 % Clopper–Pearson interval of the ε they demonstrate. Each claim must lie above
its bound. Then an under-noised build (noise scales × ``--broken-factor`` while the ledger still
claims ε) is audited the same way and must be caught (bound above the claim).

Datasets: ``toy`` (the two-table toy registry of the test suite: patients with up to 2 tumours,
fast enough for 500 fits per side in minutes) or ``simulacrum`` (the simulated Simulacrum registry
with the compact expert structure: slower, because OpenDP draws noise for ~63,000 cells per fit).
``--time-limit`` caps each configuration's wall time; the number of fits actually done is printed.

Run: ``python benchmarks/audit.py`` (about 15 minutes on 2 cores), or
``python benchmarks/audit.py --dataset simulacrum --patients 300 --fits 100``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bayesgen as bg  # noqa: E402
from bayesgen.audit.canary import make_canary, run_canary_audit, under_noised  # noqa: E402


def load(dataset: str, patients: int):
    if dataset == "toy":
        from tests.conftest import make_toy_tables

        schema = bg.Schema.load(ROOT / "tests/fixtures/toy_schema.yaml")
        structure = bg.Structure.load(ROOT / "tests/fixtures/toy_structure.yaml")
        return schema, structure, make_toy_tables(n=patients, seed=0)
    schema = bg.Schema.load("simulacrum_v2_core")
    structure = bg.Structure.load("structures/simulacrum_v2_compact.yaml")
    return schema, structure, bg.datasets.simulate_registry(patients, rng=0, full=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["toy", "simulacrum"], default="toy")
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--fits", type=int, default=500, help="fits per side (with / without the canary)")
    parser.add_argument("--attacks", nargs="+", default=["model"], choices=["model", "sample"])
    parser.add_argument("--broken-factor", type=float, default=0.01,
                        help="noise scale multiplier of the deliberately under-noised build")
    parser.add_argument("--time-limit", type=float, default=240.0, help="seconds per configuration")
    parser.add_argument("--skip-learning", action="store_true")
    args = parser.parse_args()

    schema, structure, tables = load(args.dataset, args.patients)
    canary = make_canary(tables, schema)
    n_canary_rows = {name: len(frame) for name, frame in canary.items()}
    print(f"dataset {args.dataset}: {args.patients} patients; canary rows {n_canary_rows}; "
          f"up to {args.fits} fits per side, at most {args.time_limit:.0f} s per configuration")
    pipelines = {"fit alone": lambda eps: (lambda: bg.Synthesizer(schema, structure, epsilon=eps))}
    if not args.skip_learning:
        pipelines["structure learning + fit"] = lambda eps: (lambda: bg.Synthesizer(schema, "learn", epsilon=eps))
    header = (f"{'pipeline':<26} {'build':<13} {'attack':<7} {'claimed':>7} {'fits/side':>9} {'TPR':>6} "
              f"{'FPR':>6} {'eps lower (95%)':>15} {'eps upper':>9} {'verdict':<22} {'s':>5}")
    print(header)
    print("-" * len(header))
    for pipeline, factory in pipelines.items():
        for epsilon in args.epsilons:
            for attack in args.attacks:
                _row(pipeline, "correct", attack, epsilon, factory(epsilon), tables, schema, canary, args)
        # the negative control: the same pipeline, under-noised, at the smallest claim
        epsilon = min(args.epsilons)
        with under_noised(args.broken_factor):
            _row(pipeline, f"noise x{args.broken_factor:g}", args.attacks[0], epsilon, factory(epsilon), tables,
                 schema, canary, args, control=True)


def _row(pipeline, build, attack, epsilon, make_model, tables, schema, canary, args, control=False):
    fits = _fits_within(args.time_limit, args.fits, make_model, tables)
    result = run_canary_audit(tables, schema, make_model, epsilon, n_fits=fits, attack=attack, canary=canary,
                              rng=0)
    if control:
        verdict = "CAUGHT (bound > claim)" if not result.claim_holds else "MISSED"
    else:
        verdict = "claim holds" if result.claim_holds else "VIOLATION"
    print(f"{pipeline:<26} {build:<13} {attack:<7} {epsilon:>7g} {result.n_fits:>9} "
          f"{result.true_positive_rate:>6.3f} {result.false_positive_rate:>6.3f} {result.epsilon_lower:>15.3f} "
          f"{result.epsilon_upper:>9.3g} {verdict:<22} {result.seconds:>5.0f}", flush=True)


def _fits_within(time_limit: float, wanted: int, make_model, tables) -> int:
    """The number of fits per side that fits in ``time_limit`` (timed on 3 fits), at most ``wanted``."""
    started = time.perf_counter()
    for _ in range(3):
        make_model().fit(tables)
    per_fit = (time.perf_counter() - started) / 3
    feasible = int(time_limit / (2 * per_fit * 1.1))
    return int(np.clip(feasible, 4, wanted))


if __name__ == "__main__":
    main()
