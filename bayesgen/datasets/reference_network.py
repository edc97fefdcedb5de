"""Ground truth of the embedded reference-registry simulator: a hand-set Bayesian network.

The true DAG is ``structures/simulacrum_v2.yaml`` (``TRUE_STRUCTURE_PATH``) over the model
variables of ``schemas/simulacrum_v2.yaml``. Every conditional probability table is written here as
a small function of the parents' STATE LABELS (category strings, ``(lo, hi)`` bins, ``None`` for
missing), from clinical and registry common knowledge about cancer in England: site and sex, age and
stage, receptor statuses among breast tumours, Gleason patterns among prostate tumours, grade and
stage, causes of death. Survival, exits and surgery are a time-to-event process with hand-set hazards
(:mod:`bayesgen.datasets.reference_events`). Nothing is estimated from any data.

The probabilities respect every constraint of the schema exactly: :data:`CONSTRAINTS` mirrors the
schema's implications, and the tabulation gives probability 0 to every state of a node that would
violate one of them given its parents, so the simulated "real" registry is internally consistent.
Most other codes get a small non-zero floor so that every category occurs in a large sample.

Numpy only; no randomness.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

TRUE_STRUCTURE_PATH = "structures/simulacrum_v2.yaml"
"""The true DAG of the simulator (a shipped resource, relative to ``bayesgen/resources``)."""

__all__ = ["CONSTRAINTS", "TRUE_STRUCTURE_PATH", "reference_cpts"]


# ---------------------------------------------------------------------------------------------
# constraints (mirror of schemas/simulacrum_v2.yaml)
# ---------------------------------------------------------------------------------------------
def _present(value) -> bool:
    return value is not None


def _absent(value) -> bool:
    return value is None


def _in(*codes: str) -> Callable:
    chosen = frozenset(codes)
    return lambda value: value is not None and str(value) in chosen


def _not_in(*codes: str) -> Callable:
    chosen = frozenset(codes)
    return lambda value: value is not None and str(value) not in chosen


def _startswith(*prefixes: str) -> Callable:
    return lambda value: value is not None and str(value).startswith(prefixes)


class Rule(NamedTuple):
    """``if if_test(if_column) then then_test(then_column)``, on state labels."""

    name: str
    if_column: str
    if_test: Callable
    then_column: str
    then_test: Callable


_DEAD = ("D",)
_M1 = ("1", "1A", "1B", "1C")
_STAGE4 = ("4", "4A", "4B", "4C", "4S")
_T_INVASIVE = ("1", "1A", "1B", "1C", "2", "2A", "2B", "2C", "3", "3A", "3B", "4", "4A", "4B", "4C", "4D")
_PAIRED = ("C34", "C43", "C50", "C56", "C62", "C64", "C71")
_SCREENED = ("C18", "C19", "C20", "C50", "C53")
_GYNAE = ("C53", "C54", "C56")
_MALE_ONLY = ("C61", "C62")

CONSTRAINTS: tuple[Rule, ...] = (
    Rule("underlying cause only if dead", "DEATHCAUSECODE_UNDERLYING", _present, "VITALSTATUS", _in(*_DEAD)),
    Rule("dead has an underlying cause", "VITALSTATUS", _in(*_DEAD), "DEATHCAUSECODE_UNDERLYING", _present),
    Rule("place of death only if dead", "DEATHLOCATIONCODE", _present, "VITALSTATUS", _in(*_DEAD)),
    Rule("1a needs underlying", "DEATHCAUSECODE_1A", _present, "DEATHCAUSECODE_UNDERLYING", _present),
    Rule("1b needs 1a", "DEATHCAUSECODE_1B", _present, "DEATHCAUSECODE_1A", _present),
    Rule("1c needs 1b", "DEATHCAUSECODE_1C", _present, "DEATHCAUSECODE_1B", _present),
    Rule("part II needs underlying", "DEATHCAUSECODE_2", _present, "DEATHCAUSECODE_UNDERLYING", _present),
    Rule("prostate/testis male", "SITE_ICD10_O2", _startswith(*_MALE_ONLY), "GENDER", _in("1")),
    Rule("gynaecological female", "SITE_ICD10_O2", _startswith(*_GYNAE), "GENDER", _in("2")),
    Rule("Gleason primary prostate", "GLEASON_PRIMARY", _present, "SITE_ICD10_O2", _startswith("C61")),
    Rule("Gleason secondary prostate", "GLEASON_SECONDARY", _present, "SITE_ICD10_O2", _startswith("C61")),
    Rule("Gleason tertiary prostate", "GLEASON_TERTIARY", _present, "SITE_ICD10_O2", _startswith("C61")),
    Rule("Gleason tertiary needs secondary", "GLEASON_TERTIARY", _present, "GLEASON_SECONDARY", _present),
    Rule("Gleason combined needs primary", "GLEASON_COMBINED", _present, "GLEASON_PRIMARY", _present),
    Rule("Gleason combined needs secondary", "GLEASON_COMBINED", _present, "GLEASON_SECONDARY", _present),
    Rule("ER breast", "ER_STATUS", _present, "SITE_ICD10_O2", _startswith("C50")),
    Rule("PR breast", "PR_STATUS", _present, "SITE_ICD10_O2", _startswith("C50")),
    Rule("HER2 breast", "HER2_STATUS", _present, "SITE_ICD10_O2", _startswith("C50")),
    Rule("screening sites", "SCREENINGSTATUSFULL_CODE", _present, "SITE_ICD10_O2", _startswith(*_SCREENED)),
    Rule("laterality paired", "LATERALITY", _in("L", "R", "B"), "SITE_ICD10_O2", _startswith(*_PAIRED)),
    Rule("FIGO gynaecological", "STAGE_BEST_SYSTEM", _in("FIGO"), "SITE_ICD10_O2", _startswith(*_GYNAE)),
    Rule("M1 stage 4", "M_BEST", _in(*_M1), "STAGE_BEST", _in(*_STAGE4)),
    Rule("Tis in situ", "T_BEST", _in("IS"), "BEHAVIOUR_ICD10_O2", _in("2")),
    Rule("invasive T not in situ", "T_BEST", _in(*_T_INVASIVE), "BEHAVIOUR_ICD10_O2", _not_in("0", "1", "2")),
    Rule("no active treatment no surgery", "CANCERCAREPLANINTENT", _in("X"), "DATE_FIRST_SURGERY", _absent),
)
"""The schema's constraints, as predicates on state labels (``None`` is the missing state)."""


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _weights(own: list, table: dict, floor: float = 0.0) -> np.ndarray:
    """Weights over ``own`` states: ``table[label]`` where given, else ``floor`` (0 for missing).

    Parameters
    ----------
    own : list
        The node's state labels (``None`` = missing).
    table : dict
        Label to unnormalised weight; ``None`` keys the missing state.
    floor : float
        Weight of every non-missing state absent from ``table``.

    Returns
    -------
    numpy.ndarray
    """
    return np.array([table.get(s, 0.0 if s is None else floor) for s in own], dtype=float)


