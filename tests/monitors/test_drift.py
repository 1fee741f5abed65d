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
from pipeline_core.monitors.drift import DriftConfig, data_consistency, drift, js_distance, normed_wasserstein
from pipeline_core.results.evidence import INCONSISTENT


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


def test_categorical_columns_give_the_same_answers_as_strings(spec: DataSpec) -> None:
    reference = generate_german_credit(1000, seed=1)
    current = generate_german_credit(1000, seed=2)
    current.loc[:99, "Job"] = "astronaut"
    as_codes = current.astype({name: "category" for name in spec.categorical})
    plain, coded = drift(current, reference, spec=spec), drift(as_codes, reference, spec=spec)
    for name in spec.feature_names:
        assert coded.details["features"][name]["value"] == pytest.approx(plain.details["features"][name]["value"])
    assert coded.details["data_consistency"] == plain.details["data_consistency"]
    assert plain.details["data_consistency"]["columns"]["Job"] == {"unseen_categories": 100, "values": ["astronaut"]}


def _error_reference(spec: DataSpec) -> pd.DataFrame:
    """Held-out records where the model errs on every renter and on no one else."""
    frame = generate_german_credit(600, seed=5)
    rent = (frame["Housing"] == "rent").to_numpy()
    frame["prediction"] = np.where(rent, np.where(frame["Risk"] == "Risk", "No Risk", "Risk"), frame["Risk"])
    return frame


def test_drop_in_accuracy_is_estimated_where_the_model_errs(spec: DataSpec) -> None:
    held_out = _error_reference(spec)
    reference_accuracy = 1 - (held_out["Housing"] == "rent").mean()
    renters = generate_german_credit(400, seed=6).assign(Housing="rent")
    owners = generate_german_credit(400, seed=7).assign(Housing="own")
    bad = drift(renters, held_out, spec=spec, error_reference=held_out)
    good = drift(owners, held_out, spec=spec, error_reference=held_out)
    dropped, kept = bad.details["accuracy_drop"], good.details["accuracy_drop"]
    assert dropped["reference_accuracy"] == pytest.approx(reference_accuracy)
    # All renters are mispredicted: accuracy falls to about 0, a drop of about the reference accuracy.
    assert dropped["estimated_drop"] == pytest.approx(reference_accuracy, abs=0.1)
    assert bad.metric("drop_in_accuracy").status == "fail" and bad.metric("drop_in_accuracy").critical
    assert kept["estimated_drop"] < 0 and good.metric("drop_in_accuracy").status == "pass"  # owners: never wrong
    # The drifted records listed are the likely mispredicted ones, most likely first.
    assert dropped["likely_mispredicted"] == 400 and len(dropped["records"]) == 100
    probabilities = [r["error_probability"] for r in dropped["records"]]
    assert probabilities == sorted(probabilities, reverse=True) and kept["records"] == []


def test_drop_in_accuracy_needs_enough_labelled_errors(spec: DataSpec) -> None:
    held_out = _error_reference(spec).head(30)
    result = drift(generate_german_credit(200, seed=8), held_out, spec=spec, error_reference=held_out)
    metric = result.metric("drop_in_accuracy")
    assert metric.status == "insufficient" and metric.detail == "insufficient data: 30 < 50"
    perfect = _error_reference(spec).assign(prediction=lambda f: f["Risk"])
    result = drift(generate_german_credit(200, seed=8), perfect, spec=spec, error_reference=perfect)
    assert result.details["accuracy_drop"]["reason"].startswith("the held-out records hold no errors")


def test_drop_in_accuracy_on_a_sample_of_large_traffic(spec: DataSpec) -> None:
    held_out = _error_reference(spec)
    renters = generate_german_credit(400, seed=6).assign(Housing="rent")
    renters["scoring_id"] = [f"r-{i}" for i in range(len(renters))]
    full = drift(renters, held_out, spec=spec, error_reference=held_out).details["accuracy_drop"]
    sampled = drift(
        renters, held_out, spec=spec, error_reference=held_out, config=DriftConfig(max_scored_records=100)
    ).details["accuracy_drop"]
    assert sampled["scored_records"] == 100 and full["scored_records"] == 400
    assert sampled["estimated_drop"] == pytest.approx(full["estimated_drop"], abs=0.05)
    assert sampled["likely_mispredicted"] == 400  # scaled from the sample back to all records
    # Listed records point into the whole traffic: their scoring ids are those records' ids.
    assert all(r["scoring_id"] == f"r-{r['record']}" for r in sampled["records"])


