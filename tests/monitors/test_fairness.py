"""Fairness: groups by hand and against fairlearn, the labelled records apart, intervals, minimums, the bias scan."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from scipy.stats import chi2_contingency, false_discovery_control

from pipeline_core.data.load import read_csv_file
from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.monitors.fairness import fairness, two_proportion_p_values
from pipeline_core.params import RunParams
from pipeline_core.stages.prepare import build_preprocessor
from pipeline_core.stages.train import build_estimator


@pytest.fixture
def small_spec(spec: DataSpec) -> DataSpec:
    return replace(spec, thresholds=Thresholds(fairness_min_records=1))


def _applicants(
    spec: DataSpec, sex: list[str], age: list[int], prediction: list[str], truth: list[str]
) -> pd.DataFrame:
    base = {name: ["x"] * len(sex) for name in spec.categorical} | {name: [1] * len(sex) for name in spec.numeric}
    frame = pd.DataFrame(base)
    frame["Sex"], frame["Age"], frame["prediction"], frame["Risk"] = sex, age, prediction, truth
    return frame


def test_configured_groups_by_hand(small_spec: DataSpec) -> None:
    # Women: predictions N N R R (fav rate 1/2); men: N N N R (3/4). DI = (1/2)/(3/4) = 2/3; SPD = -1/4.
    # Truth favourable (N) for women rows 0,1,2 -> TPR_w = 2/3; men rows 0,1,3 -> TPR_m = 2/3 -> EOD 0.
    # Truth unfavourable: women row 3 (pred R) FPR_w = 0; men row 2 (pred N) FPR_m = 1 -> AOD = (0 - 1 + 0)/2.
    frame = _applicants(
        small_spec,
        sex=["female"] * 4 + ["male"] * 4,
        age=[30] * 8,
        prediction=["No Risk", "No Risk", "Risk", "Risk", "No Risk", "No Risk", "No Risk", "Risk"],
        truth=["No Risk", "No Risk", "No Risk", "Risk", "No Risk", "No Risk", "Risk", "No Risk"],
    )
    result = fairness(frame, frame, spec=small_spec)
    assert result.metric("disparate_impact[Sex]").value == pytest.approx(2 / 3)
    assert result.metric("disparate_impact[Sex]").status == "fail"
    assert result.metric("statistical_parity_difference[Sex]").value == pytest.approx(-0.25)
    assert result.metric("equal_opportunity_difference[Sex]").value == pytest.approx(0.0)
    assert result.metric("average_odds_difference[Sex]").value == pytest.approx(-0.5)
    # Age 18-25 has nobody here: insufficient, not a number.
    assert result.metric("disparate_impact[Age]").status == "insufficient"
    # Pre-prod: the test split is current and labelled at once, so nothing is reported twice.
    assert not [m.name for m in result.metrics if "|labelled" in m.name]
    assert fairness(frame, frame, spec=small_spec, labelled=frame).metrics == result.metrics
    # Group sizes: 4 and 4 records; 3 favourable-truth records each; AOD's smallest count is 1 (one truth, one group).
    assert [result.metric(f"{k}[Sex]").records for k in ("disparate_impact", "equal_opportunity_difference")] == [4, 3]
    assert result.metric("average_odds_difference[Sex]").records == 1


def test_agrees_with_fairlearn(spec: DataSpec) -> None:
    rng = np.random.default_rng(3)
    n = 2000
    frame = _applicants(
        spec,
        sex=list(rng.choice(["female", "male"], n)),
        age=list(rng.integers(18, 76, n)),
        prediction=list(rng.choice(["No Risk", "Risk"], n, p=[0.7, 0.3])),
        truth=list(rng.choice(["No Risk", "Risk"], n, p=[0.66, 0.34])),
    )
    result = fairness(frame, frame, spec=spec)
    y_pred = (frame["prediction"] == "No Risk").astype(int)
    y_true = (frame["Risk"] == "No Risk").astype(int)
    frames = MetricFrame(
        metrics={"sel": selection_rate, "tpr": true_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=frame["Sex"],
    )
    by = frames.by_group
    assert result.metric("disparate_impact[Sex]").value == pytest.approx(
        by.loc["female", "sel"] / by.loc["male", "sel"]
    )
    assert result.metric("statistical_parity_difference[Sex]").value == pytest.approx(
        by.loc["female", "sel"] - by.loc["male", "sel"]
    )
    assert result.metric("equal_opportunity_difference[Sex]").value == pytest.approx(
        by.loc["female", "tpr"] - by.loc["male", "tpr"]
    )
    young = np.where(frame["Age"] <= 25, "young", np.where(frame["Age"] <= 75, "older", "none"))
    ages = MetricFrame(metrics=selection_rate, y_true=y_true, y_pred=y_pred, sensitive_features=young).by_group
    assert result.metric("disparate_impact[Age]").value == pytest.approx(ages["young"] / ages["older"])


def test_bias_scan_finds_the_over_45_skew_the_configured_groups_miss(spec: DataSpec, real_data: Path) -> None:
    frame = read_csv_file(real_data, roots=[real_data.parent]).frame
    params = RunParams()
    model = build_estimator(build_preprocessor(spec, params.model_type), params)
    model.fit(frame[spec.feature_names], frame[spec.target])
    scored = frame.assign(prediction=model.predict(frame[spec.feature_names]))
    result = fairness(scored, frame, spec=spec)
    # The configured groups see nothing wrong: women and the young are favoured, if anything.
    for attribute in ("Sex", "Age"):
        di = result.metric(f"disparate_impact[{attribute}]")
        assert di.value is not None and di.value > 0.95 and di.status == "pass", di
    scan = result.details["bias_scan"]
    age_over = [g for g in scan if g["feature"] == "Age" and g["group"].startswith("Age > ")]
    assert age_over, [g["group"] for g in scan]
    edge = float(age_over[0]["group"].split(">")[1])
    assert 38 <= edge <= 50 and age_over[0]["disparate_impact"] < 0.6 and age_over[0]["below_threshold"]


def _window_and_labels(spec: DataSpec, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A payload window (no labels) where women are favoured as often as men, and labelled records where not."""
    rng = np.random.default_rng(seed)
    window = _applicants(
        spec,
        sex=list(rng.choice(["female", "male"], n)),
        age=list(rng.integers(18, 76, n)),
        prediction=list(rng.choice(["No Risk", "Risk"], n, p=[0.7, 0.3])),
        truth=["No Risk"] * n,
    ).drop(columns=["Risk"])
    sex = rng.choice(["female", "male"], n)
    favoured = rng.random(n) < np.where(sex == "female", 0.5, 0.7)
    labelled = _applicants(
        spec,
        sex=list(sex),
        age=list(rng.integers(18, 76, n)),
        prediction=list(np.where(favoured, "No Risk", "Risk")),
        truth=list(rng.choice(["No Risk", "Risk"], n, p=[0.66, 0.34])),
    )
    return window, labelled