def _spread(groups: dict) -> dict:
    """Expand ``{(code, ...): weight}`` into ``{code: weight / len(codes)}`` (weights add up).

    Parameters
    ----------
    groups : dict
        Tuple of codes (or a single code) to the total weight shared equally by them.

    Returns
    -------
    dict
    """
    out: dict = {}
    for codes, weight in groups.items():
        codes = codes if isinstance(codes, tuple) else (codes,)
        for code in codes:
            out[code] = out.get(code, 0.0) + weight / len(codes)
    return out


def _day(iso: str) -> int:
    return dt.date.fromisoformat(str(iso)).toordinal()


def _mid(label) -> float:
    """Midpoint of a numeric ``(lo, hi)`` bin."""
    lo, hi = label
    return (float(lo) + float(hi)) / 2.0


def _site3(site) -> str:
    return str(site)[:3]


def _allowed(rule: Rule, node: str, value, parent_labels: dict) -> bool:
    labels = dict(parent_labels)
    labels[node] = value
    return (not rule.if_test(labels[rule.if_column])) or rule.then_test(labels[rule.then_column])


def _tabulate(node: str, states: dict, parents: dict, function: Callable,
              constraints: tuple[Rule, ...] | None = None) -> np.ndarray:
    """Tabulate ``function(parent_labels, own_states)`` over every parent combination.

    Forbidden states (a rule of ``constraints``, default :data:`CONSTRAINTS`, between ``node`` and one
    of its parents would be violated) get probability exactly 0; each row is then normalised to sum
    to 1.

    Parameters
    ----------
    node : str
    states : dict of str to list
    parents : dict of str to list of str
    function : callable
        ``function(pa, own) -> weights`` where ``pa`` maps parent name to its state label.

    Returns
    -------
    numpy.ndarray
        Shape ``(*parent cardinalities, node cardinality)``.

    Raises
    ------
    ValueError
        If a row has no allowed state with positive weight.
    """
    own = list(states[node])
    names = list(parents.get(node, []))
    shape = tuple(len(states[p]) for p in names)
    rules = [r for r in (CONSTRAINTS if constraints is None else constraints)
             if node in (r.if_column, r.then_column)
             and ({r.if_column, r.then_column} - {node}) <= set(names)
             and r.if_column != r.then_column]
    table = np.zeros((*shape, len(own)), dtype=float)
    for index in np.ndindex(*shape):
        pa = {name: states[name][i] for name, i in zip(names, index, strict=True)}
        weights = np.asarray(function(pa, own), dtype=float)
        if weights.shape != (len(own),) or np.any(weights < 0) or not np.all(np.isfinite(weights)):
            raise ValueError(f"{node}: bad weights for parents {pa}")
        for rule in rules:
            for k, value in enumerate(own):
                if weights[k] and not _allowed(rule, node, value, pa):
                    weights[k] = 0.0
        total = weights.sum()
        if total <= 0:
            raise ValueError(f"{node}: no allowed state for parents {pa}")
        table[index] = weights / total
    return table


# ---------------------------------------------------------------------------------------------
# patient
# ---------------------------------------------------------------------------------------------
def _gender(pa, own):
    return _weights(own, {"1": 0.497, "2": 0.498, "9": 0.003, "X": 0.002})


def _ethnicity(pa, own):
    return _weights(own, {"A": 0.80, "B": 0.010, "C": 0.035, "D": 0.003, "E": 0.002, "F": 0.002,
                          "G": 0.004, "H": 0.018, "J": 0.010, "K": 0.004, "L": 0.008, "M": 0.012,
                          "N": 0.010, "P": 0.003, "R": 0.003, "S": 0.008, "Z": 0.030, "X": 0.040,
                          "0": 0.002, "8": 0.001, None: 0.005}, floor=0.001)


def _n_tumours(pa, own):
    by_sex = {"1": (0.58, 0.30, 0.12), "2": (0.63, 0.27, 0.10)}
    probs = by_sex.get(pa.get("GENDER"), (0.75, 0.20, 0.05))
    return _weights(own, dict(zip((1, 2, 3), probs, strict=True)))


# ---------------------------------------------------------------------------------------------
# tumour: demography
# ---------------------------------------------------------------------------------------------
_AGE_FEMALE = {0: 0.03, 30: 0.04, 40: 0.09, 50: 0.07, 55: 0.08, 60: 0.09, 65: 0.11, 70: 0.13,
               75: 0.12, 80: 0.10, 85: 0.08, 90: 0.06}
_AGE_MALE = {0: 0.02, 30: 0.02, 40: 0.04, 50: 0.05, 55: 0.08, 60: 0.11, 65: 0.14, 70: 0.16,
             75: 0.14, 80: 0.11, 85: 0.08, 90: 0.05}


def _age(pa, own):
    sex = pa.get("GENDER")
    n = pa.get("N_TUMOURS", 1) or 1
    out = []
    for label in own:
        if label is None:
            out.append(0.0)
            continue
        lo = int(label[0])
        if sex == "1":
            base = _AGE_MALE.get(lo, 0.01)
        elif sex == "2":
            base = _AGE_FEMALE.get(lo, 0.01)
        else:
            base = (_AGE_MALE.get(lo, 0.01) + _AGE_FEMALE.get(lo, 0.01)) / 2
        # several primaries: older at diagnosis
        shift = max(0.2, 1.0 + 0.25 * (int(n) - 1) * (_mid(label) - 62.0) / 25.0)
        out.append(base * shift)
    return np.array(out)


def _diagnosis_date(pa, own):
    # slowly rising incidence over the period
    return np.array([0.0 if s is None else 1.0 + 0.01 * i for i, s in enumerate(own)])


_LONDON_LIKE, _WMIDS_LIKE = "L0401", "L0801"
_WHITE_OR_UNKNOWN = {"A", "B", "C", "0", "Z", "X", None}


def _creg(pa, own):
    base = {"L0201": 0.10, "L0301": 0.11, "L0401": 0.14, "L0801": 0.10, "L0901": 0.12,
            "L1001": 0.09, "L1201": 0.11, "L1401": 0.12, "L1701": 0.11}
    if pa.get("ETHNICITY") not in _WHITE_OR_UNKNOWN:
        base = dict(base)
        base[_LONDON_LIKE] *= 3.0
        base[_WMIDS_LIKE] *= 2.0
    return _weights(own, base, floor=0.05)


_CREG_DEPRIVATION = {"L0201": 0.5, "L0301": 0.3, "L0401": 0.2, "L0801": 0.3, "L0901": -0.4,
                     "L1001": -0.3, "L1201": 0.0, "L1401": -0.2, "L1701": 0.1}
_ETHNIC_DEPRIVATION = {"J": 0.6, "K": 0.7, "M": 0.5, "N": 0.5, "P": 0.4, "H": 0.1, "R": -0.1,
                       "E": 0.3, "D": 0.4}


def _quintile(pa, own):
    tilt = _CREG_DEPRIVATION.get(pa.get("CREG_CODE"), 0.0) + _ETHNIC_DEPRIVATION.get(pa.get("ETHNICITY"), 0.0)
    out = []
    for rank, label in enumerate(own):
        if label is None:
            out.append(0.005)
        else:  # rank 0 = most deprived; positive tilt favours deprived quintiles
            out.append(0.2 * math.exp(-0.35 * tilt * (rank - 2)))
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# tumour: site and histology
# ---------------------------------------------------------------------------------------------
_SITE_MALE = {"C15": 0.030, "C16": 0.020, "C18": 0.080, "C19": 0.008, "C20": 0.040, "C22": 0.020,
              "C25": 0.030, "C32": 0.010, "C34": 0.130, "C43": 0.035, "C50": 0.003, "C61": 0.270,
              "C62": 0.012, "C64": 0.045, "C67": 0.060, "C71": 0.012, "C73": 0.007, "C80": 0.025}
