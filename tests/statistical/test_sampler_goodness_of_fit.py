"""The sampler draws from the distribution its CPTs define: chi-square tests against exact marginals.

Exact marginals of every family (node with its parents) are computed by pgmpy's variable
elimination, independently of our sampler. For each family, Pearson's chi-square statistic of
N = 200,000 sampled rows against N x exact probabilities is compared with the chi-square quantile
at level alpha / n_families (Bonferroni), pooling cells whose expected count is below 5 so the
asymptotic distribution applies. The false-failure rate of the whole test is therefore at most
alpha = 0.001 (up to the chi-square approximation). A sampler that ignores a parent, swaps two
states or mis-orders strides shifts some family joint by far more than this tolerance.
"""

import warnings

import numpy as np
import pytest
from scipy import stats

from bayesgen.params import ConditionalTable
from bayesgen.params.counts import family_counts
from bayesgen.sampling import sample_ancestral
from bayesgen.structure import Structure

ALPHA = 1e-3
N_ROWS = 200_000


def random_network(seed=7, n_nodes=14):
    rng = np.random.default_rng(seed)
    names = [f"V{i}" for i in range(n_nodes)]
    cards = rng.integers(2, 7, n_nodes)
    cards[3] = 20  # a node with more alias columns (32) than states
    edges = []
    for i in range(1, n_nodes):
        for j in sorted(rng.choice(i, size=int(rng.integers(0, min(3, i) + 1)), replace=False)):
            edges.append((names[j], names[i]))
    structure = Structure.from_edges(edges, nodes=names)
    cpts = {}
    for i, name in enumerate(names):
        parents = structure.parents(name)
        shape = tuple(int(cards[names.index(p)]) for p in parents) + (int(cards[i]),)
        probabilities = rng.dirichlet(np.full(shape[-1], 0.7), size=shape[:-1])
        cpts[name] = ConditionalTable(name, parents, probabilities)
    return structure, cpts


def pooled_chi_square(observed, expected):
    observed, expected = observed.ravel().astype(float), expected.ravel()
    assert observed[expected == 0].sum() == 0, "a zero-probability cell was sampled"
    small = expected < 5
    if small.any():
        observed = np.r_[observed[~small], observed[small].sum()]
        expected = np.r_[expected[~small], expected[small].sum()]
    keep = expected > 0
    statistic = float(((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    return statistic, int(keep.sum()) - 1


@pytest.mark.parametrize("seed", [7, 8])
def test_family_marginals_match_exact_inference(seed):
    from pgmpy.inference import VariableElimination

    structure, cpts = random_network(seed)
    codes = sample_ancestral(cpts, structure.topological_order(), N_ROWS, rng=seed)
    model = structure.to_pgmpy({n: t.probabilities for n, t in cpts.items()})
    inference = VariableElimination(model)
    failures = []
    for node in structure.nodes:
        family = [*structure.parents(node), node]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            factor = inference.query(family, joint=True, show_progress=False)
        exact = np.transpose(factor.values, [factor.variables.index(v) for v in family])
        observed = family_counts([codes[v] for v in family], [cpts[v].card for v in family])
        statistic, dof = pooled_chi_square(observed, N_ROWS * exact)
        threshold = stats.chi2.isf(ALPHA / len(structure.nodes), df=max(dof, 1))
        if statistic > threshold:
            failures.append((node, statistic, threshold))
    assert not failures, f"families whose sampled joint differs from the exact one: {failures}"


def test_the_check_detects_a_wrong_sampler():
    """Negative control: codes drawn from a perturbed network must fail the same test."""
    from pgmpy.inference import VariableElimination

    structure, cpts = random_network(7)
    wrong = dict(cpts)
    node = next(n for n in structure.nodes if structure.parents(n))
    probabilities = cpts[node].probabilities.copy()
    wrong[node] = ConditionalTable(node, cpts[node].parents, probabilities[..., ::-1].copy())  # states reversed
    codes = sample_ancestral(wrong, structure.topological_order(), N_ROWS, rng=1)
    model = structure.to_pgmpy({n: t.probabilities for n, t in cpts.items()})
    family = [*structure.parents(node), node]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        factor = VariableElimination(model).query(family, joint=True, show_progress=False)
    exact = np.transpose(factor.values, [factor.variables.index(v) for v in family])
    statistic, dof = pooled_chi_square(family_counts([codes[v] for v in family],
                                                     [cpts[v].card for v in family]), N_ROWS * exact)
    assert statistic > stats.chi2.isf(ALPHA / len(structure.nodes), df=dof)
