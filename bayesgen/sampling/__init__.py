"""The numba-compiled ancestral sampler."""

from bayesgen.sampling.ancestral import compile_phase, run_phase, sample_ancestral

__all__ = ["compile_phase", "run_phase", "sample_ancestral"]
