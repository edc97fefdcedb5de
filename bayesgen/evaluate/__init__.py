"""Evaluation of synthetic data: fidelity (marginals, associations, survival, TSTR) and privacy.

The package is callable: ``bayesgen.evaluate(real, synthetic, schema, holdout=None)`` returns a
:class:`Report` (see :func:`bayesgen.evaluate.api.evaluate`), while its modules stay importable
(``bayesgen.evaluate.fidelity_summary``, ``from bayesgen.evaluate.marginals import ...``).

The evaluation reads the real data and is NOT differentially private.
"""

import sys
import types

from bayesgen.evaluate.api import evaluate
from bayesgen.evaluate.marginals import fidelity_summary, marginal_distances, total_variation
from bayesgen.evaluate.persons import person_schema, person_view
from bayesgen.evaluate.presets import PRESETS, preset_for
from bayesgen.evaluate.report import Report
from bayesgen.evaluate.specs import SurvivalSpec, TargetSpec

__all__ = ["PRESETS", "Report", "SurvivalSpec", "TargetSpec", "evaluate", "fidelity_summary",
           "marginal_distances", "person_schema", "person_view", "preset_for", "total_variation"]


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`evaluate` so that ``bayesgen.evaluate(...)`` works."""

    def __call__(self, *args, **kwargs) -> Report:
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
