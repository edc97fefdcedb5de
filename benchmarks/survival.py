"""Survival and treatment timing of synthetic data: Kaplan–Meier distances, medians, Cox hazard ratios.

One run prints, side by side:

* the SIMULATED reference registry (``simulate_registry``, default 100,000 patients): bayesgen at
  ε = 1 and ε = ∞ (time-to-event module; the default ten-table schema and expert structure) and a
  Gaussian copula (``copulas.multivariate.GaussianMultivariate``, not private) fitted on the same
  patients with survival time, death indicator, times to first surgery and to first treatment and their
  indicators as ordinary columns; maximum vertical distance between Kaplan–Meier curves of real and
  synthetic data, overall and by stage group; median survival; time to first surgery (index tumour)
  and to first treatment of any kind (surgery on any tumour, SACT regimen start or radiotherapy
  episode, whichever is first); Cox hazard ratios of stage;
* GBSG2 (real public data shipped in lifelines, 686 patients): recurrence-free survival, which
  bayesgen models with the time-to-event module (a duration process over ``time``/``cens``),
  against the same copula;
* date-consistency violations in a large synthetic sample, and the time spent sampling the events.

Usage::

    python benchmarks/survival.py                     # 100,000 patients; 1,000,000 for the scale checks
    python benchmarks/survival.py --patients 20000 --scale-patients 200000   # quicker

DP noise is never seeded, so figures vary a little between runs.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np
import pandas as pd

import bayesgen as bg
from bayesgen.datasets import load_gbsg2, simulate_registry

STAGE_GROUPS = ("0", "1", "2", "3", "4", "unknown")
CUTOFF = np.datetime64("2021-12-31")


def stage_group(stage: pd.Series) -> np.ndarray:
    first = stage.astype("string").str[0].fillna("?").to_numpy(dtype=object)
    return np.where(np.isin(first, list("01234")) & (stage.astype("string") != "6").fillna(True).to_numpy(),
                    first, "unknown")


def patient_frame(tables: dict) -> pd.DataFrame:
    """One row per patient: survival from the index diagnosis, surgery on the index tumour, first treatment
    of any kind (surgery on any tumour, SACT regimen, radiotherapy episode), stage, age."""
    patients = tables["SIM_AV_PATIENT"].set_index("PATIENTID")
    tumours = tables["SIM_AV_TUMOUR"].sort_values(["PATIENTID", "DIAGNOSISDATEBEST"], kind="stable")
    index = tumours.groupby("PATIENTID", sort=False).first()
    frame = patients.join(index[["DIAGNOSISDATEBEST", "DATE_FIRST_SURGERY", "STAGE_BEST", "AGE"]])
    duration = (frame["VITALSTATUSDATE"] - frame["DIAGNOSISDATEBEST"]).dt.days.to_numpy(dtype=float)
    surgery = (frame["DATE_FIRST_SURGERY"] - frame["DIAGNOSISDATEBEST"]).dt.days.to_numpy(dtype=float)
    had_surgery = ~np.isnan(surgery)
    first_dates = [tumours.groupby("PATIENTID")["DATE_FIRST_SURGERY"].min()]
    if "SIM_SACT_REGIMEN" in tables:
        first_dates.append(tables["SIM_SACT_REGIMEN"].groupby("ENCORE_PATIENT_ID")["START_DATE_OF_REGIMEN"].min())
    if "SIM_RTDS_EPISODE" in tables:
        first_dates.append(tables["SIM_RTDS_EPISODE"].groupby("PATIENTID")["APPTDATE"].min())
    first = pd.concat([d.reindex(frame.index) for d in first_dates], axis=1).min(axis=1)
    treatment = (first - frame["DIAGNOSISDATEBEST"]).dt.days.to_numpy(dtype=float)
    treated = ~np.isnan(treatment)
    return pd.DataFrame({
        "duration": duration, "death": (frame["VITALSTATUS"] == "D").to_numpy(dtype=int),
        "surgery_time": np.where(had_surgery, surgery, duration), "surgery": had_surgery.astype(int),
        "treatment_time": np.where(treated, treatment, duration), "treated": treated.astype(int),
        "stage": stage_group(frame["STAGE_BEST"]), "age": frame["AGE"].to_numpy(dtype=float)})


def km_curve(duration, event, grid):
    from lifelines import KaplanMeierFitter

    fitter = KaplanMeierFitter().fit(np.asarray(duration, float), np.asarray(event, int))
    return fitter.survival_function_at_times(grid).to_numpy(), float(fitter.median_survival_time_)


def km_distance(real: pd.DataFrame, synthetic: pd.DataFrame, time_column: str, event_column: str, grid):
    a, median_a = km_curve(real[time_column], real[event_column], grid)
    b, median_b = km_curve(synthetic[time_column], synthetic[event_column], grid)
    return float(np.abs(a - b).max()), median_a, median_b


def stage_hazard_ratios(frame: pd.DataFrame) -> dict[str, float]:
    """Cox hazard ratios of stage groups 0, 2, 3, 4 and unknown against stage 1 (age in bands adjusted)."""
    from lifelines import CoxPHFitter

    design = pd.get_dummies(frame["stage"]).astype(float).drop(columns="1")
    design["age_per_10y"] = (frame["age"] - 65) / 10
    design["duration"] = np.maximum(frame["duration"], 0.5)
    design["death"] = frame["death"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = CoxPHFitter().fit(design, "duration", "death")
    return {str(k): float(v) for k, v in fitted.hazard_ratios_.items() if k != "age_per_10y"}


def copula_sample(frame: pd.DataFrame, n: int, columns: list[str], seed: int) -> tuple[pd.DataFrame, float, float]:
    """Fit a Gaussian copula on numeric columns and sample ``n`` rows; returns (rows, fit s, sample s)."""
    from copulas.multivariate import GaussianMultivariate

    data = frame[columns].astype(float)
    start = time.perf_counter()
    model = GaussianMultivariate(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        rows = model.sample(n)
    return rows, fit_seconds, time.perf_counter() - start


def registry_copula(real: pd.DataFrame, n: int) -> pd.DataFrame:
    coded = real.assign(stage_code=pd.Categorical(real["stage"], categories=STAGE_GROUPS).codes.astype(float))
    rows, fit_s, sample_s = copula_sample(coded, n, ["age", "stage_code", "duration", "death", "surgery_time",
                                                     "surgery", "treatment_time", "treated"], seed=11)
    stage_code = np.clip(np.rint(rows["stage_code"].to_numpy()), 0, len(STAGE_GROUPS) - 1).astype(int)
    out = pd.DataFrame({
        "duration": np.clip(rows["duration"].to_numpy(), 0, None),
        "death": (rows["death"].to_numpy() >= 0.5).astype(int),
        "surgery_time": np.clip(rows["surgery_time"].to_numpy(), 0, None),
        "surgery": (rows["surgery"].to_numpy() >= 0.5).astype(int),
        "treatment_time": np.clip(rows["treatment_time"].to_numpy(), 0, None),
        "treated": (rows["treated"].to_numpy() >= 0.5).astype(int),
        "stage": np.asarray(STAGE_GROUPS, dtype=object)[stage_code], "age": rows["age"].to_numpy()})
    print(f"  Gaussian copula: fit {fit_s:.1f} s, sample {sample_s:.1f} s")
    return out


def report(label: str, real: pd.DataFrame, synthetic: pd.DataFrame, grid, real_hr: dict | None) -> dict:
    overall, median_real, median_synth = km_distance(real, synthetic, "duration", "death", grid)
    surgery, surgery_real, surgery_synth = km_distance(real, synthetic, "surgery_time", "surgery", grid)
    treatment, treatment_real, treatment_synth = km_distance(real, synthetic, "treatment_time", "treated", grid)
    by_stage = {}
    for stage in STAGE_GROUPS:
        a, b = real[real["stage"] == stage], synthetic[synthetic["stage"] == stage]
        if len(a) >= 50 and len(b) >= 50:
            by_stage[stage] = km_distance(a, b, "duration", "death", grid)[0]
    line = " ".join(f"{s}:{d:.3f}" for s, d in by_stage.items())
    print(f"  {label:<22} KM overall {overall:.4f} | by stage {line} | worst {max(by_stage.values()):.4f}")
    print(f"  {'':<22} median survival (days) real {median_real:.0f} synthetic {median_synth:.0f} | "
          f"time to first surgery: KM {surgery:.4f}, median real {surgery_real:.0f} synthetic {surgery_synth:.0f}")
    print(f"  {'':<22} time to first treatment (surgery, SACT or radiotherapy): KM {treatment:.4f}, "
          f"median real {treatment_real:.0f} synthetic {treatment_synth:.0f}")
    if real_hr is not None:
        hr = stage_hazard_ratios(synthetic)
        ratios = {k: hr[k] / real_hr[k] for k in real_hr if k in hr}
        worst = max(abs(r - 1) for r in ratios.values())
        print(f"  {'':<22} Cox HR vs stage 1, synthetic/real: "
              + " ".join(f"{k}:{hr[k]:.2f}/{real_hr[k]:.2f}" for k in ratios) + f" | worst {100 * worst:.1f}% off")
    out = {"overall": overall, "worst_stage": max(by_stage.values())}
    if real_hr is not None:
        out["worst_hr"] = worst
    return out


def consistency_violations(tables: dict) -> dict[str, int]:
    """Rows breaking a date rule of the time-to-event module (each counted once per rule)."""
    patients = tables["SIM_AV_PATIENT"]
    tumours = tables["SIM_AV_TUMOUR"].merge(patients[["PATIENTID", "VITALSTATUS", "VITALSTATUSDATE"]],
                                            on="PATIENTID")
    ended = tumours["VITALSTATUS"].isin(["D", "X"])
    latest = tumours.groupby("PATIENTID")["DIAGNOSISDATEBEST"].max()
    vital = patients.set_index("PATIENTID")["VITALSTATUSDATE"]
    alive = patients["VITALSTATUS"] == "A"
    out = {
        "surgery before diagnosis": int((tumours["DATE_FIRST_SURGERY"] < tumours["DIAGNOSISDATEBEST"]).sum()),
        "surgery after death or exit": int((ended & (tumours["DATE_FIRST_SURGERY"] > tumours["VITALSTATUSDATE"])).sum()),
        "surgery with no treatment planned": int(((tumours["CANCERCAREPLANINTENT"] == "X")
                                                  & tumours["DATE_FIRST_SURGERY"].notna()).sum()),
        "vital date before a diagnosis": int((vital < latest.reindex(vital.index)).sum()),
        "vital date after cut-off": int((patients["VITALSTATUSDATE"] > CUTOFF).sum()),
        "alive but not followed to cut-off": int((alive & (patients["VITALSTATUSDATE"] != CUTOFF)).sum()),
        "dead on the cut-off with no death": int(((patients["VITALSTATUS"] == "D")
                                                  & patients["DEATHCAUSECODE_UNDERLYING"].isna()).sum()),
    }
    first_diagnosis = tumours.groupby("PATIENTID")["DIAGNOSISDATEBEST"].min()
    ending = patients.set_index("PATIENTID")["VITALSTATUSDATE"]
    dated = [(tables[name], key, column, label) for name, key, column, label in
             (("SIM_SACT_REGIMEN", "ENCORE_PATIENT_ID", "START_DATE_OF_REGIMEN", "regimen"),
              ("SIM_RTDS_EPISODE", "PATIENTID", "APPTDATE", "radiotherapy episode")) if name in tables]
    if "SIM_SACT_CYCLE" in tables:
        cycles = tables["SIM_SACT_CYCLE"].merge(
            tables["SIM_SACT_REGIMEN"][["MERGED_REGIMEN_ID", "ENCORE_PATIENT_ID", "START_DATE_OF_REGIMEN"]],
            on="MERGED_REGIMEN_ID")
        out["cycle before its regimen"] = int((cycles["START_DATE_OF_CYCLE"] < cycles["START_DATE_OF_REGIMEN"]).sum())
        dated.append((cycles, "ENCORE_PATIENT_ID", "START_DATE_OF_CYCLE", "cycle"))
    for rows, key, column, label in dated:
        person = rows[key].to_numpy()
        dates = rows[column].to_numpy()
        out[f"{label} before diagnosis"] = int((dates < first_diagnosis.reindex(person).to_numpy()).sum())
        out[f"{label} after death, exit or cut-off"] = int((dates > ending.reindex(person).to_numpy()).sum())
    return out


def run_registry(args) -> None:
    schema = bg.Schema.load(args.schema)
    structure = bg.Structure.load(args.structure)
    n = args.patients
    print(f"Simulated registry: {n:,} patients (SIMULATED, not real), structure {args.structure}")
    tables = simulate_registry(n, rng=1, full=len(schema.tables) > 2)
    real = patient_frame(tables)
    grid = np.arange(0, 3288, 7)
    real_hr = stage_hazard_ratios(real)
    results = {}
    for epsilon in (1.0, math.inf):
        start = time.perf_counter()
        model = bg.Synthesizer(schema, structure, epsilon=epsilon).fit(tables)
        fit_s = time.perf_counter() - start
        synthetic = patient_frame(model.sample(n, rng=2))
        print(f"  bayesgen ε={epsilon:g}: fit {fit_s:.1f} s")
        results[epsilon] = report(f"bayesgen ε={epsilon:g}", real, synthetic, grid, real_hr)
    copula = registry_copula(real, n)
    results["copula"] = report("Gaussian copula", real, copula, grid, real_hr)
    ratio = results["copula"]["overall"] / max(results[1.0]["overall"], 1e-12)
    print(f"  targets at ε=1: KM overall {results[1.0]['overall']:.4f} (≤ 0.03: "
          f"{'met' if results[1.0]['overall'] <= 0.03 else 'NOT met'}), worst stage {results[1.0]['worst_stage']:.4f} "
          f"(≤ 0.06: {'met' if results[1.0]['worst_stage'] <= 0.06 else 'NOT met'}), copula/bayesgen KM distance "
          f"{ratio:.1f}× (≥ 2: {'met' if ratio >= 2 else 'NOT met'}), worst Cox HR "
          f"{100 * results[1.0]['worst_hr']:.1f}% off (≤ 15%: {'met' if results[1.0]['worst_hr'] <= 0.15 else 'NOT met'})")
    return model_for_scale(schema, structure, tables, args)


def model_for_scale(schema, structure, tables, args) -> None:
    import bayesgen.model.registry_decoder as synthesizer_module

    model = bg.Synthesizer(schema, structure, epsilon=1.0).fit(tables)
    spent = [0.0]
    original = synthesizer_module.sample_registry_events

    def timed(*a, **k):
        start = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            spent[0] += time.perf_counter() - start

    synthesizer_module.sample_registry_events = timed
    try:
        model.sample(1000, rng=0)  # compile outside the timing
        spent[0] = 0.0
        start = time.perf_counter()
        big = model.sample(args.scale_patients, rng=5)
        total = time.perf_counter() - start
    finally:
        synthesizer_module.sample_registry_events = original
    violations = consistency_violations(big)
    print(f"Scale: {args.scale_patients:,} patients ({len(big['SIM_AV_TUMOUR']):,} tumours) sampled in {total:.1f} s, "
          f"of which the events module {spent[0]:.2f} s (target < 10 s for 1,000,000)")
    print(f"  date-consistency violations: {sum(violations.values())} "
          + "(" + ", ".join(f"{k}: {v}" for k, v in violations.items()) + ")")


def run_gbsg2() -> None:
    tables = load_gbsg2()
    frame = tables["GBSG2"] if "GBSG2" in tables else next(iter(tables.values()))
    schema = bg.Schema.load("schemas/gbsg2.yaml")
    structure = bg.Structure.load("structures/gbsg2.yaml")
    n = len(frame)
    hazards = ", ".join(f"{e.name} | {', '.join(g.variable for g in structure.events.of(e.name).given) or '-'}"
                        for p in schema.events.processes for e in p.events)
    print(f"GBSG2 (real, public, lifelines): {n} patients, recurrence-free survival; bayesgen models it with the "
          f"time-to-event module (duration process over time/cens, horizon {schema.events.horizon} days, "
          f"hazards {hazards}; {len(schema.events.intervals)} hazard interval(s))")
    grid = np.arange(0, 2700, 7)

    def rfs(data: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"duration": data["time"].astype(float), "death": data["cens"].astype(int),
                             "surgery_time": data["time"].astype(float), "surgery": data["cens"].astype(int),
                             "stage": data["tgrade"].astype(str), "age": data["age"].astype(float)})

    real = rfs(frame)
    for epsilon in (1.0, math.inf):
        model = bg.Synthesizer(schema, structure, epsilon=epsilon).fit(tables)
        synthetic = rfs(next(iter(model.sample(n, rng=3).values())))
        distance, median_real, median_synth = km_distance(real, synthetic, "duration", "death", grid)
        print(f"  bayesgen ε={epsilon:g}: KM {distance:.4f}, median RFS real {median_real:.0f} synthetic {median_synth:.0f}")
    coded = frame.assign(tgrade=pd.Categorical(frame["tgrade"]).codes.astype(float))
    rows, _, _ = copula_sample(coded.assign(cens=coded["cens"].astype(float)), n, ["age", "tgrade", "time", "cens"], 12)
    copula = pd.DataFrame({"duration": np.clip(rows["time"], 0, None), "death": (rows["cens"] >= 0.5).astype(int)})
    distance, median_real, median_synth = km_distance(real, copula, "duration", "death", grid)
    print(f"  Gaussian copula: KM {distance:.4f}, median RFS real {median_real:.0f} synthetic {median_synth:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--scale-patients", type=int, default=1_000_000)
    parser.add_argument("--schema", default="schemas/simulacrum_v2.yaml",
                        help="schemas/simulacrum_v2_core.yaml for the two-table set")
    parser.add_argument("--structure", default="structures/simulacrum_v2.yaml",
                        help="structures/simulacrum_v2_compact.yaml goes with the core schema")
    args = parser.parse_args()
    run_registry(args)
    run_gbsg2()


if __name__ == "__main__":
    main()
