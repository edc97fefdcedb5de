"""Without noise, the time-to-event fit recovers the ground-truth hazards of the simulated registry.

100,000 simulated patients (about 150,000 tumours) are fitted at ε = ∞ with the shipped structure.

* Statistics: the fitted hazard of every cell is the occurrence/exposure rate D / E computed here
  independently from the raw tables (index tumour, latest-diagnosis entry, death or censoring day,
  surgery day, each dated event at mid-day), up to the documented flooring of exposure to
  1/1000 of an interval per piece, which can only lower E.
* Truth: in every cell with at least 200 expected events (true hazard × exposure), the fitted
  hazard is within z Poisson standard errors of the true one, SE = sqrt(expected) / E, with z the
  Bonferroni quantile for a family-wise false-failure rate of 0.001 over all tested cells (about 4.4
  for 150 cells). With >= 200 expected events the Poisson count is close to normal (skewness
  1 / sqrt(200) = 0.07). A mis-grouped covariate, a shifted interval or a wrong at-risk window moves
  big cells by many SEs (the true hazards differ by factors of 1.2 to 50 between neighbouring cells).
* Survival: the Kaplan–Meier curve of overall survival of a synthetic sample drawn from the fit is
  within a DKW-style bound of the real one (see :func:`test_synthetic_overall_survival_matches_the_real_one`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from bayesgen import Schema, Structure, Synthesizer
from bayesgen.datasets.simulate import reference_model, simulate_registry

N_PATIENTS = 100_000
CUTOFF = pd.Timestamp("2021-12-31")
EARLIEST = pd.Timestamp("2013-01-01")  # DIAGNOSISDATEBEST's declared minimum
HORIZON = (CUTOFF - EARLIEST).days + 1  # the longest follow-up, to the end of the cut-off day
EDGES = np.array([0, 30, 91, 182, 365, 730, 1826, HORIZON], dtype=float)
RESOLUTION = 1000
MIN_EXPECTED = 200
ALPHA = 1e-3

STAGE_GROUPS = {"0": ["0", "0A", "0IS"], "1": ["1", "1A", "1A1", "1A2", "1B", "1B1", "1B2", "1C"],
                "2": ["2", "2A", "2B", "2C"], "3": ["3", "3A", "3B", "3C"], "4": ["4", "4A", "4B", "4C", "4S"]}
STAGE_LABELS = ("0", "1", "2", "3", "4", "unknown")
AGE_LABELS = ("<50", "50-64", "65-74", "75-84", "85+")
INTENT_LABELS = ("C", "Z", "X", "9", "None")


def stage_group(stage: pd.Series) -> np.ndarray:
    lookup = {s: g for g, members in STAGE_GROUPS.items() for s in members}
    return np.array([STAGE_LABELS.index(lookup.get(s, "unknown")) for s in stage.astype(object)])


def age_group(age: pd.Series) -> np.ndarray:
    return np.searchsorted([50, 65, 75, 85], age.to_numpy(dtype=float), side="right")


def intent_group(intent: pd.Series) -> np.ndarray:
    values = intent.astype(object).where(intent.notna(), "None")
    return np.array([INTENT_LABELS.index(v) for v in values])


def occurrence_exposure(cells, shape, entry, end, event_time):
    """Events, exposure days and the number of pieces per (cell, interval); ``event_time`` NaN for none."""
    n_intervals = len(EDGES) - 1
    events = np.zeros((*shape, n_intervals))
    days = np.zeros((*shape, n_intervals))
    pieces = np.zeros((*shape, n_intervals))
    flat_cell = np.ravel_multi_index(cells, shape)
    for j in range(n_intervals):
        overlap = np.clip(np.minimum(end, EDGES[j + 1]) - np.maximum(entry, EDGES[j]), 0, None)
        days.reshape(-1, n_intervals)[:, j] = np.bincount(flat_cell, overlap, minlength=int(np.prod(shape)))
        pieces.reshape(-1, n_intervals)[:, j] = np.bincount(flat_cell, overlap > 0, minlength=int(np.prod(shape)))
    happened = ~np.isnan(event_time)
    interval = np.searchsorted(EDGES[1:-1], event_time[happened], side="right")
    np.add.at(events.reshape(-1, n_intervals), (flat_cell[happened], interval), 1)
    return events, days, pieces


def registry_statistics(tables):
    """Independent D, E (days) and pieces of DEATH, EXIT and SURGERY from the raw tables."""
    patients, tumours = tables["SIM_AV_PATIENT"], tables["SIM_AV_TUMOUR"]
    tumours = tumours.assign(_row=np.arange(len(tumours))).sort_values(
        ["PATIENTID", "DIAGNOSISDATEBEST", "_row"], kind="stable")
    index = tumours.groupby("PATIENTID", sort=False).head(1).set_index("PATIENTID").loc[patients["PATIENTID"]]
    latest = tumours.groupby("PATIENTID")["DIAGNOSISDATEBEST"].max().loc[patients["PATIENTID"]]
    origin = index["DIAGNOSISDATEBEST"].to_numpy()
    entry = (latest.to_numpy() - origin) / np.timedelta64(1, "D")
    status = patients["VITALSTATUS"].astype(object).to_numpy()
    date = (patients["VITALSTATUSDATE"].to_numpy() - origin) / np.timedelta64(1, "D")
    cutoff_end = (CUTOFF.to_datetime64() - origin) / np.timedelta64(1, "D") + 1
    ended = np.isin(status, ["D", "X"])
    end = np.minimum(np.where(ended, date + 0.5, date + 1.0), cutoff_end)
    out = {}
    cells = (stage_group(index["STAGE_BEST"]), age_group(index["AGE"]))
    out["DEATH"] = occurrence_exposure(cells, (6, 5), entry, end, np.where(status == "D", end, np.nan))
    out["EXIT"] = occurrence_exposure((np.zeros(len(end), dtype=int),), (1,), entry, end,
                                      np.where(status == "X", end, np.nan))
    # surgery: each tumour from its own diagnosis until surgery, the patient's end, or the cut-off
    person = pd.Index(patients["PATIENTID"]).get_indexer(tumours["PATIENTID"])
    diagnosis = tumours["DIAGNOSISDATEBEST"].to_numpy()
    shift = (diagnosis - origin[person]) / np.timedelta64(1, "D")
    tumour_end = np.minimum((CUTOFF.to_datetime64() - diagnosis) / np.timedelta64(1, "D") + 1,
                            end[person] - shift)
    surgery = (tumours["DATE_FIRST_SURGERY"].to_numpy() - diagnosis) / np.timedelta64(1, "D") + 0.5
    assert not (surgery > tumour_end + 1e-9).any()  # the simulator never operates after the end
    stop = np.where(np.isnan(surgery), tumour_end, surgery)
    cells = (intent_group(tumours["CANCERCAREPLANINTENT"]), stage_group(tumours["STAGE_BEST"]))
    out["SURGERY"] = occurrence_exposure(cells, (5, 6), np.zeros(len(stop)), stop, surgery)
    # DEATH and SURGERY have one history state: insert its axis
    for name in ("DEATH", "SURGERY"):
        out[name] = tuple(np.expand_dims(a, -2) for a in out[name])
    return out


@pytest.fixture(scope="module")
def recovery():
    truth = reference_model(full=False)
    schema, structure = Schema.load("schemas/simulacrum_v2_core.yaml"), Structure.load("structures/simulacrum_v2_core.yaml")
    real = simulate_registry(N_PATIENTS, rng=20260, full=False)
    fitted = Synthesizer(schema, structure, epsilon=math.inf).fit(real)
    return truth, fitted, real, registry_statistics(real)


def test_fitted_layout_is_the_documented_one(recovery):
    truth, fitted, _, _ = recovery
    layouts = fitted.events_.layouts
    death = layouts["survival"]
    assert death.given[0] == ("STAGE_BEST", "AGE")
    assert tuple(death.group_labels[0][0]) == STAGE_LABELS and tuple(death.group_labels[0][1]) == AGE_LABELS
    surgery = layouts["surgery"]
    assert tuple(surgery.group_labels[0][0]) == INTENT_LABELS and tuple(surgery.group_labels[0][1]) == STAGE_LABELS
    assert death.edges.tolist() == EDGES.tolist() and fitted.events_.horizon == HORIZON
    for name, rate in truth.events_.rates.items():
        assert fitted.events_.rates[name].shape == rate.shape


@pytest.mark.parametrize("name", ["DEATH", "EXIT", "SURGERY"])
def test_fitted_hazard_is_the_occurrence_exposure_rate(recovery, name):
    _, fitted, _, stats = recovery
    events, days, pieces = stats[name]
    rate = fitted.events_.rates[name]
    at_risk = days > 0
    assert at_risk.mean() > 0.8 and events.sum() > 500
    # flooring per piece removes less than one unit (interval length / 1000 days) per piece
    lengths = np.diff(EDGES)
    floored = days - pieces * lengths / RESOLUTION
    low = events / days
    high = np.where(floored > 0, events / np.where(floored > 0, floored, 1), np.inf)
    ok = (rate >= low * (1 - 1e-9)) & (rate <= high * (1 + 1e-9))
    assert ok[at_risk].all(), (name, np.argwhere(at_risk & ~ok)[:5], rate[at_risk & ~ok][:5], low[at_risk & ~ok][:5])


@pytest.mark.parametrize("name", ["DEATH", "SURGERY"])
def test_fitted_hazards_match_the_truth(recovery, name):
    truth, fitted, _, stats = recovery
    _, days, _ = stats[name]
    true_rate = truth.events_.rates[name]
    expected = true_rate * days
    tested = expected >= MIN_EXPECTED
    n_tested = int(tested.sum())
    assert n_tested >= 40, n_tested
    z = norm.isf(ALPHA / (2 * n_tested))  # Bonferroni over the tested cells (two-sided)
    se = np.sqrt(expected[tested]) / days[tested]
    error = np.abs(fitted.events_.rates[name][tested] - true_rate[tested])
    worst = int(np.argmax(error / se))
    assert (error <= z * se).all(), (name, n_tested, z, float((error / se)[worst]))


def test_the_surgery_hazard_of_no_active_treatment_is_exactly_zero(recovery):
    _, fitted, _, stats = recovery
    rate = fitted.events_.rates["SURGERY"]
    assert (rate[INTENT_LABELS.index("X")] == 0).all()
    assert stats["SURGERY"][1][INTENT_LABELS.index("X")].sum() > 1e5  # intent X tumours were at risk


def overall_survival(tables):
    patients, tumours = tables["SIM_AV_PATIENT"], tables["SIM_AV_TUMOUR"]
    first = tumours.groupby("PATIENTID")["DIAGNOSISDATEBEST"].min().loc[patients["PATIENTID"]].to_numpy()
    time = (patients["VITALSTATUSDATE"].to_numpy() - first) / np.timedelta64(1, "D")
    return time, (patients["VITALSTATUS"] == "D").to_numpy()


def test_synthetic_overall_survival_matches_the_real_one(recovery):
    """Sup distance of the two Kaplan–Meier curves over the first five years.

    For one sample of n persons under independent censoring with P(C > t) >= G(tau) on [0, tau],
    Var(KM(t)) <= S(t)(1 - S(t)) / (n G(tau)) (the Greenwood integral bounded by 1 / G(tau)), so
    the Kaplan–Meier process is no more variable than an empirical CDF of n_eff = n G(tau)
    observations. Two independent curves with that n_eff differ in law like sqrt(2 / n_eff) times a
    Brownian bridge, so P(sup |KM1 - KM2| > 2 * 1.36 / sqrt(n_eff)) = P(sup |B| > 1.92) ~ 0.001
    (Kolmogorov). The synthetic sample is drawn from a model fitted to the real one, which makes the
    two curves closer than independent samples, not further. G(tau) is the reverse Kaplan–Meier
    (censoring) curve of the real data at tau = 5 years (administrative cut-off and exits), and
    n_eff uses the smaller of the two sample sizes.
    """
    from lifelines import KaplanMeierFitter

    _, fitted, real, _ = recovery
    synthetic = fitted.sample(N_PATIENTS, rng=5)
    tau = 1826.0
    grid = np.arange(0.0, tau + 1)
    curves, sizes = [], []
    for tables in (real, synthetic):
        time, died = overall_survival(tables)
        assert (time >= 0).all()
        curves.append(KaplanMeierFitter().fit(time, died).survival_function_at_times(grid).to_numpy())
        sizes.append(len(time))
    time, died = overall_survival(real)
    censoring = KaplanMeierFitter().fit(time, ~died).survival_function_at_times([tau]).to_numpy()[0]
    assert 0.3 < censoring < 0.9, censoring
    n_eff = min(sizes) * censoring
    bound = 2 * 1.36 / math.sqrt(n_eff)
    distance = np.abs(curves[0] - curves[1]).max()
    assert distance < bound, (distance, bound)
    # the curves are informative: survival falls well below one within five years
    assert curves[0][-1] < 0.7 and curves[0][30] < 0.97


def test_a_private_fit_spends_exactly_its_budget_on_documented_measurements(recovery):
    _, _, real, _ = recovery
    schema, structure = Schema.load("schemas/simulacrum_v2_core.yaml"), Structure.load("structures/simulacrum_v2_core.yaml")
    model = Synthesizer(schema, structure, epsilon=1.0).fit(real)
    ledger = model.ledger_
    assert abs(ledger["spent"] - 1.0) < 1e-9
    assert abs(sum(e["cost"] for e in ledger["entries"]) - 1.0) < 1e-9
    by_what = {e["what"]: e for e in ledger["entries"]}
    # under a finite epsilon every hazard of this schema is measured through a life table (one spell at
    # risk, no history): death and loss to follow-up share one, first surgery has its own
    survival, surgery = ("life table of survival: DEATH+EXIT (exits and entries)",
                         "life table of surgery: SURGERY (exits and entries)")
    event_entries = [e for e in ledger["entries"] if e["what"].startswith(("event counts of", "exposure of",
                                                                           "life table of"))]
    assert [e["what"] for e in event_entries] == [survival, surgery]
    # events_share = 0.35 of the budget left after the row counts that size the tables (sizing_share 0.01)
    assert by_what["rows per table (to size the conditional tables)"]["cost"] == pytest.approx(0.01)
    assert abs(sum(e["cost"] for e in event_entries) - 0.35 * 0.99) < 1e-9
    # sensitivities (pure DP, L1): a patient leaves the survival table once and may enter it late
    # (entry: latest), so 2; up to 3 tumours leave the surgery table once each
    assert by_what[survival]["sensitivity"] == 2 and by_what[surgery]["sensitivity"] == 3
    # 6 stage groups x 5 age bands x 14 bins (intervals longer than a year split) x (death, exit,
    # other exit, entry)
    assert by_what[survival]["n_values"] == 6 * 5 * 14 * 4
    for name, rate in model.events_.rates.items():
        assert np.isfinite(rate).all() and (rate >= 0).all(), name
    assert (model.events_.rates["SURGERY"][INTENT_LABELS.index("X")] == 0).all()
