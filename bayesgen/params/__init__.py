"""Parameters: family counts, budget allocation, and CPTs fitted under differential privacy."""

from bayesgen.params.allocation import allocate_budget
from bayesgen.params.counts import family_counts
from bayesgen.params.cpt import ConditionalTable, cpt_from_counts
from bayesgen.params.fit import fit_parameters

__all__ = ["ConditionalTable", "allocate_budget", "cpt_from_counts", "family_counts", "fit_parameters"]
