"""The embedded reference registry: SIMULATED Simulacrum-v2-shaped patients, tumours and treatments.

Nothing here is real patient data. The simulator samples a hand-set ground-truth Bayesian network
(:mod:`bayesgen.datasets.reference_network`) whose DAG is ``structures/simulacrum_v2.yaml`` and whose
tables are written from clinical common knowledge (site and sex, age and stage, receptor statuses
among breast tumours, grade and stage, several tumours for some patients), and a ground-truth
time-to-event process (:mod:`bayesgen.datasets.reference_events`: death and exit by age and stage,
surgery by plan and stage) that writes VITALSTATUS, VITALSTATUSDATE and DATE_FIRST_SURGERY, and
SACT regimens and radiotherapy episodes by the index tumour's site, stage and plan
(:mod:`bayesgen.datasets.reference_treatments`, which also gives the treatment tables' and gene
tests' conditional tables). Because its true parameters are known, it is the test bed for recovery
and fidelity.
"""

from __future__ import annotations

import functools

from bayesgen.params.cpt import ConditionalTable
from bayesgen.rng import RandomState
from bayesgen.schema.schema import Schema
from bayesgen.structure.structure import Structure

SCHEMA_FILE = "schemas/simulacrum_v2.yaml"  # all ten Simulacrum v2 tables (the default)
STRUCTURE_FILE = "structures/simulacrum_v2.yaml"
CORE_SCHEMA_FILE = "schemas/simulacrum_v2_core.yaml"  # the patient and tumour tables only
CORE_STRUCTURE_FILE = "structures/simulacrum_v2_core.yaml"


@functools.cache
def reference_model(full: bool = True):
    """The ground-truth model of the simulator, as a ready-to-sample :class:`~bayesgen.Synthesizer`.

    ``full``: the ten-table Simulacrum set (``schemas/simulacrum_v2.yaml``, the default); with
    ``full=False``, the patient and tumour tables only (``schemas/simulacrum_v2_core.yaml``).

    Examples
    --------
    >>> truth = reference_model()
    >>> abs(float(truth.cpts_["GENDER"].probabilities.sum()) - 1.0) < 1e-12
    True
    """
    from bayesgen.datasets.reference_events import reference_hazards
    from bayesgen.datasets.reference_network import reference_cpts
    from bayesgen.events.histories import horizon_days
    from bayesgen.events.layout import build_layouts
    from bayesgen.events.model import EventModel
    from bayesgen.model.synthesizer import Synthesizer

    schema = Schema.load(SCHEMA_FILE if full else CORE_SCHEMA_FILE)
    structure = Structure.load(STRUCTURE_FILE if full else CORE_STRUCTURE_FILE)
    variables = schema.variables
    nodes = [node for _, phase in structure.phases(schema) for node in phase]
    states = {name: variables[name].states() for name in structure.nodes}
    parents = {name: list(structure.parents(name)) for name in nodes}
    from bayesgen.datasets.reference_treatments import TREATMENT_NODES, reference_treatment_cpts

    arrays = reference_cpts(states, {n: parents[n] for n in nodes if n not in TREATMENT_NODES})
    arrays.update(reference_treatment_cpts(states, {n: parents[n] for n in nodes if n in TREATMENT_NODES}))
    cpts = {name: ConditionalTable(name, tuple(parents[name]), arrays[name]) for name in nodes}
    horizon = horizon_days(schema)
    events = EventModel(schema, structure, horizon, reference_hazards(build_layouts(schema, structure, horizon)))
    return Synthesizer.from_cpts(schema, structure, cpts, events=events)


def simulate_registry(n_patients: int, rng: RandomState = None, full: bool = True) -> dict:
    """Simulate a reference registry of ``n_patients`` patients (SIMULATED data, not real).

    Parameters
    ----------
    n_patients : int
    rng : int, Generator or None
    full : bool
        All ten Simulacrum v2 tables (the default, ``schemas/simulacrum_v2.yaml``: patients, tumours,
        gene tests, SACT regimens, cycles, drug administrations and outcomes, radiotherapy episodes,
        prescriptions and exposures); ``False``: the patient and tumour tables only
        (``schemas/simulacrum_v2_core.yaml``).

    Returns
    -------
    dict of str to DataFrame
        The ten tables (or, with ``full=False``, ``"SIM_AV_PATIENT"`` and ``"SIM_AV_TUMOUR"``) in the
        Simulacrum v2 layout.

    Examples
    --------
    >>> sorted(simulate_registry(1_000, rng=0, full=False))
    ['SIM_AV_PATIENT', 'SIM_AV_TUMOUR']
    >>> tables = simulate_registry(1_000, rng=0)
    >>> len(tables), sorted(tables)[:3]
    (10, ['SIM_AV_GENE', 'SIM_AV_PATIENT', 'SIM_AV_TUMOUR'])
    >>> len(tables["SIM_AV_PATIENT"])
    1000
    """
    return reference_model(full).sample(n_patients, rng=rng)