_SITE_FEMALE = {"C15": 0.012, "C16": 0.010, "C18": 0.075, "C19": 0.006, "C20": 0.025, "C22": 0.010,
                "C25": 0.030, "C32": 0.003, "C34": 0.120, "C43": 0.035, "C50": 0.310, "C53": 0.020,
                "C54": 0.050, "C56": 0.035, "C64": 0.030, "C67": 0.020, "C71": 0.009, "C73": 0.020,
                "C80": 0.030}
# (centre, width) of the age-incidence bump of each site, years
_SITE_AGE = {"C15": (72, 11), "C16": (74, 11), "C18": (72, 12), "C19": (70, 12), "C20": (68, 12),
             "C22": (70, 12), "C25": (72, 11), "C32": (66, 11), "C34": (72, 11), "C43": (62, 20),
             "C50": (62, 15), "C53": (45, 15), "C54": (66, 11), "C56": (65, 14), "C61": (72, 9),
             "C62": (35, 12), "C64": (66, 13), "C67": (75, 11), "C71": (55, 25), "C73": (48, 18),
             "C80": (78, 11)}
_SUBSITE = {
    "C50": {"C500": 0.01, "C501": 0.06, "C502": 0.08, "C503": 0.04, "C504": 0.30, "C505": 0.05,
            "C506": 0.01, "C508": 0.12, "C509": 0.33},
    "C18": {"C180": 0.20, "C181": 0.04, "C182": 0.12, "C183": 0.05, "C184": 0.06, "C185": 0.03,
            "C186": 0.05, "C187": 0.25, "C188": 0.04, "C189": 0.10},
    "C34": {"C340": 0.05, "C341": 0.35, "C342": 0.04, "C343": 0.20, "C348": 0.06, "C349": 0.30},
    "C43": {"C430": 0.005, "C431": 0.01, "C432": 0.03, "C433": 0.10, "C434": 0.08, "C435": 0.30,
            "C436": 0.20, "C437": 0.20, "C438": 0.02, "C439": 0.04},
    "C67": {"C670": 0.04, "C671": 0.04, "C672": 0.10, "C673": 0.04, "C674": 0.08, "C675": 0.04,
            "C676": 0.03, "C677": 0.02, "C678": 0.11, "C679": 0.50},
}


def _subsite_weight(site: str) -> float:
    group = _site3(site)
    if group in _SUBSITE:
        return _SUBSITE[group].get(site, 0.01)
    if site.endswith("X"):
        return 1.0
    if site.endswith("9"):
        return 3.0
    if site.endswith("8"):
        return 1.0
    return 1.5


def _site(pa, own):
    sex = pa.get("GENDER")
    age = pa.get("AGE")
    mid = _mid(age) if age is not None else 65.0
    if sex == "1":
        base = _SITE_MALE
    elif sex == "2":
        base = _SITE_FEMALE
    else:
        base = {g: (_SITE_MALE.get(g, 0) + _SITE_FEMALE.get(g, 0)) / 2 for g in set(_SITE_MALE) | set(_SITE_FEMALE)}
    totals: dict = {}
    for site in own:
        if site is not None:
            totals[_site3(site)] = totals.get(_site3(site), 0.0) + _subsite_weight(site)
    out = []
    for site in own:
        if site is None:
            out.append(0.0)
            continue
        group = _site3(site)
        centre, width = _SITE_AGE.get(group, (65, 15))
        bump = math.exp(-0.5 * ((mid - centre) / width) ** 2) + 1e-3
        share = _subsite_weight(site) / totals[group]
        out.append((base.get(group, 0.0) * bump + 1e-5) * share)
    return np.array(out)


_MORPH_BY_SITE = {
    "C15": {"8140": 0.50, "8070": 0.35, "8010": 0.05, "8020": 0.02, "8000": 0.03, "8041": 0.01},
    "C16": {"8140": 0.60, "8490": 0.15, "8010": 0.08, "8000": 0.05, "8480": 0.03, "8020": 0.03},
    "C18": {"8140": 0.80, "8480": 0.08, "8010": 0.04, "8000": 0.04, "8490": 0.02},
    "C19": {"8140": 0.82, "8480": 0.06, "8010": 0.04, "8000": 0.04},
    "C20": {"8140": 0.84, "8480": 0.05, "8010": 0.04, "8000": 0.04, "8070": 0.01},
    "C22": {"8170": 0.55, "8160": 0.20, "8000": 0.12, "8010": 0.06, "8140": 0.05},
    "C25": {"8140": 0.45, "8500": 0.08, "8000": 0.25, "8010": 0.12, "8020": 0.03, "8480": 0.03},
    "C32": {"8070": 0.90, "8000": 0.03, "8010": 0.03},
    "C34": {"8140": 0.30, "8070": 0.20, "8046": 0.15, "8041": 0.12, "8010": 0.08, "8000": 0.10,
            "8020": 0.02},
    "C43": {"8720": 0.55, "8743": 0.40, "8000": 0.02},
    "C50": {"8500": 0.75, "8520": 0.12, "8010": 0.02, "8140": 0.02, "8480": 0.02, "8000": 0.01},
    "C53": {"8070": 0.75, "8140": 0.15, "8010": 0.03, "8000": 0.02, "8380": 0.01},
    "C54": {"8380": 0.70, "8441": 0.08, "8140": 0.07, "8310": 0.03, "8010": 0.03, "8000": 0.03,
            "8020": 0.02},
    "C56": {"8441": 0.60, "8380": 0.08, "8310": 0.06, "8480": 0.05, "8140": 0.08, "8000": 0.06,
            "8010": 0.04},
    "C61": {"8140": 0.95, "8000": 0.03, "8010": 0.01},
    "C62": {"9061": 0.55, "9070": 0.15, "8000": 0.05},
    "C64": {"8312": 0.45, "8310": 0.30, "8260": 0.06, "8000": 0.06, "8010": 0.03},
    "C67": {"8120": 0.55, "8130": 0.30, "8070": 0.03, "8140": 0.02, "8010": 0.03, "8000": 0.03},
    "C71": {"9440": 0.50, "9400": 0.20, "8000": 0.25},
    "C73": {"8260": 0.75, "8330": 0.12, "8020": 0.03, "8000": 0.02, "8010": 0.02},
    "C80": {"8000": 0.35, "8010": 0.25, "8140": 0.25, "8070": 0.07, "8020": 0.03, "8041": 0.02},
}


def _morph(pa, own):
    table = _MORPH_BY_SITE.get(_site3(pa.get("SITE_ICD10_O2")), {"8000": 0.5, "8010": 0.3, "8140": 0.2})
    return _weights(own, table, floor=1e-4)


