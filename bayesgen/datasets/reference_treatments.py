"""Ground truth of the reference registry's treatment and gene-test tables (issue 5).

Hand-set, like :mod:`bayesgen.datasets.reference_network`, from clinical common knowledge about
cancer treatment in England; nothing is estimated from any data. It covers the eight tables of
``schemas/simulacrum_v2.yaml`` beyond the patient and tumour tables, and the edges of
``structures/simulacrum_v2.yaml`` into them:

- SACT: which benchmark regimen a patient's index tumour site calls for, its intent given the stage,
  how many cycles (planned courses, stopped early more often in palliative care), the cycle length
  (21 days for FEC-T and CAPOX, 14 for FOLFOX, 28 for abiraterone ...), which drugs make up each
  cycle (FEC then docetaxel for FEC-T), their route (oral for capecitabine and abiraterone,
  intravenous for cytotoxics, often subcutaneous for trastuzumab) and dose;
- radiotherapy: intent from site and metastasis, treatment region, modality, fractionation and dose
  (breast 40 Gy in 15 fractions, prostate 60 Gy in 20, palliative 8 Gy in 1 or 20 Gy in 5);
- gene tests: which genes each site has tested (lung EGFR/ALK/ROS1/KRAS, colorectal KRAS/NRAS/BRAF and
  mismatch repair, breast BRCA1/2, melanoma BRAF, brain IDH1/MGMT), results and hotspot variants;
- hand-set hazards of the recurrent events REGIMEN and RADIOTHERAPY of the ``treatment`` process
  (:func:`treatment_hazard`, :func:`reference_treatment_hazards`), with their analytically expected
  number per patient (:func:`expected_occurrences`, :func:`expected_per_patient`).

Every CPT function takes the parents' state labels (``pa``, category strings, ``(lo, hi)`` bins,
integers for row counts and row positions, ``None`` for missing) and the node's own labels, and
returns weights; :func:`reference_treatment_cpts` tabulates them, giving probability exactly 0 to every
state a constraint of the schema forbids (:data:`TREATMENT_CONSTRAINTS`).

Optional position parents: ``CYCLE_NUMBER`` (the cycle's row number) and ``DRUG_POSITION`` (a drug
row's position in its cycle) are used when they are parents and averaged over otherwise. The
shipped structure has no such edges (the engine has no row-position variables); the unit tests add
them (``tests/unit/test_reference_treatments.py``, ``POSITION_EDGES``) to test this path.

Numpy only; no randomness.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from bayesgen.datasets.reference_network import (
    Rule,
    _in,
    _mid,
    _not_in,
    _present,
    _site3,
    _stage_level,
    _tabulate,
    _weights,
)

__all__ = [
    "AGE_GIVEN_STAGE",
    "EVENT_WRITTEN",
    "INDEX_MIX",
    "INTENT_GROUPS",
    "MAX_CYCLES",
    "REGIMENS",
    "SCALE",
    "SITE_GROUPS",
    "STAGE_GROUPS",
    "TREATMENT_CONSTRAINTS",
    "TREATMENT_EVENTS",
    "TREATMENT_NODES",
    "expected_occurrences",
    "expected_per_patient",
    "follow_up_mix",
    "reference_treatment_cpts",
    "reference_treatment_hazards",
    "site_group",
    "treatment_hazard",
    "treatment_hazard_table",
]

MAX_CYCLES = 8        # SIM_SACT_CYCLE.max_rows_per_parent
MAX_DRUGS = 4         # SIM_SACT_DRUG_DETAIL.max_rows_per_parent
MAX_EXPOSURES = 5     # SIM_RTDS_EXPOSURE.max_rows_per_parent

# ---------------------------------------------------------------------------------------------
# constraints (mirror of the schema's treatment and gene-test `constraints`)
# ---------------------------------------------------------------------------------------------
ORAL_ONLY = ("ABIRATERONE", "CAPECITABINE", "DABRAFENIB", "ENZALUTAMIDE", "OSIMERTINIB", "PALBOCICLIB",
             "PAZOPANIB", "SORAFENIB", "SUNITINIB", "TEMOZOLOMIDE", "TRAMETINIB")
ORAL_FORM = (*ORAL_ONLY, "CYCLOPHOSPHAMIDE", "ETOPOSIDE", "VINORELBINE")
_PARENTERAL_DELIVERY = ("X721", "X722", "X723", "X724", "X352")

TREATMENT_CONSTRAINTS: tuple[Rule, ...] = (
    Rule("oral-only drugs orally", "DRUG_GROUP", _in(*ORAL_ONLY), "ADMINISTRATION_ROUTE", _in("2")),
    Rule("oral route only for oral forms", "ADMINISTRATION_ROUTE", _in("2"), "DRUG_GROUP", _in(*ORAL_FORM)),
    Rule("X731 only oral", "OPCS_DELIVERY_CODE", _in("X731"), "ADMINISTRATION_ROUTE", _in("2")),
    Rule("parenteral codes not oral", "OPCS_DELIVERY_CODE", _in(*_PARENTERAL_DELIVERY), "ADMINISTRATION_ROUTE",
         _not_in("2")),
    Rule("anatomical site only A/O/M", "RTTREATMENTANATOMICALSITE", _present, "RTTREATMENTREGION",
         _in("A", "O", "M")),
    Rule("beam type only teletherapy", "RADIOTHERAPYBEAMTYPE", _present, "RTTREATMENTMODALITY", _in("05")),
    Rule("beam energy needs beam type", "RADIOTHERAPYBEAMENERGY", _present, "RADIOTHERAPYBEAMTYPE", _present),
    Rule("radioisotope only brachy/isotope", "RADIOISOTOPE", _present, "RTTREATMENTMODALITY", _in("06", "07")),
    Rule("DNA-sequence result by sequencing", "DNASEQ_GAT", _present, "METHODS",
         _in("NGS", "PCR", "SANGER SEQUENCING")),
    Rule("methylation by MS-PCR", "METHYL_GAT", _present, "METHODS", _in("METHYLATION-SPECIFIC PCR")),
    Rule("expression by IHC", "EXP_GAT", _present, "METHODS", _in("IHC")),
    Rule("copy number by MLPA", "COPYNO_GAT", _present, "METHODS", _in("MLPA")),
    Rule("fusion by FISH", "FUS_TRANS_GAT", _present, "METHODS", _in("FISH")),
    Rule("protein impact needs abnormal sequence", "PRO_IMP", _present, "DNASEQ_GAT",
         _in("abnormal", "borderline")),
    Rule("abnormal type needs abnormal result", "ABNORMAL_GAT", _present, "OVERALL_TS", _in("abnormal")),
)
"""The schema's treatment and gene-test constraints, as predicates on state labels (``None`` is the missing state)."""


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _bin_of(own: list, value: float) -> int | None:
    """Index of the ``(lo, hi)`` state holding ``value`` (None if outside every bin)."""
    for k, label in enumerate(own):
        if label is not None and float(label[0]) <= value < float(label[1]):
            return k
    return None


def _numeric(own: list, points, spread: float = 0.1, missing: float = 0.0, floor: float = 0.0) -> np.ndarray:
    """Weights over binned states: each ``(value, weight)`` goes to its bin, ``spread`` of it to each
    neighbouring bin; ``missing`` to the missing state, ``floor`` to every other bin."""
    out = np.array([0.0 if s is None else floor for s in own])
    present = [k for k, s in enumerate(own) if s is not None]
    for value, weight in points:
        k = _bin_of(own, value)
        if k is None:
            k = present[0] if value < float(own[present[0]][0]) else present[-1]
        out[k] += weight * (1.0 - 2.0 * spread)
        for j in (k - 1, k + 1):
            out[j if j in present else k] += weight * spread
    if None in own:
        out[own.index(None)] = missing
    return out


def _counts(own: list, probabilities: dict) -> np.ndarray:
    """Weights over integer count states from ``{count: p}``; counts beyond the last state pile up
    on it (rows beyond the bound are not kept)."""
    out = np.zeros(len(own))
    top = max(own)
    for count, p in probabilities.items():
        out[own.index(min(int(count), top))] += p
    return out


def _stage_class(stage) -> str:
    """``early`` (0-3), ``advanced`` (4) or ``unknown``."""
    level = _stage_level(stage)
    if level is None:
        return "unknown"
    return "advanced" if level == 4 else "early"


def _stage_group(stage) -> str:
    level = _stage_level(stage)
    return "unknown" if level is None else str(level)


SITE_GROUPS = ("breast", "colorectal", "lung", "prostate", "upper_gi", "gynae", "urological", "head_neck_cns",
               "other")
STAGE_GROUPS = ("0", "1", "2", "3", "4", "unknown")
INTENT_GROUPS = ("C", "Z", "X", "unknown")
_SITE_GROUP = {"C50": "breast", "C18": "colorectal", "C19": "colorectal", "C20": "colorectal", "C34": "lung",
               "C61": "prostate", "C15": "upper_gi", "C16": "upper_gi", "C22": "upper_gi", "C25": "upper_gi",
               "C53": "gynae", "C54": "gynae", "C56": "gynae", "C62": "urological", "C64": "urological",
               "C67": "urological", "C32": "head_neck_cns", "C71": "head_neck_cns"}


def site_group(site) -> str:
    """The treatment-pattern group of a 4-character site code (the structure's hazard groups)."""
    return _SITE_GROUP.get(_site3(site), "other") if site is not None else "other"


# ---------------------------------------------------------------------------------------------
# SACT regimens
# ---------------------------------------------------------------------------------------------
class Regimen(NamedTuple):
    """A benchmark regimen.

    ``phases`` are ``(n_cycles, drug rows)`` in order; the last phase runs to the end. A cycle has one
    row per administration, ordered as the table orders them (by date, then drug name): FOLFOX has
    two fluorouracil rows (bolus and infusion), gemcitabine on days 1, 8 and 15 three rows.
    ``setting`` says with which intents it is given;
    ``continuous`` regimens go on until progression instead of for a fixed number of cycles.
    """

    cycle_days: int
    planned: int
    phases: tuple
    setting: str
    continuous: bool = False


