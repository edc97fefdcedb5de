"""bayesgen: synthetic cancer-registry data from Bayesian networks fitted under differential privacy.

Examples
--------
>>> import bayesgen as bg
>>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
>>> dag = bg.Structure.load("structures/simulacrum_v2.yaml")
>>> model = bg.Synthesizer(schema, structure=dag, epsilon=1.0).fit(bg.datasets.simulate_registry(2_000, rng=0))
>>> sorted(model.sample(50, rng=7))[:3], len(schema.tables)
(['SIM_AV_GENE', 'SIM_AV_PATIENT', 'SIM_AV_TUMOUR'], 10)
"""

from bayesgen import datasets, evaluate
from bayesgen.errors import (
    BayesgenError,
    DataValidationError,
    ModelFileError,
    NotFittedError,
    PrivacyBudgetError,
    SchemaError,
    StructureError,
)
from bayesgen.evaluate import Report
from bayesgen.export.omop import export_omop
from bayesgen.model import Synthesizer
from bayesgen.privacy import PrivacyAccountant
from bayesgen.schema import Schema
from bayesgen.structure import Structure, StructureConstraints, StructureDiff, learn_structure

__all__ = ["BayesgenError", "DataValidationError", "ModelFileError", "NotFittedError", "PrivacyAccountant",
           "PrivacyBudgetError", "Report", "Schema", "SchemaError", "Structure", "StructureConstraints", "StructureDiff",
           "StructureError", "Synthesizer", "datasets", "evaluate", "export_omop", "learn_structure"]
