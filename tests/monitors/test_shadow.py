"""Shadow comparison: agreement, histograms, realised performance and disparate impact, checked by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from pipeline_core.data.columns import PREDICTION, PROBABILITY
from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.monitors.shadow import (
    SHADOW_PREDICTION,
    SHADOW_PROBABILITY,
    agreement,
    compare_shadow,
    histogram,
    realised,
)

R, N = "Risk", "No Risk"


def _records(spec: DataSpec) -> pd.DataFrame:
    """Eight records: four women, four men; the two models disagree on records 2, 5 and 7."""
    return pd.DataFrame(
        {
            "Sex": ["female"] * 4 + ["male"] * 4,
            "Age": [22, 30, 40, 50, 23, 35, 45, 60],
            PREDICTION: [R, N, N, R, N, N, R, N],
            PROBABILITY: [0.9, 0.2, 0.4, 0.7, 0.1, 0.3, 0.8, 0.05],
            SHADOW_PREDICTION: [R, N, R, R, N, R, R, R],
            SHADOW_PROBABILITY: [0.8, 0.1, 0.6, 0.9, 0.2, 0.55, 0.7, 0.51],
            spec.target: [R, N, None, R, N, R, None, N],
        }
    )


def test_agreement_is_the_share_of_records_decided_alike(spec: DataSpec) -> None:
    records = _records(spec)
    assert agreement(records[PREDICTION], records[SHADOW_PREDICTION]) == 5  # all but records 2, 5, 7
    report = compare_shadow(records, spec=spec)
    assert (report.records, report.agreed, report.agreement_rate) == (8, 5, 5 / 8)


def test_both_histograms_count_on_the_same_bins() -> None:
    found = histogram(np.array([0.0, 0.05, 0.5, 1.0]), np.array([0.49, 0.5, 0.99, 0.2]), bins=4)
    assert found.edges == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert found.production == (2, 0, 1, 1)  # 1.0 falls in the last bin
    assert found.shadow == (1, 1, 1, 1)  # 0.5 opens the third bin
    assert sum(found.production) == sum(found.shadow) == 4


def test_realised_performance_is_scikit_learns_on_the_labelled_records(spec: DataSpec) -> None:
    records = _records(spec)
    report = compare_shadow(records, spec=spec)
    labelled = records[records[spec.target].notna()]
    assert report.labelled == 6
    y = labelled[spec.target] == spec.positive_label
    for side, (prediction, probability) in (
        (report.realised_production, (PREDICTION, PROBABILITY)),
        (report.realised_shadow, (SHADOW_PREDICTION, SHADOW_PROBABILITY)),
    ):
        assert side is not None and side.records == 6
        assert side.roc_auc == pytest.approx(roc_auc_score(y, labelled[probability]))
        assert side.accuracy == pytest.approx(accuracy_score(labelled[spec.target], labelled[prediction]))
    # By hand: production misses record 5 (No Risk, labelled Risk), the shadow record 7 (Risk, labelled No Risk).
    assert report.realised_production is not None and report.realised_production.accuracy == 5 / 6
    assert report.realised_shadow is not None and report.realised_shadow.accuracy == 5 / 6


def test_one_class_has_no_roc_auc_and_no_labels_no_realised(spec: DataSpec) -> None:
    only_risk = realised(np.array([R, R]), np.array([R, N]), np.array([0.9, 0.4]), positive=R)
    assert (only_risk.records, only_risk.roc_auc, only_risk.accuracy) == (2, None, 0.5)
    unlabelled = _records(spec).assign(**{spec.target: None})
    report = compare_shadow(unlabelled, spec=spec)
    assert (report.labelled, report.realised_production, report.realised_shadow) == (0, None, None)


def test_disparate_impact_of_both_models_on_the_same_records(spec: DataSpec) -> None:
    records = _records(spec)
    report = compare_shadow(records, spec=spec)
    sex = next(g for g in report.fairness if g.attribute == "Sex")
    # Favourable (No Risk): production women 2/4, men 3/4 -> DI 2/3; shadow women 1/4, men 1/4 -> DI 1.
    assert (sex.monitored_records, sex.reference_records) == (4, 4)
    assert sex.production == pytest.approx((2 / 4) / (3 / 4))
    assert sex.shadow == pytest.approx((1 / 4) / (1 / 4))
    age = next(g for g in report.fairness if g.attribute == "Age")
    # Monitored 18-25: records 0 and 4 (production: R, N -> 1/2; shadow: R, N -> 1/2); reference 26-75: the other six
    # (production N, N, R, N, R, N -> 4/6; shadow N, R, R, R, R, R -> 1/6).
    assert (age.monitored_records, age.reference_records) == (2, 6)
    assert age.production == pytest.approx((1 / 2) / (4 / 6))
    assert age.shadow == pytest.approx((1 / 2) / (1 / 6))
    assert not age.judged and age.minimum == spec.thresholds.fairness_min_records  # 2 records: reported, not judged
    small = replace(spec, thresholds=Thresholds(fairness_min_records=2))
    assert all(g.judged for g in compare_shadow(records, spec=small).fairness)


def test_a_reference_group_without_favourable_outcomes_has_no_impact(spec: DataSpec) -> None:
    records = _records(spec)
    records[SHADOW_PREDICTION] = [N, N, N, N, R, R, R, R]  # no man favoured by the shadow
    sex = next(g for g in compare_shadow(records, spec=spec).fairness if g.attribute == "Sex")
    assert sex.shadow is None and sex.production is not None
