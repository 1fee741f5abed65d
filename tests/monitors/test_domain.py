"""Multivariate drift: a domain classifier cannot tell one distribution from itself and names a planted shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.domain import bootstrap_auc, domain_classifier, weighted_auc
from pipeline_core.monitors.drift import DriftConfig, drift


def test_two_samples_of_one_distribution_cannot_be_told_apart(spec: DataSpec) -> None:
    found = domain_classifier(
        generate_german_credit(3000, seed=11), generate_german_credit(3000, seed=12), spec=spec, minimum=100
    )
    assert found["auc"] == pytest.approx(0.5, abs=0.04)
    lower, upper = found["interval"]
    assert lower < found["auc"] < upper and lower < 0.53 and upper > 0.47
    assert len(found["fold_auc"]) == 5 and found["reference_records"] == found["current_records"] == 3000
    assert not found["sampled"]


def test_a_planted_shift_is_found_and_its_feature_named_first(spec: DataSpec) -> None:
    reference, current = generate_german_credit(3000, seed=11), generate_german_credit(3000, seed=12)
    current["LoanDuration"] = current["LoanDuration"] + 12  # a year longer
    found = domain_classifier(current, reference, spec=spec, minimum=100)
    assert found["auc"] > 0.75 and found["interval"][0] > 0.7
    assert found["features"][0]["feature"] == "LoanDuration"
    assert found["features"][0]["importance"] > 5 * max(f["importance"] for f in found["features"][1:])
    assert {f["feature"] for f in found["features"]} == set(spec.feature_names)


def test_a_change_in_how_features_go_together_that_no_single_feature_shows(spec: DataSpec) -> None:
    """Same ages, same loan amounts, but the largest loans now go to the youngest applicants."""
    reference, current = generate_german_credit(4000, seed=21), generate_german_credit(4000, seed=22)
    order = np.argsort(current["Age"].to_numpy(), kind="stable")
    amounts = np.sort(current["LoanAmount"].to_numpy())[::-1]
    current.loc[current.index[order], "LoanAmount"] = amounts
    result = drift(current, reference, spec=spec)
    assert not result.details["features"]["LoanAmount"]["drifted"] and not result.details["features"]["Age"]["drifted"]
    multivariate = result.metric("multivariate_drift_auc")
    assert multivariate.value is not None and multivariate.value > 0.75 and multivariate.status == "fail"
    assert not multivariate.critical and multivariate.interval is not None and multivariate.records == 8000
    top = [f["feature"] for f in result.details["multivariate"]["features"][:2]]
    assert set(top) == {"LoanAmount", "Age"}
    assert "most telling: " in multivariate.detail and top[0] in multivariate.detail


def test_the_samples_are_bounded_and_seeded(spec: DataSpec) -> None:
    reference, current = generate_german_credit(2000, seed=1), generate_german_credit(2500, seed=2)
    config = DriftConfig(multivariate_sample=800)
    once = drift(current, reference, spec=spec, config=config).details["multivariate"]
    again = drift(current, reference, spec=spec, config=config).details["multivariate"]
    assert once == again and once["sampled"]
    assert once["reference_records"] == once["current_records"] == 800


@pytest.mark.parametrize(
    ("current", "reference", "reason"),
    [
        (150, 60, "insufficient data: 60 reference records < 100"),
        (60, 500, "insufficient data: 60 current records < 100"),
    ],
)
def test_too_few_records_are_insufficient_not_passed(current: int, reference: int, reason: str, spec: DataSpec) -> None:
    found = domain_classifier(
        generate_german_credit(current, seed=1), generate_german_credit(reference, seed=2), spec=spec, minimum=100
    )
    assert found["auc"] is None and found["reason"] == reason


def test_the_metric_is_unjudged_on_too_small_a_reference(spec: DataSpec) -> None:
    result = drift(generate_german_credit(150, seed=1), generate_german_credit(60, seed=2), spec=spec)
    metric = result.metric("multivariate_drift_auc")
    assert metric.status == "insufficient" and metric.value is None and metric.threshold == 0.75
    assert metric.detail == "insufficient data: 60 reference records < 100"


def test_weighted_auc_is_scikit_learns_with_sample_weights() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) + 0.3 * truth, 1)  # rounded: many ties
    weights = rng.poisson(1.0, size=(5, 200))
    expected = [roc_auc_score(truth, scores, sample_weight=w) for w in weights]
    assert weighted_auc(truth, scores, weights) == pytest.approx(expected)
    assert weighted_auc(truth, scores, np.ones(200))[0] == pytest.approx(roc_auc_score(truth, scores))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 3)), min_size=2, max_size=40))
def test_weighted_auc_agrees_with_scikit_learn_on_any_small_sample(rows: list[tuple[bool, int, int]]) -> None:
    truth = np.array([r[0] for r in rows], dtype=int)
    scores = np.array([r[1] for r in rows], dtype=float)
    weights = np.array([r[2] for r in rows], dtype=float)
    found = weighted_auc(truth, scores, weights)[0]
    if weights[truth == 1].sum() == 0 or weights[truth == 0].sum() == 0:
        assert np.isnan(found)
    else:
        assert found == pytest.approx(roc_auc_score(truth, scores, sample_weight=weights))


def test_the_bootstrap_interval_narrows_with_more_records() -> None:
    rng = np.random.default_rng(4)

    def width(n: int) -> float:
        truth = rng.integers(0, 2, n)
        lower, upper = bootstrap_auc(truth, rng.random(n) + 0.5 * truth, resamples=300, seed=0)
        return upper - lower

    assert width(4000) < 0.6 * width(400)


def test_categories_only_the_window_has_are_drift(spec: DataSpec) -> None:
    reference, current = generate_german_credit(1500, seed=5), generate_german_credit(1500, seed=6)
    current.loc[current.index[::3], "Job"] = "astronaut"
    found = domain_classifier(current, reference, spec=spec, minimum=100)
    assert found["auc"] > 0.6 and found["features"][0]["feature"] == "Job"


def test_categorical_dtype_gives_the_same_answer(spec: DataSpec) -> None:
    reference, current = generate_german_credit(800, seed=5), generate_german_credit(800, seed=6)
    coded = current.astype({name: "category" for name in spec.categorical})
    plain = domain_classifier(current, reference, spec=spec, minimum=100)
    assert domain_classifier(coded, reference, spec=spec, minimum=100) == plain
    assert isinstance(plain["auc"], float) and pd.notna(plain["auc"])