_BEHAVIOUR_BY_MORPH = {
    "8500": {"3": 0.88, "2": 0.11},
    "8520": {"3": 0.93, "2": 0.06},
    "8720": {"3": 0.85, "2": 0.14},
    "8743": {"3": 0.97, "2": 0.02},
    "8130": {"3": 0.45, "2": 0.50, "1": 0.03},
    "8120": {"3": 0.85, "2": 0.12},
    "8070": {"3": 0.93, "2": 0.05},
    "8140": {"3": 0.96, "2": 0.02},
    "8010": {"3": 0.94, "2": 0.03},
    "8000": {"3": 0.85, "1": 0.04, "0": 0.01, "9": 0.04, "6": 0.03, "X": 0.02},
}
_ALWAYS_MALIGNANT = {"9440", "8041", "8046", "8020", "8170", "8160"}


def _behaviour(pa, own):
    morph = pa.get("MORPH_ICD10_O2")
    if morph in _BEHAVIOUR_BY_MORPH:
        table = dict(_BEHAVIOUR_BY_MORPH[morph])
    elif morph in _ALWAYS_MALIGNANT:
        table = {"3": 0.99}
    else:
        table = {"3": 0.97, "2": 0.01}
    for code, small in (("9", 2e-3), ("6", 1e-3), ("X", 1e-3), ("5", 5e-4), ("1", 5e-4), ("0", 3e-4)):
        table.setdefault(code, small)
    return _weights(own, table, floor=3e-4)


# ---------------------------------------------------------------------------------------------
# tumour: TNM and stage
# ---------------------------------------------------------------------------------------------
_T_BY_SITE = {
    "C50": {("1",): 0.05, ("1A",): 0.02, ("1B",): 0.10, ("1C",): 0.28, ("2",): 0.33, ("3",): 0.05,
            ("4",): 0.01, ("4A",): 0.005, ("4B",): 0.025, ("4C",): 0.003, ("4D",): 0.01,
            ("X",): 0.04, (None,): 0.08, ("0",): 0.005},
    "C34": {("1", "1A", "1B", "1C"): 0.12, ("2", "2A", "2B"): 0.20, ("3",): 0.22, ("4",): 0.28,
            ("X",): 0.06, (None,): 0.09},
    "C61": {("1",): 0.02, ("1C",): 0.10, ("2",): 0.10, ("2A",): 0.06, ("2B",): 0.04, ("2C",): 0.10,
            ("3",): 0.05, ("3A",): 0.12, ("3B",): 0.08, ("4",): 0.08, ("X",): 0.10, (None,): 0.15},
    "C18": {("1",): 0.10, ("2",): 0.15, ("3",): 0.40, ("4A",): 0.12, ("4B",): 0.08, ("X",): 0.05,
            (None,): 0.10},
    "C67": {("1",): 0.40, ("2", "2A", "2B"): 0.25, ("3", "3A", "3B"): 0.10, ("4", "4A", "4B"): 0.08,
            ("X",): 0.05, (None,): 0.12},
    "C43": {("1", "1A", "1B"): 0.45, ("2", "2A", "2B"): 0.20, ("3", "3A", "3B"): 0.12,
            ("4", "4A", "4B"): 0.10, ("X",): 0.05, (None,): 0.08, ("0",): 0.01},
    "C64": {("1A",): 0.30, ("1B",): 0.20, ("2", "2A", "2B"): 0.10, ("3A",): 0.20, ("3B", "3"): 0.05,
            ("4",): 0.04, ("X",): 0.03, (None,): 0.08},
    "GYN": {("1", "1A", "1B", "1C"): 0.45, ("2", "2A", "2B"): 0.15, ("3", "3A", "3B"): 0.18,
            ("4",): 0.05, ("X",): 0.03, (None,): 0.14},
    "C73": {("1", "1A", "1B"): 0.45, ("2",): 0.20, ("3", "3A", "3B"): 0.20, ("4", "4A", "4B"): 0.05,
            ("X",): 0.03, (None,): 0.07},
    "NONE": {(None,): 0.85, ("X",): 0.10},
    "OTHER": {("1", "1A", "1B"): 0.15, ("2",): 0.20, ("3",): 0.30, ("4", "4A", "4B"): 0.15,
              ("X",): 0.07, (None,): 0.13},
}
_T_GROUP = {"C19": "C18", "C20": "C18", "C53": "GYN", "C54": "GYN", "C56": "GYN", "C71": "NONE",
            "C80": "NONE"}


def _t(pa, own):
    group = _site3(pa.get("SITE_ICD10_O2"))
    behaviour = pa.get("BEHAVIOUR_ICD10_O2")
    if behaviour == "2":  # in situ: Tis, or Ta for bladder
        table = {"A": 0.70, "IS": 0.20} if group == "C67" else {"IS": 0.78}
        table.update({"X": 0.05, None: 0.15, "0": 0.02})
        return _weights(own, table, floor=2e-4)
    if behaviour in ("0", "1"):
        return _weights(own, {None: 0.70, "X": 0.20, "0": 0.10}, floor=2e-4)
    key = group if group in _T_BY_SITE else _T_GROUP.get(group, "OTHER")
    table = {}
    for codes, weight in _T_BY_SITE[key].items():
        for code in codes:
            table[code] = table.get(code, 0.0) + weight / len(codes)
    if behaviour in ("X", "9", "6", "5"):  # poorly documented records: staging often incomplete
        table[None] = table.get(None, 0.0) + 0.3
        table["X"] = table.get("X", 0.0) + 0.1
    weights = _weights(own, table, floor=2e-4)
    if group != "C67":  # Ta exists for urothelial tumours only
        weights[[k for k, s in enumerate(own) if s == "A"]] = 0.0
    return weights


_M_RATE = {"C34": 0.45, "C25": 0.50, "C80": 0.30, "C15": 0.35, "C16": 0.35, "C22": 0.30, "C18": 0.22,
           "C19": 0.22, "C20": 0.15, "C56": 0.30, "C64": 0.18, "C61": 0.12, "C67": 0.07, "C50": 0.05,
           "C43": 0.04, "C53": 0.10, "C54": 0.06, "C73": 0.03, "C62": 0.10, "C32": 0.06, "C71": 0.01}


def _m(pa, own):
    group = _site3(pa.get("SITE_ICD10_O2"))
    age = pa.get("AGE")
    mid = _mid(age) if age is not None else 65.0
    older = max(0.0, (mid - 65.0) / 10.0)
    m1 = min(0.85, _M_RATE.get(group, 0.15) * (1.0 + 0.15 * (mid - 65.0) / 10.0))
    m1 = max(m1, 0.005)
    unknown_x = 0.06 + 0.03 * older
    missing = 0.06 + 0.03 * older
    if group in ("C71", "C80"):
        missing = 0.85 if group == "C71" else 0.55
    known = max(0.0, 1.0 - unknown_x - missing)
    table = {"0": known * (1.0 - m1), "1": known * m1 * 0.60, "1A": known * m1 * 0.15,
             "1B": known * m1 * 0.15, "1C": known * m1 * 0.10, "X": unknown_x, None: missing}
    return _weights(own, table, floor=2e-4)


def _t_level(t) -> int | None:
    """0 for T0/Ta/Tis, 1-4 for T1-T4, None for X or missing."""
    if t is None or t == "X":
        return None
    if t in ("0", "A", "IS"):
        return 0
    return int(str(t)[0])


