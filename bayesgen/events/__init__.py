"""The time-to-event module: what happens to each patient and tumour after diagnosis.

Declared in the schema (:mod:`bayesgen.schema.events`: event types, intervals, and the cut-off of dated
processes or the horizon of duration processes, for data without dates), conditioned
as the structure says (:mod:`bayesgen.structure.event_conditioning`), fitted from noisy event counts
and exposure (:mod:`bayesgen.events.fit`) and sampled by a numba kernel (:mod:`bayesgen.events.sample`).
"""

from bayesgen.events.fit import fit_event_model, pooled_rates
from bayesgen.events.histories import ProcessData
from bayesgen.events.model import EventModel
from bayesgen.events.sample import SampledEvents, sample_units

__all__ = ["EventModel", "ProcessData", "SampledEvents", "fit_event_model", "pooled_rates", "sample_units"]