_FEC = ("CYCLOPHOSPHAMIDE", "EPIRUBICIN", "FLUOROURACIL")
REGIMENS: dict[str, Regimen] = {
    "FEC-T": Regimen(21, 6, ((3, _FEC), (3, ("DOCETAXEL",))), "curative"),
    "EC-T": Regimen(21, 8, ((4, ("CYCLOPHOSPHAMIDE", "EPIRUBICIN")), (4, ("DOCETAXEL",))), "curative"),
    "DOCETAXEL + TRASTUZUMAB + PERTUZUMAB": Regimen(
        21, 8, ((6, ("DOCETAXEL", "PERTUZUMAB", "TRASTUZUMAB")), (2, ("PERTUZUMAB", "TRASTUZUMAB"))), "mixed",
        True),
    "TRASTUZUMAB": Regimen(21, 8, ((8, ("TRASTUZUMAB",)),), "mixed", True),
    "PACLITAXEL": Regimen(7, 8, ((8, ("PACLITAXEL",)),), "mixed"),
    "PALBOCICLIB": Regimen(28, 8, ((8, ("PALBOCICLIB",)),), "palliative", True),
    "CAPECITABINE": Regimen(21, 6, ((6, ("CAPECITABINE",)),), "mixed"),
    "FOLFOX": Regimen(14, 8, ((8, ("FLUOROURACIL", "FLUOROURACIL", "FOLINIC ACID", "OXALIPLATIN")),), "mixed"),
    "CAPOX": Regimen(21, 8, ((8, ("CAPECITABINE", "OXALIPLATIN")),), "mixed"),
    "FOLFIRI": Regimen(14, 8, ((8, ("FLUOROURACIL", "FLUOROURACIL", "FOLINIC ACID", "IRINOTECAN")),), "palliative",
                       True),
    "CARBOPLATIN + PEMETREXED": Regimen(
        21, 8, ((4, ("CARBOPLATIN", "PEMETREXED")), (4, ("PEMETREXED",))), "palliative", True),
    "PEMBROLIZUMAB": Regimen(21, 8, ((8, ("PEMBROLIZUMAB",)),), "palliative", True),
    "CARBOPLATIN + ETOPOSIDE": Regimen(
        21, 6, ((6, ("CARBOPLATIN", "ETOPOSIDE", "ETOPOSIDE", "ETOPOSIDE")),), "mixed"),
    "OSIMERTINIB": Regimen(28, 8, ((8, ("OSIMERTINIB",)),), "palliative", True),
    "CISPLATIN + VINORELBINE": Regimen(21, 4, ((4, ("CISPLATIN", "VINORELBINE", "VINORELBINE")),), "curative"),
    "DOCETAXEL": Regimen(21, 6, ((6, ("DOCETAXEL",)),), "palliative"),
    "ABIRATERONE": Regimen(28, 8, ((8, ("ABIRATERONE",)),), "palliative", True),
    "ENZALUTAMIDE": Regimen(28, 8, ((8, ("ENZALUTAMIDE",)),), "palliative", True),
    "FLOT": Regimen(14, 8, ((8, ("DOCETAXEL", "FLUOROURACIL", "FOLINIC ACID", "OXALIPLATIN")),), "curative"),
    "ECX": Regimen(21, 6, ((6, ("CAPECITABINE", "CISPLATIN", "EPIRUBICIN")),), "curative"),
    "GEMCITABINE": Regimen(28, 6, ((6, ("GEMCITABINE", "GEMCITABINE", "GEMCITABINE")),), "palliative"),
    "GEMCITABINE + CAPECITABINE": Regimen(
        28, 6, ((6, ("CAPECITABINE", "GEMCITABINE", "GEMCITABINE", "GEMCITABINE")),), "curative"),
    "FOLFIRINOX": Regimen(14, 8, ((8, ("FLUOROURACIL", "FOLINIC ACID", "IRINOTECAN", "OXALIPLATIN")),), "mixed"),
    "CARBOPLATIN + PACLITAXEL": Regimen(21, 6, ((6, ("CARBOPLATIN", "PACLITAXEL")),), "mixed"),
    "CARBOPLATIN": Regimen(21, 6, ((6, ("CARBOPLATIN",)),), "mixed"),
    "CISPLATIN": Regimen(7, 5, ((5, ("CISPLATIN",)),), "curative"),
    "GEMCITABINE + CISPLATIN": Regimen(21, 4, ((4, ("CISPLATIN", "GEMCITABINE", "GEMCITABINE")),), "mixed"),
    "SUNITINIB": Regimen(42, 8, ((8, ("SUNITINIB",)),), "palliative", True),
    "PAZOPANIB": Regimen(28, 8, ((8, ("PAZOPANIB",)),), "palliative", True),
    "NIVOLUMAB + IPILIMUMAB": Regimen(
        21, 8, ((4, ("IPILIMUMAB", "NIVOLUMAB")), (4, ("NIVOLUMAB",))), "palliative", True),
    "DABRAFENIB + TRAMETINIB": Regimen(28, 8, ((8, ("DABRAFENIB", "TRAMETINIB")),), "palliative", True),
    "TEMOZOLOMIDE": Regimen(28, 6, ((6, ("TEMOZOLOMIDE",)),), "mixed"),
    "BEP": Regimen(21, 3, ((3, ("BLEOMYCIN", "CISPLATIN", "ETOPOSIDE", "BLEOMYCIN")),), "curative"),
    "SORAFENIB": Regimen(28, 8, ((8, ("SORAFENIB",)),), "palliative", True),
    "NOT MATCHED": Regimen(21, 4, ((4, ()),), "mixed"),
}
"""The benchmark regimens (BENCHMARK_GROUP) with their cycle length, planned cycles and drugs."""

# drugs of unmatched regimens, and how many rows a cycle of one has
_UNMATCHED_DRUGS = {"ZOLEDRONIC ACID": 0.20, "FLUOROURACIL": 0.10, "FOLINIC ACID": 0.08, "CARBOPLATIN": 0.08,
                    "GEMCITABINE": 0.06, "PACLITAXEL": 0.06, "DOCETAXEL": 0.05, "CISPLATIN": 0.05,
                    "CAPECITABINE": 0.05, "ETOPOSIDE": 0.04, "CYCLOPHOSPHAMIDE": 0.04, "EPIRUBICIN": 0.03,
                    "VINORELBINE": 0.03, "IRINOTECAN": 0.03, "OXALIPLATIN": 0.03, "TRASTUZUMAB": 0.03,
                    "PEMBROLIZUMAB": 0.02, "NIVOLUMAB": 0.02}
_UNMATCHED_N_DRUGS = {1: 0.35, 2: 0.35, 3: 0.20, 4: 0.10}

_BENCHMARK_BY_SITE = {
    "C50": {"FEC-T": 0.22, "EC-T": 0.18, "DOCETAXEL + TRASTUZUMAB + PERTUZUMAB": 0.08, "TRASTUZUMAB": 0.12,
            "PACLITAXEL": 0.10, "CAPECITABINE": 0.08, "PALBOCICLIB": 0.07, "DOCETAXEL": 0.05, "NOT MATCHED": 0.10},
    "C18": {"FOLFOX": 0.25, "CAPOX": 0.30, "CAPECITABINE": 0.20, "FOLFIRI": 0.10, "NOT MATCHED": 0.15},
    "C20": {"CAPECITABINE": 0.35, "CAPOX": 0.25, "FOLFOX": 0.15, "FOLFIRI": 0.05, "NOT MATCHED": 0.20},
    "C34": {"CARBOPLATIN + PEMETREXED": 0.22, "PEMBROLIZUMAB": 0.20, "CARBOPLATIN + ETOPOSIDE": 0.12,
            "OSIMERTINIB": 0.06, "CISPLATIN + VINORELBINE": 0.10, "CARBOPLATIN + PACLITAXEL": 0.08,
            "DOCETAXEL": 0.07, "GEMCITABINE": 0.03, "NOT MATCHED": 0.12},
    "C61": {"DOCETAXEL": 0.35, "ABIRATERONE": 0.28, "ENZALUTAMIDE": 0.25, "NOT MATCHED": 0.12},
    "C15": {"FLOT": 0.20, "ECX": 0.15, "CAPOX": 0.15, "CARBOPLATIN + PACLITAXEL": 0.20, "FOLFOX": 0.10,
            "NOT MATCHED": 0.20},
    "C16": {"FLOT": 0.30, "ECX": 0.15, "CAPOX": 0.15, "CARBOPLATIN + PACLITAXEL": 0.10, "FOLFOX": 0.10,
            "NOT MATCHED": 0.20},
    "C22": {"SORAFENIB": 0.60, "NOT MATCHED": 0.40},
    "C25": {"FOLFIRINOX": 0.25, "GEMCITABINE": 0.30, "GEMCITABINE + CAPECITABINE": 0.25, "NOT MATCHED": 0.20},
    "C53": {"CISPLATIN": 0.65, "CARBOPLATIN + PACLITAXEL": 0.20, "NOT MATCHED": 0.15},
    "C54": {"CARBOPLATIN + PACLITAXEL": 0.75, "CARBOPLATIN": 0.10, "NOT MATCHED": 0.15},
    "C56": {"CARBOPLATIN + PACLITAXEL": 0.55, "CARBOPLATIN": 0.30, "NOT MATCHED": 0.15},
    "C62": {"BEP": 0.55, "CARBOPLATIN": 0.35, "NOT MATCHED": 0.10},
    "C64": {"SUNITINIB": 0.35, "PAZOPANIB": 0.30, "NIVOLUMAB + IPILIMUMAB": 0.15, "NOT MATCHED": 0.20},
    "C67": {"GEMCITABINE + CISPLATIN": 0.45, "PEMBROLIZUMAB": 0.15, "CARBOPLATIN": 0.05, "NOT MATCHED": 0.35},
    "C43": {"PEMBROLIZUMAB": 0.35, "NIVOLUMAB + IPILIMUMAB": 0.25, "DABRAFENIB + TRAMETINIB": 0.25,
            "NOT MATCHED": 0.15},
    "C71": {"TEMOZOLOMIDE": 0.80, "NOT MATCHED": 0.20},
    "C73": {"SORAFENIB": 0.30, "NOT MATCHED": 0.70},
    "C32": {"CISPLATIN": 0.70, "NOT MATCHED": 0.30},
    "C80": {"CARBOPLATIN + PACLITAXEL": 0.40, "GEMCITABINE + CISPLATIN": 0.20, "NOT MATCHED": 0.40},
}
_BENCHMARK_BY_SITE["C19"] = _BENCHMARK_BY_SITE["C18"]


def _benchmark(pa, own):
    site = pa.get("SITE_ICD10_O2")
    table = _BENCHMARK_BY_SITE.get(_site3(site), {"NOT MATCHED": 1.0}) if site is not None else {"NOT MATCHED": 1.0}
    return _weights(own, table)


# intent of treatment: (A, N, C, P, D) by the regimen's setting and the stage
_INTENT_PROFILES = {
    "curative": {"early": (0.55, 0.25, 0.14, 0.05, 0.01), "advanced": (0.15, 0.10, 0.12, 0.62, 0.01),
                 "unknown": (0.40, 0.18, 0.12, 0.29, 0.01)},
    "mixed": {"early": (0.35, 0.15, 0.20, 0.29, 0.01), "advanced": (0.03, 0.02, 0.05, 0.88, 0.02),
              "unknown": (0.20, 0.08, 0.12, 0.58, 0.02)},
    "palliative": {"early": (0.06, 0.03, 0.05, 0.80, 0.06), "advanced": (0.01, 0.01, 0.02, 0.90, 0.06),
                   "unknown": (0.03, 0.02, 0.03, 0.86, 0.06)},
}
_INTENT_SPECIAL = {  # regimens whose intent pattern is their own
    "FLOT": (0.20, 0.55, 0.10, 0.14, 0.01), "ECX": (0.20, 0.50, 0.10, 0.19, 0.01),
    "CISPLATIN": (0.10, 0.05, 0.75, 0.09, 0.01), "BEP": (0.40, 0.02, 0.50, 0.07, 0.01),
    "GEMCITABINE + CAPECITABINE": (0.80, 0.05, 0.05, 0.09, 0.01),
}
_INTENTS = ("A", "N", "C", "P", "D")


def _intent_of_treatment(pa, own):
    benchmark = pa.get("BENCHMARK_GROUP")
    regimen = REGIMENS.get(benchmark, REGIMENS["NOT MATCHED"])
    stage = _stage_class(pa.get("STAGE_BEST"))
    profile = _INTENT_SPECIAL.get(benchmark) if stage != "advanced" else None
    profile = profile or _INTENT_PROFILES[regimen.setting][stage]
    table = {code: 0.93 * w for code, w in zip(_INTENTS, profile, strict=True)}
    table[None] = 0.07
    return _weights(own, table)


_CURATIVE_INTENTS = ("A", "N", "C")


def _curative(intent) -> bool | None:
    if intent is None:
        return None
    return intent in _CURATIVE_INTENTS


_MAPPED_VARIANTS = {
    "FEC-T": {"FEC-DOCETAXEL": 0.07}, "EC-T": {"EC-PACLITAXEL": 0.08},
    "PACLITAXEL": {"PACLITAXEL WEEKLY": 0.30}, "TRASTUZUMAB": {"TRASTUZUMAB SC": 0.30},
    "CAPOX": {"XELOX": 0.15}, "CAPECITABINE": {"CAPECITABINE + RADIOTHERAPY": 0.15},
    "CISPLATIN": {"CISPLATIN WEEKLY + RADIOTHERAPY": 0.30}, "CARBOPLATIN": {"CARBOPLATIN AUC7": 0.20},
    "NOT MATCHED": {"MODIFIED DE GRAMONT": 0.10, "ZOLEDRONIC ACID": 0.12},
}