def _n(pa, own):
    t, m = pa.get("T_BEST"), pa.get("M_BEST")
    level = _t_level(t)
    metastatic = m in _M1
    if t in ("A", "IS"):
        return _weights(own, {"0": 0.90, "X": 0.05, None: 0.05}, floor=3e-4)
    positive = {None: 0.30, 0: 0.05, 1: 0.15, 2: 0.30, 3: 0.50, 4: 0.60}[level]
    if t == "X":
        positive = 0.35
    if metastatic:
        positive = min(0.9, positive + 0.25)
    if t is None:
        missing = 0.85 if m is None else 0.70
        unknown_x = 0.10
    elif t == "X":
        missing, unknown_x = 0.10, 0.50
    else:
        missing, unknown_x = 0.05, 0.05
    known = max(0.0, 1.0 - missing - unknown_x)
    severe = 0.0 if level is None else max(0.0, (level - 2) * 0.08)
    n1, n2, n3 = 0.55 - severe, 0.30, 0.15 + severe
    table = {"0": known * (1 - positive), "X": unknown_x, None: missing}
    table.update(_spread({("1",): known * positive * n1 * 0.5, ("1A",): known * positive * n1 * 0.25,
                          ("1B",): known * positive * n1 * 0.15, ("1C",): known * positive * n1 * 0.10,
                          ("2",): known * positive * n2 * 0.5, ("2A",): known * positive * n2 * 0.25,
                          ("2B",): known * positive * n2 * 0.15, ("2C",): known * positive * n2 * 0.10,
                          ("3",): known * positive * n3 * 0.6, ("3A",): known * positive * n3 * 0.2,
                          ("3B",): known * positive * n3 * 0.12, ("3C",): known * positive * n3 * 0.08}))
    return _weights(own, table, floor=3e-4)


_STAGE_GROUP = {
    0: ("0", "0A", "0IS"),
    1: ("1", "1A", "1A1", "1A2", "1B", "1B1", "1B2", "1C"),
    2: ("2", "2A", "2B", "2C"),
    3: ("3", "3A", "3B", "3C"),
    4: ("4", "4A", "4B", "4C"),
}
_STAGE_SUB = {"1": 0.30, "1A": 0.25, "1A1": 0.01, "1A2": 0.01, "1B": 0.15, "1B1": 0.02, "1B2": 0.02,
              "1C": 0.05, "2": 0.35, "2A": 0.35, "2B": 0.22, "2C": 0.08, "3": 0.35, "3A": 0.30,
              "3B": 0.20, "3C": 0.15, "4": 0.50, "4A": 0.25, "4B": 0.20, "4C": 0.05}
_STAGE_UNKNOWN = ("?", "U", "X", "6")


def _stage_level(stage) -> int | None:
    if stage is None or stage in _STAGE_UNKNOWN:
        return None
    if stage == "4S":
        return 4
    return int(str(stage)[0])


def _stage(pa, own):
    t, m = pa.get("T_BEST"), pa.get("M_BEST")
    if m in _M1:  # M1: stage 4 only (the constraint removes everything else)
        return _weights(own, {"4": 0.50, "4A": 0.20, "4B": 0.20, "4C": 0.07, "4S": 0.001})
    level = _t_level(t)
    if t == "A":
        groups = {"0A": 0.85, "0": 0.08}
    elif t == "IS":
        groups = {"0IS": 0.60, "0": 0.33}
    else:
        shares = {0: {0: 0.20, 1: 0.10, 2: 0.30, 3: 0.25},
                  1: {1: 0.72, 2: 0.15, 3: 0.08, 4: 0.005},
                  2: {1: 0.20, 2: 0.52, 3: 0.20, 4: 0.01},
                  3: {2: 0.35, 3: 0.52, 4: 0.05},
                  4: {2: 0.05, 3: 0.60, 4: 0.25},
                  None: {1: 0.04, 2: 0.04, 3: 0.04, 4: 0.03}}[level]
        groups = {}
        for group, weight in shares.items():
            codes = _STAGE_GROUP[group]
            total = sum(_STAGE_SUB.get(c, 0.3) for c in codes)
            for code in codes:
                groups[code] = groups.get(code, 0.0) + weight * _STAGE_SUB.get(code, 0.3) / total
    if t is None:
        groups.update({None: 0.70, "X": 0.10, "U": 0.05, "?": 0.02, "6": 0.01})
    elif t == "X":
        groups.update({None: 0.50, "X": 0.20, "U": 0.10, "?": 0.05, "6": 0.005})
    else:
        groups.update({None: 0.04, "X": 0.01, "U": 0.005, "?": 0.005, "6": 0.002})
    if m == "X":
        groups[None] *= 3.0
        groups["X"] *= 3.0
    elif m is None:
        groups[None] *= 4.0
    groups["4S"] = 1e-4
    return _weights(own, groups, floor=3e-4)


_GRADE_BY_MORPH = {
    "8500": {"G1": 0.15, "G2": 0.45, "G3": 0.37, "GX": 0.02},
    "8520": {"G1": 0.10, "G2": 0.75, "G3": 0.13},
    "8140": {"G1": 0.12, "G2": 0.55, "G3": 0.25, "GX": 0.05},
    "8070": {"G1": 0.10, "G2": 0.50, "G3": 0.30, "GX": 0.05},
    "8120": {"GH": 0.50, "GL": 0.35, "G3": 0.08, "G2": 0.04},
    "8130": {"GH": 0.40, "GL": 0.45, "G3": 0.05, "G2": 0.05},
    "8441": {"GH": 0.75, "GL": 0.10, "G3": 0.10},
    "8380": {"G1": 0.45, "G2": 0.30, "G3": 0.20},
    "8041": {"G4": 0.20, "G3": 0.20, "GX": 0.10, None: 0.50},
    "8046": {"G3": 0.30, "G2": 0.20, "GX": 0.10, None: 0.40},
    "9440": {"G4": 0.50, None: 0.45},
    "9400": {"G2": 0.30, "G3": 0.20, None: 0.45},
    "8720": {None: 0.90, "GX": 0.08},
    "8743": {None: 0.90, "GX": 0.08},
    "9061": {None: 0.90, "GX": 0.08},
    "9070": {None: 0.90, "GX": 0.08},
    "8260": {"G1": 0.30, "G2": 0.10, None: 0.55},
    "8330": {"G1": 0.30, "G2": 0.10, None: 0.55},
    "8312": {"G1": 0.10, "G2": 0.40, "G3": 0.30, "G4": 0.10, None: 0.10},
    "8310": {"G1": 0.10, "G2": 0.40, "G3": 0.30, "G4": 0.10, None: 0.10},
    "8170": {"G1": 0.15, "G2": 0.40, "G3": 0.20, None: 0.20},
    "8160": {"G1": 0.15, "G2": 0.40, "G3": 0.20, None: 0.20},
    "8020": {"G4": 0.40, "G3": 0.20, "GX": 0.15, None: 0.25},
    "8000": {"G3": 0.20, "GX": 0.30, None: 0.40, "G2": 0.10},
    "8010": {"G3": 0.25, "GX": 0.25, None: 0.35, "G2": 0.15},
}
_GRADE_DEFAULT = {"G1": 0.15, "G2": 0.40, "G3": 0.25, "GX": 0.05, None: 0.15}


