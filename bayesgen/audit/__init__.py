"""Auditing the privacy claim: empirical ε lower bounds from distinguishing tests."""

from bayesgen.audit.bounds import clopper_pearson, epsilon_lower_bound

__all__ = ["clopper_pearson", "epsilon_lower_bound"]
