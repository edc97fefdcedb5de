"""MST and AIM (McKenna et al.) on the estimation engine of private-pgm, PyPI ``mbi`` 2.x.

The ``mbi`` wheel ships the engine (``Domain``, ``Dataset``, ``LinearMeasurement``, the estimators)
but not the mechanisms, which live in the ``mechanisms/`` folder of the private-pgm repository
and are written for the 0.x API. This module restates both mechanisms on the 2.x API, step for step:

* **MST** (McKenna, Miklau & Sheldon 2021): ρ-zCDP from (ε, δ); a third of ρ measures every
  1-way marginal (Gaussian noise), the domain is compressed to the values whose noisy count is at
  least 3σ, a third selects a maximum spanning tree of pairs with the exponential mechanism
  (quality: the L1 error of the independent model on the pair), a third measures the tree's pairs;
  then mirror descent estimates the model and ``synthetic_data`` generates rows.
* **AIM** (McKenna, Mullins, Sheldon & Miklau 2022): the workload is every pair of attributes
  (weights 1; candidates are its downward closure); it measures the 1-ways with 90 % of a round's
  budget, then repeatedly selects the worst-approximated candidate (exponential mechanism with the
  bias-corrected L1 error, model-size filter) and measures it, halving σ when a measurement stops
  helping, until ρ is spent. ``rounds`` and the per-round estimation iterations are parameters;
  the benchmark states the values it uses.

ε is converted to ρ with the bound of Canonne, Kamath & Steinke (2020) at the given δ, as both
papers do. The noise is numpy's (this is a benchmark peer; bayesgen's own noise comes from OpenDP).
"""

from __future__ import annotations

import itertools
import math
import signal
import time
import warnings
from contextlib import contextmanager

import numpy as np
from scipy.special import logsumexp, softmax


def cdp_delta(rho: float, eps: float) -> float:
    """δ of (ε, δ)-DP implied by ρ-zCDP (Canonne, Kamath & Steinke 2020, Proposition 7)."""
    if rho == 0:
        return 0.0
    low, high = 1.01, (eps + 1) / (2 * rho) + 2
    for _ in range(1000):
        alpha = (low + high) / 2
        if (2 * alpha - 1) * rho - eps + math.log1p(-1.0 / alpha) < 0:
            low = alpha
        else:
            high = alpha
    delta = math.exp((alpha - 1) * (alpha * rho - eps) + alpha * math.log1p(-1 / alpha)) / (alpha - 1.0)
    return min(delta, 1.0)


def cdp_rho(eps: float, delta: float) -> float:
    """The largest ρ whose ρ-zCDP guarantee implies (ε, δ)-DP (bisection on :func:`cdp_delta`)."""
    if delta >= 1:
        return 0.0
    low, high = 0.0, eps + 1
    for _ in range(1000):
        rho = (low + high) / 2
        if cdp_delta(rho, eps) <= delta:
            low = rho
        else:
            high = rho
    return low


