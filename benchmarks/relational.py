"""Rows per parent of the ten-table Simulacrum set: simulated truth vs a model fitted at epsilon = 1 (200,000 patients).

Issue 5 asks each child/parent row-count ratio to be within 5 % of the truth. Run:
``.venv/bin/python benchmarks/relational.py`` (figures vary between runs: DP noise is not seeded).
"""

import time

import bayesgen as bg

PAIRS = [("SIM_AV_TUMOUR", "SIM_AV_PATIENT"), ("SIM_SACT_REGIMEN", "SIM_AV_PATIENT"),
         ("SIM_SACT_CYCLE", "SIM_SACT_REGIMEN"), ("SIM_SACT_DRUG_DETAIL", "SIM_SACT_CYCLE"),
         ("SIM_RTDS_EPISODE", "SIM_AV_PATIENT"), ("SIM_RTDS_PRESCRIPTION", "SIM_RTDS_EPISODE"),
         ("SIM_RTDS_EXPOSURE", "SIM_RTDS_PRESCRIPTION"), ("SIM_AV_GENE", "SIM_AV_TUMOUR")]
N = 200_000


def main() -> None:
    start = time.perf_counter()
    truth = bg.datasets.simulate_registry(N, rng=0, full=True)
    print(f"truth {N:,} patients, 10 tables: {time.perf_counter() - start:.1f} s")
    schema = bg.Schema.load("schemas/simulacrum_v2_full.yaml")
    start = time.perf_counter()
    model = bg.Synthesizer(schema, epsilon=1.0).fit(truth)
    print(f"fit at epsilon = 1: {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    synthetic = model.sample(N, rng=1)
    print(f"sample {N:,}: {time.perf_counter() - start:.1f} s")
    for child, parent in PAIRS:
        real = len(truth[child]) / len(truth[parent])
        made = len(synthetic[child]) / len(synthetic[parent])
        verdict = "within 5 %" if abs(made / real - 1) <= 0.05 else "NOT within 5 %"
        print(f"{child:24s}/{parent:22s} truth {real:.3f} synthetic {made:.3f} ({made / real - 1:+.1%}): {verdict}")


if __name__ == "__main__":
    main()
