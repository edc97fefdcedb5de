"""Evaluation of synthetic data: fidelity (and, as issues land, privacy)."""

from bayesgen.evaluate.marginals import fidelity_summary, marginal_distances, total_variation

__all__ = ["fidelity_summary", "marginal_distances", "total_variation"]