def _grade(pa, own):
    table = dict(_GRADE_BY_MORPH.get(pa.get("MORPH_ICD10_O2"), _GRADE_DEFAULT))
    table.setdefault("GI", 0.01)
    level = _stage_level(pa.get("STAGE_BEST"))
    if level is not None:
        for code in ("G3", "G4", "GH"):
            if code in table:
                table[code] *= max(0.1, 1.0 + 0.25 * (level - 2))
        for code in ("G1", "GL"):
            if code in table:
                table[code] *= max(0.1, 1.0 - 0.15 * (level - 2))
    else:
        table[None] = table.get(None, 0.02) * 1.5 + 0.02
    table.setdefault(None, 0.02)
    return _weights(own, table, floor=5e-4)


def _stage_system(pa, own):
    group = _site3(pa.get("SITE_ICD10_O2"))
    date = pa.get("DIAGNOSISDATEBEST")
    eighth = date is not None and str(date[0]) >= "2018-01-01"
    uicc = {"UICC 8": 0.90, "UICC 7": 0.10} if eighth else {"UICC 7": 0.97, "UICC 8": 0.03}
    missing = {"C71": 0.90, "C80": 0.85}.get(group, 0.14)
    known = 1.0 - missing
    if group in _GYNAE:
        table = {"FIGO": 0.75 * known, "Other": 0.01 * known}
        share = 0.24 * known
    elif group in ("C18", "C19", "C20"):
        table = {"Dukes": 0.06 * known, "Other": 0.01 * known}
        share = 0.93 * known
    else:
        table = {"Other": 0.01 * known}
        share = 0.99 * known
    for code, weight in uicc.items():
        table[code] = share * weight
    table[None] = missing
    return _weights(own, table, floor=2e-4)


def _laterality(pa, own):
    group = _site3(pa.get("SITE_ICD10_O2"))
    if group == "C50":
        table = {"L": 0.49, "R": 0.46, "B": 0.01, "9": 0.01, None: 0.03}
    elif group in ("C34", "C56", "C62", "C64"):
        table = {"L": 0.44, "R": 0.45, "B": 0.10 if group == "C56" else 0.005, "9": 0.03, None: 0.05}
    elif group in ("C43", "C71"):
        table = {"L": 0.30, "R": 0.30, "M": 0.15, "9": 0.10, None: 0.15}
    else:
        table = {"8": 0.50, None: 0.42, "M": 0.03, "9": 0.05}
    return _weights(own, table, floor=5e-4)


def _screening(pa, own):
    group = _site3(pa.get("SITE_ICD10_O2"))
    age = pa.get("AGE")
    lo = int(age[0]) if age is not None else 65
    if group == "C50":
        in_window = 50 <= lo < 75
        table = ({"1": 0.35, "2": 0.02, "3": 0.005, "4": 0.12, "5": 0.05, "6": 0.08, "7": 0.02,
                  "8": 0.05, "9": 0.08, None: 0.18} if in_window else
                 {"1": 0.01, "7": 0.05, "8": 0.55, "9": 0.10, None: 0.28})
    elif group in ("C18", "C19", "C20"):
        in_window = 60 <= lo < 75
        table = ({"1": 0.12, "2": 0.01, "3": 0.03, "4": 0.05, "5": 0.04, "6": 0.15, "7": 0.03,
                  "8": 0.05, "9": 0.10, None: 0.42} if in_window else
                 {"3": 0.01, "8": 0.40, "9": 0.10, None: 0.45})
    elif group == "C53":
        in_window = 30 <= lo < 65 or lo == 0
        table = ({"1": 0.35, "2": 0.02, "4": 0.10, "5": 0.10, "6": 0.15, "7": 0.02, "9": 0.08,
                  None: 0.20} if in_window else
                 {"5": 0.05, "8": 0.50, "9": 0.10, None: 0.35})
    else:
        return _weights(own, {None: 1.0})
    return _weights(own, table, floor=1e-3)


# ---------------------------------------------------------------------------------------------
# tumour: receptors (breast) and Gleason (prostate)
# ---------------------------------------------------------------------------------------------
def _er(pa, own):
    if _site3(pa.get("SITE_ICD10_O2")) != "C50":
        return _weights(own, {None: 1.0})
    positive = {"G1": 0.95, "G2": 0.90, "G3": 0.60, "G4": 0.55}.get(pa.get("GRADE"), 0.82)
    tested = 0.87
    return _weights(own, {"P": tested * positive, "N": tested * (1 - positive), "B": 0.01,
                          "X": 0.04, "U": 0.03, None: 0.05})


def _pr(pa, own):
    if _site3(pa.get("SITE_ICD10_O2")) != "C50":
        return _weights(own, {None: 1.0})
    er = pa.get("ER_STATUS")
    table = {"P": {"P": 0.80, "N": 0.17, "B": 0.01, "X": 0.01, "U": 0.01, None: 0.03},
             "N": {"N": 0.92, "P": 0.04, "B": 0.005, "X": 0.01, "U": 0.01, None: 0.02},
             "B": {"B": 0.30, "N": 0.40, "P": 0.25, None: 0.05},
             "X": {"X": 0.80, "U": 0.05, None: 0.15},
             "U": {"U": 0.70, "X": 0.10, None: 0.15},
             None: {None: 0.90, "X": 0.05, "U": 0.05}}[er]
    return _weights(own, table, floor=1e-3)


def _her2(pa, own):
    if _site3(pa.get("SITE_ICD10_O2")) != "C50":
        return _weights(own, {None: 1.0})
    er = pa.get("ER_STATUS")
    table = {"P": {"P": 0.10, "N": 0.82, "B": 0.04, "X": 0.02, "U": 0.02, None: 0.03},
             "N": {"P": 0.30, "N": 0.60, "B": 0.04, "X": 0.02, "U": 0.02, None: 0.03},
             "B": {"P": 0.15, "N": 0.70, "B": 0.10, None: 0.05},
             "X": {"X": 0.75, "U": 0.05, None: 0.20},
             "U": {"U": 0.65, "X": 0.10, None: 0.20},
             None: {None: 0.85, "X": 0.08, "U": 0.05}}[er]
    return _weights(own, table, floor=1e-3)


def _gleason_primary(pa, own):
    if _site3(pa.get("SITE_ICD10_O2")) != "C61":
        return _weights(own, {None: 1.0})
    m = pa.get("M_BEST")
    if m in _M1:
        table = {"3": 0.20, "4": 0.50, "5": 0.30, None: 0.55}
    elif m is None:
        table = {"3": 0.55, "4": 0.35, "5": 0.10, None: 0.45}
    else:
        table = {"3": 0.60, "4": 0.33, "5": 0.06, "2": 0.005, None: 0.25}
    return _weights(own, table, floor=1e-3)


