"""Drift: a shifted column is flagged, an unshifted one is not; statistics and consistency by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.drift import data_consistency, drift, js_distance, normed_wasserstein


def test_statistics_by_hand() -> None:
    ref = pd.Series(["a", "a", "b", "b"])
    cur = pd.Series(["a", "b", "b", "b", "c", "c", "c", "c"])
    # P_ref = (.5, .5, 0), P_cur = (1/8, 3/8, 1/2): scipy's distance on exactly those vectors.
    assert js_distance(ref, cur) == pytest.approx(jensenshannon([0.5, 0.5, 0.0], [1 / 8, 3 / 8, 0.5]))
    assert js_distance(ref, ref) == 0.0
    ref_n, cur_n = pd.Series([0.0, 2.0, 4.0]), pd.Series([1.0, 3.0, 5.0])
    # Every unit moves 1 -> W = 1; std of the reference (ddof 0) = sqrt(8/3).
    assert normed_wasserstein(ref_n, cur_n) == pytest.approx(1 / math.sqrt(8 / 3))
    assert wasserstein_distance(ref_n, cur_n) == pytest.approx(1.0)


def test_a_shifted_column_drifts_and_an_unshifted_one_does_not(spec: DataSpec) -> None:
    reference = generate_german_credit(3000, seed=1)
    current = generate_german_credit(3000, seed=2)
    current["LoanAmount"] = current["LoanAmount"] * 1.8  # inflation shock
    current["Housing"] = np.where(np.arange(len(current)) % 2 == 0, "rent", current["Housing"])
    result = drift(current, reference, spec=spec)
    features = result.details["features"]
    assert features["LoanAmount"]["drifted"] and features["LoanAmount"]["statistic"] == "wasserstein_normed"
    assert features["Housing"]["drifted"] and features["Housing"]["statistic"] == "jensen_shannon"
    undrifted = [name for name, f in features.items() if not f["drifted"]]
    assert set(undrifted) == set(spec.feature_names) - {"LoanAmount", "Housing"}
    # Integers with few values count as categorical (Evidently's rule): InstallmentPercent has 6.
    assert features["InstallmentPercent"]["statistic"] == "jensen_shannon"
    assert result.metric("share_of_drifted_features").value == pytest.approx(2 / 20)
    assert result.metric("drift[LoanAmount]").status == "fail"


def test_data_consistency_counts_exactly(spec: DataSpec) -> None:
    reference = generate_german_credit(500, seed=1)
    current = reference.iloc[:200].copy()  # consistent by construction, then broken on purpose
    current.loc[[3, 7, 11], "Job"] = "astronaut"
    current.loc[[7, 20], "Age"] = [15, 120]  # row 7 breaks two constraints: counted once
    current.loc[40, "Sex"] = "unknown"
    found = data_consistency(current, reference, spec=spec)
    assert found["records"] == 5 and found["share"] == pytest.approx(5 / 200)
    assert found["columns"]["Job"] == {"unseen_categories": 3, "values": ["astronaut"]}
    assert found["columns"]["Age"]["out_of_range"] == 2
    assert found["example_records"] == [3, 7, 11, 20, 40]


def test_too_few_records(spec: DataSpec) -> None:
    result = drift(generate_german_credit(20, seed=1), generate_german_credit(500, seed=2), spec=spec)
    assert result.status == "insufficient" and result.metrics[0].detail == "insufficient data: 20 < 100"
