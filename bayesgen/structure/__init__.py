"""DAG structures over model variables: expert YAML files, validation, pgmpy interop."""

from bayesgen.structure.structure import Structure, Tier

__all__ = ["Structure", "Tier"]