def _gleason_secondary(pa, own):
    if _site3(pa.get("SITE_ICD10_O2")) != "C61":
        return _weights(own, {None: 1.0})
    primary = pa.get("GLEASON_PRIMARY")
    table = {None: {None: 0.97, "3": 0.01, "4": 0.01, "5": 0.005},
             "1": {"1": 0.5, "2": 0.4, "3": 0.1, None: 0.02},
             "2": {"2": 0.4, "3": 0.5, None: 0.02},
             "3": {"3": 0.55, "4": 0.40, "5": 0.04, None: 0.02},
             "4": {"3": 0.45, "4": 0.40, "5": 0.14, None: 0.02},
             "5": {"3": 0.05, "4": 0.45, "5": 0.50, None: 0.02}}[primary]
    return _weights(own, table, floor=1e-3)


def _gleason_tertiary(pa, own):
    if _site3(pa.get("SITE_ICD10_O2")) != "C61" or pa.get("GLEASON_SECONDARY") is None:
        return _weights(own, {None: 1.0})
    return _weights(own, {None: 0.90, "5": 0.07, "4": 0.025, "3": 0.005}, floor=5e-4)


def _gleason_combined(pa, own):
    primary, secondary = pa.get("GLEASON_PRIMARY"), pa.get("GLEASON_SECONDARY")
    if primary is None or secondary is None:
        return _weights(own, {None: 1.0})
    total = int(primary) + int(secondary)
    out = []
    for label in own:
        if label is None:
            out.append(0.002)
        else:
            out.append(1.0 if int(label[0]) <= total < int(label[1]) else 1e-3)
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# tumour: fitness and treatment
# ---------------------------------------------------------------------------------------------
def _charlson(pa, own):
    age = pa.get("AGE")
    mid = _mid(age) if age is not None else 65.0
    zero = min(0.92, max(0.40, 0.92 - 0.011 * max(0.0, mid - 40.0)))
    out = []
    for label in own:
        if label is None:
            out.append(0.02)
        elif int(label[0]) == 0:
            out.append(zero)
        else:
            lo, hi = int(label[0]), int(label[1])
            out.append((1 - zero) * 0.55 * sum(0.45 ** (v - 1) for v in range(lo, hi)))
    return np.array(out)


_CHARLSON_GROUPS = {"1": 0.08, "2": 0.08, "3": 0.05, "4": 0.10, "5": 0.06, "6": 0.25, "7": 0.04,
                    "8": 0.02, "9": 0.02, "10": 0.20, "11": 0.04, "12": 0.01, "13": 0.10, "14": 0.04,
                    "15": 0.01, "16": 0.01, "17": 0.002}
_CHARLSON_WEIGHT = {"11": 2, "12": 2, "13": 2, "14": 2, "15": 3, "16": 6, "17": 6}


def _comorbidities(pa, own):
    score = pa.get("CHRL_TOT_27_03")
    if score is None:
        return _weights(own, {None: 0.95}, floor=0.003)
    if int(score[0]) == 0:
        return _weights(own, {None: 0.995}, floor=2e-4)
    lo = int(score[0])
    table = {code: w * (1.0 + 0.4 * (lo - 1) * (_CHARLSON_WEIGHT.get(code, 1) - 1))
             for code, w in _CHARLSON_GROUPS.items()}
    table[None] = 0.05
    return _weights(own, table, floor=1e-3)


def _performance(pa, own):
    age = pa.get("AGE")
    mid = _mid(age) if age is not None else 65.0
    level = _stage_level(pa.get("STAGE_BEST"))
    severity = 0.25 + 0.03 * max(0.0, mid - 50.0) + (0.5 if level == 4 else 0.15 if level == 3 else 0.0)
    # recorded PS decays geometrically from 0 with a rate set by age and stage
    ratio = min(0.9, 0.35 + 0.35 * severity)
    table = {str(k): ratio ** k for k in range(5)}
    recorded = 0.60
    total = sum(table.values())
    table = {code: recorded * w / total for code, w in table.items()}
    table["9"] = 0.05
    table[None] = 0.35
    return _weights(own, table)


def _intent(pa, own):
    level = _stage_level(pa.get("STAGE_BEST"))
    curative = {0: 0.90, 1: 0.85, 2: 0.75, 3: 0.55, 4: 0.08, None: 0.40}[level]
    none_active = {0: 0.02, 1: 0.03, 2: 0.05, 3: 0.08, 4: 0.20, None: 0.15}[level]
    ps = pa.get("PERFORMANCESTATUS")
    if ps in ("3", "4"):
        curative *= 0.3
        none_active = min(0.6, none_active * 2.5)
    elif ps == "2":
        curative *= 0.7
        none_active *= 1.5
    non_curative = max(0.02, 1.0 - curative - none_active)
    recorded = 0.65
    return _weights(own, {"C": recorded * curative, "Z": recorded * non_curative,
                          "X": recorded * none_active, "9": 0.05, None: 0.30})


# ---------------------------------------------------------------------------------------------
# outcome (patient, from the index tumour)
# ---------------------------------------------------------------------------------------------
_OWN_CAUSE = {"C15": "C159", "C16": "C169", "C18": "C189", "C19": "C19", "C20": "C20", "C22": "C229",
              "C25": "C259", "C32": "C329", "C34": "C349", "C43": "C439", "C50": "C509", "C53": "C539",
              "C54": "C549", "C56": "C56", "C61": "C61", "C62": "C629", "C64": "C64", "C67": "C679",
              "C71": "C719", "C73": "C73", "C80": "C809"}
_OWN_SHARE = {"C61": 0.50, "C50": 0.60, "C73": 0.30, "C62": 0.30, "C43": 0.50, "C54": 0.45,
              "C67": 0.55, "C64": 0.55, "C53": 0.65}
_SEX_SPECIFIC_CAUSES = {"C539", "C549", "C55", "C56", "C61", "C629"}
_OTHER_CAUSES = {"I251": 0.040, "I219": 0.020, "I509": 0.015, "I64": 0.020, "J189": 0.015,
                 "J449": 0.025, "A419": 0.005, "N189": 0.005, "E119": 0.005, "F03": 0.015,
                 "G309": 0.010, "R54": 0.005}
_OTHER_CANCERS = {"C349": 0.015, "C189": 0.008, "C259": 0.005, "C809": 0.010, "C159": 0.003,
                  "C169": 0.002, "C229": 0.003, "C679": 0.002, "C64": 0.001, "C787": 0.003,
                  "C795": 0.002}


def _cause_underlying(pa, own):
    if pa.get("VITALSTATUS") != "D":
        return _weights(own, {None: 1.0})
    group = _site3(pa.get("SITE_ICD10_O2"))
    own_code = _OWN_CAUSE.get(group)
    share = _OWN_SHARE.get(group, 0.75)
    table = {code: w for code, w in _OTHER_CANCERS.items() if code != own_code}
    table.update(_OTHER_CAUSES)
    rest = sum(table.values())
    table = {code: w * (1.0 - share) / rest for code, w in table.items()}
    if own_code is not None:
        if group == "C54":  # uterine deaths are often certified as "uterus, unspecified"
            table[own_code] = share * 0.75
            table["C55"] = share * 0.25
        else:
            table[own_code] = table.get(own_code, 0.0) + share
    weights = _weights(own, table, floor=2e-4)
    for k, code in enumerate(own):  # no sex-specific cause of death from another site
        if code in _SEX_SPECIFIC_CAUSES and code not in (own_code, "C55" if group == "C54" else None):
            weights[k] = 0.0
    return weights