def _mapped_regimen(pa, own):
    benchmark = pa.get("BENCHMARK_GROUP")
    variants = _MAPPED_VARIANTS.get(benchmark, {})
    table = dict(variants)
    table[benchmark] = 0.95 - sum(variants.values())
    table[None] = 0.03
    return _weights(own, table, floor=2e-4 if benchmark == "NOT MATCHED" else 0.0)


_TRIAL_RATE = {"PEMBROLIZUMAB": 0.08, "NIVOLUMAB + IPILIMUMAB": 0.08, "OSIMERTINIB": 0.06,
               "DABRAFENIB + TRAMETINIB": 0.06, "PALBOCICLIB": 0.05, "NOT MATCHED": 0.07}


def _clinical_trial(pa, own):
    rate = _TRIAL_RATE.get(pa.get("BENCHMARK_GROUP"), 0.03)
    return _weights(own, {"Y": 0.88 * rate, "N": 0.88 * (1 - rate), None: 0.12})


def _chemo_radiation(pa, own):
    benchmark, intent = pa.get("BENCHMARK_GROUP"), pa.get("INTENT_OF_TREATMENT")
    curative = _curative(intent)
    rate = 0.01
    if benchmark == "CISPLATIN":
        rate = 0.85 if curative is not False else 0.30
    elif benchmark == "CAPECITABINE" and intent in ("N", "C"):
        rate = 0.55
    elif benchmark == "CARBOPLATIN + PACLITAXEL" and intent == "N":
        rate = 0.30
    elif benchmark == "TEMOZOLOMIDE" and curative:
        rate = 0.50
    elif benchmark == "CARBOPLATIN + ETOPOSIDE" and curative:
        rate = 0.30
    return _weights(own, {"Y": 0.87 * rate, "N": 0.87 * (1 - rate), None: 0.13})


def _normal_bins(own, mean: float, sd: float, missing: float) -> np.ndarray:
    """Normal weights over ``(lo, hi)`` bins (probability of each bin), ``missing`` for None."""
    def cdf(x):
        return 0.5 * (1.0 + math.erf((x - mean) / (sd * math.sqrt(2.0))))
    out = []
    for label in own:
        if label is None:
            out.append(missing)
        else:
            out.append(max(cdf(float(label[1])) - cdf(float(label[0])), 1e-5) * (1.0 - missing))
    return np.array(out)


def _height(pa, own):
    mean, sd = {"1": (1.75, 0.07), "2": (1.62, 0.065)}.get(pa.get("GENDER"), (1.68, 0.09))
    return _normal_bins(own, mean, sd, missing=0.12)


def _weight(pa, own):
    height = pa.get("HEIGHT_AT_START_OF_REGIMEN")
    if height is None:
        return _normal_bins(own, 75.0, 17.0, missing=0.60)
    h = _mid(height)
    return _normal_bins(own, 25.5 * h * h, 14.0, missing=0.03)


def _decision_to_treat(pa, own):
    # bins [-91,-29), [-29,-15), [-15,-8), [-8,0), [0,1): days before the start of the regimen
    if _curative(pa.get("INTENT_OF_TREATMENT")) is False:
        shares = (0.08, 0.22, 0.30, 0.32, 0.08)
    else:
        shares = (0.15, 0.35, 0.28, 0.17, 0.05)
    present = [s for s in own if s is not None]
    table = dict(zip(present, shares, strict=True))
    table[None] = 0.10 / 0.90
    return _weights(own, table)


def _n_cycles(pa, own):
    regimen = REGIMENS.get(pa.get("BENCHMARK_GROUP"), REGIMENS["NOT MATCHED"])
    curative = _curative(pa.get("INTENT_OF_TREATMENT"))
    planned = min(regimen.planned, MAX_CYCLES)
    if regimen.continuous:
        go_on = {True: 0.70, False: 0.58, None: 0.64}[curative]
        probabilities = {n: go_on ** (n - 1) * (1 - go_on) for n in range(1, MAX_CYCLES)}
        probabilities[MAX_CYCLES] = go_on ** (MAX_CYCLES - 1)
    else:
        complete = {True: 0.58, False: 0.32, None: 0.45}[curative]
        early = {n: 0.7 ** (n - 1) for n in range(1, planned)}
        total = sum(early.values()) or 1.0
        probabilities = {n: (1 - complete) * w / total for n, w in early.items()}
        probabilities[planned] = complete if early else 1.0
    return _counts(own, probabilities)


# ---- cycles ---------------------------------------------------------------------------------
def _phase_of(regimen: Regimen, cycle: int) -> tuple[str, ...]:
    """The drugs given in cycle ``cycle`` (1-based) of ``regimen``."""
    start = 0
    for n, drugs in regimen.phases:
        start += n
        if cycle <= start:
            return drugs
    return regimen.phases[-1][1]


def _cycle_weights(regimen: Regimen, cycle) -> dict[int, float]:
    """Weights of cycle positions: ``{cycle: 1}`` if known, else each position by how often a cycle
    of the regimen sits there (the cycle count distribution at its median intent)."""
    if cycle is not None:
        return {int(cycle): 1.0}
    planned = min(regimen.planned, MAX_CYCLES)
    return {c: 1.0 / c ** 0.5 for c in range(1, planned + 1)}


def _start_of_cycle(pa, own):
    """Chained offset: 0 for the first cycle (it starts the regimen), the cycle length afterwards."""
    regimen = REGIMENS.get(pa.get("BENCHMARK_GROUP"), REGIMENS["NOT MATCHED"])
    cycle = pa.get("CYCLE_NUMBER")
    first_share = 1.0 if cycle == 1 else 0.0 if cycle is not None else 0.30
    length = regimen.cycle_days
    points = [(0.0, first_share), (float(length), (1 - first_share) * 0.85),
              (float(length + 7), (1 - first_share) * 0.12), (float(length + 21), (1 - first_share) * 0.03)]
    weights = _numeric(own, [(v, w) for v, w in points if w > 0], spread=0.0, floor=2e-4)
    if first_share == 1.0:  # the first cycle is the regimen's start: nothing else
        weights = np.where(np.arange(len(own)) == _bin_of(own, 0.0), weights, 0.0)
    return weights


_BAND = {"FEC-T": "X703", "EC-T": "X702", "PACLITAXEL": "X702", "CAPECITABINE": "X701", "FOLFOX": "X704",
         "CAPOX": "X703", "FOLFIRI": "X704", "CARBOPLATIN + PEMETREXED": "X711", "CARBOPLATIN + ETOPOSIDE": "X702",
         "CISPLATIN + VINORELBINE": "X703", "DOCETAXEL": "X703", "FLOT": "X705", "ECX": "X703",
         "GEMCITABINE": "X702", "GEMCITABINE + CAPECITABINE": "X703", "FOLFIRINOX": "X711",
         "CARBOPLATIN + PACLITAXEL": "X703", "CARBOPLATIN": "X702", "CISPLATIN": "X701",
         "GEMCITABINE + CISPLATIN": "X702", "TEMOZOLOMIDE": "X704", "BEP": "X703"}


def _procurement(pa, own):
    band = _BAND.get(pa.get("BENCHMARK_GROUP"))
    if band is None:  # high-cost drugs are outside the bands
        table = {"X749": 0.25, "X748": 0.10, None: 0.65}
    else:
        table = {band: 0.40, "X709": 0.02, None: 0.55}
    return _weights(own, table, floor=5e-4)


def _perf_status_cycle(pa, own):
    curative = _curative(pa.get("INTENT_OF_TREATMENT"))
    shares = {True: (0.55, 0.35, 0.08, 0.02, 0.001), False: (0.25, 0.45, 0.22, 0.07, 0.01),
              None: (0.38, 0.40, 0.16, 0.05, 0.005)}[curative]
    table = {str(k): 0.62 * w for k, w in enumerate(shares)}
    table[None] = 0.38
    return _weights(own, table)


def _n_drugs(pa, own):
    benchmark = pa.get("BENCHMARK_GROUP")
    regimen = REGIMENS.get(benchmark, REGIMENS["NOT MATCHED"])
    if benchmark == "NOT MATCHED" or benchmark is None:
        return _counts(own, _UNMATCHED_N_DRUGS)
    probabilities: dict[int, float] = {}
    positions = _cycle_weights(regimen, pa.get("CYCLE_NUMBER"))
    total = sum(positions.values())
    for cycle, w in positions.items():
        n = len(_phase_of(regimen, cycle))
        probabilities[n] = probabilities.get(n, 0.0) + 0.95 * w / total
        if n > 1:  # a drug omitted or given another day
            probabilities[n - 1] = probabilities.get(n - 1, 0.0) + 0.05 * w / total
        else:
            probabilities[n] += 0.05 * w / total
    return _counts(own, probabilities)


# ---- drugs ----------------------------------------------------------------------------------
def _drug_group(pa, own):
    """The drug of a row: one of the drugs of the cycle's phase of the regimen.

    ``N_DRUGS`` (the cycle's number of drug rows) tells the phases apart (3 drugs: FEC, 1: docetaxel
    in FEC-T); ``DRUG_POSITION``, when a parent, picks the row's drug in alphabetical order (rows are
    ordered by date then drug). One drug of a phase may be missing from a cycle (5%).
    """
    benchmark = pa.get("BENCHMARK_GROUP")
    if benchmark == "NOT MATCHED" or benchmark is None:
        return _weights(own, _UNMATCHED_DRUGS, floor=5e-4)
    regimen = REGIMENS[benchmark]
    n_drugs, position = pa.get("N_DRUGS"), pa.get("DRUG_POSITION")
    table: dict = {}
    cycles = _cycle_weights(regimen, pa.get("CYCLE_NUMBER"))
    for cycle, w in cycles.items():
        drugs = _phase_of(regimen, cycle)
        m = len(drugs)
        if n_drugs is None:
            options = {drugs: 1.0}
        elif int(n_drugs) == m:
            options = {drugs: 0.95 if m > 1 else 1.0}
        elif int(n_drugs) == m - 1:  # one drug left out, any of them
            options = {drugs[:o] + drugs[o + 1:]: 0.05 / m for o in range(m)}
        else:
            continue
        for rows, p in options.items():
            if position is not None and int(position) <= len(rows):
                table[rows[int(position) - 1]] = table.get(rows[int(position) - 1], 0.0) + w * p
            else:
                for drug in rows:
                    table[drug] = table.get(drug, 0.0) + w * p / len(rows)
    if not table:  # a number of drugs the regimen never has: any of its drugs
        for _, drugs in regimen.phases:
            for drug in drugs:
                table[drug] = 1.0
    return _weights(own, table, floor=1e-4)


_ROUTES = {"TRASTUZUMAB": {"5": 0.55, "1": 0.42}, "VINORELBINE": {"1": 0.50, "2": 0.47},
           "ETOPOSIDE": {"1": 0.85, "2": 0.12}, "CYCLOPHOSPHAMIDE": {"1": 0.95, "2": 0.02},
           "BLEOMYCIN": {"1": 0.90, "4": 0.05}, "ZOLEDRONIC ACID": {"1": 0.97},
           "GEMCITABINE": {"1": 0.96, "9": 0.01}}


def _route(pa, own):
    drug = pa.get("DRUG_GROUP")
    if drug in ORAL_ONLY:
        return _weights(own, {"2": 1.0})
    table = dict(_ROUTES.get(drug, {"1": 0.97}))
    table[None] = 0.03
    for code in ("3", "4", "5", "99"):
        table.setdefault(code, 5e-4)
    return _weights(own, table)


