"""Quality monitor on hand-made frames with answers worked out by hand."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_curve

from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.monitors.quality import quality
from pipeline_core.results import MonitorResult


@pytest.fixture
def tiny_spec(spec: DataSpec) -> DataSpec:
    return replace(spec, thresholds=Thresholds(quality_min_records=4, min_roc_auc=0.6))


def _frame(labels: list[str], probability: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"Risk": labels, "probability": probability})


def test_metrics_by_hand(tiny_spec: DataSpec) -> None:
    # Positive class = "Risk". Probabilities: R .9, R .4, N .6, N .1, N .2
    # Pairs (R, N): (.9 > .6, .1, .2) = 3 wins; (.4 < .6, > .1, > .2) = 2 wins -> AUC = 5/6.
    # At 0.5: predicted R for .9 and .6 -> TP 1 (the .9), FP 1 (the .6), FN 1 (the .4), TN 2.
    current = _frame(["Risk", "Risk", "No Risk", "No Risk", "No Risk"], [0.9, 0.4, 0.6, 0.1, 0.2])
    result = quality(current, current, spec=tiny_spec)
    value = {m.name: m.value for m in result.metrics}
    assert value["roc_auc"] == pytest.approx(5 / 6)
    assert value["accuracy"] == pytest.approx(3 / 5)
    assert value["precision"] == pytest.approx(1 / 2)
    assert value["recall"] == pytest.approx(1 / 2) == value["true_positive_rate"]
    assert value["false_positive_rate"] == pytest.approx(1 / 3)
    assert value["f1"] == pytest.approx(1 / 2)
    brier = ((0.9 - 1) ** 2 + (0.4 - 1) ** 2 + 0.6**2 + 0.1**2 + 0.2**2) / 5
    assert value["brier"] == pytest.approx(brier)
    import math

    ll = -(math.log(0.9) + math.log(0.4) + math.log(0.4) + math.log(0.9) + math.log(0.8)) / 5
    assert value["log_loss"] == pytest.approx(ll)
    # Average precision: ranked .9 R (P=1, R=.5), .6 N, .4 R (P=2/3, R=1) -> AP = .5*1 + .5*2/3.
    assert value["pr_auc"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert result.details["confusion_matrix"]["matrix"] == [[2, 1], [1, 1]]
    assert result.metric("roc_auc").status == "pass" and result.metric("roc_auc").critical


def test_auc_below_threshold_fails_critically(tiny_spec: DataSpec) -> None:
    current = _frame(["Risk", "No Risk", "Risk", "No Risk"], [0.2, 0.8, 0.3, 0.7])  # perfectly wrong: AUC 0
    result = quality(current, current, spec=tiny_spec)
    assert result.metric("roc_auc").value == 0.0 and result.status == "fail"
    assert [m.name for m in result.failed_critical] == ["roc_auc"]


def test_insufficient_data_says_so(tiny_spec: DataSpec) -> None:
    result = quality(_frame(["Risk", "No Risk"], [0.9, 0.1]), _frame([], []), spec=tiny_spec)
    assert result.status == "insufficient"
    assert result.metrics[0].value is None and result.metrics[0].detail == "insufficient data: 2 < 4"
    again = MonitorResult.from_dict(result.to_dict())
    assert again.to_dict() == result.to_dict()


def test_the_suite_sets_the_held_out_value_beside_each_metric_not_the_in_sample_one(spec: DataSpec) -> None:
    from pipeline_core.data.german_credit import generate_german_credit
    from pipeline_core.monitors.suite import SuiteConfig, evaluate

    frame = generate_german_credit(600, seed=12)
    risky = (frame["Risk"] == "Risk").to_numpy()

    def scored(rows: pd.DataFrame, probability: list[float]) -> pd.DataFrame:
        return rows.assign(probability=probability, prediction=["Risk" if p >= 0.5 else "No Risk" for p in probability])

    training = scored(frame.iloc[:300], [0.9 if r else 0.1 for r in risky[:300]])  # in-sample: perfect
    held_out = scored(frame.iloc[300:], [0.9 if r else 0.1 for r in risky[300:][::-1]])  # held out: no better
    current = held_out.iloc[:200]
    config = SuiteConfig(explain_enabled=False)
    report = evaluate(
        current,
        training,
        spec=spec,
        model=None,  # type: ignore[arg-type]  # explanations are off: the model is never asked
        labelled=current,
        held_out=held_out,
        config=config,
    )
    quality_result = report.monitor("quality")
    assert quality_result is not None
    expected = quality(held_out, held_out, spec=spec).metric("roc_auc").value
    assert expected is not None and expected < 0.7
    assert quality_result.metric("roc_auc").detail == f"held-out reference {expected:.4f}"


def _random(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    probability = rng.uniform(0, 1, n)
    labels = np.where(rng.uniform(0, 1, n) < probability, "Risk", "No Risk")
    return _frame(list(labels), list(probability))


def test_curves_equal_sklearns_own(tiny_spec: DataSpec) -> None:
    frame = _random(150)  # under MAX_POINTS: nothing is dropped, so every point is sklearn's
    stored = quality(frame, frame, spec=tiny_spec).details["curves"]
    y, p = (frame["Risk"] == "Risk").to_numpy(), frame["probability"].to_numpy()
    fpr, tpr, thresholds = roc_curve(y, p)
    assert stored["roc"]["fpr"] == pytest.approx(list(fpr), abs=1e-6)
    assert stored["roc"]["tpr"] == pytest.approx(list(tpr), abs=1e-6)
    assert stored["roc"]["thresholds"][0] is None  # sklearn's +inf, which JSON cannot hold
    assert stored["roc"]["thresholds"][1:] == pytest.approx(list(thresholds[1:]), abs=1e-6)
    precision, recall, _ = precision_recall_curve(y, p)
    assert stored["pr"]["precision"] == pytest.approx(list(precision), abs=1e-6)
    assert stored["pr"]["recall"] == pytest.approx(list(recall), abs=1e-6)
    fraction, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert stored["calibration"]["fraction_positive"] == pytest.approx(list(fraction), abs=1e-6)
    assert stored["calibration"]["mean_predicted"] == pytest.approx(list(mean), abs=1e-6)
    assert sum(stored["calibration"]["count"]) == len(frame)
    assert len(stored["calibration"]["count"]) == len(mean)
    scores = stored["scores"]
    assert len(scores["edges"]) == 21 and scores["edges"][0] == 0.0 and scores["edges"][-1] == 1.0
    assert sum(scores["positive"]) == int(y.sum()) and sum(scores["favourable"]) == int((~y).sum())


def test_calibration_counts_are_per_bin(tiny_spec: DataSpec) -> None:
    # Bins of width 0.1: .05 and .07 in the first, .55 in the sixth, .95 in the last; .1 sits on an edge
    # and goes where sklearn puts it (the first bin: its searchsorted is left-sided).
    frame = _frame(["Risk", "No Risk", "Risk", "No Risk", "Risk"], [0.05, 0.07, 0.1, 0.55, 0.95])
    calibration = quality(frame, frame, spec=tiny_spec).details["curves"]["calibration"]
    assert calibration["count"] == [3, 1, 1]
    assert calibration["fraction_positive"] == [round(2 / 3, 6), 0.0, 1.0]


def test_curves_are_bounded_deterministic_and_json(tiny_spec: DataSpec) -> None:
    frame = _random(5000)
    first = quality(frame, frame, spec=tiny_spec).details["curves"]
    assert first == quality(frame, frame, spec=tiny_spec).details["curves"]
    assert all(len(v) <= 200 for curve in ("roc", "pr") for v in first[curve].values())
    y, p = (frame["Risk"] == "Risk").to_numpy(), frame["probability"].to_numpy()
    fpr, tpr, _ = roc_curve(y, p)
    # The ends are kept: the curve still runs from (0, 0) to (1, 1).
    assert (first["roc"]["fpr"][0], first["roc"]["tpr"][0]) == (round(fpr[0], 6), round(tpr[0], 6))
    assert (first["roc"]["fpr"][-1], first["roc"]["tpr"][-1]) == (1.0, 1.0)
    text = json.dumps(first, allow_nan=False)
    assert len(text) < 20_000


def test_curves_with_an_empty_reference_and_one_class(tiny_spec: DataSpec) -> None:
    frame = _frame(["Risk"] * 5, [0.9, 0.8, 0.7, 0.6, 0.5])  # one class: no ROC or PR curve can be drawn
    result = quality(frame, _frame([], []), spec=tiny_spec)
    stored = result.details["curves"]
    assert stored["roc"] == {"fpr": [], "tpr": [], "thresholds": []} and stored["pr"]["recall"] == []
    assert sum(stored["calibration"]["count"]) == 5 and sum(stored["scores"]["positive"]) == 5
    json.dumps(stored, allow_nan=False)
    assert MonitorResult.from_dict(result.to_dict()).details["curves"] == stored


def test_roc_auc_carries_its_bootstrap_interval_and_records(tiny_spec: DataSpec) -> None:
    rng = np.random.default_rng(11)
    truth = rng.random(600) < 0.35
    probability = np.clip(rng.normal(0.35 + 0.25 * truth, 0.2), 0, 1)
    current = _frame(list(np.where(truth, "Risk", "No Risk")), list(probability))
    auc = quality(current, current, spec=tiny_spec).metric("roc_auc")
    assert auc.interval is not None and auc.interval[0] < auc.value < auc.interval[1]  # type: ignore[operator]
    assert auc.records == 600
    assert quality(current, current, spec=tiny_spec).metric("roc_auc").interval == auc.interval  # seeded
    # Only ROC AUC has one: the other figures are reported as before.
    assert all(m.interval is None for m in quality(current, current, spec=tiny_spec).metrics if m.name != "roc_auc")
