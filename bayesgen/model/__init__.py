"""The public Synthesizer and its JSON model files."""

from bayesgen.model.synthesizer import Synthesizer

__all__ = ["Synthesizer"]