def _delivery(pa, own):
    route, n_drugs = pa.get("ADMINISTRATION_ROUTE"), pa.get("N_DRUGS")
    several = n_drugs is not None and int(n_drugs) > 1
    if route == "2":
        table = {"X731": 0.65, "X738": 0.01, "X739": 0.01, None: 0.33}
    elif route is None:
        table = {None: 0.85, "X729": 0.05, "X739": 0.02}
    elif several:
        table = {"X722": 0.33, "X721": 0.12, "X724": 0.08, "X723": 0.04, "X728": 0.005, "X729": 0.01,
                 "X352": 0.01, None: 0.40}
    else:
        table = {"X723": 0.42, "X724": 0.10, "X722": 0.05, "X728": 0.005, "X729": 0.01, "X352": 0.02, None: 0.40}
    return _weights(own, table)


# typical dose per administration in mg (bleomycin: 1000 IU units)
_DOSES = {
    "ABIRATERONE": ((1000, 1.0),), "BLEOMYCIN": ((30, 1.0),), "CAPECITABINE": ((1650, 0.7), (1150, 0.3)),
    "CARBOPLATIN": ((550, 0.6), (700, 0.2), (400, 0.2)), "CISPLATIN": ((130, 0.5), (70, 0.5)),
    "CYCLOPHOSPHAMIDE": ((1000, 1.0),), "DABRAFENIB": ((150, 1.0),), "DOCETAXEL": ((140, 0.8), (110, 0.2)),
    "ENZALUTAMIDE": ((160, 1.0),), "EPIRUBICIN": ((170, 0.6), (155, 0.4)), "ETOPOSIDE": ((170, 1.0),),
    "FLUOROURACIL": ((850, 0.35), (680, 0.25), (4000, 0.40)), "FOLINIC ACID": ((350, 0.7), (50, 0.3)),
    "GEMCITABINE": ((1700, 1.0),), "IPILIMUMAB": ((80, 0.5), (225, 0.5)), "IRINOTECAN": ((310, 1.0),),
    "NIVOLUMAB": ((240, 0.6), (480, 0.4)), "OSIMERTINIB": ((80, 1.0),), "OXALIPLATIN": ((145, 0.5), (220, 0.5)),
    "PACLITAXEL": ((300, 0.5), (140, 0.5)), "PALBOCICLIB": ((125, 1.0),), "PAZOPANIB": ((800, 1.0),),
    "PEMBROLIZUMAB": ((200, 0.8), (400, 0.2)), "PEMETREXED": ((850, 1.0),),
    "PERTUZUMAB": ((420, 0.85), (840, 0.15)),
    "SORAFENIB": ((800, 1.0),), "SUNITINIB": ((50, 1.0),), "TEMOZOLOMIDE": ((300, 0.6), (140, 0.4)),
    "TRAMETINIB": ((2, 1.0),), "TRASTUZUMAB": ((600, 0.55), (450, 0.45)), "VINORELBINE": ((45, 0.5), (100, 0.5)),
    "ZOLEDRONIC ACID": ((4, 1.0),),
}


def _dose(pa, own):
    points = _DOSES.get(pa.get("DRUG_GROUP"), ((200, 1.0),))
    return _numeric(own, [(float(v), 0.96 * w) for v, w in points], spread=0.08, missing=0.04, floor=1e-4)


def _administration_date(pa, own):
    # bins [0,1), [1,2), [2,8), [8,15), [15,22), [22,29): days after the start of the cycle
    drug = pa.get("DRUG_GROUP")
    # gemcitabine on days 1, 8 (and 15), vinorelbine on days 1 and 8, etoposide on days 1-3, bleomycin
    # on days 2, 9 and 16, infusional fluorouracil starting on day 1 (sometimes day 2)
    shares = {"GEMCITABINE": (0.42, 0.0, 0.38, 0.20, 0.0, 0.0), "FLUOROURACIL": (0.90, 0.08, 0.02, 0.0, 0.0, 0.0),
              "VINORELBINE": (0.50, 0.0, 0.50, 0.0, 0.0, 0.0), "ETOPOSIDE": (0.45, 0.30, 0.25, 0.0, 0.0, 0.0),
              "BLEOMYCIN": (0.10, 0.0, 0.45, 0.45, 0.0, 0.0), "PACLITAXEL": (0.90, 0.0, 0.02, 0.05, 0.03, 0.0)}
    share = shares.get(drug, (0.95, 0.02, 0.02, 0.01, 0.0, 0.0))
    present = [s for s in own if s is not None]
    table = {label: 0.98 * w + 2e-4 for label, w in zip(present, share, strict=True)}
    table[None] = 0.02
    return _weights(own, table)


# ---- outcome --------------------------------------------------------------------------------
def _dose_reduction(pa, own):
    rate = 0.22 if _curative(pa.get("INTENT_OF_TREATMENT")) is False else 0.16
    return _weights(own, {"Y": 0.70 * rate, "N": 0.70 * (1 - rate), None: 0.30})


def _time_delay(pa, own):
    table = {"Y": {"Y": 0.45, "N": 0.45, None: 0.10}, "N": {"Y": 0.15, "N": 0.75, None: 0.10},
             None: {"Y": 0.05, "N": 0.10, None: 0.85}}[pa.get("REGIMEN_MOD_DOSE_REDUCTION")]
    return _weights(own, table)


def _stopped_early(pa, own):
    regimen = REGIMENS.get(pa.get("BENCHMARK_GROUP"), REGIMENS["NOT MATCHED"])
    n = pa.get("N_CYCLES")
    planned = min(regimen.planned, MAX_CYCLES)
    if n is not None and int(n) < planned:
        table = {"Y": 0.65, "N": 0.22, None: 0.13}
    else:
        table = {"Y": 0.05, "N": 0.80, None: 0.15}
    return _weights(own, table)


def _outcome_summary(pa, own):
    # working reading of the codes: 1 completed, 2 progression, 3 toxicity, 4 patient choice, 5 died,
    # 0 other, 9 not known
    stopped, curative = pa.get("REGIMEN_MOD_STOPPED_EARLY"), _curative(pa.get("INTENT_OF_TREATMENT"))
    if stopped == "N":
        table = {"1": 0.70, "9": 0.08, "0": 0.02, None: 0.20}
    elif stopped == "Y":
        progression = 0.40 if curative is False else 0.20
        table = {"2": progression, "3": 0.40 - progression / 2, "4": 0.08, "5": 0.10, "0": 0.05, "9": 0.05,
                 None: 0.10}
    else:
        table = {None: 0.70, "9": 0.20, "1": 0.10}
    return _weights(own, table, floor=5e-4)


# ---------------------------------------------------------------------------------------------
# radiotherapy
# ---------------------------------------------------------------------------------------------
_RADICAL_SHARE = {"breast": 0.95, "prostate": 0.90, "lung": 0.55, "head_neck_cns": 0.88, "colorectal": 0.70,
                  "gynae": 0.85, "urological": 0.60, "upper_gi": 0.50, "other": 0.35}
_M1 = ("1", "1A", "1B", "1C")


def _rt_intent(pa, own):
    group, m = site_group(pa.get("SITE_ICD10_O2")), pa.get("M_BEST")
    radical = _RADICAL_SHARE[group]
    if m in _M1:
        radical = 0.12
    elif m is None or m == "X":
        radical *= 0.7
    return _weights(own, {"02": 0.97 * radical, "01": 0.97 * (1 - radical), "03": 0.01, None: 0.02})


def _rt_priority(pa, own):
    table = {"01": {"E": 0.10, "U": 0.45, "R": 0.40, None: 0.05},
             "02": {"E": 0.01, "U": 0.14, "R": 0.80, None: 0.05},
             "03": {"U": 0.10, "R": 0.85, None: 0.05},
             None: {"U": 0.20, "R": 0.40, None: 0.40}}[pa.get("RADIOTHERAPYINTENT")]
    return _weights(own, table, floor=2e-3)


# wait bins [-183,-62), [-62,-31), [-31,-22), [-22,-15), [-15,-8), [-8,0), [0,1)
_WAITS = {"E": (0.0, 0.0, 0.01, 0.02, 0.07, 0.40, 0.50), "U": (0.01, 0.04, 0.10, 0.20, 0.35, 0.25, 0.05),
          "R": (0.05, 0.20, 0.30, 0.25, 0.13, 0.06, 0.01), None: (0.04, 0.15, 0.25, 0.25, 0.18, 0.10, 0.03)}


def _decision_rt(pa, own):
    present = [s for s in own if s is not None]
    waits = _WAITS[pa.get("RADIOTHERAPYPRIORITY")]
    table = {label: 0.9 * w + 1e-3 for label, w in zip(present, waits, strict=True)}
    table[None] = 0.10
    return _weights(own, table)


def _earliest_appropriate(pa, own):
    """On or after the decision to treat: the decision's bin or a later one."""
    decision = pa.get("DECISIONTOTREATDATE")
    present = [s for s in own if s is not None]
    if decision is None:
        table = {label: 0.3 / len(present) for label in present}
        table[None] = 0.70
        return _weights(own, table)
    start = present.index(decision)
    table = {label: 0.70 * 0.5 ** (k - start) for k, label in enumerate(present) if k >= start}
    table[None] = 0.30
    return _weights(own, table, floor=1e-4)


def _n_prescriptions(pa, own):
    two = {"02": 0.30, "01": 0.10, "03": 0.05, None: 0.15}[pa.get("RADIOTHERAPYINTENT")]
    return _counts(own, {1: 1 - two, 2: two})


_RADICAL_REGION = {"breast": {"P": 0.60, "PR": 0.35, "R": 0.05}, "prostate": {"P": 0.70, "PR": 0.30},
                   "lung": {"P": 0.30, "PR": 0.70}, "head_neck_cns": {"PR": 0.55, "P": 0.43, "A": 0.02},
                   "gynae": {"PR": 0.80, "P": 0.20}, "colorectal": {"PR": 0.70, "P": 0.30},
                   "urological": {"P": 0.70, "PR": 0.30}, "upper_gi": {"PR": 0.60, "P": 0.40},
                   "other": {"P": 0.50, "PR": 0.40, "A": 0.05, "O": 0.05}}


def _rt_region(pa, own):
    intent, group = pa.get("RADIOTHERAPYINTENT"), site_group(pa.get("SITE_ICD10_O2"))
    if intent == "01":
        table = {"M": 0.75, "P": 0.15, "A": 0.05, "R": 0.03, "PR": 0.02}
    elif intent == "03":
        table = {"O": 0.50, "A": 0.50}
    elif intent == "02":
        table = dict(_RADICAL_REGION[group])
    else:
        table = {"P": 0.40, "PR": 0.25, "M": 0.30, "A": 0.05}
    table = {k: 0.98 * v for k, v in table.items()}
    table[None] = 0.02
    return _weights(own, table, floor=5e-4)


def _rt_modality(pa, own):
    region, site = pa.get("RTTREATMENTREGION"), _site3(pa.get("SITE_ICD10_O2"))
    brachy = {"C53": 0.35, "C54": 0.30, "C61": 0.08}.get(site, 0.005) if region in ("P", "PR") else 0.002
    isotope = 0.002
    if site == "C73":
        isotope = 0.60
    elif site == "C61" and region == "M":
        isotope = 0.08
    table = {"06": brachy, "07": isotope, "05": max(0.0, 0.99 - brachy - isotope), None: 0.01}
    return _weights(own, table)


