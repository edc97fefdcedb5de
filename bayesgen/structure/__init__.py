"""DAG structures over model variables: expert YAML files, validation, learning, pgmpy interop."""

from bayesgen.structure.constraints import StructureConstraints
from bayesgen.structure.structure import Structure, Tier

__all__ = ["Structure", "StructureConstraints", "Tier", "learn_structure"]


def learn_structure(*args, **kwargs):
    """Learn a DAG from data under expert constraints; see :func:`bayesgen.structure.learn.learn_structure`.

    Examples
    --------
    >>> import bayesgen as bg
    >>> dag = bg.learn_structure(bg.datasets.load_gbsg2(), bg.Schema.load("gbsg2"), epsilon=1.0, rng=0)
    >>> len(dag.nodes)
    10
    """
    from bayesgen.structure.learn import learn_structure as learn

    return learn(*args, **kwargs)
