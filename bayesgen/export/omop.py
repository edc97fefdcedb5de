"""Simulacrum v2 tables to OMOP CDM v5.4: PERSON, OBSERVATION_PERIOD, CONDITION_OCCURRENCE,
DRUG_EXPOSURE, PROCEDURE_OCCURRENCE, MEASUREMENT, DEATH, EPISODE and EPISODE_EVENT.

Every table has exactly the columns of the OHDSI CDM v5.4 DDL, in its order
(``inst/ddl/5.4/*/OMOPCDM_*_5.4_ddl.sql`` in OHDSI/CommonDataModel). Cancer data follow the OMOP
oncology conventions: one CONDITION_OCCURRENCE and one disease EPISODE per tumour; stage, grade
and receptor statuses as MEASUREMENT rows that point at their condition
(``measurement_event_id`` = the ``condition_occurrence_id``, ``meas_event_field_concept_id`` =
1147127); SACT regimens and radiotherapy episodes as treatment EPISODEs; EPISODE_EVENT linking
each episode to its condition, measurement, procedure and drug rows.

Only the patient and tumour tables are needed. SACT (``SIM_SACT_REGIMEN``, ``SIM_SACT_CYCLE``,
``SIM_SACT_DRUG_DETAIL``, ``SIM_SACT_OUTCOME``) and radiotherapy (``SIM_RTDS_EPISODE``,
``SIM_RTDS_PRESCRIPTION``, ``SIM_RTDS_EXPOSURE``) add drug exposures, radiotherapy procedures and
treatment episodes when present; the gene table has no OMOP target here. All nine OMOP tables are
always returned (empty when their source tables are absent).

Concept ids used (standard concepts, each checked against a public source)
-----------------------------------------------------------------------------
=========  =======================================  ==============================================
id         meaning, where                           source
=========  =======================================  ==============================================
8507       MALE: ``gender_concept_id`` (GENDER 1)   OHDSI Vocabulary-v5.0 wiki, "Vocab. GENDER"
8532       FEMALE: ``gender_concept_id`` (GENDER 2) same (GENDER 9 / X: 0, as that page directs)
32879      Registry: every ``*_type_concept_id``    IKNL/synthetic-breast-cancer-OMOP-database
                                                    (NCR to OMOP, init/205-217), FinnGen ETL
32533      Disease Episode: one EPISODE per tumour  IKNL init/207-FillEpisode_Disease.sql; OHDSI
                                                    oncology extension docs (named "Episode of
                                                    Care" there); OncologyWG wiki "Episode"
32531      Treatment Regimen: SACT regimen and      OHDSI/OncologyWG OncoRegimenFinderV5
           radiotherapy episodes                    EpisodeTable.sql; oxford-omop-data-mapper SACT
1147127    condition_occurrence.condition_          IKNL init/219; OncologyWG model.html (cancer
           occurrence_id (episode events, and       modifiers point at the condition with it)
           measurement ``meas_event_field``)
1147082    procedure_occurrence.procedure_          IKNL init/221; OncologyWG regimen dbt model
           occurrence_id (episode events)
1147094    drug_exposure.drug_exposure_id           OncologyWG OncoRegimenFinderV5 EpisodeTable.sql
1147138    measurement.measurement_id               IKNL init/220
4301351    Surgical procedure (DATE_FIRST_SURGERY)  three public OMOP code bases (a ConceptEnum
                                                    "surgical_procedure", execution-engine tests,
                                                    a concept browser configuration)
see below  AJCC/UICC T, N, M categories, grade      answerdigital/oxford-omop-data-mapper, COSD to
           (Cancer Modifier vocabulary)             OMOP measurement mapping (grade also IKNL 217)
see below  routes of administration (by label)      oxford-omop-data-mapper route mapping
=========  =======================================  ==============================================

Fallbacks: concept id 0, source value kept
------------------------------------------
The OHDSI vocabulary tables (ICDO3, SNOMED, RxNorm, HemOnc, Cancer Modifier) are not shipped, so
where a mapping needs them the concept id is 0 and the code stays in the ``*_source_value``:

- ``condition_concept_id``, disease ``episode_object_concept_id``: 0. ``condition_source_value`` =
  ``"histology/behaviour-topography"``, e.g. ``"8500/3-C50.9"``: the concept code of the OMOP
  ICDO3 vocabulary (MORPH_ICDO3REV2011 / BEHAVIOUR_ICDO3REV2011 - SITE_ICDO3REV2011 with a dot;
  an ``X`` 4th character, as in ``C61X``, becomes ``.9``), which the vocabulary's "Maps to"
  relationship turns into the standard condition, as the IKNL ETL does.
- ``race_concept_id``, ``ethnicity_concept_id``: 0; the NHS ethnic category is in
  ``race_source_value``.
- ``cause_concept_id``: 0; DEATHCAUSECODE_UNDERLYING (ICD-10) in ``cause_source_value``.
- MEASUREMENT: STAGE_BEST, ER_STATUS, PR_STATUS, HER2_STATUS, the T values ``IS`` (Tis) and ``A``
  (Ta), and the grades GX, GH, GI, GL: ``measurement_concept_id`` 0. Every measurement keeps the
  Simulacrum column in ``measurement_source_value`` and the value in ``value_source_value``.
- ``drug_concept_id``: 0 (DRUG_GROUP, a drug name, in ``drug_source_value``); ``route_concept_id``:
  from the schema's label of ADMINISTRATION_ROUTE when it is one of the routes below, else 0
  (the code in ``route_source_value``).
- Radiotherapy ``procedure_concept_id``: 0 (RTTREATMENTMODALITY in ``procedure_source_value``,
  RTTREATMENTREGION in ``modifier_source_value``).
- Treatment ``episode_object_concept_id``: 0 (MAPPED_REGIMEN, or ``"radiotherapy"``, in
  ``episode_source_value``).
- ``*_source_concept_id``: 0 wherever a source value is given.

Approximations
--------------
- ``year_of_birth`` = year of the index (first) tumour's DIAGNOSISDATEBEST minus its AGE: the
  registry holds age at diagnosis, not a birth date, so the year can be one too late (birthday
  after the diagnosis date in the year). Month, day and ``birth_datetime`` are left empty.
- ``person_id`` = PATIENTID when it is an integer, else a 63-bit hash of its text (BLAKE2b);
  ``condition_occurrence_id`` likewise from TUMOURID. Other ids are 1, 2, ... in source order.
- OBSERVATION_PERIOD: one per person, from the earliest to the latest date of any of the person's
  rows, and at least to VITALSTATUSDATE (death or last follow-up).
- A disease episode ends at death, else is open (OncologyWG convention). A treatment episode's
  ``episode_parent_id`` is the disease episode of the person's latest tumour diagnosed on or before
  the treatment started (the earliest tumour if none was): SACT and RTDS link to the patient, not
  to a tumour. SACT regimens are numbered per person (``episode_number``) by start date.
- A SACT drug administration is one DRUG_EXPOSURE on ADMINISTRATION_DATE (else its cycle's start,
  else its regimen's); ``quantity`` = ACTUAL_DOSE_PER_ADMINISTRATION. A regimen ends on
  DATE_OF_FINAL_TREATMENT (SIM_SACT_OUTCOME), else on its last cycle or administration.
- A radiotherapy prescription is one PROCEDURE_OCCURRENCE on its APPTDATE (else its episode's),
  ending on its last exposure, ``quantity`` = RTACTUALFRACTIONS (else RTPRESCRIBEDFRACTIONS); an
  episode without prescriptions gets one procedure on its own APPTDATE.
- Rows without any usable date (a required OMOP field) are left out.

Files are ``OUT_DIR/TABLE.csv`` or ``.parquet`` (dates as ``YYYY-MM-DD``, Parquet ``date32``),
written to a temporary folder that replaces ``OUT_DIR`` only when every table is written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bayesgen.errors import BayesgenError, DataValidationError
from bayesgen.tables.io import write_folder_atomically

# -- OMOP CDM v5.4 tables: columns in DDL order, with their kind --------------------------------------
_I, _N, _S, _D, _T = "int", "num", "str", "date", "datetime"

OMOP_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "PERSON": (
        ("person_id", _I), ("gender_concept_id", _I), ("year_of_birth", _I), ("month_of_birth", _I),
        ("day_of_birth", _I), ("birth_datetime", _T), ("race_concept_id", _I), ("ethnicity_concept_id", _I),
        ("location_id", _I), ("provider_id", _I), ("care_site_id", _I), ("person_source_value", _S),
        ("gender_source_value", _S), ("gender_source_concept_id", _I), ("race_source_value", _S),
        ("race_source_concept_id", _I), ("ethnicity_source_value", _S), ("ethnicity_source_concept_id", _I)),
    "OBSERVATION_PERIOD": (
        ("observation_period_id", _I), ("person_id", _I), ("observation_period_start_date", _D),
        ("observation_period_end_date", _D), ("period_type_concept_id", _I)),
    "CONDITION_OCCURRENCE": (
        ("condition_occurrence_id", _I), ("person_id", _I), ("condition_concept_id", _I),
        ("condition_start_date", _D), ("condition_start_datetime", _T), ("condition_end_date", _D),
        ("condition_end_datetime", _T), ("condition_type_concept_id", _I), ("condition_status_concept_id", _I),
        ("stop_reason", _S), ("provider_id", _I), ("visit_occurrence_id", _I), ("visit_detail_id", _I),
        ("condition_source_value", _S), ("condition_source_concept_id", _I), ("condition_status_source_value", _S)),
    "DRUG_EXPOSURE": (
        ("drug_exposure_id", _I), ("person_id", _I), ("drug_concept_id", _I), ("drug_exposure_start_date", _D),
        ("drug_exposure_start_datetime", _T), ("drug_exposure_end_date", _D), ("drug_exposure_end_datetime", _T),
        ("verbatim_end_date", _D), ("drug_type_concept_id", _I), ("stop_reason", _S), ("refills", _I),
        ("quantity", _N), ("days_supply", _I), ("sig", _S), ("route_concept_id", _I), ("lot_number", _S),
        ("provider_id", _I), ("visit_occurrence_id", _I), ("visit_detail_id", _I), ("drug_source_value", _S),
        ("drug_source_concept_id", _I), ("route_source_value", _S), ("dose_unit_source_value", _S)),
    "PROCEDURE_OCCURRENCE": (
        ("procedure_occurrence_id", _I), ("person_id", _I), ("procedure_concept_id", _I), ("procedure_date", _D),
        ("procedure_datetime", _T), ("procedure_end_date", _D), ("procedure_end_datetime", _T),
        ("procedure_type_concept_id", _I), ("modifier_concept_id", _I), ("quantity", _I), ("provider_id", _I),
        ("visit_occurrence_id", _I), ("visit_detail_id", _I), ("procedure_source_value", _S),
        ("procedure_source_concept_id", _I), ("modifier_source_value", _S)),
    "MEASUREMENT": (
        ("measurement_id", _I), ("person_id", _I), ("measurement_concept_id", _I), ("measurement_date", _D),
        ("measurement_datetime", _T), ("measurement_time", _S), ("measurement_type_concept_id", _I),
        ("operator_concept_id", _I), ("value_as_number", _N), ("value_as_concept_id", _I), ("unit_concept_id", _I),
        ("range_low", _N), ("range_high", _N), ("provider_id", _I), ("visit_occurrence_id", _I),
        ("visit_detail_id", _I), ("measurement_source_value", _S), ("measurement_source_concept_id", _I),
        ("unit_source_value", _S), ("unit_source_concept_id", _I), ("value_source_value", _S),
        ("measurement_event_id", _I), ("meas_event_field_concept_id", _I)),
    "DEATH": (
        ("person_id", _I), ("death_date", _D), ("death_datetime", _T), ("death_type_concept_id", _I),
        ("cause_concept_id", _I), ("cause_source_value", _S), ("cause_source_concept_id", _I)),
    "EPISODE": (
        ("episode_id", _I), ("person_id", _I), ("episode_concept_id", _I), ("episode_start_date", _D),
        ("episode_start_datetime", _T), ("episode_end_date", _D), ("episode_end_datetime", _T),
        ("episode_parent_id", _I), ("episode_number", _I), ("episode_object_concept_id", _I),
        ("episode_type_concept_id", _I), ("episode_source_value", _S), ("episode_source_concept_id", _I)),
    "EPISODE_EVENT": (
        ("episode_id", _I), ("event_id", _I), ("episode_event_field_concept_id", _I)),
}

# -- standard concept ids (sources in the module docstring) -------------------------------------------
MALE, FEMALE = 8507, 8532
REGISTRY = 32879                     # Type Concept "Registry"
DISEASE_EPISODE = 32533              # Episode (named "Episode of Care" in the 2020 extension document)
TREATMENT_REGIMEN = 32531
FIELD_CONDITION = 1147127            # condition_occurrence.condition_occurrence_id
FIELD_PROCEDURE = 1147082            # procedure_occurrence.procedure_occurrence_id
FIELD_DRUG = 1147094                 # drug_exposure.drug_exposure_id
FIELD_MEASUREMENT = 1147138          # measurement.measurement_id
SURGICAL_PROCEDURE = 4301351

GENDER_CONCEPTS = {"1": MALE, "2": FEMALE}

# Cancer Modifier concepts for the NHS (COSD) TNM and grade codes, as oxford-omop-data-mapper maps them
T_CONCEPTS = {"0": 1634213, "1": 1635564, "1A": 1633880, "1B": 1633921, "1C": 1633529, "2": 1635562,
              "2A": 1635327, "2B": 1633593, "2C": 1635270, "3": 1634376, "3A": 1633771, "3B": 1634980,
              "4": 1634654, "4A": 1635222, "4B": 1634436, "4C": 1635526, "4D": 1633909, "X": 1635682}
N_CONCEPTS = {"0": 1633440, "1": 1634434, "1A": 1633735, "1B": 1635130, "1C": 1634620, "2": 1634119,
              "2A": 1635644, "2B": 1634134, "2C": 1634080, "3": 1635320, "3A": 1635590, "3B": 1633422,
              "3C": 1634735, "X": 1633885}
M_CONCEPTS = {"0": 1635624, "1": 1635142, "1A": 1635100, "1B": 1634463, "1C": 1635519, "X": 1633547}
GRADE_CONCEPTS = {"G1": 36768162, "G2": 36770626, "G3": 36769666, "G4": 36769737}

# the tumour columns written as MEASUREMENT rows, with their concept lookups (empty: fallback 0)
MEASURED = {"T_BEST": T_CONCEPTS, "N_BEST": N_CONCEPTS, "M_BEST": M_CONCEPTS, "STAGE_BEST": {},
            "GRADE": GRADE_CONCEPTS, "ER_STATUS": {}, "PR_STATUS": {}, "HER2_STATUS": {}}

# standard Route concepts by name (oxford-omop-data-mapper's route table); matched to schema labels
ROUTE_CONCEPTS = {"oral": 4132161, "intravenous": 4171047, "subcutaneous": 4142048, "intramuscular": 4302612,
                  "intrathecal": 4217202, "intra-arterial": 4240824, "intraarterial": 4240824,
                  "intravesical": 4186838, "intraperitoneal": 4243022, "intrapleural": 4156707,
                  "topical": 4263689, "cutaneous (topical)": 4263689, "intralesional": 4157758,
                  "intradermal": 4156706}

# -- the OMOP keys, for bayesgen.tables.integrity.check_integrity(tables, OMOP_KEYS) ------------------
_PERSON_FK = ("person_id", "PERSON", "person_id")
_EVENT_TARGETS = ((FIELD_CONDITION, "CONDITION_OCCURRENCE", "condition_occurrence_id"),
                  (FIELD_PROCEDURE, "PROCEDURE_OCCURRENCE", "procedure_occurrence_id"),
                  (FIELD_DRUG, "DRUG_EXPOSURE", "drug_exposure_id"),
                  (FIELD_MEASUREMENT, "MEASUREMENT", "measurement_id"))
OMOP_KEYS: dict[str, dict] = {
    "PERSON": {"primary_key": "person_id"},
    "OBSERVATION_PERIOD": {"primary_key": "observation_period_id", "foreign_keys": [_PERSON_FK]},
    "CONDITION_OCCURRENCE": {"primary_key": "condition_occurrence_id", "foreign_keys": [_PERSON_FK]},
    "DRUG_EXPOSURE": {"primary_key": "drug_exposure_id", "foreign_keys": [_PERSON_FK]},
    "PROCEDURE_OCCURRENCE": {"primary_key": "procedure_occurrence_id", "foreign_keys": [_PERSON_FK]},
    "MEASUREMENT": {"primary_key": "measurement_id", "foreign_keys": [_PERSON_FK] + [
        ("measurement_event_id", table, column, f"meas_event_field_concept_id = {field}")
        for field, table, column in _EVENT_TARGETS]},
    "DEATH": {"primary_key": None, "foreign_keys": [_PERSON_FK]},
    "EPISODE": {"primary_key": "episode_id",
                "foreign_keys": [_PERSON_FK, ("episode_parent_id", "EPISODE", "episode_id")]},
    "EPISODE_EVENT": {"primary_key": None, "foreign_keys": [("episode_id", "EPISODE", "episode_id")] + [
        ("event_id", table, column, f"episode_event_field_concept_id = {field}")
        for field, table, column in _EVENT_TARGETS]},
}

FORMATS = ("csv", "parquet")
_NUMERIC = {"AGE", "ACTUAL_DOSE_PER_ADMINISTRATION", "RTACTUALFRACTIONS", "RTPRESCRIBEDFRACTIONS",
            "RTACTUALDOSE", "RTPRESCRIBEDDOSE", "CYCLE_NUMBER"}
_ID_BITS = (1 << 63) - 1


# -- input preparation -------------------------------------------------------------------------------
def _declared(schema, table: str, column: str):
    if schema is None or table not in getattr(schema, "tables", {}):
        return None
    try:
        return schema.tables[table].column(column)
    except KeyError:
        return None


def _text(series: pd.Series) -> pd.Series:
    """Codes as text (``"03"`` stays ``"03"``; an integral float 3.0 becomes ``"3"``), missing as NaN.

    Returns an ``object`` Series of ``str`` (categories and integers are converted without a
    per-row Python loop).
    """
    index = series.index
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = np.array([None if str(c).strip() == "" else str(c).strip() for c in series.cat.categories]
                              + [None], dtype=object)
        codes = series.cat.codes.to_numpy()
        return pd.Series(categories[np.where(codes >= 0, codes, len(categories) - 1)], index=index, dtype=object)
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.dropna()
        if (values == np.round(values)).all():
            series = series.astype("Int64")
    if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_float_dtype(series.dtype):
        out = np.full(len(series), None, dtype=object)
        present = series.notna().to_numpy()
        kind = "int64" if pd.api.types.is_integer_dtype(series.dtype) else float
        out[present] = series[present].astype(kind).astype(str).to_numpy()
        return pd.Series(out, index=index, dtype=object)
    values = series.astype(object)
    present = values.notna().to_numpy()
    out = np.full(len(series), None, dtype=object)
    out[present] = values[present].astype(str).str.strip().to_numpy()
    out[present & (out == "")] = None
    return pd.Series(out, index=index, dtype=object)


def _dates(series: pd.Series, table: str, column: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = pd.to_datetime(series)
    else:
        text = _text(series)
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        bad = text.notna() & parsed.isna()
        if bad.any():
            raise DataValidationError(table, column, "not a date", value=text[bad].iloc[0], n_rows=int(bad.sum()))
    return parsed.dt.normalize().astype("datetime64[s]")


def _numbers(series: pd.Series, table: str, column: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    text = _text(series)
    parsed = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & parsed.isna()
    if bad.any():
        raise DataValidationError(table, column, "not a number", value=text[bad].iloc[0], n_rows=int(bad.sum()))
    return parsed.astype(float)


class _Source:
    """A source table with typed access to its columns (absent columns read as missing)."""

    def __init__(self, name: str, frame: pd.DataFrame, schema):
        self.name, self.frame, self.schema = name, frame.reset_index(drop=True), schema

    def __len__(self) -> int:
        return len(self.frame)

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    def text(self, column: str) -> pd.Series:
        if not self.has(column):
            return pd.Series(None, index=self.frame.index, dtype=object)
        return _text(self.frame[column])

    def date(self, column: str) -> pd.Series:
        if not self.has(column):
            return pd.Series(pd.NaT, index=self.frame.index, dtype="datetime64[s]")
        return _dates(self.frame[column], self.name, column)

    def number(self, column: str) -> pd.Series:
        if not self.has(column):
            return pd.Series(np.nan, index=self.frame.index)
        return _numbers(self.frame[column], self.name, column)

    def label(self, column: str, code: str) -> str | None:
        declared = _declared(self.schema, self.name, column)
        labels = getattr(declared, "labels", None) or {}
        return labels.get(code)


def _stable_ids(keys: pd.Series, table: str, column: str) -> np.ndarray:
    """Integer ids from key text: the integer itself, else a 63-bit BLAKE2b hash of the text."""
    missing = keys.isna()
    if missing.any():
        raise DataValidationError(table, column, "missing key", n_rows=int(missing.sum()))
    text = keys.astype(str)
    if text.str.fullmatch(r"-?\d{1,18}").all():
        return text.astype(np.int64).to_numpy()
    unique = pd.unique(text)
    hashed = {value: int.from_bytes(hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest(), "big") & _ID_BITS
              for value in unique}
    if len(set(hashed.values())) != len(hashed):  # pragma: no cover - 2**-63 per pair
        raise BayesgenError(f"{table}.{column}: two keys hash to the same id; use integer keys")
    return text.map(hashed).to_numpy(dtype=np.int64)


def _lookup(keys: pd.Series, mapping: pd.Series, table: str, column: str, target: str) -> pd.Series:
    """Map key text through ``mapping`` (text -> id); a key with no match is a broken reference."""
    found = keys.map(mapping)
    broken = keys.notna() & found.isna()
    if broken.any():
        raise DataValidationError(table, column, f"refers to no {target}", value=str(keys[broken].iloc[0]),
                                  n_rows=int(broken.sum()))
    return found


def _link(schema, table: str, default: tuple[str, str, str]) -> tuple[str, str, str]:
    """(key, parent table, parent column) of ``table``'s link in the schema, else ``default``."""
    declared = getattr(schema, "tables", {}).get(table) if schema is not None else None
    link = getattr(declared, "parent", None)
    if link is None:
        return default
    parent = schema.tables.get(link.table)
    target = getattr(link, "references", None) or getattr(parent, "primary_key", None) or default[2]
    return str(link.key), str(link.table), str(target)


