"""Learning a DAG from data: differentially private (PrivBayes-style) or not (pgmpy hill climbing).

**DP greedy search** (``method="privbayes"``, Zhang et al. 2017, *PrivBayes*). Nodes join the network
one at a time, tier by tier (expert tiers, e.g. patient, tumour, outcome). At each step every pair
(child not yet in the network, parent set of at most ``max_parents`` nodes already in it) allowed by
the constraints is a candidate; one is chosen by the exponential mechanism (OpenDP's
``make_noisy_max``, Gumbel noise) over its score, so choosing costs ε_step whatever the number of
candidates.

The score is PrivBayes' R score unnormalised, ``n·R = ½ Σ |c(x, π) − c(x) c(π) / n|``: half the L1
distance between the family's counts and the counts it would have if the node were independent of
its parents. Adding or removing one row changes it by at most 2: the first table moves by 1 in L1,
and the product table ``n p⊗q`` becomes ``(n p + e)(n q + f)ᵀ / (n + 1)``, which differs from it by
``−n p⊗q / (n + 1) + (n p fᵀ + n e qᵀ + e fᵀ) / (n + 1)``, at most ``(3n + 1) / (n + 1) < 3`` in L1;
half of ``1 + 3``. Unlike mutual information or R itself (sensitivity ``3/n + 2/n²``), this bound does
not involve ``n``, which is private. A person contributes ``m`` rows to the rows a family counts
(``m`` = the declared bound on their tumours for a tumour-table child, 1 otherwise), so a
candidate's utility is ``n·R / (2 m)``, whose sensitivity is 1 for every candidate.

**Degree.** With ``max_parents=None`` the degree is chosen from the data size and the budget as in
PrivBayes (θ-usefulness): a family is a candidate only if its table is small next to the noise its
counts will get, ``cells × m ≤ (n̂ / m) × ε_family / θ``, where ``n̂`` is a noisy count of the rows it
counts (bought from the structure budget), ``n̂ / m`` the fewest persons those rows can come from (the
unit of privacy: each brings up to ``m`` rows, and each of those rows adds noise of scale ``m``),
``ε_family = fit_epsilon / number of nodes`` and θ = 4 (PrivBayes' choice); parent sets are then
searched up to ``MAX_SEARCH_PARENTS``. Required edges are always allowed. For patient-level
families ``m = 1`` and this is PrivBayes' rule exactly.

**Non-private** (``method="hill_climb"``): pgmpy's ``HillClimbSearch`` with its BIC, BDeu or K2 score
and the same constraints (tiers as pgmpy's temporal order). Only for data in a safe setting: it
spends no budget and gives no guarantee.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pandas as pd

from bayesgen.errors import StructureError
from bayesgen.params.counts import family_counts
from bayesgen.params.fit import aligned_codes
from bayesgen.privacy.accountant import PrivacyAccountant
from bayesgen.privacy.mechanisms import noisy_counts, noisy_max_index
from bayesgen.rng import as_generator
from bayesgen.schema.encode import encode_tables
from bayesgen.structure.constraints import StructureConstraints
from bayesgen.structure.structure import Structure, Tier

METHODS = ("privbayes", "hill_climb")
SCORES = ("bic", "bdeu", "k2")
MAX_SEARCH_PARENTS = 3
NON_PRIVATE_PARENTS = 2
SIZE_SHARE = 0.05  # of the structure budget, for the noisy row counts behind theta-usefulness
SCORE_SENSITIVITY = 2.0  # of n*R per added or removed row (see the module docstring)


def learn_structure(tables, schema, method: str = "privbayes", epsilon: float = 0.3,
                    max_parents: int | None = None, constraints: StructureConstraints | None = None,
                    rng=None, accountant: PrivacyAccountant | None = None, fit_epsilon: float = 0.7,
                    theta: float = 4.0, score: str = "bic", verbose: bool = False) -> Structure:
    """Learn a DAG over ``schema``'s model variables from ``tables`` under expert constraints.

    Parameters
    ----------
    tables : dict of str to DataFrame, or DataFrame
        As for :meth:`Synthesizer.fit`; a single DataFrame for a one-table schema.
    method : {"privbayes", "hill_climb"}
        DP greedy search (default) or pgmpy's non-private hill climbing.
    epsilon : float
        Budget of the DP search (charged to ``accountant`` if given, else to a new one).
    max_parents : int, optional
        Degree; default: chosen by θ-usefulness from the noisy data size and ``fit_epsilon``.
    constraints : StructureConstraints, optional
        Tiers, forbidden and required edges, maximum in-degree. Default: the tiers of the shipped
        structure for this schema, if any. Edges the schema's constraints need are always required.
    rng : int or Generator, optional
        Only for the data-independent choice of the first node; the DP noise is never seeded.
    fit_epsilon : float
        The budget the parameters will be fitted with; sizes the families (θ-usefulness).
    score : {"bic", "bdeu", "k2"}
        Score of the non-private hill climbing.

    Returns
    -------
    Structure
        With the tiers of ``constraints`` and, for every edge, why it was chosen.

    Examples
    --------
    >>> import bayesgen as bg
    >>> schema = bg.Schema.load("gbsg2")
    >>> dag = learn_structure(bg.datasets.load_gbsg2(), schema, epsilon=1.0, rng=0)
    >>> sorted(dag.nodes) == sorted(schema.variables)
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if isinstance(tables, pd.DataFrame):
        if len(schema.tables) != 1:
            raise StructureError(f"a single DataFrame was given, but schema {schema.name} has "
                                 f"{len(schema.tables)} tables; pass a dict of DataFrames")
        tables = {schema.root_table: tables}
    return learn_from_codes(encode_tables(tables, schema), schema, method, epsilon, max_parents, constraints,
                            rng, accountant, fit_epsilon, theta, score, verbose)