@contextmanager
def time_limit(seconds: float | None, what: str):
    """Raise TimeoutError in the main thread after ``seconds`` (between Python steps)."""
    if not seconds:
        yield
        return

    def handler(signum, frame):
        raise TimeoutError(f"{what} did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _engine():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mbi
    from mbi import Dataset, Domain, LinearMeasurement
    from mbi.estimation import MirrorDescent
    return mbi, Dataset, Domain, LinearMeasurement, MirrorDescent


def _dataset(codes: dict, cards: dict):
    _, Dataset, Domain, _, _ = _engine()
    attrs = list(cards)
    domain = Domain(attrs, [int(cards[a]) for a in attrs])
    return Dataset({a: np.asarray(codes[a], dtype=np.int64) for a in attrs}, domain)


def _measure(data, cliques, sigma, prng, weights=None):
    _, _, _, LinearMeasurement, _ = _engine()
    weights = np.ones(len(cliques)) if weights is None else np.asarray(weights, dtype=float)
    weights = weights / np.linalg.norm(weights)
    out = []
    for clique, weight in zip(cliques, weights, strict=True):
        x = data.project(clique).datavector()
        y = x + prng.normal(0, sigma / weight, size=x.size)
        out.append(LinearMeasurement(y, tuple(clique), stddev=sigma / weight))
    return out


def mst(codes: dict, cards: dict, epsilon: float, delta: float, n_rows: int, seed: int,
        iters: int = 3000) -> tuple[dict, float, float]:
    """Run MST; returns (codes of ``n_rows`` synthetic rows, fit seconds, sample seconds)."""
    _, _, _, _, MirrorDescent = _engine()
    prng = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - mbi draws from numpy's global state
    started = time.perf_counter()
    data = _dataset(codes, cards)
    rho = cdp_rho(epsilon, delta)
    sigma = math.sqrt(3 / (2 * rho))
    attrs = list(data.domain.attributes)
    log1 = _measure(data, [(a,) for a in attrs], sigma, prng)
    # compress each attribute to its values with a noisy count >= 3 sigma (+ one "other" value)
    mapping = {}
    for m in log1:
        (a,) = m.clique
        y = np.asarray(m.noisy_measurement)
        support = y >= 3 * m.stddev
        if support.all():
            continue
        kept = int(support.sum())
        index = np.full(y.size, kept, dtype=np.int64)
        index[support] = np.arange(kept)
        mapping[a] = index
    compressed = data.compress(mapping) if mapping else data
    log1 = [m.compress(mapping, data.domain) for m in log1]
    domain = compressed.domain
    # select a spanning tree with the exponential mechanism (rho / 3)
    estimate = MirrorDescent().estimate(domain, log1, iters=1000)
    one = {a: np.asarray(estimate.project((a,)).datavector()) for a in attrs}
    total = max(sum(one[attrs[0]]), 1.0)
    weights = {}
    for a, b in itertools.combinations(attrs, 2):
        xhat = np.outer(one[a], one[b]).ravel() / total  # the estimate after 1-ways is independent
        x = compressed.project((a, b)).datavector()
        weights[a, b] = np.abs(x - xhat).sum()
    parent = {a: a for a in attrs}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    edges = []
    r = len(attrs)
    eps_step = math.sqrt(8 * (rho / 3) / max(r - 1, 1))
    candidates = list(weights)
    for _ in range(r - 1):
        candidates = [e for e in candidates if find(e[0]) != find(e[1])]
        q = np.array([weights[e] for e in candidates])
        scores = 0.5 * eps_step * q
        choice = prng.choice(len(candidates), p=np.exp(scores - logsumexp(scores)))
        a, b = candidates[choice]
        parent[find(a)] = find(b)
        edges.append((a, b))
    log2 = _measure(compressed, edges, sigma, prng)
    model = MirrorDescent().estimate(domain, log1 + log2, iters=iters)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = model.synthetic_data(rows=n_rows)
    if mapping:
        synthetic = synthetic.decompress(mapping)
    out = {a: np.asarray(synthetic.data[a], dtype=np.int64) for a in attrs}
    return out, fit_seconds, time.perf_counter() - started


def aim(codes: dict, cards: dict, epsilon: float, delta: float, n_rows: int, seed: int,
        rounds: int | None = None, round_iters: int = 250, final_iters: int = 1000,
        max_model_size: float = 80.0, max_cells: int = 10_000) -> tuple[dict, float, float]:
    """Run AIM on the all-pairs workload; returns (synthetic codes, fit seconds, sample seconds)."""
    _, _, _, LinearMeasurement, MirrorDescent = _engine()
    from mbi.clique_utils import downward_closure
    from mbi.junction_tree import hypothetical_model_size
    from mbi.marginal_oracles import calculate_many_marginals

    prng = np.random.default_rng(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - mbi draws from numpy's global state
    started = time.perf_counter()
    data = _dataset(codes, cards)
    domain = data.domain
    attrs = list(domain.attributes)
    rho = cdp_rho(epsilon, delta)
    rounds = rounds or 16 * len(attrs)
    workload = [cl for cl in itertools.combinations(attrs, 2) if domain.size(cl) <= max_cells]
    closure = [tuple(cl) for cl in downward_closure(workload)]
    candidates = {cl: float(sum(len(set(cl) & set(w)) for w in workload)) for cl in closure}
    answers = {cl: np.asarray(data.project(cl).datavector()) for cl in candidates}
    oneway = [cl for cl in candidates if len(cl) == 1]
    sigma = math.sqrt(rounds / (2 * 0.9 * rho))
    eps_round = math.sqrt(8 * 0.1 * rho / rounds)
    measurements = []
    rho_used = len(oneway) * 0.5 / sigma**2
    for cl in oneway:
        x = answers[cl]
        measurements.append(LinearMeasurement(x + prng.normal(0, sigma, x.size), cl, stddev=sigma))
    engine = MirrorDescent()
    model = engine.estimate(domain, measurements, iters=round_iters)
    terminate = False
    while not terminate:
        if rho - rho_used < 2 * (0.5 / sigma**2 + 1.0 / 8 * eps_round**2):
            remaining = rho - rho_used
            sigma = math.sqrt(1 / (2 * 0.9 * remaining))
            eps_round = math.sqrt(8 * 0.1 * remaining)
            terminate = True
        rho_used += 1.0 / 8 * eps_round**2 + 0.5 / sigma**2
        size_limit = max_model_size * rho_used / rho
        free = {tuple(c) for c in downward_closure(model.cliques)}
        small = {cl: w for cl, w in candidates.items()
                 if cl in free or hypothetical_model_size(domain, list(model.cliques) + [cl]) <= size_limit}
        marginals = calculate_many_marginals(model.potentials, list(small), float(model.total))
        errors = {}
        for cl, weight in small.items():
            bias = math.sqrt(2 / math.pi) * sigma * domain.size(cl)
            estimate = np.asarray(marginals[cl].datavector())
            errors[cl] = weight * (np.abs(answers[cl] - estimate).sum() - bias)
        keys = list(errors)
        quality = np.array([errors[k] for k in keys])
        sensitivity = max(abs(w) for w in small.values())
        p = softmax(0.5 * eps_round / sensitivity * (quality - quality.max()))
        cl = keys[prng.choice(len(keys), p=p)]
        x = answers[cl]
        measurements.append(LinearMeasurement(x + prng.normal(0, sigma, x.size), cl, stddev=sigma))
        before = np.asarray(model.project(cl).datavector())
        model = engine.estimate(domain, measurements, iters=round_iters, warm_start=model)
        after = np.asarray(model.project(cl).datavector())
        if np.abs(after - before).sum() <= sigma * math.sqrt(2 / math.pi) * x.size:
            sigma /= 2
            eps_round *= 2
    model = engine.estimate(domain, measurements, iters=final_iters, warm_start=model)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = model.synthetic_data(rows=n_rows)
    out = {a: np.asarray(synthetic.data[a], dtype=np.int64) for a in attrs}
    return out, fit_seconds, time.perf_counter() - started
