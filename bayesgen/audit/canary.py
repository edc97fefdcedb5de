"""End-to-end canary audit: fit many times with and without one extreme patient, then try to tell.

The whole pipeline (encoding, bounding, optionally DP structure learning, DP fitting,
post-processing) runs ``n_fits`` times on a dataset *without* and ``n_fits`` times *with* one canary
patient: an existing patient with the most tumours, given the rarest value of every free column
(patient and tumour), so that every family's counts move when it is present. A distinguishing attack
scores each released model:

- ``"model"``: the log-likelihood of the canary's records under the released CPTs;
- ``"sample"``: how many of ``sample_size`` synthetic patients equal the canary on every
  patient-level code (an attack on the released samples rather than the model).

Half of each side's scores choose the threshold that best separates them; the other half give the
attack's true- and false-positive rates, and :func:`bayesgen.audit.epsilon_lower_bound` turns them
into an empirical ε lower bound with its confidence interval. A sound pipeline's bound stays below the
claimed ε; an under-noised build (:func:`under_noised`) is caught when its bound exceeds the claim.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesgen.audit.bounds import epsilon_lower_bound
from bayesgen.params.fit import families, family_data
from bayesgen.schema.encode import encode_tables

ATTACKS = ("model", "sample")


@dataclass(frozen=True)
class AuditResult:
    """One audit: the claim, what the attack demonstrated, and how it was measured."""

    claimed_epsilon: float
    attack: str
    n_fits: int
    true_positive_rate: float
    false_positive_rate: float
    epsilon_estimate: float
    epsilon_lower: float
    epsilon_upper: float
    confidence: float
    seconds: float

    @property
    def claim_holds(self) -> bool:
        """True when the claimed ε lies above the lower confidence bound (the audit found no violation)."""
        return self.claimed_epsilon >= self.epsilon_lower

    def __str__(self) -> str:
        return (f"claimed epsilon {self.claimed_epsilon:g}, attack {self.attack}: TPR {self.true_positive_rate:.3f}, "
                f"FPR {self.false_positive_rate:.3f}; empirical epsilon {self.epsilon_estimate:.3f} "
                f"(lower bound {self.epsilon_lower:.3f}, {self.confidence:.0%} interval up to "
                f"{self.epsilon_upper:.3f}); {self.n_fits} fits per side in {self.seconds:.0f} s")


def make_canary(tables: dict, schema, id_offset: int = 10_000_000) -> dict:
    """Tables holding one extreme patient built from ``tables`` (for auditing only).

    The patient with the most rows in the child tables is copied under new keys; every free
    categorical column (not in a schema constraint, not derived, not the source of a derived
    column) gets its least frequent declared category in ``tables`` (unseen ones first).
    """
    constrained = {c.antecedent.column for c in schema.constraints} | {c.consequent.column for c in schema.constraints}
    sources = {col.derived.source_column for t in schema.tables.values() for col in t.columns if col.derived}
    root = schema.root
    children = list(schema.child_tables)
    counts = (tables[children[0].name][children[0].parent.key].value_counts() if children
              else pd.Series(1, index=tables[root.name][root.primary_key]))
    person = counts.idxmax()
    out = {}
    root_rows = tables[root.name][tables[root.name][root.primary_key] == person].copy()
    out[root.name] = _rarest(root_rows, tables[root.name], root, constrained, sources)
    for child in children:  # the person's whole subtree, parents first
        frame = tables[child.name]
        parent_keys = out[child.parent.table][schema.parent_key_column(child)]
        rows = frame[frame[child.parent.key].isin(parent_keys)].copy()
        out[child.name] = _rarest(rows, frame, child, constrained, sources)
    # new keys: the same map on every id column of every table keeps every join (keys, references
    # and copied ancestor ids alike)
    for name, rows in out.items():
        for column in schema.tables[name].columns:
            if column.type == "id":
                rows[column.name] = [_new_key(k, id_offset) for k in rows[column.name]]
    for child in children:  # derived copies of patient columns follow the canary's values
        rows = out[child.name]
        for column in child.columns:
            rule = column.derived
            if rule is not None and rule.kind == "copy" and rule.source_table == root.name and len(rows):
                rows[column.name] = out[root.name][rule.source_column].iloc[0]
    return {name: frame.reset_index(drop=True) for name, frame in out.items()}


def _new_key(key, offset: int):
    return f"canary-{key}" if isinstance(key, str) else int(key) + offset


def _rarest(rows: pd.DataFrame, frame: pd.DataFrame, table, constrained: set, sources: set) -> pd.DataFrame:
    for column in table.modelled_columns:
        if column.type != "categorical" or column.name in constrained or column.name in sources:
            continue
        if column.derived is not None:
            continue
        frequency = frame[column.name].astype("string").value_counts()
        rarest = min(column.categories, key=lambda c: frequency.get(c, 0))
        rows[column.name] = rarest
    return rows


def with_rows(tables: dict, extra: dict) -> dict:
    """``tables`` with ``extra``'s rows appended (same columns)."""
    return {name: pd.concat([frame, extra[name]], ignore_index=True) if name in extra else frame
            for name, frame in tables.items()}