def learn_from_codes(encoded, schema, method: str = "privbayes", epsilon: float = 0.3,
                     max_parents: int | None = None, constraints: StructureConstraints | None = None,
                     rng=None, accountant: PrivacyAccountant | None = None, fit_epsilon: float = 0.7,
                     theta: float = 4.0, score: str = "bic", verbose: bool = False) -> Structure:
    """:func:`learn_structure` on already encoded (validated and bounded) data."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    nodes = list(schema.variables)
    if constraints is None:
        constraints = default_constraints(schema)
    constraints = constraints.with_schema(schema, nodes)
    _check_constraint_nodes(constraints, nodes)
    if method == "hill_climb":
        if len(schema.tables) > 1 and not constraints.tiers:
            raise StructureError(
                f"hill climbing on the multi-table schema {schema.name} needs tiers (patient, then "
                f"child-table, then outcome nodes) so that the result can be sampled; pass "
                f"constraints=StructureConstraints(tiers=...) or StructureConstraints.from_structure(...)")
        return _hill_climb(encoded, schema, nodes, constraints, max_parents, score)
    if accountant is None:
        accountant = PrivacyAccountant(epsilon)
    return _privbayes(encoded, schema, nodes, constraints, accountant, epsilon, max_parents, fit_epsilon,
                      theta, as_generator(rng), verbose)


def default_constraints(schema) -> StructureConstraints:
    """Tiers of the shipped expert structure named like ``schema`` (none if there is no such file)."""
    from bayesgen.files import resolve_resource

    path = resolve_resource(schema.name, "structures")
    if not path.exists():
        return StructureConstraints()
    return StructureConstraints.from_structure(Structure.load(path))


def _check_constraint_nodes(constraints: StructureConstraints, nodes) -> None:
    known = set(nodes)
    named = {n for tier in constraints.tiers for n in tier}
    for edge in constraints.forbidden | constraints.required:
        named |= set(edge)
    unknown = sorted(named - known)
    if unknown:
        raise StructureError(f"constraints name nodes that are not model variables of the schema: {unknown}")


# -- the data a family is counted on ---------------------------------------------------------------
class _FamilyColumns:
    """Code columns aligned on the rows each child's family counts (cached gathers)."""

    def __init__(self, encoded, schema):
        self.encoded = encoded
        self.schema = schema
        self.variables = schema.variables
        self.root = schema.root_table
        self.cache: dict[tuple[str, str], np.ndarray] = {}

    def rows_of(self, child: str) -> str:
        return self.variables[child].table

    def column(self, name: str, rows_of: str) -> np.ndarray:
        key = (name, rows_of)
        if key not in self.cache:
            table = self.variables[name].table
            if table not in (rows_of, self.root) and rows_of != self.root:
                raise StructureError(f"{name} ({table}) cannot be a parent of a {rows_of} node")
            self.cache[key] = aligned_codes(name, rows_of, self.encoded, self.schema).astype(np.int32)
        return self.cache[key]


