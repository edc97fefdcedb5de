"""DAG structures over model variables: expert YAML files, validation, learning, pgmpy interop."""

from bayesgen.structure.constraints import StructureConstraints
from bayesgen.structure.learn import learn_structure
from bayesgen.structure.structure import Structure, Tier

__all__ = ["Structure", "StructureConstraints", "Tier", "learn_structure"]