# -- output frames -----------------------------------------------------------------------------------
def _omop_frame(name: str, n: int, **values) -> pd.DataFrame:
    """An OMOP table of ``n`` rows: the given columns typed by kind, every other column empty."""
    data = {}
    for column, kind in OMOP_COLUMNS[name]:
        given = values.pop(column, None)
        if isinstance(given, pd.Series):
            given = given.to_numpy()
        scalar = given is not None and np.ndim(given) == 0
        if kind == _I:
            if given is None:
                data[column] = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
            elif scalar:
                data[column] = pd.arrays.IntegerArray(np.full(n, int(given), dtype=np.int64), np.zeros(n, dtype=bool))
            else:
                data[column] = pd.array(given, dtype="Int64")
        elif kind == _N:
            data[column] = np.full(n, np.nan) if given is None else \
                pd.to_numeric(pd.Series(np.repeat(given, n) if scalar else given), errors="coerce").to_numpy(float)
        elif kind == _S:
            data[column] = np.full(n, None, dtype=object) if given is None else \
                _str_or_none(pd.Series(np.repeat(given, n) if scalar else given, dtype=object))
        else:
            data[column] = np.full(n, np.datetime64("NaT", "s")) if given is None else \
                pd.Series(given, dtype="datetime64[s]").to_numpy()
    if values:
        raise BayesgenError(f"internal: {name} has no columns {sorted(values)}")
    return pd.DataFrame(data, index=pd.RangeIndex(n))