def test_a_small_reference_is_judged_by_p_values(spec: DataSpec) -> None:
    from scipy.stats import chisquare, ks_2samp

    reference = generate_german_credit(800, seed=1)  # at most 1,000: Evidently's K-S / chi-square switch
    current = generate_german_credit(400, seed=2)
    current["LoanAmount"] = current["LoanAmount"] * 1.8
    current.loc[:99, "Housing"] = "boat"  # a category the reference never had
    result = drift(current, reference, spec=spec)
    features = result.details["features"]
    assert features["LoanAmount"]["statistic"] == "ks_p_value" and features["LoanAmount"]["drifted"]
    assert features["Housing"]["statistic"] == "chi_square_p_value" and features["Housing"]["drifted"]
    assert features["LoanAmount"]["value"] == pytest.approx(
        ks_2samp(reference["LoanAmount"], current["LoanAmount"]).pvalue
    )
    # Chi-square by hand for Sex: current counts against the reference shares.
    shares = reference["Sex"].value_counts(normalize=True)
    counts = current["Sex"].value_counts().reindex(shares.index, fill_value=0)
    assert features["Sex"]["value"] == pytest.approx(chisquare(counts, shares * counts.sum()).pvalue)
    assert result.metric("drift[LoanAmount]").status == "fail" and result.metric("drift[LoanAmount]").threshold == 0.05
    shifted = {"LoanAmount", "Housing"}
    assert sum(f["drifted"] for n, f in features.items() if n not in shifted) <= 2  # p < 0.05 by chance: rare


def test_one_list_to_label_and_the_counts_that_explain_its_length(spec: DataSpec) -> None:
    """400 renters the model gets wrong, 50 owners (never wrong) aged 120: out of the training range."""
    held_out = _error_reference(spec)
    # Records of the reference itself, so that only the ages planted break a learned constraint.
    renters = held_out.iloc[:400].assign(Housing="rent")
    owners = held_out.iloc[400:450].assign(Housing="own", Age=120)
    current = pd.concat([renters, owners], ignore_index=True)
    current["scoring_id"] = [f"s-{i}" for i in range(len(current))]
    details = drift(current, held_out, spec=spec, error_reference=held_out).details
    to_label = details["to_label"]
    assert to_label["likely_mispredicted"] == details["accuracy_drop"]["likely_mispredicted"] == 400
    assert (to_label["listed_likely"], to_label["inconsistent"], to_label["listed_inconsistent"]) == (100, 50, 20)
    assert to_label["inconsistent_already_listed"] == 0
    records = to_label["records"]
    assert records[:100] == details["accuracy_drop"]["records"]  # the most likely mispredicted, first
    assert [r["record"] for r in records[100:]] == list(range(400, 420))  # then the first inconsistent ones
    assert all(r["reason"] == INCONSISTENT and r["scoring_id"] == f"s-{r['record']}" for r in records[100:])


def test_inconsistent_records_already_listed_are_counted_once(spec: DataSpec) -> None:
    held_out = _error_reference(spec)
    renters = held_out.iloc[:150].assign(Housing="rent")
    renters.loc[:9, "Age"] = 120  # ten renters, likely mispredicted, also out of range
    to_label = drift(
        renters, held_out, spec=spec, error_reference=held_out, config=DriftConfig(max_drifted_records=200)
    ).details["to_label"]
    listed = [r["record"] for r in to_label["records"]]
    assert len(listed) == len(set(listed)) == to_label["listed_likely"] == 150
    assert to_label["inconsistent"] == to_label["inconsistent_already_listed"] == 10
    assert to_label["listed_inconsistent"] == 0


def test_without_a_detector_the_list_is_the_inconsistent_records(spec: DataSpec) -> None:
    reference = generate_german_credit(500, seed=1)
    current = reference.iloc[:200].copy()
    current.loc[[5, 8], "Job"] = "astronaut"
    to_label = drift(current, reference, spec=spec).details["to_label"]
    assert to_label["likely_mispredicted"] is None and to_label["not_estimated"] is None
    assert [r["record"] for r in to_label["records"]] == [5, 8] and to_label["listed_inconsistent"] == 2