# fractions by (site group, intent): {fractions: weight}
_FRACTIONS_RADICAL = {
    "breast": {15: 0.78, 5: 0.12, 25: 0.06, 16: 0.02, 1: 0.02}, "prostate": {20: 0.55, 37: 0.35, 5: 0.07, 2: 0.03},
    "lung": {30: 0.30, 20: 0.35, 33: 0.05, 3: 0.10, 5: 0.10, 8: 0.05, 15: 0.05},
    "head_neck_cns": {30: 0.55, 33: 0.20, 15: 0.10, 20: 0.10, 6: 0.05},
    "colorectal": {5: 0.45, 25: 0.25, 28: 0.25, 30: 0.05},
    "gynae": {25: 0.60, 28: 0.20, 3: 0.15, 5: 0.05}, "urological": {20: 0.60, 32: 0.20, 30: 0.10, 5: 0.10},
    "upper_gi": {25: 0.40, 23: 0.30, 15: 0.10, 28: 0.20},
    "other": {15: 0.30, 20: 0.30, 30: 0.20, 5: 0.10, 10: 0.10},
}
_FRACTIONS_PALLIATIVE = {1: 0.45, 5: 0.30, 10: 0.12, 2: 0.05, 8: 0.03, 15: 0.03, 20: 0.02}


def _rt_fractions(pa, own):
    intent, group = pa.get("RADIOTHERAPYINTENT"), site_group(pa.get("SITE_ICD10_O2"))
    if intent == "02":
        points = _FRACTIONS_RADICAL[group]
    elif intent == "03":
        points = {1: 0.5, 2: 0.2, 3: 0.2, 5: 0.1}
    elif intent == "01":
        points = _FRACTIONS_PALLIATIVE
    else:
        points = {f: 0.5 * w for f, w in _FRACTIONS_PALLIATIVE.items()}
        for f, w in _FRACTIONS_RADICAL[group].items():
            points[f] = points.get(f, 0.0) + 0.5 * w
    return _numeric(own, [(float(f), 0.99 * w) for f, w in points.items()], spread=0.0, missing=0.01, floor=1e-4)


# total dose (Gy) for a number of fractions: {lower edge of the fraction bin: ((dose, weight), ...)}
_DOSE_FOR_FRACTIONS = {
    1: ((8, 0.9), (10, 0.1)), 2: ((16, 0.5), (21, 0.3), (36.25, 0.2)),
    5: ((20, 0.4), (25, 0.3), (26, 0.2), (36.25, 0.1)),
    6: ((60, 0.5), (30, 0.5)), 10: ((30, 0.9), (36, 0.1)), 11: ((36, 1.0),), 15: ((40, 0.85), (42.5, 0.15)),
    16: ((45, 1.0),), 20: ((55, 0.45), (60, 0.35), (52.5, 0.20)), 21: ((41.4, 1.0),), 25: ((45, 0.6), (50, 0.4)),
    26: ((50.4, 1.0),), 30: ((60, 0.8), (66, 0.2)), 31: ((74, 0.6), (66, 0.2), (70, 0.2)), 40: ((78, 1.0),),
}
_PALLIATIVE_DOSE = {5: ((20, 1.0),), 2: ((16, 1.0),), 10: ((30, 1.0),), 20: ((40, 1.0),)}
_BRACHY_DOSE = {2: ((21, 0.6), (28, 0.4)), 1: ((7, 0.5), (8, 0.5)), 5: ((35, 1.0),)}


def _rt_dose(pa, own):
    fractions = pa.get("RTPRESCRIBEDFRACTIONS")
    if fractions is None:
        return _numeric(own, [(8, 0.3), (20, 0.2), (40, 0.2), (60, 0.3)], spread=0.1, missing=0.8, floor=1e-4)
    lower = int(fractions[0])
    options = _DOSE_FOR_FRACTIONS[lower]
    if pa.get("RADIOTHERAPYINTENT") == "01" and lower in _PALLIATIVE_DOSE:
        options = _PALLIATIVE_DOSE[lower]
    if pa.get("RTTREATMENTMODALITY") == "06" and lower in _BRACHY_DOSE:
        options = _BRACHY_DOSE[lower]
    if pa.get("RTTREATMENTMODALITY") == "07":  # radioisotopes: dose not in Gy
        return _numeric(own, [(8, 0.1)], missing=0.9, floor=1e-4)
    return _numeric(own, [(float(d), 0.97 * w) for d, w in options], spread=0.02, missing=0.03, floor=1e-4)


def _actual_like(prescribed, own):
    """The delivered value: the prescribed bin mostly, a lower one when the course stopped early."""
    if prescribed is None:
        return _weights(own, {None: 0.9}, floor=0.1 / max(1, len(own) - 1))
    present = [s for s in own if s is not None]
    k = present.index(prescribed)
    table = {prescribed: 0.90}
    lower = present[:k]
    for j, label in enumerate(reversed(lower[-3:])):
        table[label] = 0.06 * 0.5 ** j
    table[None] = 0.04
    return _weights(own, table, floor=1e-4)


def _rt_actual_fractions(pa, own):
    return _actual_like(pa.get("RTPRESCRIBEDFRACTIONS"), own)


def _rt_actual_dose(pa, own):
    return _actual_like(pa.get("RTPRESCRIBEDDOSE"), own)


# OPCS-4 chapter Z categories used by the ground truth (no clinical meaning is claimed for them)
_ANATOMICAL = {"Z67": 0.22, "Z68": 0.12, "Z75": 0.12, "Z01": 0.15, "Z24": 0.08, "Z61": 0.08, "Z06": 0.08,
               "Z90": 0.05, "Z92": 0.05, "Z27": 0.05}


def _anatomical_site(pa, own):
    if pa.get("RTTREATMENTREGION") not in ("A", "O", "M"):
        return _weights(own, {None: 1.0})
    table = {k: 0.85 * v for k, v in _ANATOMICAL.items()}
    table[None] = 0.15
    return _weights(own, table, floor=2e-4)


def _n_exposures(pa, own):
    fractions = pa.get("RTPRESCRIBEDFRACTIONS")
    typical = int(fractions[0]) if fractions is not None else 5
    kept = min(typical, MAX_EXPOSURES)
    probabilities = {kept: 0.90}
    for n in range(1, kept):
        probabilities[n] = 0.10 / (kept - 1)
    if kept == 1:
        probabilities[1] = 1.0
    return _counts(own, probabilities)


def _beam_type(pa, own):
    if pa.get("RTTREATMENTMODALITY") != "05":
        return _weights(own, {None: 1.0})
    return _weights(own, {"01": 0.90, "02": 0.07, "03": 0.003, "05": 0.01, None: 0.017})


def _beam_energy(pa, own):
    beam = pa.get("RADIOTHERAPYBEAMTYPE")
    if beam is None:
        return _weights(own, {None: 1.0})
    points = {"01": ((6, 0.6), (10, 0.2), (15, 0.12), (18, 0.05)), "02": ((6, 0.3), (8, 0.2), (10, 0.2), (12, 0.15),
                                                                          (15, 0.1)),
              "03": ((20, 1.0),), "04": ((20, 1.0),), "05": ((0.3, 1.0),)}[beam]
    return _numeric(own, [(float(v), 0.95 * w) for v, w in points], spread=0.02, missing=0.05, floor=1e-4)


def _radioisotope(pa, own):
    modality = pa.get("RTTREATMENTMODALITY")
    if modality == "06":
        return _weights(own, {"IR-192": 0.85, "I-125": 0.10, "CO-60": 0.03, None: 0.02})
    if modality == "07":
        return _weights(own, {"I-131": 0.60, "RA-223": 0.25, "LU-177": 0.10, "SR-89": 0.03, None: 0.02})
    return _weights(own, {None: 1.0})


def _time_of_exposure(pa, own):
    hours = {"08:00:00": 0.06, "09:00:00": 0.11, "10:00:00": 0.12, "11:00:00": 0.12, "12:00:00": 0.10,
             "13:00:00": 0.10, "14:00:00": 0.11, "15:00:00": 0.10, "16:00:00": 0.08, "17:00:00": 0.05,
             "18:00:00": 0.02}
    table = {k: 0.9 * v for k, v in hours.items()}
    table[None] = 0.10
    return _weights(own, table)


# ---------------------------------------------------------------------------------------------
# gene tests
# ---------------------------------------------------------------------------------------------
_HGNC = {"EGFR": "3236", "ALK": "427", "ROS1": "10261", "KRAS": "6407", "NRAS": "7989", "BRAF": "1097",
         "PIK3CA": "8975", "BRCA1": "1100", "BRCA2": "1101", "MLH1": "7127", "MSH2": "7325", "MSH6": "7329",
         "PMS2": "9122", "IDH1": "5382", "MGMT": "7059", "TP53": "11998"}
_SYMBOL = {v: k for k, v in _HGNC.items()}

# share of tumours with any gene test (M0 / M1), and the mean number of genes when tested
_TESTED = {"C34": (0.10, 0.45), "C18": (0.06, 0.45), "C19": (0.06, 0.45), "C20": (0.05, 0.35),
           "C50": (0.06, 0.08), "C43": (0.12, 0.50), "C71": (0.40, 0.40), "C56": (0.12, 0.16), "C54": (0.05, 0.06),
           "C16": (0.02, 0.04), "C15": (0.02, 0.04)}
_GENES_BY_SITE = {
    "C34": {"EGFR": 0.40, "ALK": 0.25, "ROS1": 0.12, "KRAS": 0.15, "BRAF": 0.03, "TP53": 0.05},
    "C18": {"KRAS": 0.30, "NRAS": 0.20, "BRAF": 0.20, "MLH1": 0.10, "MSH2": 0.07, "MSH6": 0.06, "PMS2": 0.05,
            "PIK3CA": 0.02},
    "C20": {"KRAS": 0.35, "NRAS": 0.25, "BRAF": 0.15, "MLH1": 0.10, "MSH2": 0.07, "MSH6": 0.04, "PMS2": 0.04},
    "C50": {"BRCA1": 0.45, "BRCA2": 0.45, "PIK3CA": 0.05, "TP53": 0.05},
    "C43": {"BRAF": 0.80, "NRAS": 0.20},
    "C71": {"IDH1": 0.50, "MGMT": 0.50},
    "C56": {"BRCA1": 0.45, "BRCA2": 0.45, "TP53": 0.10},
    "C54": {"MLH1": 0.35, "MSH2": 0.25, "MSH6": 0.25, "PMS2": 0.15},
    "C16": {"MLH1": 0.40, "MSH2": 0.20, "MSH6": 0.20, "PMS2": 0.20},
}
_GENES_BY_SITE["C19"] = _GENES_BY_SITE["C18"]
_GENES_BY_SITE["C15"] = _GENES_BY_SITE["C16"]
_GENES_DEFAULT = {"TP53": 0.4, "KRAS": 0.2, "BRAF": 0.2, "EGFR": 0.1, "PIK3CA": 0.1}

# share abnormal by gene (and site where it matters)
_ABNORMAL = {"EGFR": 0.12, "ALK": 0.05, "ROS1": 0.02, "KRAS": 0.40, "NRAS": 0.05, "BRAF": 0.10, "PIK3CA": 0.15,
             "BRCA1": 0.06, "BRCA2": 0.05, "MLH1": 0.12, "MSH2": 0.04, "MSH6": 0.03, "PMS2": 0.02, "IDH1": 0.10,
             "MGMT": 0.40, "TP53": 0.50}
_ABNORMAL_BY_SITE = {("BRAF", "C43"): 0.45, ("NRAS", "C43"): 0.20, ("KRAS", "C34"): 0.30, ("TP53", "C34"): 0.50}

