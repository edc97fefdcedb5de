"""Survival outcomes and TSTR targets declared for the shipped schemas, by schema name.

* ``simulacrum_v2``: overall survival from the index (first) tumour's diagnosis,
  ``VITALSTATUSDATE − DIAGNOSISDATEBEST``, event ``VITALSTATUS == "D"``; target: dead within one
  year of diagnosis. The causes and place of death are outcome columns and are not features.
* ``gbsg2``: recurrence-free survival, ``time`` with event ``cens == 1``; target: recurrence or
  death within two years (only 56 of the 686 patients have an event within one year).
* ``ncr_breast``: overall survival, ``vit_stat_int`` (days from 1 January of the incidence year)
  with event ``vit_stat == "1"``; target: dead within one year.

A schema without a preset gets no survival and no TSTR metric unless ``survival=`` and
``target=`` are passed to :func:`bayesgen.evaluate`.
"""

from __future__ import annotations

from bayesgen.evaluate.specs import SurvivalSpec, TargetSpec

_SIMULACRUM_OS = SurvivalSpec("SIM_AV_PATIENT", event="VITALSTATUS", event_values=("D",),
                              start="DIAGNOSISDATEBEST", end="VITALSTATUSDATE",
                              label="overall survival from the index diagnosis")
_GBSG2_RFS = SurvivalSpec("GBSG2", event="cens", event_values=("1",), duration="time",
                          label="recurrence-free survival")
_NCR_OS = SurvivalSpec("NCR_BREAST", event="vit_stat", event_values=("1",), duration="vit_stat_int",
                       label="overall survival (from 1 January of the incidence year)")

PRESETS: dict[str, tuple[SurvivalSpec, TargetSpec]] = {
    "simulacrum_v2": (_SIMULACRUM_OS, TargetSpec(
        "dead within 1 year", survival=_SIMULACRUM_OS, horizon=365,
        exclude=("DEATHCAUSECODE_1A", "DEATHCAUSECODE_1B", "DEATHCAUSECODE_1C", "DEATHCAUSECODE_2",
                 "DEATHCAUSECODE_UNDERLYING", "DEATHLOCATIONCODE"))),
    "simulacrum_v2_core": (_SIMULACRUM_OS, TargetSpec(
        "dead within 1 year", survival=_SIMULACRUM_OS, horizon=365,
        exclude=("DEATHCAUSECODE_1A", "DEATHCAUSECODE_1B", "DEATHCAUSECODE_1C", "DEATHCAUSECODE_2",
                 "DEATHCAUSECODE_UNDERLYING", "DEATHLOCATIONCODE"))),
    "gbsg2": (_GBSG2_RFS, TargetSpec("recurrence or death within 2 years", survival=_GBSG2_RFS, horizon=730)),
    "ncr_breast": (_NCR_OS, TargetSpec("dead within 1 year", survival=_NCR_OS, horizon=365)),
}


def preset_for(schema_name: str) -> tuple[SurvivalSpec | None, TargetSpec | None]:
    """The (survival, target) preset of a shipped schema, or ``(None, None)``.

    Examples
    --------
    >>> survival, target = preset_for("gbsg2")
    >>> survival.duration, target.horizon
    ('time', 730)
    >>> preset_for("my_registry")
    (None, None)
    """
    return PRESETS.get(schema_name, (None, None))
