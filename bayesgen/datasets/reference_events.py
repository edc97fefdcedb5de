"""Ground-truth hazards of the reference-registry simulator's time-to-event process.

Hand-set from common knowledge of cancer survival in England (no data): death hazards that rise
steeply with stage and age and fall with time since diagnosis, a small background of exits (lost to
follow-up, emigration), and surgery concentrated in the first three months, mostly under curative
plans and early stage. Hazards are per day, piecewise constant on the schema's intervals, laid out
as the structure's ``events`` section conditions them (:mod:`bayesgen.events.layout`).

Because the true hazards are known, fitted ones can be compared with them, and survival curves of
synthetic data with the exact curves of the truth.
"""

from __future__ import annotations

import numpy as np

YEAR = 365.25

# annual cancer death hazard by stage group (0 .. 4, unknown), at age 65-74, in the first year
STAGE_DEATH = {"0": 0.004, "1": 0.02, "2": 0.06, "3": 0.20, "4": 0.95, "unknown": 0.40}
# multiplier of the cancer hazard and additive background (other causes) by age group
AGE_DEATH = {"<50": (0.6, 0.002), "50-64": (0.8, 0.007), "65-74": (1.0, 0.018), "75-84": (1.4, 0.05),
             "85+": (2.0, 0.14)}
# cancer hazard multiplier by interval since diagnosis: highest early, falling with time
TIME_DEATH = (1.7, 1.5, 1.25, 1.0, 0.75, 0.5, 0.35)
EXIT_PER_YEAR = 0.004
# daily surgery hazard in the first month by plan intent and stage group, and its shape over time
INTENT_SURGERY = {"C": 1.0, "Z": 0.12, "X": 0.0, "9": 0.45, "None": 0.5}
STAGE_SURGERY = {"0": 0.030, "1": 0.030, "2": 0.025, "3": 0.012, "4": 0.002, "unknown": 0.006}
TIME_SURGERY = (1.0, 1.1, 0.45, 0.12, 0.03, 0.004, 0.0)


def _shape(values: tuple, n_intervals: int) -> np.ndarray:
    return np.asarray([values[min(j, len(values) - 1)] for j in range(n_intervals)])


def reference_hazards(layouts: dict) -> dict[str, np.ndarray]:
    """The true hazards per day of DEATH, EXIT and SURGERY in the given process layouts.

    Examples
    --------
    >>> from bayesgen.datasets.simulate import reference_model
    >>> rates = reference_model().events_.rates
    >>> death = rates["DEATH"]          # stage group x age group x history x interval
    >>> bool(death[..., 0].max() > death[..., -1].max())    # highest in the first month
    True
    """
    out = {}
    for layout in layouts.values():
        for e, name in enumerate(layout.names):
            shape = layout.shapes[e]
            labels = dict(zip(layout.given[e], layout.group_labels[e], strict=True))
            n_intervals = shape[-1]
            table = np.zeros(shape)
            if name == "DEATH":
                time = _shape(TIME_DEATH, n_intervals)
                order = layout.given[e]
                for a, age in enumerate(labels["AGE"]):
                    multiplier, background = AGE_DEATH[age]
                    for s, stage in enumerate(labels["STAGE_BEST"]):
                        index = (a, s) if order.index("AGE") == 0 else (s, a)
                        table[index] = (STAGE_DEATH[stage] * multiplier * time + background) / YEAR
            elif name == "EXIT":
                table[...] = EXIT_PER_YEAR / YEAR
            elif name == "SURGERY":
                intents, stages = labels["CANCERCAREPLANINTENT"], labels["STAGE_BEST"]
                time = _shape(TIME_SURGERY, n_intervals)
                for i, intent in enumerate(intents):
                    for s, stage in enumerate(stages):
                        table[i, s, :, :] = INTENT_SURGERY[intent] * STAGE_SURGERY[stage] * time
            elif name in ("REGIMEN", "RADIOTHERAPY"):
                from bayesgen.datasets.reference_treatments import treatment_hazard_table

                table = treatment_hazard_table(layout, e)
            else:
                raise KeyError(f"the reference registry has no hazards for event {name!r}")
            out[name] = table
    return out