_METHODS = {"EGFR": {"PCR": 0.5, "NGS": 0.4, "SANGER SEQUENCING": 0.1}, "ALK": {"FISH": 0.5, "IHC": 0.5},
            "ROS1": {"FISH": 0.8, "IHC": 0.2}, "KRAS": {"PCR": 0.5, "NGS": 0.45, "SANGER SEQUENCING": 0.05},
            "NRAS": {"PCR": 0.5, "NGS": 0.5}, "BRAF": {"PCR": 0.5, "NGS": 0.4, "IHC": 0.1},
            "PIK3CA": {"NGS": 0.8, "PCR": 0.2}, "BRCA1": {"NGS": 0.75, "SANGER SEQUENCING": 0.10, "MLPA": 0.15},
            "BRCA2": {"NGS": 0.75, "SANGER SEQUENCING": 0.10, "MLPA": 0.15},
            "MLH1": {"IHC": 0.80, "METHYLATION-SPECIFIC PCR": 0.20}, "MSH2": {"IHC": 0.95, "NGS": 0.05},
            "MSH6": {"IHC": 0.95, "NGS": 0.05}, "PMS2": {"IHC": 0.95, "NGS": 0.05},
            "IDH1": {"IHC": 0.6, "PCR": 0.2, "NGS": 0.2}, "MGMT": {"METHYLATION-SPECIFIC PCR": 1.0},
            "TP53": {"NGS": 0.9, "IHC": 0.1}}
_GAT_OF_METHOD = {"NGS": "DNASEQ_GAT", "PCR": "DNASEQ_GAT", "SANGER SEQUENCING": "DNASEQ_GAT",
                  "METHYLATION-SPECIFIC PCR": "METHYL_GAT", "IHC": "EXP_GAT", "MLPA": "COPYNO_GAT",
                  "FISH": "FUS_TRANS_GAT"}
_GAT_NAME = {"DNASEQ_GAT": "dna sequence", "METHYL_GAT": "methylation", "EXP_GAT": "expression",
             "COPYNO_GAT": "copyno", "FUS_TRANS_GAT": "fusion/translocation"}
_VARIANTS = {
    "EGFR": {"p.(Leu858Arg)": 0.40, "p.(Glu746_Ala750del)": 0.45, "p.(Thr790Met)": 0.05, "p.(Gly719Ala)": 0.05},
    "KRAS": {"p.(Gly12Cys)": 0.15, "p.(Gly12Asp)": 0.30, "p.(Gly12Val)": 0.25, "p.(Gly13Asp)": 0.12,
             "p.(Gly12Ala)": 0.08, "p.(Gln61His)": 0.05},
    "NRAS": {"p.(Gln61Arg)": 0.45, "p.(Gln61Lys)": 0.35, "p.(Gly12Asp)": 0.15},
    "BRAF": {"p.(Val600Glu)": 0.85, "p.(Val600Lys)": 0.12},
    "PIK3CA": {"p.(His1047Arg)": 0.55, "p.(Glu545Lys)": 0.40},
    "IDH1": {"p.(Arg132His)": 0.95}, "TP53": {"p.(Arg273His)": 0.30, "p.(Arg248Gln)": 0.30, "p.(Arg175His)": 0.30},
    "BRCA1": {"p.(Glu23ValfsTer17)": 0.50, "p.(Gln1756ProfsTer74)": 0.40}, "BRCA2": {"p.(Ser1982ArgfsTer22)": 0.90},
}


def _n_gene_tests(pa, own):
    site, m = _site3(pa.get("SITE_ICD10_O2")), pa.get("M_BEST")
    tested_m0, tested_m1 = _TESTED.get(site, (0.004, 0.01))
    tested = tested_m1 if m in _M1 else tested_m0 if m in ("0",) else (tested_m0 + tested_m1) / 2
    mean_genes = {"C34": 2.6, "C18": 2.5, "C19": 2.5, "C20": 2.5, "C50": 1.8, "C56": 1.8, "C71": 1.8, "C54": 2.5,
                  "C16": 2.5, "C15": 2.5}.get(site, 1.3)
    # among tested: 1..4 genes, roughly geometric around the mean
    r = max(0.05, min(0.9, (mean_genes - 1) / mean_genes))
    among = {n: (1 - r) * r ** (n - 1) for n in range(1, 4)}
    among[4] = r ** 3
    probabilities = {0: 1 - tested}
    probabilities.update({n: tested * p for n, p in among.items()})
    return _counts(own, probabilities)


def _gene(pa, own):
    site = _site3(pa.get("SITE_ICD10_O2"))
    table = _GENES_BY_SITE.get(site, _GENES_DEFAULT)
    return _weights(own, {_HGNC[g]: w for g, w in table.items() if g in _HGNC}, floor=2e-4)


def _overall_ts(pa, own):
    gene = _SYMBOL.get(pa.get("GENE"), "TP53")
    site = _site3(pa.get("SITE_ICD10_O2"))
    abnormal = _ABNORMAL_BY_SITE.get((gene, site), _ABNORMAL[gene])
    return _weights(own, {"abnormal": 0.9 * abnormal, "normal": 0.9 * (1 - abnormal), "borderline": 0.03,
                          "failed": 0.05, "not known": 0.02})


def _methods(pa, own):
    gene = _SYMBOL.get(pa.get("GENE"), "TP53")
    table = {k: 0.97 * v for k, v in _METHODS[gene].items()}
    table[None] = 0.03
    return _weights(own, table)


def _gat(name: str) -> Callable:
    def function(pa, own):
        method, status = pa.get("METHODS"), pa.get("OVERALL_TS")
        if method is None or _GAT_OF_METHOD[method] != name:  # no method, no aberration-type result
            return _weights(own, {None: 1.0})
        return _weights(own, {status: 0.97, None: 0.03})
    function.__name__ = f"_{name.lower()}"
    return function


def _abnormal_gat(pa, own):
    method, status = pa.get("METHODS"), pa.get("OVERALL_TS")
    if status != "abnormal":
        return _weights(own, {None: 1.0})
    kind = _GAT_NAME[_GAT_OF_METHOD[method]] if method is not None else "dna sequence"
    return _weights(own, {kind: 0.93, "multiple": 0.02, None: 0.05})


def _pro_imp(pa, own):
    gene, dnaseq = _SYMBOL.get(pa.get("GENE"), "TP53"), pa.get("DNASEQ_GAT")
    if dnaseq not in ("abnormal", "borderline"):
        return _weights(own, {None: 1.0})
    variants = _VARIANTS.get(gene)
    if not variants:
        return _weights(own, {None: 0.9, "multiple": 0.1})
    table = {k: 0.85 * v for k, v in variants.items()}
    table["multiple"] = 0.03
    table[None] = 0.12 if dnaseq == "abnormal" else 0.60
    return _weights(own, table)


def _count_tests(pa, own):
    failed = pa.get("OVERALL_TS") == "failed"
    points = [(2.0, 0.6), (3.0, 0.25), (1.0, 0.15)] if failed else [(1.0, 0.85), (2.0, 0.12), (3.0, 0.03)]
    return _numeric(own, points, spread=0.0, floor=1e-3)


def _gene_date(pa, own):
    # days after diagnosis: somatic tests around diagnosis, germline BRCA and MMR later
    gene = _SYMBOL.get(pa.get("GENE"), "TP53")
    later = gene in ("BRCA1", "BRCA2", "MLH1", "MSH2", "MSH6", "PMS2")
    points = [(-40, 0.10), (5, 0.30), (20, 0.25), (45, 0.15), (75, 0.08), (120, 0.05), (250, 0.04), (500, 0.03)]
    if later:
        points = [(-40, 0.05), (5, 0.10), (20, 0.15), (45, 0.20), (75, 0.15), (120, 0.15), (250, 0.12), (500, 0.08)]
    return _numeric(own, points, spread=0.0, floor=1e-3)


def _best_date_source(pa, own):
    pathology = pa.get("METHODS") == "IHC"
    return _weights(own, {"Pathology": 0.9 if pathology else 0.1, "Molecular": 0.1 if pathology else 0.88,
                          None: 0.02})


_GLHS = ("North Thames GLH", "South East GLH", "South West GLH", "Central and South GLH", "East GLH",
         "North West GLH", "North East and Yorkshire GLH")


def _lab_name(pa, own):
    source = pa.get("BEST_DATE_SOURCE_OVERALL_TS")
    if source == "Pathology":
        return _weights(own, {"PATHOLOGY LAB": 0.9, None: 0.1})
    table = {lab: 0.9 / len(_GLHS) for lab in _GLHS}
    table[None] = 0.10
    return _weights(own, table, floor=1e-3)


_CPT_FUNCTIONS: dict[str, Callable] = {
    # SIM_AV_GENE (and N_GENE_TESTS on tumour rows)
    "N_GENE_TESTS": _n_gene_tests, "GENE": _gene, "OVERALL_TS": _overall_ts, "METHODS": _methods,
    "DNASEQ_GAT": _gat("DNASEQ_GAT"), "METHYL_GAT": _gat("METHYL_GAT"), "EXP_GAT": _gat("EXP_GAT"),
    "COPYNO_GAT": _gat("COPYNO_GAT"), "FUS_TRANS_GAT": _gat("FUS_TRANS_GAT"), "ABNORMAL_GAT": _abnormal_gat,
    "PRO_IMP": _pro_imp, "COUNT_TESTS": _count_tests, "DATE_OVERALL_TS": _gene_date,
    "BEST_DATE_SOURCE_OVERALL_TS": _best_date_source, "LAB_NAME": _lab_name,
    # SIM_SACT_REGIMEN (START_DATE_OF_REGIMEN is written by the events module)
    "BENCHMARK_GROUP": _benchmark, "INTENT_OF_TREATMENT": _intent_of_treatment, "MAPPED_REGIMEN": _mapped_regimen,
    "CLINICAL_TRIAL": _clinical_trial, "CHEMO_RADIATION": _chemo_radiation, "HEIGHT_AT_START_OF_REGIMEN": _height,
    "WEIGHT_AT_START_OF_REGIMEN": _weight, "DATE_DECISION_TO_TREAT": _decision_to_treat, "N_CYCLES": _n_cycles,
    # SIM_SACT_CYCLE
    "START_DATE_OF_CYCLE": _start_of_cycle, "OPCS_PROCUREMENT_CODE": _procurement,
    "PERF_STATUS_START_OF_CYCLE": _perf_status_cycle, "N_DRUGS": _n_drugs,
    # SIM_SACT_DRUG_DETAIL
    "DRUG_GROUP": _drug_group, "ADMINISTRATION_ROUTE": _route, "OPCS_DELIVERY_CODE": _delivery,
    "ACTUAL_DOSE_PER_ADMINISTRATION": _dose, "ADMINISTRATION_DATE": _administration_date,
    # SIM_SACT_OUTCOME
    "REGIMEN_MOD_DOSE_REDUCTION": _dose_reduction, "REGIMEN_MOD_TIME_DELAY": _time_delay,
    "REGIMEN_MOD_STOPPED_EARLY": _stopped_early, "REGIMEN_OUTCOME_SUMMARY": _outcome_summary,
    # SIM_RTDS_EPISODE (APPTDATE is written by the events module)
    "RADIOTHERAPYINTENT": _rt_intent, "RADIOTHERAPYPRIORITY": _rt_priority, "DECISIONTOTREATDATE": _decision_rt,
    "EARLIESTCLINAPPROPDATE": _earliest_appropriate, "N_PRESCRIPTIONS": _n_prescriptions,
    # SIM_RTDS_PRESCRIPTION
    "RTTREATMENTREGION": _rt_region, "RTTREATMENTMODALITY": _rt_modality, "RTPRESCRIBEDFRACTIONS": _rt_fractions,
    "RTPRESCRIBEDDOSE": _rt_dose, "RTACTUALFRACTIONS": _rt_actual_fractions, "RTACTUALDOSE": _rt_actual_dose,
    "RTTREATMENTANATOMICALSITE": _anatomical_site, "N_EXPOSURES": _n_exposures,
    # SIM_RTDS_EXPOSURE
    "RADIOTHERAPYBEAMTYPE": _beam_type, "RADIOTHERAPYBEAMENERGY": _beam_energy, "RADIOISOTOPE": _radioisotope,
    "TIMEOFEXPOSURE": _time_of_exposure,
}

