"""Fairness: configured groups by hand, agreement with fairlearn, and the bias scan on the real file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate

from pipeline_core.data.load import read_csv_file
from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.monitors.fairness import fairness
from pipeline_core.params import RunParams
from pipeline_core.stages.prepare import build_preprocessor
from pipeline_core.stages.train import build_estimator


@pytest.fixture
def small_spec(spec: DataSpec) -> DataSpec:
    return replace(spec, thresholds=Thresholds(fairness_min_records=2))


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
