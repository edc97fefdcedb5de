"""DAG structures over model variables: expert YAML files, validation, learning, pgmpy interop."""

from bayesgen.structure.constraints import StructureConstraints
from bayesgen.structure.learn import learn_structure
from bayesgen.structure.structure import Structure, StructureDiff, Tier

__all__ = ["Structure", "StructureConstraints", "StructureDiff", "Tier", "learn_structure"]