def r_score(counts: np.ndarray) -> float:
    """``n·R``: half the L1 distance between a family's counts and its independence counts.

    ``counts`` has the parents on the leading axes and the node on the last.

    Examples
    --------
    >>> r_score(np.array([[10, 0], [0, 10]]))    # perfect dependence
    10.0
    >>> r_score(np.array([[5, 5], [5, 5]]))      # independence
    0.0
    """
    table = counts.reshape(-1, counts.shape[-1]).astype(np.float64)
    n = table.sum()
    if n <= 0:
        return 0.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    return float(0.5 * np.abs(table - expected).sum())


# -- DP greedy search ------------------------------------------------------------------------------
def _privbayes(encoded, schema, nodes, constraints, accountant, epsilon, max_parents, fit_epsilon, theta,
               generator, verbose) -> Structure:
    started = time.perf_counter()
    variables = schema.variables
    data = _FamilyColumns(encoded, schema)
    cards = {n: variables[n].n_states for n in nodes}
    sensitivity = {name: encoded.rows_per_person[name] for name in schema.tables}
    tier_of = constraints.tier_of
    tier_count = len(constraints.tiers)
    order_key = {n: (tier_of.get(n, tier_count), i) for i, n in enumerate(nodes)}
    required_parents: dict[str, set[str]] = {n: set() for n in nodes}
    for parent, child in constraints.required:
        required_parents[child].add(parent)
    limit = MAX_SEARCH_PARENTS if max_parents is None else max_parents
    if constraints.max_in_degree is not None:
        limit = min(limit, constraints.max_in_degree)

    # theta-usefulness needs the data size: buy noisy row counts (one vector, L1 sensitivity = the
    # rows one person adds to all tables together)
    step_budget = epsilon
    max_cells: dict[str, float] = {name: math.inf for name in schema.tables}
    if max_parents is None and math.isfinite(epsilon):
        size_budget = epsilon * SIZE_SHARE
        names = list(schema.tables)
        exact = np.array([encoded.n_rows[name] for name in names], dtype=np.int64)
        noisy = noisy_counts(exact, sensitivity=sum(sensitivity[n] for n in names), budget=size_budget,
                             accountant=accountant, what="row counts for structure search (theta-usefulness)")
        step_budget = epsilon - size_budget
        family_epsilon = fit_epsilon / len(nodes)
        for name, count in zip(names, noisy, strict=True):
            max_cells[name] = max(float(count), 0.0) * family_epsilon / (theta * sensitivity[name])
    elif max_parents is None:
        # no privacy: the same rule with exact row counts; with no noise planned either, no cell cap
        # but at most NON_PRIVATE_PARENTS parents (the search grows as nodes ** parents)
        family_epsilon = fit_epsilon / len(nodes)
        for name in schema.tables:
            max_cells[name] = encoded.n_rows[name] * family_epsilon / (theta * sensitivity[name])
        if math.isinf(fit_epsilon):
            limit = min(limit, NON_PRIVATE_PARENTS)
    steps = len(nodes) - 1
    epsilon_step = step_budget / max(steps, 1)

    in_network: list[str] = []
    parents_of: dict[str, tuple[str, ...]] = {}
    reasons: dict[tuple[str, str], str] = {}
    score_cache: dict[tuple[str, tuple[str, ...]], float] = {}
    remaining = sorted(nodes, key=order_key.get)
    # the first node: drawn uniformly (data-independent) among the first tier's nodes with no
    # required parents
    first_tier = order_key[remaining[0]][0]
    starters = [n for n in remaining if order_key[n][0] == first_tier and not required_parents[n]]
    if not starters:
        raise StructureError("every node of the first tier has a required parent: no node can come first")
    first = starters[int(generator.integers(len(starters)))]
    in_network.append(first)
    parents_of[first] = ()
    remaining.remove(first)

    while remaining:
        # nodes of the earliest tier not yet finished, whose required parents are in the network
        current_tier = min(order_key[n][0] for n in remaining)
        eligible = [n for n in remaining if order_key[n][0] == current_tier
                    and required_parents[n] <= set(in_network)]
        if not eligible:
            missing = {n: sorted(required_parents[n] - set(in_network)) for n in remaining
                       if order_key[n][0] == current_tier}
            raise StructureError(f"required edges form a cycle or point across tiers: {missing}")
        candidates: list[tuple[str, tuple[str, ...]]] = []
        for child in eligible:
            rows_of = data.rows_of(child)
            pool = [p for p in in_network if constraints.allows(p, child) and p not in required_parents[child]
                    and _can_be_parent(p, child, variables, schema, parents_of, required_parents)]
            required = tuple(sorted(required_parents[child], key=in_network.index))
            base_cells = cards[child] * math.prod(cards[p] for p in required)
            for size in range(0, max(limit - len(required), 0) + 1):
                for extra in itertools.combinations(pool, size):
                    parents = required + extra
                    cells = base_cells * math.prod(cards[p] for p in extra)
                    if extra and cells * sensitivity[rows_of] > max_cells[rows_of]:
                        continue
                    candidates.append((child, parents))
        if len(candidates) == 1:
            child, parents = candidates[0]  # forced by the constraints: no data look, no budget
        else:
            utilities = np.empty(len(candidates))
            for i, (child, parents) in enumerate(candidates):
                key = (child, tuple(sorted(parents)))
                if key not in score_cache:
                    rows_of = data.rows_of(child)
                    columns = [data.column(p, rows_of) for p in parents] + [data.column(child, rows_of)]
                    counts = family_counts(columns, [cards[p] for p in parents] + [cards[child]])
                    score_cache[key] = r_score(counts) / (SCORE_SENSITIVITY * sensitivity[rows_of])
                utilities[i] = score_cache[key]
            if math.isinf(epsilon_step) or not accountant.is_private:
                choice = int(np.argmax(utilities))
            else:
                choice = noisy_max_index(utilities, sensitivity=1.0, budget=epsilon_step, accountant=accountant,
                                         what=f"structure step {len(in_network)}: choose a family among "
                                              f"{len(candidates)}")
            child, parents = candidates[choice]
        in_network.append(child)
        remaining.remove(child)
        parents_of[child] = parents
        for parent in parents:
            reasons[(parent, child)] = ("required by the expert constraints" if parent in required_parents[child]
                                        else f"chosen by the DP search (epsilon {epsilon:g}, R score)")
        if verbose:
            print(f"  {child} <- {parents} ({len(candidates)} candidates)")
    edges = [(p, child) for child in in_network for p in parents_of[child]]
    tiers = tuple(Tier(f"tier {i + 1}", tuple(t)) for i, t in enumerate(constraints.tiers))
    structure = Structure(tuple(nodes), tuple(edges), tiers, reasons, schema.name)
    if verbose:
        print(f"learned {len(edges)} edges in {time.perf_counter() - started:.1f} s")
    return structure