def test_production_reports_the_labelled_records_apart_and_their_di_is_critical(spec: DataSpec) -> None:
    window, labelled = _window_and_labels(spec, 3_000, seed=5)
    result = fairness(window, window, spec=spec, labelled=labelled)
    whole, on_labels = result.metric("disparate_impact[Sex]"), result.metric("disparate_impact[Sex|labelled]")
    assert whole.status in ("pass", "warn") and whole.critical
    assert on_labels.status == "fail" and on_labels.critical  # 0.5 / 0.7: the labelled records fail
    # fairlearn on the labelled records: selection rates, and TPR / FPR, the building blocks of equalized odds.
    y_pred = (labelled["prediction"] == "No Risk").astype(int)
    y_true = (labelled["Risk"] == "No Risk").astype(int)
    by = MetricFrame(
        metrics={"sel": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=labelled["Sex"],
    ).by_group
    assert on_labels.value == pytest.approx(by.loc["female", "sel"] / by.loc["male", "sel"])
    assert result.metric("statistical_parity_difference[Sex|labelled]").value == pytest.approx(
        by.loc["female", "sel"] - by.loc["male", "sel"]
    )
    eod = by.loc["female", "tpr"] - by.loc["male", "tpr"]
    assert result.metric("equal_opportunity_difference[Sex]").value == pytest.approx(eod)
    aod = ((by.loc["female", "fpr"] - by.loc["male", "fpr"]) + eod) / 2
    assert result.metric("average_odds_difference[Sex]").value == pytest.approx(aod)
    # The window has no labels: the truth's metrics exist once, on the labelled records.
    names = [m.name for m in result.metrics]
    assert names.count("equal_opportunity_difference[Sex]") == 1
    assert "statistical_parity_difference[Sex]" in names
    women = int((labelled["Sex"] == "female").sum())
    assert on_labels.records == min(women, len(labelled) - women)
    assert result.details["labelled_records"] == 3_000
    assert set(result.details["labelled_groups"]) == {"Sex", "Age"}


def test_every_group_metric_carries_an_interval_around_its_value(spec: DataSpec) -> None:
    window, labelled = _window_and_labels(spec, 3_000, seed=6)
    result = fairness(window, window, spec=spec, labelled=labelled)
    judged = [m for m in result.metrics if m.value is not None]
    assert len(judged) == 12  # Sex and Age: DI, SPD on the window; DI, SPD, EOD, AOD on the labels
    for m in judged:
        assert m.interval is not None and m.value is not None and m.interval[0] <= m.value <= m.interval[1], m
        assert m.records is not None and m.records >= spec.thresholds.fairness_min_records
    again = fairness(window, window, spec=spec, labelled=labelled)
    assert [m.interval for m in again.metrics] == [m.interval for m in result.metrics]  # seeded


def test_the_interval_shrinks_with_the_number_of_records(spec: DataSpec) -> None:
    widths = []
    for n in (400, 4_000, 40_000):
        window, _ = _window_and_labels(spec, n, seed=7)
        found = fairness(window, window, spec=spec).metric("disparate_impact[Sex]").interval
        assert found is not None
        widths.append(found[1] - found[0])
    assert widths[0] > 2 * widths[1] > 4 * widths[2]


@pytest.mark.parametrize(
    ("labelled_rows", "unjudged"),
    [
        # 40 labelled records: 20 per group, under the minimum of 100: nothing labelled is judged.
        (
            40,
            {
                "disparate_impact[Sex|labelled]",
                "statistical_parity_difference[Sex|labelled]",
                "equal_opportunity_difference[Sex]",
                "average_odds_difference[Sex]",
            },
        ),
        # 0 labelled records: the same, with 0 records.
        (0, {"disparate_impact[Sex|labelled]", "equal_opportunity_difference[Sex]"}),
    ],
)
def test_too_few_labelled_records_leave_the_checks_unjudged_never_passed(
    spec: DataSpec, labelled_rows: int, unjudged: set[str]
) -> None:
    window, labelled = _window_and_labels(spec, 3_000, seed=8)
    result = fairness(window, window, spec=spec, labelled=labelled.iloc[:labelled_rows])
    for name in unjudged:
        m = result.metric(name)
        assert m.status == "insufficient" and m.value is None and m.interval is None, m
        assert m.records is not None and m.records < 100 and "insufficient data" in m.detail
    assert result.metric("disparate_impact[Sex|labelled]").critical


def test_equal_opportunity_needs_enough_favourable_truth_records_per_group(spec: DataSpec) -> None:
    # 300 women and 300 men (enough for DI), but only 50 women whose true outcome is favourable.
    n = 300
    frame = _applicants(
        spec,
        sex=["female"] * n + ["male"] * n,
        age=[30] * (2 * n),
        prediction=["No Risk", "Risk"] * n,
        truth=["No Risk"] * 50 + ["Risk"] * (n - 50) + ["No Risk", "Risk"] * (n // 2),
    )
    result = fairness(frame, frame, spec=spec, labelled=frame)
    assert result.metric("disparate_impact[Sex]").status == "pass"
    assert result.metric("equal_opportunity_difference[Sex]").status == "insufficient"
    assert result.metric("equal_opportunity_difference[Sex]").records == 50
    assert result.metric("average_odds_difference[Sex]").status == "insufficient"


def test_the_scans_z_test_is_the_chi_square_test_of_the_two_by_two_table() -> None:
    n_in, fav_in, n_out, fav_out = (
        np.array([120.0, 400.0]),
        np.array([50.0, 300.0]),
        np.array([880.0, 600.0]),
        np.array([600.0, 420.0]),
    )
    found = two_proportion_p_values(n_in, fav_in, n_out, fav_out)
    for k in range(2):
        table = [[fav_in[k], n_in[k] - fav_in[k]], [fav_out[k], n_out[k] - fav_out[k]]]
        assert found[k] == pytest.approx(chi2_contingency(table, correction=False).pvalue)


def test_benjamini_hochberg_as_worked_by_hand() -> None:
    # Five p-values sorted: 0.001 0.008 0.039 0.041 0.6. BH: p_(k) * m / k = 0.005 0.02 0.065 0.05125 0.6, then the
    # running minimum from the top: 0.005 0.02 0.05125 0.05125 0.6. At a rate of 0.05: the first two only.
    p = np.array([0.039, 0.001, 0.6, 0.041, 0.008])
    q = false_discovery_control(p, method="bh")
    assert q == pytest.approx([0.05125, 0.005, 0.6, 0.05125, 0.02])
    assert list(q <= 0.05) == [False, True, False, False, True]


def _planted(spec: DataSpec, n: int, seed: int) -> pd.DataFrame:
    """Young women are refused far more often; women and the young alone only a little."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    age = rng.integers(18, 76, n)
    young_woman = (sex == "female") & (age <= 25)
    favoured = rng.random(n) < np.where(young_woman, 0.3, 0.72)
    frame = _applicants(
        spec,
        sex=list(sex),
        age=list(age),
        prediction=list(np.where(favoured, "No Risk", "Risk")),
        truth=["No Risk"] * n,
    )
    for name in spec.categorical:
        if name != "Sex":
            frame[name] = rng.choice(["a", "b", "c"], n)
    for name in spec.numeric:
        if name != "Age":
            frame[name] = rng.integers(1, 50, n)
    return frame


def test_the_scan_finds_the_planted_intersection_and_controls_the_false_discovery_rate(spec: DataSpec) -> None:
    frame = _planted(spec, 8_000, seed=9)
    result = fairness(frame, frame, spec=spec)
    summary = result.details["bias_scan_summary"]
    crossed = result.details["bias_scan_intersections"]
    assert set(crossed[0]["group"].split(" & ")) == {"Sex = female", "18 <= Age <= 25"}, crossed[0]
    assert crossed[0]["significant"] and crossed[0]["q_value"] < 1e-10 and set(crossed[0]["features"]) == {"Sex", "Age"}
    assert summary["tested"] == summary["tested_single"] + summary["tested_intersections"]
    assert summary["tested_intersections"] > 50 and summary["tested_single"] > 50
    # Unrelated features (random a/b/c, random numbers) are noise: few of their groups are flagged.
    noise = [g for g in result.details["bias_scan"] if g["feature"] not in ("Sex", "Age") and g["significant"]]
    assert len(noise) <= 1
    assert 0 < summary["significant"] < summary["tested"] and summary["fdr"] == 0.05


def test_the_scan_tests_only_groups_large_enough_inside_and_outside(spec: DataSpec) -> None:
    frame = _planted(spec, 1_000, seed=10)
    tight = replace(spec, thresholds=Thresholds(fairness_min_records=300))
    result = fairness(frame, frame, spec=tight)
    every = result.details["bias_scan"] + result.details["bias_scan_intersections"]
    assert every and all(g["records"] >= 300 and g["others_records"] >= 300 for g in every)
    loose = fairness(frame, frame, spec=replace(spec, thresholds=Thresholds(fairness_min_records=20)))
    assert loose.details["bias_scan_summary"]["tested"] > result.details["bias_scan_summary"]["tested"]