TREATMENT_NODES = tuple(_CPT_FUNCTIONS)
"""The nodes :func:`reference_treatment_cpts` has a table for (every model variable of the new tables
but the event dates, plus N_GENE_TESTS on tumour rows)."""
EVENT_WRITTEN = ("START_DATE_OF_REGIMEN", "APPTDATE")
"""Nodes of the new tables written by the time-to-event module (no CPT)."""


def reference_treatment_cpts(states: dict[str, list], parents: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Return the conditional probability table of every treatment and gene-test node in ``parents``.

    Parameters
    ----------
    states : dict of str to list
        State labels of every node and parent, as for
        :func:`bayesgen.datasets.reference_network.reference_cpts`; count variables (``N_CYCLES``
        ...) and position parents (``CYCLE_NUMBER``, ``DRUG_POSITION``) have integer labels.
    parents : dict of str to list of str
        ``parents[node]`` in structure-file edge order; nodes of other tables are ignored so that the
        caller may pass the whole structure.

    Returns
    -------
    dict of str to numpy.ndarray
        ``cpts[node]`` of shape ``(*parent cardinalities, node cardinality)``, rows summing to 1,
        forbidden states (:data:`TREATMENT_CONSTRAINTS`) exactly 0.

    Examples
    --------
    >>> cpts = reference_treatment_cpts({"DRUG_GROUP": ["CAPECITABINE", "OXALIPLATIN"],
    ...                                  "ADMINISTRATION_ROUTE": ["1", "2", None]},
    ...                                 {"ADMINISTRATION_ROUTE": ["DRUG_GROUP"]})
    >>> cpts["ADMINISTRATION_ROUTE"].round(2).tolist()
    [[0.0, 1.0, 0.0], [0.97, 0.0, 0.03]]
    """
    return {node: _tabulate(node, states, parents, _CPT_FUNCTIONS[node], TREATMENT_CONSTRAINTS)
            for node in parents if node in _CPT_FUNCTIONS}


# ---------------------------------------------------------------------------------------------
# hazards of the recurrent events REGIMEN and RADIOTHERAPY (process `treatment`)
# ---------------------------------------------------------------------------------------------
TREATMENT_EVENTS = ("REGIMEN", "RADIOTHERAPY")
YEAR = 365.25
NOMINAL_WIDTHS = (30.0, 61.0, 91.0, 183.0, 365.0, 1096.0, 1461.0)
"""Days in each hazard interval of the schema ([0, 30, 91, 182, 365, 730, 1826] and on): the last is
the longest follow-up after 5 years (to the 2021 cut-off for a 2013 diagnosis)."""

# probability of a first regimen over the whole follow-up (were the patient not to die), by site group
# and stage group; scaled by plan intent
_FIRST_REGIMEN = {
    "breast": (0.02, 0.25, 0.45, 0.75, 0.75, 0.30), "colorectal": (0.0, 0.05, 0.25, 0.65, 0.70, 0.30),
    "lung": (0.0, 0.12, 0.35, 0.55, 0.60, 0.35), "prostate": (0.0, 0.02, 0.04, 0.10, 0.55, 0.10),
    "upper_gi": (0.0, 0.15, 0.35, 0.55, 0.60, 0.30), "gynae": (0.0, 0.10, 0.40, 0.70, 0.70, 0.30),
    "urological": (0.0, 0.05, 0.20, 0.40, 0.55, 0.15), "head_neck_cns": (0.0, 0.10, 0.30, 0.50, 0.50, 0.40),
    "other": (0.0, 0.02, 0.10, 0.20, 0.40, 0.15),
}
_FIRST_RT = {
    "breast": (0.30, 0.55, 0.55, 0.70, 0.55, 0.30), "colorectal": (0.0, 0.05, 0.15, 0.30, 0.25, 0.08),
    "lung": (0.0, 0.25, 0.35, 0.55, 0.55, 0.30), "prostate": (0.0, 0.15, 0.30, 0.45, 0.40, 0.15),
    "upper_gi": (0.0, 0.05, 0.10, 0.20, 0.20, 0.08), "gynae": (0.0, 0.15, 0.40, 0.60, 0.45, 0.20),
    "urological": (0.0, 0.03, 0.10, 0.25, 0.30, 0.08), "head_neck_cns": (0.0, 0.45, 0.55, 0.70, 0.60, 0.50),
    "other": (0.0, 0.02, 0.05, 0.15, 0.35, 0.10),
}
# cumulative hazard of each later occurrence (2nd, 3rd, 4th ...) by stage group
_LATER_REGIMEN = {"0": (0.02, 0.01, 0.01), "1": (0.10, 0.08, 0.06), "2": (0.14, 0.10, 0.08),
                  "3": (0.30, 0.22, 0.15), "4": (0.55, 0.40, 0.28), "unknown": (0.25, 0.18, 0.12)}
_LATER_RT = {"0": (0.02, 0.01), "1": (0.05, 0.03), "2": (0.07, 0.04), "3": (0.15, 0.08), "4": (0.45, 0.25),
             "unknown": (0.15, 0.08)}
_INTENT_FACTOR = {"REGIMEN": {"C": 1.0, "Z": 0.75, "X": 0.03, "unknown": 0.60},
                  "RADIOTHERAPY": {"C": 1.0, "Z": 0.80, "X": 0.15, "unknown": 0.60}}
# share of each occurrence's cumulative hazard in each interval (most first treatments within 3 months)
_SHAPE_FIRST = {"REGIMEN": (0.30, 0.40, 0.13, 0.08, 0.05, 0.035, 0.005),
                "RADIOTHERAPY": (0.20, 0.38, 0.20, 0.10, 0.06, 0.05, 0.01)}
_SHAPE_LATER = {"REGIMEN": (0.02, 0.08, 0.20, 0.30, 0.25, 0.13, 0.02),
                "RADIOTHERAPY": (0.02, 0.06, 0.15, 0.25, 0.27, 0.20, 0.05)}
SCALE = {"REGIMEN": 1.288, "RADIOTHERAPY": 1.163}
"""Overall multipliers of the tables above, set (by bisection on :func:`expected_per_patient`) so that
the reference registry has about 0.33 regimens per patient (Simulacrum v1.2: 0.73 M regimens for
2.2 M patients) and 0.25 radiotherapy episodes per patient."""


def treatment_hazard(event: str, site: str, stage: str, intent: str, occurrence: int) -> np.ndarray:
    """Hazard per day of ``event`` in each of the 7 schema intervals.

    Parameters
    ----------
    event : {"REGIMEN", "RADIOTHERAPY"}
    site, stage, intent : str
        Group labels of the structure's ``events`` section (:data:`SITE_GROUPS`,
        :data:`STAGE_GROUPS`, :data:`INTENT_GROUPS`).
    occurrence : int
        Earlier occurrences of the event (0 for the first regimen).

    Examples
    --------
    >>> first = treatment_hazard("REGIMEN", "breast", "3", "C", 0)
    >>> bool(first[:2].sum() > first[2:].sum())      # highest in the first three months
    True
    """
    stage_index = STAGE_GROUPS.index(stage)
    if occurrence == 0:
        table = _FIRST_REGIMEN if event == "REGIMEN" else _FIRST_RT
        p = table[site][stage_index] * _INTENT_FACTOR[event][intent] * SCALE[event]
        cumulative = -math.log(1.0 - min(p, 0.97))
        shape = _SHAPE_FIRST[event]
    else:
        later = (_LATER_REGIMEN if event == "REGIMEN" else _LATER_RT)[stage]
        factor = math.sqrt(_INTENT_FACTOR[event][intent])
        cumulative = later[min(occurrence, len(later)) - 1] * factor * SCALE[event]
        shape = _SHAPE_LATER[event]
    return cumulative * np.asarray(shape) / np.asarray(NOMINAL_WIDTHS)


_DEFAULT_GROUP = {"SITE_ICD10_O2": "other", "STAGE_BEST": "unknown", "CANCERCAREPLANINTENT": "unknown"}


def treatment_hazard_table(layout, e: int) -> np.ndarray:
    """The true hazards of event ``e`` of a process layout (:class:`bayesgen.events.layout.EventLayout`).

    Shape ``(*group cards, n_history, n_intervals)``; the given variables are found by name (site,
    stage and plan intent, grouped as in the structure's `events`; absent ones take a neutral group). The
    history index is the number of earlier occurrences (no ``after`` events are used).
    """
    name = layout.names[e]
    if name not in TREATMENT_EVENTS:
        raise KeyError(f"the reference treatments have no hazards for event {name!r}")
    shape = layout.shapes[e]
    given = list(layout.given[e])
    labels = list(layout.group_labels[e])
    n_history, n_intervals = shape[-2], shape[-1]
    table = np.zeros(shape)
    for cell in itertools.product(*(range(len(lab)) for lab in labels)):
        chosen = dict(_DEFAULT_GROUP)
        chosen.update({var: labels[k][i] for k, (var, i) in enumerate(zip(given, cell, strict=True))})
        for h in range(n_history):
            rates = treatment_hazard(name, chosen["SITE_ICD10_O2"], chosen["STAGE_BEST"],
                                     chosen["CANCERCAREPLANINTENT"], h)
            table[cell + (h,)] = [rates[min(j, len(rates) - 1)] for j in range(n_intervals)]
    return table


def reference_treatment_hazards(layouts: dict) -> dict[str, np.ndarray]:
    """The true hazards per day of REGIMEN and RADIOTHERAPY in the given process layouts (other events
    are left to :func:`bayesgen.datasets.reference_events.reference_hazards`)."""
    return {layout.names[e]: treatment_hazard_table(layout, e)
            for layout in layouts.values() for e in range(layout.n_events) if layout.names[e] in TREATMENT_EVENTS}


# ---------------------------------------------------------------------------------------------
# expected number of occurrences (analytic: piecewise-constant Markov chain with death)
# ---------------------------------------------------------------------------------------------
def expected_occurrences(rates: np.ndarray, death: np.ndarray, edges, entry: float = 0.0) -> float:
    """Expected number of occurrences by the end of follow-up of a recurrent event.

    The event's k-th occurrence has hazard ``rates[k, j]`` in interval ``j`` (``[edges[j],
    edges[j+1])``; the last column also serves later intervals); follow-up ends at ``edges[-1]`` or
    at death (or exit), whose hazard ``death[j]`` applies from ``entry`` on (before it the person is
    known to be alive). The number of occurrences is a pure-birth chain stopped by death, solved
    exactly with matrix exponentials piece by piece.

    Examples
    --------
    >>> round(expected_occurrences(np.array([[0.01]]), np.array([0.0]), [0, 100]), 4)  # 1 - e^-1
    0.6321
    """
    return float(_expected_batch(rates, death, list(edges[:-1]), [(edges[-1], entry)])[0])


def _expected_batch(rates, death, starts, follow_ups) -> np.ndarray:
    """:func:`expected_occurrences` for each ``(horizon, entry)`` of ``follow_ups`` (vectorised)."""
    rates = np.asarray(rates, dtype=float)
    death = np.asarray(death, dtype=float)
    n_alive = rates.shape[0] + 1
    size = 2 * n_alive
    pieces = []
    for horizon, entry in follow_ups:
        cuts = sorted({*[s for s in starts if s < horizon], horizon, *([entry] if 0 < entry < horizon else [])})
        row = []
        for lo, hi in zip(cuts, cuts[1:], strict=False):
            j = max(k for k, s in enumerate(starts) if s <= lo)
            row.append((j, lo >= entry, hi - lo))
        pieces.append(row)
    n_pieces = max(len(row) for row in pieces)
    q = np.zeros((len(follow_ups), n_pieces, size, size))
    for p, row in enumerate(pieces):
        for k, (j, dying, width) in enumerate(row):
            for a in range(n_alive):
                if a < n_alive - 1:
                    q[p, k, a, a + 1] = rates[a, min(j, rates.shape[1] - 1)] * width
                if dying:
                    q[p, k, a, n_alive + a] = death[min(j, len(death) - 1)] * width
                q[p, k, a, a] = -q[p, k, a].sum()
    step = _expm(q)
    state = np.zeros((len(follow_ups), size))
    state[:, 0] = 1.0
    for k in range(n_pieces):
        state = np.einsum("pi,pij->pj", state, step[:, k])
    counts = state[:, :n_alive] + state[:, n_alive:]
    return counts @ np.arange(n_alive)


def _expm(matrix: np.ndarray) -> np.ndarray:
    """Matrix exponential of a stack of small matrices (scaling and squaring, Taylor series)."""
    norm = float(np.abs(matrix).sum(axis=-1).max()) if matrix.size else 0.0
    squarings = max(0, int(math.ceil(math.log2(norm))) + 1) if norm > 0 else 0
    scaled = matrix / 2 ** squarings
    identity = np.broadcast_to(np.eye(matrix.shape[-1]), matrix.shape)
    result = identity.copy()
    term = identity.copy()
    for k in range(1, 18):
        term = term @ scaled / k
        result = result + term
    for _ in range(squarings):
        result = result @ result
    return result


# Index-tumour mix of the reference network (exact, from reference_network's CPTs; one index tumour per
# patient): shares of patients by site group, then stage group (0, 1, 2, 3, 4, unknown) and plan intent
# group (C, Z, X, unknown); and P(age group | stage group) for the death hazards.
INDEX_MIX = {
    "breast": ((0.00695, 0.00139, 0.00020, 0.00460), (0.03146, 0.00804, 0.00147, 0.02206),
               (0.01899, 0.00736, 0.00167, 0.01509), (0.00864, 0.00729, 0.00173, 0.00951),
               (0.00054, 0.00531, 0.00204, 0.00425), (0.00774, 0.00986, 0.00385, 0.01156)),
    "colorectal": ((0.00088, 0.00019, 0.00003, 0.00059), (0.00583, 0.00162, 0.00028, 0.00416),
                   (0.01194, 0.00491, 0.00110, 0.00966), (0.01299, 0.01134, 0.00272, 0.01456),
                   (0.00150, 0.01493, 0.00591, 0.01203), (0.00546, 0.00711, 0.00285, 0.00830)),
    "lung": ((0.00062, 0.00014, 0.00002, 0.00042), (0.00506, 0.00141, 0.00025, 0.00362),
             (0.00747, 0.00309, 0.00069, 0.00606), (0.00844, 0.00740, 0.00178, 0.00949),
             (0.00279, 0.02777, 0.01105, 0.02240), (0.00411, 0.00536, 0.00215, 0.00626)),
    "prostate": ((0.00088, 0.00020, 0.00003, 0.00060), (0.00816, 0.00226, 0.00040, 0.00583),
                 (0.01283, 0.00527, 0.00118, 0.01038), (0.00872, 0.00762, 0.00183, 0.00979),
                 (0.00081, 0.00805, 0.00319, 0.00649), (0.00721, 0.00938, 0.00375, 0.01095)),
    "upper_gi": ((0.00046, 0.00010, 0.00001, 0.00031), (0.00421, 0.00118, 0.00021, 0.00301),
                 (0.00597, 0.00247, 0.00055, 0.00484), (0.00539, 0.00472, 0.00113, 0.00605),
                 (0.00161, 0.01597, 0.00635, 0.01288), (0.00345, 0.00450, 0.00180, 0.00525)),
    "gynae": ((0.00036, 0.00006, 0.00001, 0.00023), (0.00799, 0.00200, 0.00037, 0.00558),
              (0.00433, 0.00165, 0.00038, 0.00342), (0.00285, 0.00238, 0.00056, 0.00312),
              (0.00038, 0.00373, 0.00144, 0.00298), (0.00239, 0.00302, 0.00117, 0.00355)),
    "urological": ((0.00412, 0.00097, 0.00013, 0.00281), (0.01308, 0.00356, 0.00063, 0.00930),
                   (0.00774, 0.00311, 0.00070, 0.00622), (0.00525, 0.00450, 0.00107, 0.00583),
                   (0.00059, 0.00584, 0.00228, 0.00469), (0.00422, 0.00547, 0.00218, 0.00639)),
    "head_neck_cns": ((0.00016, 0.00003, 0.00000, 0.00010), (0.00068, 0.00017, 0.00003, 0.00048),
                      (0.00086, 0.00033, 0.00008, 0.00069), (0.00075, 0.00063, 0.00015, 0.00082),
                      (0.00005, 0.00047, 0.00018, 0.00037), (0.00617, 0.00780, 0.00302, 0.00915)),
    "other": ((0.00258, 0.00054, 0.00008, 0.00172), (0.01462, 0.00369, 0.00068, 0.01022),
              (0.00835, 0.00321, 0.00073, 0.00662), (0.00549, 0.00460, 0.00109, 0.00602),
              (0.00046, 0.00450, 0.00176, 0.00362), (0.00984, 0.01292, 0.00523, 0.01507)),
}
AGE_GROUPS = ("<50", "50-64", "65-74", "75-84", "85+")
AGE_GIVEN_STAGE = {
    "0": (0.1255, 0.2364, 0.2482, 0.2306, 0.1594), "1": (0.1492, 0.2584, 0.2511, 0.2110, 0.1302),
    "2": (0.1124, 0.2451, 0.2757, 0.2356, 0.1312), "3": (0.0950, 0.2393, 0.2836, 0.2463, 0.1358),
    "4": (0.0386, 0.1965, 0.2999, 0.2944, 0.1706), "unknown": (0.1185, 0.2088, 0.2530, 0.2458, 0.1739),
}


N_TUMOURS_MIX = (0.6058, 0.2846, 0.1097)
"""P(1, 2, 3 tumours) of a patient of the reference network (its GENDER and N_TUMOURS tables)."""
_DIAGNOSIS_STEPS = 14   # half-years of diagnoses, 2013-2019 (DIAGNOSISDATEBEST's bins; nearly uniform)
_FIRST_DAY, _LAST_DAY = 0.0, 2557.0   # 2013-01-01 and 2020-01-01, days after 2013-01-01
_FOLLOW_UP_END = 3287.0               # end of 2021-12-31


def follow_up_mix() -> list[tuple[float, float, float]]:
    """``(weight, horizon, entry)`` of the patients' follow-up, in days from the index diagnosis.

    Each tumour is diagnosed at the middle of one of 14 half-years (2013-2019), independently; the
    index tumour is the first; follow-up ends at the 2021 cut-off (``horizon``). The survival process
    starts at the latest diagnosis (``entry: latest``): before it the patient cannot die.
    """
    step = (_LAST_DAY - _FIRST_DAY) / _DIAGNOSIS_STEPS
    m = _DIAGNOSIS_STEPS
    out = []
    for i in range(m):
        for j in range(i, m):
            gap = j - i
            weight = 0.0
            for n, p_n in enumerate(N_TUMOURS_MIX, start=1):
                # number of n-tuples of half-years whose minimum is i and maximum is j
                ways = 1 if gap == 0 else (gap + 1) ** n - 2 * gap ** n + (gap - 1) ** n
                if n == 1 and gap > 0:
                    ways = 0
                weight += p_n * ways / m ** n
            if weight > 0:
                out.append((weight, _FOLLOW_UP_END - (_FIRST_DAY + (i + 0.5) * step), gap * step))
    return out


def _daily_increments(rates: np.ndarray, starts, days: int) -> np.ndarray:
    """Expected occurrences on each day ``[d, d + 1)`` without death, for a stack of cells.

    ``rates`` has shape ``(cells, K, n_intervals)`` (occurrence k's hazard per interval); returns
    ``(cells, days)``. Exact: the death-free chain is propagated one day at a time with the matrix
    exponential of each interval's generator.
    """
    n_cells, n_occ, n_intervals = rates.shape
    size = n_occ + 1
    steps = []
    for j in range(n_intervals):
        q = np.zeros((n_cells, size, size))
        for k in range(n_occ):
            q[:, k, k + 1] = rates[:, k, j]
            q[:, k, k] = -rates[:, k, j]
        steps.append(_expm(q))
    state = np.zeros((n_cells, size))
    state[:, 0] = 1.0
    counts = np.arange(size)
    mean = state @ counts
    out = np.zeros((n_cells, days))
    interval = 0
    for day in range(days):
        while interval + 1 < n_intervals and day >= starts[interval + 1]:
            interval += 1
        state = np.einsum("ci,cij->cj", state, steps[interval])
        new_mean = state @ counts
        out[:, day] = new_mean - mean
        mean = new_mean
    return out


def expected_per_patient(event: str) -> float:
    """Expected occurrences of ``event`` per patient of the reference registry (analytic).

    Averages over the index-tumour mix (:data:`INDEX_MIX`), the age groups of each stage group
    (:data:`AGE_GIVEN_STAGE`, which set the death and exit hazards of
    :mod:`bayesgen.datasets.reference_events`) and the follow-up of :func:`follow_up_mix`. Death does
    not depend on the number of treatments, so the expected number is the integral of the
    death-free expected count's increments times the chance to be alive and followed up, computed on
    a daily grid (survival at mid-day). Approximate in one respect: age and the site/stage mix are
    taken independent of the number of tumours.

    Examples
    --------
    >>> 0.30 < expected_per_patient("REGIMEN") < 0.40
    True
    """
    from bayesgen.datasets import reference_events as ev

    starts = [0, 30, 91, 182, 365, 730, 1826]
    days = int(_FOLLOW_UP_END)
    max_count = 4 if event == "REGIMEN" else 3
    cells, shares = [], []
    for site, by_stage in INDEX_MIX.items():
        for stage, row in zip(STAGE_GROUPS, by_stage, strict=True):
            for intent, share in zip(INTENT_GROUPS, row, strict=True):
                if share > 0:
                    cells.append((site, stage, intent))
                    shares.append(share)
    rates = np.stack([np.stack([treatment_hazard(event, *cell, k) for k in range(max_count)]) for cell in cells])
    increments = _daily_increments(rates, starts, days)
    # weight of each day: P(followed up and alive at mid-day), by stage and age group
    follow_ups = follow_up_mix()
    weights = np.array([w for w, _, _ in follow_ups])
    horizons = np.array([h for _, h, _ in follow_ups])
    entries = np.array([e for _, _, e in follow_ups])
    middle = np.arange(days) + 0.5
    edges = np.asarray(starts, dtype=float)
    day_weight = {}
    for stage in STAGE_GROUPS:
        for age, p_age in zip(AGE_GROUPS, AGE_GIVEN_STAGE[stage], strict=True):
            multiplier, background = ev.AGE_DEATH[age]
            death = np.array([(ev.STAGE_DEATH[stage] * multiplier * t + background + ev.EXIT_PER_YEAR) / YEAR
                              for t in ev.TIME_DEATH])

            def cumulative(t, death=death):
                t = np.asarray(t, dtype=float)
                j = np.searchsorted(edges, t, side="right") - 1
                before = np.concatenate([[0.0], np.cumsum(death[:-1] * np.diff(edges))])
                return before[j] + death[j] * (t - edges[j])

            hazard = cumulative(middle)[None, :] - cumulative(entries)[:, None]
            alive = np.exp(-np.clip(hazard, 0.0, None))
            followed = middle[None, :] < horizons[:, None]
            day_weight[stage, age] = p_age * (weights @ (alive * followed))
    total = 0.0
    for (_, stage, _), share, inc in zip(cells, shares, increments, strict=True):
        weight = sum(day_weight[stage, age] for age in AGE_GROUPS)
        total += share * float(weight @ inc)
    return total
