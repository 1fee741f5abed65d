"""Performance estimate (CBPE): hand-computed sums, exact enumeration, Monte Carlo, refusals, the stored document."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.monitors.estimate import (
    EstimateConfig,
    calibration,
    estimate_performance,
    expected_accuracy,
    expected_roc_auc,
    fit_map,
    logit,
)
from pipeline_core.monitors.suite import SuiteConfig, evaluate
from pipeline_core.results import MonitorResult
from pipeline_core.results.evaluation import EvaluationReport, MonitorName
from pipeline_core.services.monitoring import score_frame
from pipeline_core.vocabulary import CheckStatus


@pytest.fixture
def small_spec(spec: DataSpec) -> DataSpec:
    return replace(spec, thresholds=Thresholds(quality_min_records=4))


def _labelled(p: np.ndarray, seed: int) -> pd.DataFrame:
    """Records whose probability of "Risk" is exactly ``p``: labels drawn from it, seeded."""
    y = np.random.default_rng(seed).random(len(p)) < p
    return pd.DataFrame({"probability": p, "Risk": np.where(y, "Risk", "No Risk")})


def test_expected_confusion_matrix_is_the_hand_computed_sums(small_spec: DataSpec) -> None:
    # Predicted Risk (p >= 0.5): .9 .8 .6 -> TP = 2.3, FP = 0.1 + 0.2 + 0.4 = 0.7.
    # Predicted No Risk: .4 .2 .1 -> FN = 0.7, TN = 0.6 + 0.8 + 0.9 = 2.3.
    current = pd.DataFrame({"probability": [0.9, 0.8, 0.6, 0.4, 0.2, 0.1]})
    held_out = _labelled(np.linspace(0.05, 0.95, 40), seed=1)
    result = estimate_performance(current, held_out, spec=small_spec)
    confusion = result.details["confusion"]
    assert (confusion["tp"], confusion["fp"], confusion["fn"], confusion["tn"]) == pytest.approx((2.3, 0.7, 0.7, 2.3))
    assert result.metric("estimated_accuracy").value == pytest.approx(4.6 / 6)
    assert result.metric("estimated_precision").value == pytest.approx(2.3 / 3)
    assert result.metric("estimated_recall").value == pytest.approx(2.3 / 3)
    assert result.details["refused"] is None and result.metric("estimated_accuracy").records == 6


def test_expected_auc_is_exact_against_every_labelling() -> None:
    # Eight records, ties included: enumerate all 256 labellings, weigh each by its probability.
    scores = np.array([0.9, 0.7, 0.7, 0.5, 0.4, 0.3, 0.3, 0.1])
    p = np.array([0.85, 0.6, 0.75, 0.5, 0.45, 0.2, 0.35, 0.1])
    u_sum = pairs_sum = 0.0
    for labels in itertools.product([0, 1], repeat=len(p)):
        y = np.array(labels, dtype=bool)
        weight = float(np.prod(np.where(y, p, 1 - p)))
        positives, negatives = scores[y], scores[~y]
        wins = sum((a > b) + 0.5 * (a == b) for a in positives for b in negatives)
        u_sum += weight * wins
        pairs_sum += weight * len(positives) * len(negatives)
    estimate, _ = expected_roc_auc(scores, p)
    assert estimate == pytest.approx(u_sum / pairs_sum, abs=1e-12)


def test_estimate_and_interval_agree_with_monte_carlo_labels() -> None:
    rng = np.random.default_rng(3)
    scores = rng.beta(2, 3, 1500)
    draws = rng.random((1000, len(scores))) < scores
    aucs = np.array([roc_auc_score(y, scores) for y in draws])
    accuracies = (draws == (scores >= 0.5)).mean(axis=1)
    auc, auc_sd = expected_roc_auc(scores, scores)
    accuracy, accuracy_sd = expected_accuracy(scores, scores >= 0.5)
    assert auc == pytest.approx(aucs.mean(), abs=0.001)
    assert accuracy == pytest.approx(accuracies.mean(), abs=0.001)
    assert auc_sd == pytest.approx(aucs.std(), rel=0.1)
    assert accuracy_sd == pytest.approx(accuracies.std(), rel=0.1)


def test_on_calibrated_probabilities_the_estimate_is_close_to_the_realised_value(spec: DataSpec) -> None:
    rng = np.random.default_rng(5)
    held_out = _labelled(rng.beta(2, 3, 1000), seed=6)
    current = _labelled(rng.beta(2, 3, 3000), seed=7)  # labels the estimate never sees
    result = estimate_performance(current.drop(columns=["Risk"]), held_out, spec=spec)
    y = (current["Risk"] == "Risk").to_numpy()
    realised_auc = roc_auc_score(y, current["probability"])
    realised_accuracy = float((y == (current["probability"] >= 0.5)).mean())
    auc, accuracy = result.metric("estimated_roc_auc"), result.metric("estimated_accuracy")
    assert auc.value == pytest.approx(realised_auc, abs=0.02)
    assert accuracy.value == pytest.approx(realised_accuracy, abs=0.02)
    assert auc.interval is not None and auc.interval[0] <= realised_auc <= auc.interval[1]
    assert accuracy.interval is not None and accuracy.interval[0] <= realised_accuracy <= accuracy.interval[1]
    assert all(m.status == CheckStatus.INFO and not m.critical and m.threshold is None for m in result.metrics)
    checked = result.details["calibration"]
    assert checked["records"] == 1000 and checked["expected_calibration_error"] < 0.05
    assert checked["p_value"] > 0.01 and checked["recalibrated"] is False


def _squashed(p: pd.Series) -> pd.Series:
    return 0.5 + 0.25 * (p - 0.5)


@pytest.mark.parametrize(
    ("held_out", "current", "match"),
    [
        (
            _labelled(np.random.default_rng(8).beta(0.5, 0.8, 400), seed=9).assign(
                probability=lambda f: _squashed(f["probability"])
            ),
            pd.DataFrame({"probability": np.linspace(0, 1, 50)}),
            r"badly calibrated on 400 held-out records: expected calibration error 0\.\d{3} > 0\.100 "
            r"\(Hosmer-Lemeshow p = ",
        ),
        (
            _labelled(np.linspace(0.1, 0.9, 30), seed=1),
            pd.DataFrame({"probability": np.linspace(0, 1, 50)}),
            r"calibration cannot be checked on 30 held-out records \(at least 50 are needed\)",
        ),
        (
            _labelled(np.linspace(0.1, 0.9, 60), seed=1),
            pd.DataFrame({"probability": np.linspace(0, 1, 20)}),
            r"20 records in the window, at least 50 are needed",
        ),
        (
            _labelled(np.linspace(0.1, 0.9, 60), seed=1),
            pd.DataFrame({"Age": np.arange(60)}),
            r"the records carry no probability of the positive label",
        ),
    ],
    ids=["squashed", "small-held-out", "small-window", "no-probability"],
)
def test_refusals_say_why_and_carry_no_figure(
    spec: DataSpec, held_out: pd.DataFrame, current: pd.DataFrame, match: str
) -> None:
    fifty = replace(spec, thresholds=Thresholds(quality_min_records=50))
    result = estimate_performance(current, held_out, spec=fifty)
    refused = result.details["refused"]
    assert refused is not None and re.search(match, refused), refused
    assert result.details["confusion"] == {} and result.status == CheckStatus.INFO
    for m in result.metrics:
        assert m.value is None and m.interval is None and m.detail == f"not estimated: {refused}"


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_recalibration_corrects_a_mildly_off_model_and_says_so(spec: DataSpec, method: str) -> None:
    rng = np.random.default_rng(10)
    truth_ref, truth_cur = rng.beta(2, 3, 2000), rng.beta(2, 3, 4000)
    held_out = _labelled(truth_ref, seed=11).assign(probability=truth_ref**1.5)  # too sure of "No Risk"
    current = _labelled(truth_cur, seed=12).assign(probability=truth_cur**1.5)
    y = (current["Risk"] == "Risk").to_numpy()
    realised = float((y == (current["probability"] >= 0.5)).mean())
    config = EstimateConfig(max_calibration_error=0.2)
    plain = estimate_performance(current, held_out, spec=spec, config=replace(config, recalibration="none"))
    fixed = estimate_performance(current, held_out, spec=spec, config=replace(config, recalibration=method))  # type: ignore[arg-type]
    assert plain.details["calibration"]["recalibrated"] is False
    checked = fixed.details["calibration"]
    assert checked["recalibrated"] and checked["recalibration"] == method and checked["p_value"] < 0.01
    assert checked["error_after"] < checked["expected_calibration_error"]
    assert f"recalibrated ({method}: error " in fixed.metrics[0].detail
    errors = [abs(float(r.metric("estimated_accuracy").value or 0.0) - realised) for r in (plain, fixed)]
    assert errors[1] < errors[0] and errors[1] < 0.02
    # The map's own error widens the interval beyond the labels' sampling alone.
    intervals = [r.metric("estimated_roc_auc").interval or (0.0, 0.0) for r in (plain, fixed)]
    widths = [upper - lower for lower, upper in intervals]
    assert widths[1] > widths[0]


def test_calibration_of_a_perfect_model_by_hand() -> None:
    # Two equal-mass bins: p .2 .2 (one positive of two: observed .5) and .8 .8 (observed .5).
    # ECE = (2 * .3 + 2 * .3) / 4 = .3; Hosmer-Lemeshow = (1 - .4)^2 / (.4 * .8) + (1 - 1.6)^2 / (1.6 * .2).
    checked = calibration(np.array([0.2, 0.2, 0.8, 0.8]), np.array([True, False, True, False]), bins=2)
    assert checked.error == pytest.approx(0.3)
    assert checked.statistic == pytest.approx(0.36 / 0.32 + 0.36 / 0.32)
    assert [b[2] for b in checked.bins] == [2, 2]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=5, max_size=300), st.floats(0.05, 0.95))
def test_any_probabilities_give_bounded_figures(values: list[float], threshold: float) -> None:
    p = np.array(values)
    held_out = _labelled(np.linspace(0.05, 0.95, 40), seed=2)
    spec_small = replace(_SPEC, thresholds=Thresholds(quality_min_records=4))
    result = estimate_performance(
        pd.DataFrame({"probability": p}), held_out, spec=spec_small, config=EstimateConfig(decision_threshold=threshold)
    )
    confusion = result.details["confusion"]
    assert sum(confusion[k] for k in ("tp", "fp", "tn", "fn")) == pytest.approx(len(p), abs=1e-4)
    for m in result.metrics:
        if m.value is not None:
            assert 0.0 <= m.value <= 1.0
        if m.interval is not None:
            assert 0.0 <= m.interval[0] <= m.value + 1e-6 <= m.interval[1] + 2e-6  # type: ignore[operator]


def test_the_suite_adds_the_estimate_and_the_stored_document_round_trips(spec: DataSpec) -> None:
    frame = generate_german_credit(900, seed=21)
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), spec.categorical), (StandardScaler(), spec.numeric)
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1000))
    model.fit(frame[spec.feature_names].iloc[:600], frame[spec.target].iloc[:600])
    scored = score_frame(model, frame, spec)
    reference, held_out, current = scored.iloc[:600], scored.iloc[600:750], scored.iloc[750:]
    small = replace(spec, thresholds=replace(spec.thresholds, quality_min_records=50, fairness_min_records=8))
    config = SuiteConfig(explain_enabled=False)
    report = evaluate(current, reference, spec=small, model=model, labelled=current, held_out=held_out, config=config)
    monitor = report.monitor(MonitorName.ESTIMATE)
    assert monitor is not None and not any(m.critical for m in monitor.metrics)
    assert not [c for c in report.checks if c.monitor == MonitorName.ESTIMATE and c.metric.status != "info"]
    estimate = report.estimate
    assert estimate is not None and estimate.refused is None and estimate.records == 150
    assert estimate.roc_auc is not None and estimate.roc_auc_interval is not None
    assert estimate.confusion is not None and sum(map(sum, estimate.confusion.matrix)) == pytest.approx(150)
    assert estimate.calibration is not None and estimate.calibration.records == 150
    again = EvaluationReport.from_dict(report.to_dict())
    assert again.estimate == estimate and again.status == report.status
    # Without the held-out reference there is no calibration to check: no estimate at all.
    bare = evaluate(current, reference, spec=small, model=model, labelled=current, held_out=None, config=config)
    assert bare.monitor(MonitorName.ESTIMATE) is None and bare.estimate is None


def test_a_refused_estimate_round_trips(small_spec: DataSpec) -> None:
    result = estimate_performance(
        pd.DataFrame({"probability": [0.5] * 3}), _labelled(np.full(2, 0.5), 1), spec=small_spec
    )
    again = MonitorResult.from_dict(result.to_dict())
    report = EvaluationReport.judge([again])
    assert report.estimate is not None and report.estimate.refused == result.details["refused"]
    assert report.estimate.roc_auc is None and report.estimate.confusion is None and report.status == CheckStatus.PASS


_SPEC = german_credit_spec()


def test_platt_map_is_scikit_learn_s_logistic_regression() -> None:
    rng = np.random.default_rng(13)
    truth = rng.beta(2, 3, 600)
    y = rng.random(600) < truth
    scores = truth**1.3
    reference = LogisticRegression(C=1e9, max_iter=10_000, tol=1e-10).fit(logit(scores)[:, None], y)
    mapped = fit_map(scores, y, "platt")(scores)
    assert mapped == pytest.approx(reference.predict_proba(logit(scores)[:, None])[:, 1], abs=1e-6)
    # A resample of one class has no finite fit: its rate.
    assert fit_map(scores[:5], np.zeros(5, dtype=bool), "platt")(scores) == pytest.approx(np.full(600, 1e-6))
