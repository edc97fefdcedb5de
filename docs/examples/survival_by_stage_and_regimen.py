"""One-year survival after the first SACT regimen, by stage group and the regimen's benchmark group.

A plain pandas + lifelines analysis of four Simulacrum v2 tables, written as a registry analyst
would write it against the real extract; it runs unchanged on the real files, on bayesgen's
simulated ground-truth registry and on bayesgen's synthetic output:

    python docs/examples/survival_by_stage_and_regimen.py FOLDER [--top 5] [--min-patients 50]

FOLDER holds SIM_AV_PATIENT, SIM_AV_TUMOUR, SIM_SACT_REGIMEN and SIM_SACT_CYCLE as ``.csv`` or
``.parquet`` files (any case of the file name, e.g. ``sim_av_patient.csv``), or as folders of parts
(``SIM_SACT_CYCLE/part-00000.parquet``, as ``bayesgen sample --parts`` writes).

Method
------
- Joins: SIM_AV_PATIENT -> SIM_AV_TUMOUR on PATIENTID; SIM_AV_PATIENT.LINKNUMBER ->
  SIM_SACT_REGIMEN.LINK_NUMBER; SIM_SACT_REGIMEN -> SIM_SACT_CYCLE on MERGED_REGIMEN_ID.
- Each patient's first tumour (earliest DIAGNOSISDATEBEST) gives the stage group: the first
  character of STAGE_BEST when it is 0-4, else "unknown" (?, U, X, 6 or empty).
- Each patient's first regimen is the earliest START_DATE_OF_REGIMEN on or after that diagnosis;
  its BENCHMARK_GROUP is the row, and its number of SIM_SACT_CYCLE rows is reported.
- Survival is timed from the start of the first regimen (not from diagnosis: a patient must be
  alive to start a regimen, so timing from diagnosis would credit the treated groups with
  "immortal" time). Death is VITALSTATUS D (or an NDRS sub-code D1-D5) at VITALSTATUSDATE; every
  other status (A alive, X exited or lost to follow-up, ...) is censored at VITALSTATUSDATE, the
  date last known alive. One-year survival is the Kaplan-Meier estimate at 365 days, with its 95 %
  confidence interval (lifelines, log(-log) transform); a patient censored before one year adds
  to the risk set up to the censoring date only, which a crude "alive at one year" share would get
  wrong.
- Each stage group has an "(all regimens)" row over all its patients, then one row for each of its
  ``--top`` commonest first regimens (0: all); cells with fewer than ``--min-patients`` patients
  are not shown (small-number suppression).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

ONE_YEAR = 365
STAGE_GROUPS = ["0", "1", "2", "3", "4", "unknown"]
COLUMNS = {
    "SIM_AV_PATIENT": ["PATIENTID", "LINKNUMBER", "VITALSTATUS", "VITALSTATUSDATE"],
    "SIM_AV_TUMOUR": ["TUMOURID", "PATIENTID", "DIAGNOSISDATEBEST", "STAGE_BEST"],
    "SIM_SACT_REGIMEN": ["MERGED_REGIMEN_ID", "LINK_NUMBER", "START_DATE_OF_REGIMEN", "BENCHMARK_GROUP"],
    "SIM_SACT_CYCLE": ["MERGED_CYCLE_ID", "MERGED_REGIMEN_ID"],
}
KEYS = {"PATIENTID", "LINKNUMBER", "TUMOURID", "MERGED_REGIMEN_ID", "LINK_NUMBER", "MERGED_CYCLE_ID"}
DATES = {"VITALSTATUSDATE", "DIAGNOSISDATEBEST", "START_DATE_OF_REGIMEN"}


def read_table(folder: Path, name: str) -> pd.DataFrame:
    """Read the needed columns of one table; keys as text, dates as dates, codes as text."""
    matches = [p for p in folder.iterdir() if p.name.split(".")[0].upper() == name]
    if not matches:
        raise SystemExit(f"{folder} has no {name}.csv or {name}.parquet")
    path = sorted(matches, key=lambda p: p.suffix != ".parquet")[0]
    parts = sorted(path.glob("part-*")) if path.is_dir() else [path]
    columns = COLUMNS[name]
    frames = [pd.read_parquet(p, columns=columns) if p.name.endswith(".parquet")
              else pd.read_csv(p, usecols=columns, dtype=str, keep_default_na=False, na_values=[""])
              for p in parts]
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for column in columns:
        if column in DATES:
            table[column] = pd.to_datetime(table[column], errors="coerce")
        elif column in KEYS:
            table[column] = table[column].astype("string")   # CSV text and Parquet integers join alike
        else:
            table[column] = table[column].astype("string").str.strip()
    return table


def stage_group(stage: pd.Series) -> pd.Series:
    first = stage.fillna("").str[:1]
    return first.where(first.isin(STAGE_GROUPS[:-1]), "unknown")


def first_regimens(folder: Path) -> pd.DataFrame:
    """One row per patient with a regimen after diagnosis: stage group, first regimen, cycles, survival."""
    patients = read_table(folder, "SIM_AV_PATIENT")
    tumours = read_table(folder, "SIM_AV_TUMOUR")
    regimens = read_table(folder, "SIM_SACT_REGIMEN")
    cycles = read_table(folder, "SIM_SACT_CYCLE")

    first_tumour = (tumours.sort_values(["PATIENTID", "DIAGNOSISDATEBEST", "TUMOURID"])
                    .drop_duplicates("PATIENTID"))
    cohort = patients.merge(first_tumour, on="PATIENTID", how="inner", validate="one_to_one")
    cohort["STAGE_GROUP"] = stage_group(cohort["STAGE_BEST"])

    treated = cohort.merge(regimens, left_on="LINKNUMBER", right_on="LINK_NUMBER", how="inner")
    treated = treated[treated["START_DATE_OF_REGIMEN"] >= treated["DIAGNOSISDATEBEST"]]
    first = (treated.sort_values(["PATIENTID", "START_DATE_OF_REGIMEN", "MERGED_REGIMEN_ID"])
             .drop_duplicates("PATIENTID"))

    n_cycles = cycles.groupby("MERGED_REGIMEN_ID").size().rename("N_CYCLES")
    first = first.merge(n_cycles, left_on="MERGED_REGIMEN_ID", right_index=True, how="left")
    first["N_CYCLES"] = first["N_CYCLES"].fillna(0).astype(int)

    first["DAYS"] = (first["VITALSTATUSDATE"] - first["START_DATE_OF_REGIMEN"]).dt.days
    first["DIED"] = first["VITALSTATUS"].fillna("").str.startswith("D")
    first = first[first["DAYS"].notna()]
    first["DAYS"] = first["DAYS"].clip(lower=0)   # a death recorded before the regimen: day 0
    first["BENCHMARK_GROUP"] = first["BENCHMARK_GROUP"].fillna("(not recorded)")
    return first


def _one_year(group: pd.DataFrame) -> dict:
    kmf = KaplanMeierFitter().fit(group["DAYS"], event_observed=group["DIED"])
    bounds = kmf.confidence_interval_survival_function_
    at = bounds.index[bounds.index <= ONE_YEAR].max()
    censored_early = (~group["DIED"] & (group["DAYS"] < ONE_YEAR)).sum()
    return {"patients": len(group),
            "deaths_1y": int((group["DIED"] & (group["DAYS"] <= ONE_YEAR)).sum()),
            "censored_1y": int(censored_early),
            "median_cycles": float(np.median(group["N_CYCLES"])),
            "surv_1y": float(kmf.predict(ONE_YEAR)),
            "ci_low": float(bounds.loc[at].iloc[0]),
            "ci_high": float(bounds.loc[at].iloc[1])}


def survival_by_stage_and_regimen(folder, min_patients: int = 50, top: int = 5) -> pd.DataFrame:
    """The result table: per stage group, all its patients, then its ``top`` commonest first regimens."""
    first = first_regimens(Path(folder))
    rows = []
    for stage in STAGE_GROUPS:
        in_stage = first[first["STAGE_GROUP"] == stage]
        if len(in_stage) < min_patients:
            continue
        rows.append({"stage": stage, "first_regimen": "(all regimens)", **_one_year(in_stage)})
        by_regimen = sorted(in_stage.groupby("BENCHMARK_GROUP", observed=True), key=lambda kv: -len(kv[1]))
        for benchmark, group in by_regimen[:top or None]:
            if len(group) >= min_patients:
                rows.append({"stage": stage, "first_regimen": benchmark, **_one_year(group)})
    columns = ["stage", "first_regimen", "patients", "deaths_1y", "censored_1y", "median_cycles",
               "surv_1y", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


def format_table(table: pd.DataFrame) -> str:
    shown = table.copy()
    for column in ("surv_1y", "ci_low", "ci_high"):
        shown[column] = (100 * shown[column]).map("{:.1f}".format)
    shown["median_cycles"] = shown["median_cycles"].map("{:g}".format)
    shown = shown.rename(columns={"surv_1y": "1y_surv_%", "ci_low": "95%CI_lo", "ci_high": "95%CI_hi"})
    return shown.to_string(index=False)


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder with the Simulacrum v2 tables (CSV or Parquet)")
    parser.add_argument("--top", type=int, default=5, help="commonest first regimens shown per stage (default 5; "
                        "0: all)")
    parser.add_argument("--min-patients", type=int, default=50, help="smallest cell shown (default 50)")
    args = parser.parse_args(argv)
    table = survival_by_stage_and_regimen(args.folder, args.min_patients, args.top)
    print(f"One-year survival from the start of the first SACT regimen ({args.folder})")
    print(format_table(table))
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