def _can_be_parent(parent: str, child: str, variables, schema, parents_of, required_parents) -> bool:
    """Sampling order across tables: patient-level nodes are drawn before tumours, outcomes after.

    A child-table node cannot depend on a patient-level outcome (a patient node that depends on a
    tumour), and a patient node that child-table nodes depend on (now, or by a required edge) cannot
    become an outcome.
    """
    root = schema.root_table
    child_table, parent_table = variables[child].table, variables[parent].table
    if child_table != root and parent_table == root:
        return not _is_outcome(parent, variables, root, parents_of)
    if child_table != root and parent_table != child_table:
        return False  # different child tables are not joined
    if child_table == root and (parent_table != root or _is_outcome(parent, variables, root, parents_of)):
        if variables[child].count_of:  # a row count is drawn before the rows it counts
            return False
        return not _feeds_child_tables(child, variables, root, parents_of, required_parents)
    return True


def _feeds_child_tables(node: str, variables, root: str, parents_of, required_parents) -> bool:
    """Whether a child-table node has ``node`` as an ancestor, or will by a required edge."""
    for other in set(parents_of) | set(required_parents):
        if variables[other].table != root and node in _ancestors(other, parents_of, required_parents):
            return True
    return False


def _ancestors(node: str, parents_of, required_parents) -> set[str]:
    seen: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        for parent in (*parents_of.get(current, ()), *required_parents.get(current, ())):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def _is_outcome(node: str, variables, root: str, parents_of) -> bool:
    """Whether ``node`` has an ancestor in a child table (and so is sampled after the child rows)."""
    return any(variables[a].table != root for a in _ancestors(node, parents_of, {}))


