"""Write the two folders the analysis example runs on: the ground truth and a synthetic copy.

    python docs/examples/make_example_data.py [--out example-data] [--patients 50000] [--epsilon 1]

- OUT/truth: ``bayesgen.datasets.simulate_registry`` (SIMULATED, not real data), all ten
  Simulacrum v2 tables drawn from the hand-set ground truth, written as CSV with the library's
  writer (the layout of ``bayesgen sample``);
- OUT/synthetic: a differentially private model fitted on the truth at the given epsilon with the
  shipped ten-table schema and structure, then as many synthetic patients sampled.

The same with the command line (after writing OUT/truth):

    bayesgen fit OUT/truth --schema schemas/simulacrum_v2.yaml --epsilon 1 -o model.json
    bayesgen sample model.json -n 50000 --seed 1 -o OUT/synthetic
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import bayesgen as bg
from bayesgen.tables.io import write_tables


def make(out, patients: int = 50_000, epsilon: float = 1.0, seed: int = 0, fmt: str = "csv") -> tuple[Path, Path]:
    """Write ``out/truth`` and ``out/synthetic`` (replacing them) and return the two folders."""
    out = Path(out)
    schema = bg.Schema.load("schemas/simulacrum_v2.yaml")   # the shipped ten-table schema
    truth = bg.datasets.simulate_registry(patients, rng=seed)
    truth = {name: frame for name, frame in truth.items() if name in schema.tables}
    write_tables(truth, out / "truth", fmt, overwrite=True)
    model = bg.Synthesizer(schema, epsilon=epsilon).fit(truth)
    synthetic = model.sample(patients, rng=seed + 1)
    write_tables(synthetic, out / "synthetic", fmt, overwrite=True)
    return out / "truth", out / "synthetic"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="example-data", help="output folder (default example-data/)")
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    truth, synthetic = make(args.out, args.patients, args.epsilon, args.seed, args.format)
    print(f"wrote {truth} and {synthetic} ({args.patients:,} patients, epsilon {args.epsilon:g}) "
          f"in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