def _str_or_none(series: pd.Series, limit: int = 50) -> np.ndarray:
    """Text of at most ``limit`` characters (the CDM's varchar(50)), missing as None."""
    out = series.astype(object).to_numpy(copy=True)
    present = pd.notna(out)
    out[~present] = None
    if present.any() and max(map(len, pd.unique(out[present]))) > limit:
        out[present] = [v[:limit] for v in out[present]]
    return out


def _icdo3_topography(site: pd.Series) -> pd.Series:
    """``C509`` -> ``C50.9``, ``C61X`` / ``C61`` -> ``C61.9`` (ICD-O-3 topography with its dot)."""
    stem, last = site.str[:3], site.str[3:4]
    last = last.mask(last.isna() | (last == "") | (last.str.upper() == "X"), "9")
    dotted = stem + "." + last
    return dotted.where(site.str.fullmatch(r"C\d\d[0-9Xx]?", na=False), site)


# -- the export --------------------------------------------------------------------------------------
def export_omop(tables: Mapping[str, pd.DataFrame], schema=None, out_dir: str | os.PathLike | None = None,
                format: str = "csv", *, overwrite: bool = False) -> dict[str, pd.DataFrame]:
    """Turn a Simulacrum v2 table set into OMOP CDM v5.4 tables (and write them to ``out_dir``).

    Parameters
    ----------
    tables : dict of str to DataFrame
        Simulacrum tables by name: SIM_AV_PATIENT and SIM_AV_TUMOUR at least; the SACT and RTDS
        tables when present. Columns may be typed (as :func:`bayesgen.datasets.simulate_registry`
        and ``Synthesizer.sample`` return them) or text (as read from CSV).
    schema : Schema, optional
        The Simulacrum schema: its labels name the SACT routes of administration and its ``parent``
        links say how SACT regimens reach the patient (``LINK_NUMBER`` -> ``LINKNUMBER``).
    out_dir : path, optional
        Where to write ``TABLE.csv`` / ``TABLE.parquet``, one per OMOP table; atomically (the folder
        appears only once complete). Nothing is written when omitted.
    format : {"csv", "parquet"}
        The file format.
    overwrite : bool, default False
        Replace a non-empty ``out_dir`` (refused otherwise).

    Returns
    -------
    dict of str to DataFrame
        PERSON, OBSERVATION_PERIOD, CONDITION_OCCURRENCE, DRUG_EXPOSURE, PROCEDURE_OCCURRENCE,
        MEASUREMENT, DEATH, EPISODE and EPISODE_EVENT (the DDL's order), each with the CDM v5.4 columns in DDL order
        (integers as ``Int64``, dates as ``datetime64[s]``, text as ``object``).

    Raises
    ------
    DataValidationError
        A key refers to no row (a tumour of an unknown patient, a cycle of an unknown regimen), a
        date or number does not parse, or a patient has no tumour to date the birth year from.

    Examples
    --------
    >>> import tempfile, bayesgen as bg
    >>> schema = bg.Schema.load("schemas/simulacrum_v2.yaml")
    >>> registry = bg.datasets.simulate_registry(200, rng=0)
    >>> omop = export_omop(registry, schema, tempfile.mkdtemp() + "/omop")
    >>> list(omop)  # doctest: +NORMALIZE_WHITESPACE
    ['PERSON', 'OBSERVATION_PERIOD', 'CONDITION_OCCURRENCE', 'DRUG_EXPOSURE', 'PROCEDURE_OCCURRENCE',
     'MEASUREMENT', 'DEATH', 'EPISODE', 'EPISODE_EVENT']
    >>> len(omop["PERSON"]), len(omop["CONDITION_OCCURRENCE"]) == len(registry["SIM_AV_TUMOUR"])
    (200, True)
    >>> sorted(int(c) for c in set(omop["PERSON"]["gender_concept_id"]) - {0})
    [8507, 8532]
    >>> omop["CONDITION_OCCURRENCE"]["condition_source_value"].iloc[0]
    '8140/3-C18.7'
    >>> dead = registry["SIM_AV_PATIENT"]["VITALSTATUS"].astype(str).str.startswith("D")
    >>> len(omop["DEATH"]) == int(dead.sum())
    True
    """
    if format not in FORMATS:
        raise BayesgenError(f"format must be one of {FORMATS}, got {format!r}")
    for required in ("SIM_AV_PATIENT", "SIM_AV_TUMOUR"):
        if required not in tables:
            raise BayesgenError(f"export_omop needs the {required} table (got {sorted(tables)})")
    src = {name: _Source(name, frame, schema) for name, frame in tables.items()}
    out = _Builder(src, schema).build()
    if out_dir is not None:
        write_omop(out, out_dir, format, overwrite=overwrite)
    return out