def canary_log_likelihood(model, canary_codes, schema) -> float:
    """Log-probability of the canary's encoded records under ``model``'s CPTs (the ``model`` attack)."""
    total = 0.0
    for family in families(schema, model.structure_):
        columns = family_data(family, canary_codes, schema)
        probabilities = model.cpts_[family.node].probabilities[tuple(columns)]
        total += float(np.log(np.maximum(probabilities, 1e-300)).sum())
    return total


def canary_matches(model, canary_codes, schema, sample_size: int, rng) -> float:
    """How many of ``sample_size`` synthetic patients equal the canary on every patient-level code.

    Codes, not raw values: dates and numbers compare by their declared bin (the ``sample`` attack).
    """
    synthetic = encode_tables(model.sample(sample_size, rng=rng), schema)
    match = np.ones(synthetic.n_rows[schema.root_table], dtype=bool)
    for column in schema.root.modelled_columns:
        match &= synthetic.codes[column.name] == canary_codes.codes[column.name][0]
    return float(match.sum())


def run_canary_audit(tables: dict, schema, make_model, epsilon: float, n_fits: int = 100,
                     attack: str = "model", canary: dict | None = None, confidence: float = 0.95,
                     sample_size: int = 2000, rng=None, progress=None) -> AuditResult:
    """Fit ``make_model()`` ``n_fits`` times per side and measure how well ``attack`` tells them apart.

    Parameters
    ----------
    tables : dict of DataFrames
        The dataset without the canary.
    make_model : callable
        Returns an unfitted :class:`~bayesgen.Synthesizer` (the pipeline under audit), e.g.
        ``lambda: Synthesizer(schema, structure, epsilon=1.0)`` or ``structure="learn"``.
    epsilon : float
        The claimed ε of that pipeline.

    Examples
    --------
    >>> import bayesgen as bg
    >>> schema = bg.Schema.load("simulacrum_v2_core")            # patients and tumours
    >>> data = bg.datasets.simulate_registry(300, rng=0, full=False)
    >>> dag = bg.Structure.load("structures/simulacrum_v2_compact.yaml")
    >>> result = run_canary_audit(data, schema, lambda: bg.Synthesizer(schema, dag, epsilon=1.0),
    ...                           epsilon=1.0, n_fits=6, rng=0)
    >>> result.claim_holds
    True
    """
    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {attack!r}")
    if n_fits < 4:
        raise ValueError("n_fits must be at least 4 (half choose the threshold, half measure it)")
    generator = np.random.default_rng(rng)
    canary = canary if canary is not None else make_canary(tables, schema)
    with_canary = with_rows(tables, canary)
    canary_codes = encode_tables(canary, schema)
    started = time.perf_counter()
    scores = {False: [], True: []}
    for i in range(n_fits):
        for present, data in ((False, tables), (True, with_canary)):
            model = make_model().fit(data)
            if attack == "model":
                scores[present].append(canary_log_likelihood(model, canary_codes, schema))
            else:
                scores[present].append(canary_matches(model, canary_codes, schema, sample_size, generator))
        if progress is not None:
            progress(i + 1, n_fits)
    without, with_ = np.array(scores[False]), np.array(scores[True])
    half = n_fits // 2
    threshold = _best_threshold(without[:half], with_[:half], confidence)
    test_without, test_with = without[half:], with_[half:]
    hits_with, hits_without = int((test_with > threshold).sum()), int((test_without > threshold).sum())
    estimate, low, high = epsilon_lower_bound(hits_with, len(test_with), hits_without, len(test_without),
                                              confidence=confidence)
    return AuditResult(epsilon, attack, n_fits, hits_with / len(test_with), hits_without / len(test_without),
                       estimate, low, high, confidence, time.perf_counter() - started)


def _best_threshold(without: np.ndarray, with_: np.ndarray, confidence: float) -> float:
    """The threshold (score > t means "canary present") with the largest ε lower bound on this half."""
    candidates = np.unique(np.concatenate([without, with_]))
    best, best_low = math.inf, -1.0
    for t in candidates:
        _, low, _ = epsilon_lower_bound(int((with_ > t).sum()), len(with_), int((without > t).sum()), len(without),
                                        confidence=confidence)
        if low > best_low:
            best, best_low = float(t), low
    return best


@contextlib.contextmanager
def under_noised(factor: float) -> Iterator[None]:
    """A deliberately broken build for negative controls: noise scales times ``factor`` (< 1).

    The ledger still records the cost of the *correct* scale, as a buggy build would; an audit must
    catch it. Only for auditing; never use it to fit a model you release.
    """
    from bayesgen.privacy import mechanisms

    originals = {name: getattr(mechanisms, name)
                 for name in ("laplace_measurement", "gaussian_measurement", "noisy_max_measurement")}

    class _Broken:
        def __init__(self, honest, released):
            self._honest, self._released = honest, released

        def map(self, distance):
            return self._honest.map(distance)

        def __call__(self, value):
            return self._released(value)

    def wrap(name):
        build = originals[name]

        def broken(scale, *args):
            return _Broken(build(scale, *args), build(scale * factor, *args))
        return broken

    try:
        for name in originals:
            setattr(mechanisms, name, wrap(name))
        yield
    finally:
        for name, build in originals.items():
            setattr(mechanisms, name, build)