_TERMINAL = ("J189", "A419", "C787", "C795", "I509")
_CANCER_CAUSES = tuple(sorted(set(_OWN_CAUSE.values()) | {"C55"}))


def _is_cancer(code) -> bool:
    return code is not None and str(code).startswith("C")


def _cause_1a(pa, own):
    underlying = pa.get("DEATHCAUSECODE_UNDERLYING")
    if underlying is None:
        return _weights(own, {None: 1.0})
    if _is_cancer(underlying):
        table = {underlying: 0.55, "C787": 0.08, "C795": 0.04, "J189": 0.15, "A419": 0.05,
                 "I509": 0.02, None: 0.02}
    else:
        table = {underlying: 0.70, "J189": 0.10, "I509": 0.05, "A419": 0.03, None: 0.02}
        if underlying == "I251":
            table["I219"] = 0.10
    weights = _weights(own, table, floor=5e-4)
    for k, code in enumerate(own):
        if code in _SEX_SPECIFIC_CAUSES and code != underlying:
            weights[k] = 0.0
    return weights


def _cause_below(parent_code, own, blank: float):
    if parent_code is None:
        return _weights(own, {None: 1.0})
    if parent_code in _TERMINAL:  # the line below names what led to it, usually a cancer
        table = {None: blank * 0.6, "C349": 0.10, "C189": 0.05, "C259": 0.04, "C509": 0.04,
                 "C809": 0.04, "C61": 0.03, "C787": 0.04, "C795": 0.02, "J449": 0.03, "I251": 0.02}
    elif _is_cancer(parent_code):
        table = {None: blank, "C787": 0.04, "C795": 0.03, "C809": 0.02, "C349": 0.01}
    else:
        table = {None: blank, "I251": 0.03, "J449": 0.02, "E119": 0.02, "I64": 0.01}
    table.pop(parent_code, None)
    return _weights(own, table, floor=5e-4)


def _cause_1b(pa, own):
    return _cause_below(pa.get("DEATHCAUSECODE_1A"), own, blank=0.55)


def _cause_1c(pa, own):
    return _cause_below(pa.get("DEATHCAUSECODE_1B"), own, blank=0.85)


def _cause_2(pa, own):
    underlying = pa.get("DEATHCAUSECODE_UNDERLYING")
    if underlying is None:
        return _weights(own, {None: 1.0})
    table = {None: 0.55, "I251": 0.08, "J449": 0.07, "E119": 0.05, "I509": 0.04, "F03": 0.04,
             "N189": 0.04, "I64": 0.02, "G309": 0.02, "R54": 0.01, "I219": 0.01, "A419": 0.01}
    table.pop(underlying, None)
    weights = _weights(own, table, floor=1e-3)
    for k, code in enumerate(own):
        if code in _SEX_SPECIFIC_CAUSES:
            weights[k] = 0.0
    return weights


def _death_location(pa, own):
    if pa.get("VITALSTATUS") != "D":
        return _weights(own, {None: 1.0})
    age = pa.get("AGE")
    mid = _mid(age) if age is not None else 70.0
    care_home = min(0.35, max(0.03, 0.05 + 0.006 * (mid - 60.0)))
    hospice = max(0.04, 0.20 - 0.002 * max(0.0, mid - 50.0))
    table = {"1": 0.45, "2": 0.28, "3": hospice, "5": 0.02, "X": 0.01, None: 0.02}
    table.update(_spread({("4",): care_home * 0.4,
                          ("4077", "4087", "4097", "4107", "4117", "4127", "4137"): care_home * 0.6}))
    return _weights(own, table, floor=1e-3)


_CPT_FUNCTIONS: dict[str, Callable] = {
    "GENDER": _gender,
    "ETHNICITY": _ethnicity,
    "N_TUMOURS": _n_tumours,
    "AGE": _age,
    "DIAGNOSISDATEBEST": _diagnosis_date,
    "CREG_CODE": _creg,
    "QUINTILE_2019": _quintile,
    "SITE_ICD10_O2": _site,
    "MORPH_ICD10_O2": _morph,
    "BEHAVIOUR_ICD10_O2": _behaviour,
    "T_BEST": _t,
    "M_BEST": _m,
    "N_BEST": _n,
    "STAGE_BEST": _stage,
    "GRADE": _grade,
    "STAGE_BEST_SYSTEM": _stage_system,
    "LATERALITY": _laterality,
    "SCREENINGSTATUSFULL_CODE": _screening,
    "ER_STATUS": _er,
    "PR_STATUS": _pr,
    "HER2_STATUS": _her2,
    "CHRL_TOT_27_03": _charlson,
    "COMORBIDITIES_27_03": _comorbidities,
    "PERFORMANCESTATUS": _performance,
    "CANCERCAREPLANINTENT": _intent,
    "GLEASON_PRIMARY": _gleason_primary,
    "GLEASON_SECONDARY": _gleason_secondary,
    "GLEASON_TERTIARY": _gleason_tertiary,
    "GLEASON_COMBINED": _gleason_combined,
    "DEATHCAUSECODE_UNDERLYING": _cause_underlying,
    "DEATHCAUSECODE_1A": _cause_1a,
    "DEATHCAUSECODE_1B": _cause_1b,
    "DEATHCAUSECODE_1C": _cause_1c,
    "DEATHCAUSECODE_2": _cause_2,
    "DEATHLOCATIONCODE": _death_location,
}


def reference_cpts(states: dict[str, list], parents: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Return, for every node, its conditional probability table.

    Parameters
    ----------
    states : dict of str to list
        ``states[node]`` lists the node's state labels in code order: for a categorical column its
        category strings in schema order, then ``None`` if missing is allowed; for an integer or date
        column one ``(lo, hi)`` tuple per bin (numbers for integers, ISO ``'YYYY-MM-DD'`` strings for
        absolute dates, day offsets for relative dates), then ``None`` if missing is allowed; for
        ``N_TUMOURS`` the integers 1, 2, 3.
    parents : dict of str to list of str
        ``parents[node]`` in the order the node's edges appear in the structure file
        (``TRUE_STRUCTURE_PATH``). The CPT functions look parents up by name, so the order only
        fixes the axes of the returned arrays.

    Returns
    -------
    dict of str to numpy.ndarray
        ``cpts[node]`` has shape ``(*[len(states[p]) for p in parents[node]], len(states[node]))``;
        every last-axis row sums to 1, and states that a schema constraint forbids given the
        parents have probability exactly 0.

    Raises
    ------
    KeyError
        For a node this reference network does not define.
    ValueError
        If some parent combination leaves no allowed state.

    Examples
    --------
    >>> cpts = reference_cpts({"GENDER": ["1", "2", "9", "X"], "N_TUMOURS": [1, 2, 3]},
    ...                       {"GENDER": [], "N_TUMOURS": ["GENDER"]})
    >>> cpts["N_TUMOURS"].shape
    (4, 3)
    >>> bool(np.allclose(cpts["N_TUMOURS"].sum(axis=-1), 1.0))
    True
    """
    out: dict[str, np.ndarray] = {}
    for node in parents:
        function = _CPT_FUNCTIONS.get(node)
        if function is None:
            raise KeyError(f"the reference network has no table for node {node!r}")
        out[node] = _tabulate(node, states, parents, function)
    return out