class _Builder:
    """Builds the OMOP tables from the typed sources, one domain at a time."""

    def __init__(self, src: dict[str, _Source], schema):
        self.src, self.schema = src, schema
        self.events: list[pd.DataFrame] = []      # person_id, date: every dated row, for observation periods
        self.episode_events: list[pd.DataFrame] = []

    # -- persons and tumours ---------------------------------------------------------------------
    def persons(self):
        patients = self.src["SIM_AV_PATIENT"]
        self.patient_key = patients.text("PATIENTID")
        duplicated = self.patient_key.duplicated() & self.patient_key.notna()
        if duplicated.any():
            raise DataValidationError("SIM_AV_PATIENT", "PATIENTID", "duplicated key",
                                      value=str(self.patient_key[duplicated].iloc[0]), n_rows=int(duplicated.sum()))
        self.person_id = _stable_ids(self.patient_key, "SIM_AV_PATIENT", "PATIENTID")
        self.person_of_patient = pd.Series(self.person_id, index=self.patient_key.to_numpy())

    def conditions(self) -> pd.DataFrame:
        tumours = self.src["SIM_AV_TUMOUR"]
        person = _lookup(tumours.text("PATIENTID"), self.person_of_patient, "SIM_AV_TUMOUR", "PATIENTID",
                         "patient").astype("int64").to_numpy()
        condition_id = _stable_ids(tumours.text("TUMOURID"), "SIM_AV_TUMOUR", "TUMOURID")
        if pd.Series(condition_id).duplicated().any():
            raise DataValidationError("SIM_AV_TUMOUR", "TUMOURID", "duplicated key",
                                      n_rows=int(pd.Series(condition_id).duplicated().sum()))
        diagnosed = tumours.date("DIAGNOSISDATEBEST")
        undated = diagnosed.isna()
        if undated.any():
            raise DataValidationError("SIM_AV_TUMOUR", "DIAGNOSISDATEBEST", "missing diagnosis date",
                                      n_rows=int(undated.sum()))
        site = tumours.text("SITE_ICDO3REV2011").fillna(tumours.text("SITE_ICD10_O2"))
        topography = _icdo3_topography(site)
        morph = tumours.text("MORPH_ICDO3REV2011").fillna(tumours.text("MORPH_ICD10_O2"))
        behaviour = tumours.text("BEHAVIOUR_ICDO3REV2011").fillna(tumours.text("BEHAVIOUR_ICD10_O2"))
        histology = morph.where(~behaviour.str.fullmatch(r"\d", na=False), morph + "/" + behaviour)
        source = (histology + "-" + topography).fillna(topography).fillna(histology)
        self.tumours = pd.DataFrame({"condition_id": condition_id, "person_id": person, "date": diagnosed.to_numpy(),
                                     "source": source.to_numpy(dtype=object), "age": tumours.number("AGE").to_numpy()})
        self.events.append(self.tumours[["person_id", "date"]])
        return _omop_frame("CONDITION_OCCURRENCE", len(tumours), condition_occurrence_id=condition_id,
                           person_id=person, condition_concept_id=0, condition_start_date=diagnosed,
                           condition_type_concept_id=REGISTRY, condition_source_value=_str_or_none(source),
                           condition_source_concept_id=0)

    def person_table(self) -> pd.DataFrame:
        patients = self.src["SIM_AV_PATIENT"]
        order = self.tumours.assign(birth=self.tumours["date"].dt.year - self.tumours["age"])
        order = order.sort_values(["person_id", "date", "condition_id"], kind="stable")
        index_birth = order.groupby("person_id", sort=False)["birth"].first()
        any_birth = order.dropna(subset=["birth"]).groupby("person_id", sort=False)["birth"].first()
        birth = pd.Series(self.person_id).map(index_birth.fillna(any_birth))
        if birth.isna().any():
            missing = birth.isna().to_numpy()
            raise DataValidationError("SIM_AV_TUMOUR", "AGE", "patients with no tumour (or no AGE) to date the "
                                      "year of birth from", value=str(self.patient_key[missing].iloc[0]),
                                      n_rows=int(missing.sum()))
        gender = patients.text("GENDER")
        return _omop_frame("PERSON", len(patients), person_id=self.person_id,
                           gender_concept_id=gender.map(GENDER_CONCEPTS).fillna(0).astype(int).to_numpy(),
                           year_of_birth=birth.astype(int).to_numpy(), race_concept_id=0, ethnicity_concept_id=0,
                           person_source_value=_str_or_none(self.patient_key), gender_source_value=_str_or_none(gender),
                           gender_source_concept_id=0, race_source_value=_str_or_none(patients.text("ETHNICITY")),
                           race_source_concept_id=0)

    def deaths(self) -> pd.DataFrame:
        patients = self.src["SIM_AV_PATIENT"]
        status, date = patients.text("VITALSTATUS"), patients.date("VITALSTATUSDATE")
        self.follow_up = pd.DataFrame({"person_id": self.person_id, "date": date.to_numpy()})
        dead = (status.str.upper().str.startswith("D").fillna(False) & date.notna()).to_numpy()
        self.death_date = pd.Series(date.to_numpy()[dead], index=self.person_id[dead])
        return _omop_frame("DEATH", int(dead.sum()), person_id=self.person_id[dead], death_date=date[dead],
                           death_type_concept_id=REGISTRY, cause_concept_id=0,
                           cause_source_value=_str_or_none(patients.text("DEATHCAUSECODE_UNDERLYING")[dead]),
                           cause_source_concept_id=np.where(
                               patients.text("DEATHCAUSECODE_UNDERLYING")[dead].notna(), 0, pd.NA))

    def disease_episodes(self) -> pd.DataFrame:
        t = self.tumours
        n = len(t)
        self.disease_episode = np.arange(1, n + 1, dtype=np.int64)
        self.episode_of_condition = pd.Series(self.disease_episode, index=t["condition_id"].to_numpy())
        end = t["person_id"].map(self.death_date).to_numpy(dtype="datetime64[s]")
        end = np.where(end >= t["date"].to_numpy(dtype="datetime64[s]"), end, np.datetime64("NaT", "s"))
        self.episode_events.append(pd.DataFrame({"episode_id": self.disease_episode, "event_id": t["condition_id"],
                                                 "episode_event_field_concept_id": FIELD_CONDITION}))
        self.next_episode = n + 1
        return _omop_frame("EPISODE", n, episode_id=self.disease_episode, person_id=t["person_id"],
                           episode_concept_id=DISEASE_EPISODE, episode_start_date=t["date"], episode_end_date=end,
                           episode_object_concept_id=0, episode_type_concept_id=REGISTRY,
                           episode_source_value=_str_or_none(t["source"]), episode_source_concept_id=0)

    def measurements(self) -> pd.DataFrame:
        tumours = self.src["SIM_AV_TUMOUR"]
        parts = []
        for column, concepts in MEASURED.items():
            values = tumours.text(column)
            present = values.notna().to_numpy()
            if not present.any():
                continue
            value = values[present].str.upper()
            parts.append(pd.DataFrame({
                "condition_id": self.tumours["condition_id"].to_numpy()[present],
                "person_id": self.tumours["person_id"].to_numpy()[present],
                "date": self.tumours["date"].to_numpy()[present],
                "concept": value.map(concepts).fillna(0).astype(np.int64).to_numpy(),
                "source": column, "value": values[present].to_numpy(dtype=object)}))
        rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {"condition_id": [], "person_id": [], "date": pd.Series([], dtype="datetime64[s]"), "concept": [],
             "source": [], "value": []})
        rows = rows.sort_values(["condition_id", "source"], kind="stable", ignore_index=True) if len(rows) else rows
        ids = np.arange(1, len(rows) + 1, dtype=np.int64)
        self.episode_events.append(pd.DataFrame({
            "episode_id": rows["condition_id"].map(self.episode_of_condition).to_numpy(dtype=np.int64),
            "event_id": ids, "episode_event_field_concept_id": FIELD_MEASUREMENT}))
        return _omop_frame("MEASUREMENT", len(rows), measurement_id=ids, person_id=rows["person_id"],
                           measurement_concept_id=rows["concept"], measurement_date=rows["date"],
                           measurement_type_concept_id=REGISTRY, measurement_source_value=_str_or_none(rows["source"]),
                           measurement_source_concept_id=0, value_source_value=_str_or_none(rows["value"]),
                           measurement_event_id=rows["condition_id"], meas_event_field_concept_id=FIELD_CONDITION)

    # -- treatments -------------------------------------------------------------------------------
    def _parent_episode(self, person_id: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Disease episode of the person's latest tumour diagnosed on or before ``start``."""
        if len(person_id) == 0:
            return np.zeros(0, dtype=np.int64)
        tumours = self.tumours.assign(episode=self.disease_episode).sort_values(["date", "condition_id"])
        query = pd.DataFrame({"person_id": person_id, "date": start, "row": np.arange(len(person_id))})
        query = query.sort_values("date", kind="stable")
        matched = pd.merge_asof(query, tumours[["person_id", "date", "episode"]], on="date", by="person_id",
                                direction="backward")
        first = tumours.groupby("person_id")["episode"].first()
        matched["episode"] = matched["episode"].fillna(matched["person_id"].map(first))
        return matched.sort_values("row")["episode"].to_numpy(dtype=np.int64)

    def surgery(self) -> pd.DataFrame:
        date = self.src["SIM_AV_TUMOUR"].date("DATE_FIRST_SURGERY")
        done = date.notna().to_numpy()
        n = int(done.sum())
        self.procedure_count = n
        ids = np.arange(1, n + 1, dtype=np.int64)
        rows = self.tumours[done]
        self.events.append(pd.DataFrame({"person_id": rows["person_id"].to_numpy(), "date": date[done].to_numpy()}))
        self.episode_events.append(pd.DataFrame({
            "episode_id": rows["condition_id"].map(self.episode_of_condition).to_numpy(dtype=np.int64),
            "event_id": ids, "episode_event_field_concept_id": FIELD_PROCEDURE}))
        return _omop_frame("PROCEDURE_OCCURRENCE", n, procedure_occurrence_id=ids, person_id=rows["person_id"],
                           procedure_concept_id=SURGICAL_PROCEDURE, procedure_date=date[done],
                           procedure_type_concept_id=REGISTRY, procedure_source_value="DATE_FIRST_SURGERY",
                           procedure_source_concept_id=0)

    def radiotherapy(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Procedures (one per prescription) and Treatment Regimen episodes (one per RT episode)."""
        empty = (_omop_frame("PROCEDURE_OCCURRENCE", 0), _omop_frame("EPISODE", 0))
        if "SIM_RTDS_EPISODE" not in self.src:
            return empty
        episodes = self.src["SIM_RTDS_EPISODE"]
        key, parent, target = _link(self.schema, "SIM_RTDS_EPISODE", ("PATIENTID", "SIM_AV_PATIENT", "PATIENTID"))
        person_of = self._person_map(parent, target)
        ep_key = episodes.text("RADIOTHERAPYEPISODEID")
        ep_person = _lookup(episodes.text(key), person_of, "SIM_RTDS_EPISODE", key, "patient")
        ep_date = episodes.date("APPTDATE").fillna(episodes.date("DECISIONTOTREATDATE"))
        ep = pd.DataFrame({"key": ep_key.to_numpy(dtype=object), "person_id": ep_person.to_numpy(),
                           "date": ep_date.to_numpy()})
        if "SIM_RTDS_PRESCRIPTION" in self.src:
            pres = self.src["SIM_RTDS_PRESCRIPTION"]
            pkey, _, _ = _link(self.schema, "SIM_RTDS_PRESCRIPTION",
                               ("RADIOTHERAPYEPISODEID", "SIM_RTDS_EPISODE", "RADIOTHERAPYEPISODEID"))
            episode_key = pres.text(pkey)
            row_of_episode = pd.Series(np.arange(len(ep)), index=ep["key"].to_numpy())
            ep_row = _lookup(episode_key, row_of_episode, "SIM_RTDS_PRESCRIPTION", pkey, "radiotherapy episode")
            ep_row = ep_row.astype(np.int64).to_numpy()
            start = pres.date("APPTDATE").fillna(pd.Series(ep["date"].to_numpy()[ep_row]))
            end = pd.Series(pd.NaT, index=start.index, dtype="datetime64[s]")
            if "SIM_RTDS_EXPOSURE" in self.src:
                exposure = self.src["SIM_RTDS_EXPOSURE"]
                last = pd.DataFrame({"key": exposure.text("PRESCRIPTIONID"), "date": exposure.date("APPTDATE")})
                last = last.dropna().groupby("key")["date"].max()
                end = pres.text("PRESCRIPTIONID").map(last).astype("datetime64[s]")
                end = end.where(end >= start)
            fractions = pres.number("RTACTUALFRACTIONS").fillna(pres.number("RTPRESCRIBEDFRACTIONS"))
            procedures = pd.DataFrame({
                "ep_row": ep_row, "date": start.to_numpy(), "end": end.to_numpy(),
                "quantity": fractions.round().to_numpy(), "source": pres.text("RTTREATMENTMODALITY").to_numpy(dtype=object),
                "modifier": pres.text("RTTREATMENTREGION").to_numpy(dtype=object)})
            bare = np.setdiff1d(np.arange(len(ep)), ep_row)
        else:
            procedures = pd.DataFrame({"ep_row": [], "date": pd.Series([], dtype="datetime64[s]"),
                                       "end": pd.Series([], dtype="datetime64[s]"), "quantity": [], "source": [],
                                       "modifier": []})
            bare = np.arange(len(ep))
        procedures = pd.concat([procedures, pd.DataFrame({
            "ep_row": bare, "date": ep["date"].to_numpy()[bare], "end": np.full(len(bare), np.datetime64("NaT", "s")),
            "quantity": np.full(len(bare), np.nan), "source": "RTDS", "modifier": None})], ignore_index=True)
        procedures = procedures.dropna(subset=["date"]).sort_values(["ep_row", "date"], kind="stable", ignore_index=True)
        procedures["ep_row"] = procedures["ep_row"].astype(np.int64)
        procedures["person_id"] = ep["person_id"].to_numpy()[procedures["ep_row"].to_numpy()]
        # the episodes: from the first to the last date of their procedures (or their own date)
        span = procedures.assign(last=procedures["end"].fillna(procedures["date"])).groupby("ep_row")
        ep_start = ep["date"].fillna(span["date"].min().reindex(range(len(ep))).reset_index(drop=True))
        ep_end = span["last"].max().reindex(range(len(ep))).reset_index(drop=True)
        dated = ep_start.notna().to_numpy()
        ep_ids = np.full(len(ep), -1, dtype=np.int64)
        ep_ids[dated] = np.arange(self.next_episode, self.next_episode + int(dated.sum()))
        self.next_episode += int(dated.sum())
        procedures = procedures[dated[procedures["ep_row"].to_numpy()]].reset_index(drop=True)
        first_id = self.procedure_count + 1
        proc_ids = np.arange(first_id, first_id + len(procedures), dtype=np.int64)
        self.procedure_count += len(procedures)
        self.episode_events.append(pd.DataFrame({"episode_id": ep_ids[procedures["ep_row"].to_numpy()],
                                                 "event_id": proc_ids,
                                                 "episode_event_field_concept_id": FIELD_PROCEDURE}))
        self.events.append(procedures[["person_id", "date"]])
        self.events.append(pd.DataFrame({"person_id": procedures["person_id"], "date": procedures["end"]}))
        proc = _omop_frame("PROCEDURE_OCCURRENCE", len(procedures), procedure_occurrence_id=proc_ids,
                           person_id=procedures["person_id"], procedure_concept_id=0, procedure_date=procedures["date"],
                           procedure_end_date=procedures["end"], procedure_type_concept_id=REGISTRY,
                           quantity=pd.array(procedures["quantity"].to_numpy(), dtype="Float64").astype("Int64"),
                           procedure_source_value=_str_or_none(procedures["source"]), procedure_source_concept_id=0,
                           modifier_source_value=_str_or_none(procedures["modifier"]))
        kept = ep[dated].reset_index(drop=True)
        start, end = ep_start[dated].to_numpy(dtype="datetime64[s]"), ep_end[dated].to_numpy(dtype="datetime64[s]")
        self.events.append(pd.DataFrame({"person_id": kept["person_id"], "date": start}))
        episode = _omop_frame("EPISODE", len(kept), episode_id=ep_ids[dated], person_id=kept["person_id"],
                              episode_concept_id=TREATMENT_REGIMEN, episode_start_date=start, episode_end_date=end,
                              episode_parent_id=self._parent_episode(kept["person_id"].to_numpy(np.int64), start),
                              episode_object_concept_id=0, episode_type_concept_id=REGISTRY,
                              episode_source_value="radiotherapy", episode_source_concept_id=0)
        return proc, episode

    def _person_map(self, parent: str, target: str) -> pd.Series:
        """Person id by the text of ``parent.target`` (a patient column, e.g. LINKNUMBER)."""
        if parent != "SIM_AV_PATIENT":
            raise BayesgenError(f"OMOP export: expected a link to SIM_AV_PATIENT, the schema links to {parent}")
        key = self.src["SIM_AV_PATIENT"].text(target)
        known = key.notna().to_numpy()
        mapping = pd.Series(self.person_id[known], index=key[known].to_numpy())
        if mapping.index.duplicated().any():
            raise DataValidationError("SIM_AV_PATIENT", target, "duplicated key",
                                      n_rows=int(mapping.index.duplicated().sum()))
        return mapping

    def sact(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Drug exposures (one per administration) and Treatment Regimen episodes (one per regimen)."""
        if "SIM_SACT_REGIMEN" not in self.src:
            return _omop_frame("DRUG_EXPOSURE", 0), _omop_frame("EPISODE", 0)
        regimens = self.src["SIM_SACT_REGIMEN"]
        key, parent, target = _link(self.schema, "SIM_SACT_REGIMEN", ("LINK_NUMBER", "SIM_AV_PATIENT", "LINKNUMBER"))
        person = _lookup(regimens.text(key), self._person_map(parent, target), "SIM_SACT_REGIMEN", key, "patient")
        reg = pd.DataFrame({"key": regimens.text("MERGED_REGIMEN_ID").to_numpy(dtype=object),
                            "person_id": person.to_numpy(),
                            "start": regimens.date("START_DATE_OF_REGIMEN").fillna(
                                regimens.date("DATE_DECISION_TO_TREAT")).to_numpy(),
                            "source": regimens.text("MAPPED_REGIMEN").to_numpy(dtype=object)})
        row_of_regimen = pd.Series(np.arange(len(reg)), index=reg["key"].to_numpy())
        drugs = pd.DataFrame({"reg_row": pd.Series([], dtype=np.int64), "date": pd.Series([], dtype="datetime64[s]")})
        cycle_dates = pd.DataFrame({"reg_row": pd.Series([], dtype=np.int64),
                                    "date": pd.Series([], dtype="datetime64[s]")})
        if "SIM_SACT_CYCLE" in self.src:
            cycles = self.src["SIM_SACT_CYCLE"]
            ckey, _, _ = _link(self.schema, "SIM_SACT_CYCLE", ("MERGED_REGIMEN_ID", "SIM_SACT_REGIMEN", "MERGED_REGIMEN_ID"))
            cycle_row = _lookup(cycles.text(ckey), row_of_regimen, "SIM_SACT_CYCLE", ckey, "regimen").astype(np.int64)
            cycle_dates = pd.DataFrame({"reg_row": cycle_row.to_numpy(),
                                        "date": cycles.date("START_DATE_OF_CYCLE").to_numpy()})
            if "SIM_SACT_DRUG_DETAIL" in self.src:
                detail = self.src["SIM_SACT_DRUG_DETAIL"]
                dkey, _, _ = _link(self.schema, "SIM_SACT_DRUG_DETAIL",
                                   ("MERGED_CYCLE_ID", "SIM_SACT_CYCLE", "MERGED_CYCLE_ID"))
                row_of_cycle = pd.Series(np.arange(len(cycles)), index=cycles.text("MERGED_CYCLE_ID").to_numpy())
                drug_cycle = _lookup(detail.text(dkey), row_of_cycle, "SIM_SACT_DRUG_DETAIL", dkey, "cycle")
                drug_cycle = drug_cycle.astype(np.int64).to_numpy()
                reg_row = cycle_row.to_numpy()[drug_cycle]
                date = (detail.date("ADMINISTRATION_DATE")
                        .fillna(pd.Series(cycle_dates["date"].to_numpy()[drug_cycle]))
                        .fillna(pd.Series(reg["start"].to_numpy()[reg_row])))
                route = detail.text("ADMINISTRATION_ROUTE")
                drugs = pd.DataFrame({"reg_row": reg_row, "date": date.to_numpy(),
                                      "quantity": detail.number("ACTUAL_DOSE_PER_ADMINISTRATION").to_numpy(),
                                      "route": route.to_numpy(dtype=object),
                                      "route_concept": self._route_concepts(detail, route),
                                      "source": detail.text("DRUG_GROUP").to_numpy(dtype=object)})
                drugs = drugs.dropna(subset=["date"]).reset_index(drop=True)
        # the regimens: start (else their first cycle or drug), end (final treatment, else last date)
        dates = pd.concat([cycle_dates.dropna(), drugs[["reg_row", "date"]]], ignore_index=True)
        span = dates.groupby("reg_row")["date"]
        start = reg["start"].fillna(span.min().reindex(range(len(reg))).reset_index(drop=True))
        end = span.max().reindex(range(len(reg))).reset_index(drop=True)
        if "SIM_SACT_OUTCOME" in self.src:
            outcome = self.src["SIM_SACT_OUTCOME"]
            final = pd.Series(outcome.date("DATE_OF_FINAL_TREATMENT").to_numpy(),
                              index=outcome.text("MERGED_REGIMEN_ID").to_numpy())
            final = final[~final.index.duplicated()]
            end = reg["key"].map(final).astype("datetime64[s]").fillna(end)
        end = end.where(end >= start)
        dated = start.notna().to_numpy()
        ep_ids = np.full(len(reg), -1, dtype=np.int64)
        ep_ids[dated] = np.arange(self.next_episode, self.next_episode + int(dated.sum()))
        self.next_episode += int(dated.sum())
        kept = reg[dated].reset_index(drop=True)
        start_kept = start[dated].to_numpy(dtype="datetime64[s]")
        end_kept = end[dated].to_numpy(dtype="datetime64[s]")
        number = (pd.DataFrame({"person_id": kept["person_id"], "start": start_kept, "key": kept["key"]})
                  .sort_values(["person_id", "start", "key"], kind="stable")
                  .groupby("person_id").cumcount() + 1).sort_index().to_numpy()
        episode = _omop_frame("EPISODE", len(kept), episode_id=ep_ids[dated], person_id=kept["person_id"],
                              episode_concept_id=TREATMENT_REGIMEN, episode_start_date=start_kept,
                              episode_end_date=end_kept,
                              episode_parent_id=self._parent_episode(kept["person_id"].to_numpy(np.int64), start_kept),
                              episode_number=number, episode_object_concept_id=0, episode_type_concept_id=REGISTRY,
                              episode_source_value=_str_or_none(kept["source"]), episode_source_concept_id=0)
        self.events.append(pd.DataFrame({"person_id": kept["person_id"], "date": start_kept}))
        self.events.append(pd.DataFrame({"person_id": kept["person_id"], "date": end_kept}))
        drugs = drugs[dated[drugs["reg_row"].to_numpy()]].reset_index(drop=True) if len(drugs) else drugs
        n = len(drugs)
        ids = np.arange(1, n + 1, dtype=np.int64)
        person_of_row = reg["person_id"].to_numpy()
        if n:
            drug_person = person_of_row[drugs["reg_row"].to_numpy()]
            self.events.append(pd.DataFrame({"person_id": drug_person, "date": drugs["date"].to_numpy()}))
            self.episode_events.append(pd.DataFrame({"episode_id": ep_ids[drugs["reg_row"].to_numpy()],
                                                     "event_id": ids, "episode_event_field_concept_id": FIELD_DRUG}))
            exposure = _omop_frame("DRUG_EXPOSURE", n, drug_exposure_id=ids, person_id=drug_person, drug_concept_id=0,
                                   drug_exposure_start_date=drugs["date"], drug_exposure_end_date=drugs["date"],
                                   drug_type_concept_id=REGISTRY, quantity=drugs["quantity"],
                                   route_concept_id=drugs["route_concept"], drug_source_value=_str_or_none(drugs["source"]),
                                   drug_source_concept_id=0, route_source_value=_str_or_none(drugs["route"]))
        else:
            exposure = _omop_frame("DRUG_EXPOSURE", 0)
        return exposure, episode

    def _route_concepts(self, detail: _Source, route: pd.Series) -> np.ndarray:
        concepts = {}
        for code in pd.unique(route.dropna()):
            label = (detail.label("ADMINISTRATION_ROUTE", str(code)) or "").strip().lower()
            label = label.removesuffix(" route").strip()
            concepts[code] = ROUTE_CONCEPTS.get(label, 0)
        return route.map(concepts).astype("Int64").to_numpy()

    # -- observation periods and the episode links -----------------------------------------------
    def observation_periods(self) -> pd.DataFrame:
        spans = pd.concat(self.events + [self.follow_up], ignore_index=True).dropna(subset=["date"])
        grouped = spans.groupby("person_id")["date"]
        first, last = grouped.min(), grouped.max()
        start = pd.Series(self.person_id).map(first).to_numpy(dtype="datetime64[s]")
        end = pd.Series(self.person_id).map(last).to_numpy(dtype="datetime64[s]")
        n = len(self.person_id)
        return _omop_frame("OBSERVATION_PERIOD", n, observation_period_id=np.arange(1, n + 1), person_id=self.person_id,
                           observation_period_start_date=start, observation_period_end_date=end,
                           period_type_concept_id=REGISTRY)

    def build(self) -> dict[str, pd.DataFrame]:
        self.persons()
        condition = self.conditions()
        person = self.person_table()
        death = self.deaths()
        disease = self.disease_episodes()
        measurement = self.measurements()
        surgery = self.surgery()
        rt_procedures, rt_episodes = self.radiotherapy()
        drug, regimens = self.sact()
        procedure = pd.concat([surgery, rt_procedures], ignore_index=True) if len(rt_procedures) else surgery
        episode = pd.concat([frame for frame in (disease, rt_episodes, regimens) if len(frame)] or [disease],
                            ignore_index=True)
        links = pd.concat(self.episode_events, ignore_index=True)
        episode_event = _omop_frame("EPISODE_EVENT", len(links), episode_id=links["episode_id"].to_numpy(),
                                    event_id=links["event_id"].to_numpy(),
                                    episode_event_field_concept_id=links["episode_event_field_concept_id"].to_numpy())
        omop = {"PERSON": person, "CONDITION_OCCURRENCE": condition, "PROCEDURE_OCCURRENCE": procedure,
                "DRUG_EXPOSURE": drug, "MEASUREMENT": measurement, "DEATH": death, "EPISODE": episode,
                "EPISODE_EVENT": episode_event}
        omop["OBSERVATION_PERIOD"] = self.observation_periods()
        omop["PROCEDURE_OCCURRENCE"] = _typed("PROCEDURE_OCCURRENCE", procedure)   # concatenated parts
        omop["EPISODE"] = _typed("EPISODE", episode)
        return {name: omop[name] for name in OMOP_COLUMNS}


def _typed(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with exactly the DDL columns, in order, with their kinds' dtypes (after concat)."""
    wanted = {_I: "Int64", _N: "float64", _S: "object", _D: "datetime64[s]", _T: "datetime64[s]"}
    data = {}
    for column, kind in OMOP_COLUMNS[name]:
        values = frame[column]
        if str(values.dtype) != wanted[kind]:
            values = values.astype(wanted[kind])
            if kind == _S:
                values = values.where(values.notna(), None)
        data[column] = values
    return pd.DataFrame(data, copy=False).reset_index(drop=True)


# -- files -------------------------------------------------------------------------------------------
def _arrow_table(name: str, frame: pd.DataFrame):
    import pyarrow as pa

    kinds = {_I: pa.int64(), _N: pa.float64(), _S: pa.string(), _D: pa.date32(), _T: pa.timestamp("s")}
    arrays, fields = [], []
    for column, kind in OMOP_COLUMNS[name]:
        values = frame[column]
        if kind == _D:
            data = values.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
        elif kind == _T:
            data = values.to_numpy(dtype="datetime64[s]")
        elif kind == _S:
            data = values.astype(object).to_numpy()
        else:
            data = values
        arrays.append(pa.array(data, type=kinds[kind], from_pandas=True))
        fields.append(pa.field(column, kinds[kind]))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_omop(omop: Mapping[str, pd.DataFrame], out_dir: str | os.PathLike, format: str = "csv",
               *, overwrite: bool = False) -> None:
    """Write OMOP tables as ``out_dir/TABLE.csv|parquet``; the folder appears only when complete.

    Through :func:`bayesgen.tables.io.write_folder_atomically`, as :func:`bayesgen.tables.io.write_tables`,
    with OMOP column types: Parquet dates are ``date32``, integers ``int64``.
    """
    import pyarrow.parquet as pq

    if format not in FORMATS:
        raise BayesgenError(f"format must be one of {FORMATS}, got {format!r}")

    def write(staging: Path) -> None:
        for name, frame in omop.items():
            if format == "csv":
                frame.to_csv(staging / f"{name}.csv", index=False, date_format="%Y-%m-%d")
            else:
                pq.write_table(_arrow_table(name, frame), staging / f"{name}.parquet", compression="zstd")

    write_folder_atomically(out_dir, write, overwrite)


def check_omop_integrity(omop: Mapping[str, pd.DataFrame], *, strict: bool = False) -> dict[str, dict]:
    """:func:`bayesgen.tables.integrity.check_integrity` with the OMOP CDM v5.4 keys (needs DuckDB).

    Examples
    --------
    >>> import bayesgen as bg
    >>> from bayesgen.tables.integrity import count_violations
    >>> omop = export_omop(bg.datasets.simulate_registry(100, rng=1))
    >>> count_violations(check_omop_integrity(omop))
    0
    """
    from bayesgen.tables.integrity import check_integrity

    return check_integrity(omop, OMOP_KEYS, strict=strict)