# -- non-private hill climbing -------------------------------------------------------------------
def _hill_climb(encoded, schema, nodes, constraints, max_parents, score) -> Structure:
    from pgmpy.causal_discovery import ExpertKnowledge, HillClimbSearch

    frame = _flat_frame(encoded, schema, nodes)
    tier_order = [list(t) for t in constraints.tiers] if constraints.tiers else None
    forbidden = set(constraints.forbidden)
    variables = schema.variables
    root = schema.root_table
    for parent in nodes:  # different child tables are not joined
        for child in nodes:
            pt, ct = variables[parent].table, variables[child].table
            if parent != child and ct != root and pt != root and pt != ct:
                forbidden.add((parent, child))
    knowledge = ExpertKnowledge(forbidden_edges=sorted(forbidden), required_edges=sorted(constraints.required),
                                temporal_order=tier_order)
    in_degree = max_parents if max_parents is not None else constraints.max_in_degree
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    pgmpy_score = {"bic": "bic-d", "bdeu": "bdeu", "k2": "k2"}[score]  # pgmpy 1.x names
    search = HillClimbSearch(scoring_method=pgmpy_score, max_indegree=in_degree, expert_knowledge=knowledge,
                             return_type="dag", show_progress=False)
    dag = search.fit(frame).causal_graph_
    edges = [(str(u), str(v)) for u, v in dag.edges()]
    reasons = {edge: f"chosen by non-private hill climbing ({score})" for edge in edges}
    for edge in constraints.required:
        reasons[edge] = "required by the expert constraints"
    tiers = tuple(Tier(f"tier {i + 1}", tuple(t)) for i, t in enumerate(constraints.tiers))
    structure = Structure(tuple(nodes), tuple(edges), tiers, reasons, schema.name)
    structure.validate_for(schema)
    return structure


def _flat_frame(encoded, schema, nodes) -> pd.DataFrame:
    """One row per row of the largest child table (or per person), every node's codes joined on it."""
    children = [t.name for t in schema.child_tables]
    rows_of = max(children, key=lambda t: encoded.n_rows[t]) if children else schema.root_table
    data = _FamilyColumns(encoded, schema)
    columns = {}
    for node in nodes:
        table = schema.variables[node].table
        if table == rows_of or table == schema.root_table:
            columns[node] = data.column(node, rows_of)
        else:  # another child table's node: its index-row value, through the person
            columns[node] = data.column(node, schema.root_table)[encoded.parent_row[rows_of]]
    # pgmpy reads integer columns as continuous: give it the codes as categories
    return pd.DataFrame({name: pd.Categorical(codes) for name, codes in columns.items()})
