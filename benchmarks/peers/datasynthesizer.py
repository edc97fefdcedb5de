"""DataSynthesizer (Ping, Stoyanovich & Howe 2017) in correlated attribute mode: PrivBayes.

Runs in a child process (DataSynthesizer starts its own multiprocessing pool, and a hard time
limit must be able to stop it): ``python benchmarks/peers/datasynthesizer.py WORKDIR K EPSILON N SEED``.
Every attribute is given as the schema's codes and declared categorical, so DataSynthesizer sees
the same discretisation as the other methods. Its accounting (source of 0.1.13): ε/2 for the
network and ε/2 for the conditionals per row, plus Laplace noise on the 1-way histograms it keeps
in the description; here one row is one person.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

_NUMPY_REPR = re.compile(r"np\.(?:int|float)\d+\(([^()]*)\)")


def worker(workdir: str, k: int, epsilon: float, n_rows: int, seed: int) -> None:
    """Describe ``input.csv``, generate ``n_rows``; writes synthetic.csv and timings.json."""
    from DataSynthesizer.DataDescriber import DataDescriber
    from DataSynthesizer.DataGenerator import DataGenerator

    source = os.path.join(workdir, "input.csv")
    attributes = list(pd.read_csv(source, nrows=0).columns)
    started = time.perf_counter()
    describer = DataDescriber()
    describer.describe_dataset_in_correlated_attribute_mode(
        source, k=k, epsilon=epsilon, attribute_to_datatype={a: "String" for a in attributes},
        attribute_to_is_categorical={a: True for a in attributes},
        attribute_to_is_candidate_key={a: False for a in attributes}, seed=seed)
    describe_seconds = time.perf_counter() - started
    description = os.path.join(workdir, "description.json")
    describer.save_dataset_description_to_file(description)
    # 0.1.13 keys conditionals by str(list of parent values), "[np.int64(3)]" under numpy >= 2, and
    # its generator eval()s the keys without numpy in scope: restore numpy 1's "[3]" (values untouched)
    with open(description, encoding="utf-8") as handle:
        body = json.load(handle)
    body["conditional_probabilities"] = {
        child: {_NUMPY_REPR.sub(r"\1", key): dist for key, dist in table.items()} if isinstance(table, dict)
        else table for child, table in body["conditional_probabilities"].items()}
    with open(description, "w", encoding="utf-8") as handle:
        json.dump(body, handle)
    started = time.perf_counter()
    generator = DataGenerator()
    generator.generate_dataset_in_correlated_attribute_mode(n_rows, description, seed=seed)
    generate_seconds = time.perf_counter() - started
    generator.save_synthetic_data(os.path.join(workdir, "synthetic.csv"))
    degree = max((len(parents) for _, parents in body["bayesian_network"]), default=0)
    with open(os.path.join(workdir, "timings.json"), "w", encoding="utf-8") as handle:
        json.dump({"describe_seconds": describe_seconds, "generate_seconds": generate_seconds, "degree": degree,
                   "network": body["bayesian_network"]}, handle)


def run_frame(codes: dict, k: int, epsilon: float, n_rows: int, seed: int, timeout: float,
              log_lines: int = 1) -> tuple[pd.DataFrame, dict]:
    """Run the worker on schema codes in a child process; returns (synthetic values as text, timings).

    The text is ``"s<code>"`` per cell, NaN where DataSynthesizer produced nothing; the timings hold
    the seconds, the degree and the learned network. Raises TimeoutError after ``timeout`` seconds
    (the child process group is killed) and RuntimeError with the last ``log_lines`` lines of its log
    if it fails.
    """
    with tempfile.TemporaryDirectory(prefix="bench-ds-") as workdir:
        pd.DataFrame({name: np.char.add("s", np.asarray(values).astype(str)) for name, values in codes.items()}
                     ).to_csv(os.path.join(workdir, "input.csv"), index=False)
        log_path = os.path.join(workdir, "log.txt")
        eps = "inf" if not np.isfinite(epsilon) else repr(float(epsilon))
        command = [sys.executable, os.path.abspath(__file__), workdir, str(k), eps, str(n_rows), str(seed)]
        with open(log_path, "w", encoding="utf-8") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"DataSynthesizer did not finish within {timeout:g} s") from None
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        if process.returncode != 0:
            with open(log_path, encoding="utf-8") as log:
                tail = [line for line in log.read().strip().splitlines() if line.strip()][-log_lines:]
            raise RuntimeError(" | ".join(tail) or f"exit status {process.returncode}")
        with open(os.path.join(workdir, "timings.json"), encoding="utf-8") as handle:
            timings = json.load(handle)
        return pd.read_csv(os.path.join(workdir, "synthetic.csv"), dtype=str), timings


def run(codes: dict, cards: dict, epsilon: float, n_rows: int, seed: int, timeout: float, k: int = 0):
    """Run DataSynthesizer on schema codes; returns (synthetic codes, timings with the degree).

    Errors as :func:`run_frame`.
    """
    synthetic, timings = run_frame(codes, k, epsilon, n_rows, seed, timeout)
    rng = np.random.default_rng(seed)
    out = {}
    for name in codes:
        values = synthetic[name]
        code = values.fillna("s-1").str[1:].astype(np.int64).to_numpy()
        # a value DataSynthesizer could not produce (NaN) gets a uniformly random declared code
        missing = code < 0
        code[missing] = rng.integers(0, cards[name], int(missing.sum()))
        out[name] = code
    return out, timings


if __name__ == "__main__":
    worker(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
