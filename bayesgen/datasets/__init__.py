"""Embedded data: the simulated reference registry, and loaders of real public datasets."""

from bayesgen.datasets.simulate import reference_model, simulate_registry


def load_gbsg2():
    """The German Breast Cancer Study Group 2 data shipped with lifelines (see :mod:`.gbsg2`)."""
    from bayesgen.datasets.gbsg2 import load_gbsg2 as _load

    return _load()


__all__ = ["load_gbsg2", "reference_model", "simulate_registry"]
