"""Typed evidence read from monitors' details: drifted records, consistency findings, explanations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core.data.columns import SCORING_ID
from pipeline_core.results import evidence
from pipeline_core.results.evidence import ColumnFinding, DriftedRecord

DRIFT: dict[str, Any] = {
    "features": {
        "Age": {"statistic": "ks_p_value", "value": 0.2, "drifted": False},
        "LoanAmount": {"statistic": "ks_p_value", "value": 1e-9, "drifted": True},
    },
    "data_consistency": {
        "records": 3,
        "share": 0.01,
        "columns": {
            "Housing": {"unseen_categories": 2, "values": ["boat", "tent"]},
            "Age": {"out_of_range": 1, "range": [19.0, 75.0]},
        },
        "example_records": [4, 9, 11],
    },
    "accuracy_drop": {
        "reference_records": 120,
        "estimated_drop": 0.2,
        "reference_accuracy": 0.8,
        "estimated_accuracy": 0.6,
        "likely_mispredicted": 2,
        "scored_records": 300,
        "records": [
            {"record": 9, "error_probability": 0.9, SCORING_ID: "req-9"},
            {"record": 2, "error_probability": 0.7},
        ],
    },
}


def test_drifted_records_likely_mispredicted_first_then_inconsistent_ones() -> None:
    found = evidence.drifted_records(DRIFT)
    assert found == (
        DriftedRecord(9, "req-9", 0.9),
        DriftedRecord(2, None, 0.7),
        DriftedRecord(4, reason=evidence.INCONSISTENT),
        DriftedRecord(11, reason=evidence.INCONSISTENT),
    )
    # The stored form of a retraining request's list is what it always was.
    assert [r.to_dict() for r in found] == [
        {"record": 9, "error_probability": 0.9, "scoring_id": "req-9"},
        {"record": 2, "error_probability": 0.7},
        {"record": 4, "reason": "breaks a constraint learned from the training data"},
        {"record": 11, "reason": "breaks a constraint learned from the training data"},
    ]
    assert evidence.drifted_records_from([r.to_dict() for r in found]) == found


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (DriftedRecord(1, error_probability=0.734), "likely mispredicted (error probability 0.73)"),
        (DriftedRecord(1, reason="breaks a rule"), "breaks a rule"),
        (DriftedRecord(1), ""),
    ],
    ids=["mispredicted", "inconsistent", "nothing"],
)
def test_why_a_record_is_listed(record: DriftedRecord, why: str) -> None:
    assert record.why == why


@pytest.mark.parametrize(
    ("finding", "text"),
    [
        (
            ColumnFinding("Housing", unseen_categories=2, values=("boat", "tent")),
            "2 records with an unseen category (boat, tent)",
        ),
        (ColumnFinding("Age", out_of_range=1, range=(19.0, 75.0)), "1 records out of range (training range 19 to 75)"),
    ],
    ids=["unseen", "out-of-range"],
)
def test_consistency_findings_read_as_text(finding: ColumnFinding, text: str) -> None:
    assert finding.describe() == text


def test_drift_and_consistency_are_typed() -> None:
    assert [(f.feature, f.drifted, f.is_p_value) for f in evidence.drift_features(DRIFT)] == [
        ("Age", False, True),
        ("LoanAmount", True, True),
    ]
    consistency = evidence.data_consistency(DRIFT)
    assert (
        consistency is not None
        and consistency.records == 3
        and [c.column for c in consistency.columns]
        == [
            "Housing",
            "Age",
        ]
    )
    drop = evidence.accuracy_drop(DRIFT)
    assert drop is not None and drop.estimated_drop == 0.2 and drop.likely_mispredicted == 2
    assert evidence.accuracy_drop({"accuracy_drop": {"reference_records": 12, "estimated_drop": None, "reason": "few"}})
    assert evidence.data_consistency({}) is None and evidence.drifted_records({}) == ()


def test_an_explanation_is_typed() -> None:
    item = {
        "record": 0,
        SCORING_ID: "req-0",
        "local": {
            "method": "shap.kernel",
            "base_value": 0.3,
            "probability": 0.7,
            "contributions": [{"feature": "Age", "value": 22, "shap": 0.2}],
        },
        "contrastive": {
            "decision": "Risk",
            "probability": 0.7,
            "flipped": True,
            "new_decision": "No Risk",
            "new_probability": 0.4,
            "changes": [{"feature": "Age", "from": 22, "to": 40, "cost": 1.2, "probability": 0.4}],
        },
    }
    (explained,) = evidence.explanations({"explanations": [item]})
    assert explained.scoring_id == "req-0" and explained.local.contributions[0].shap == 0.2
    (change,) = explained.contrastive.changes
    assert (change.feature, change.before, change.after, change.probability) == ("Age", 22, 40, 0.4)


def test_the_scoring_id_key_is_the_scored_frames_column() -> None:
    assert evidence.SCORING_ID == SCORING_ID


OLD_SCAN = {  # a fairness document from before the scan's test: no p-values, no summary, no intersections
    "bias_scan": [
        {
            "feature": "Age",
            "group": "Age > 44",
            "records": 900,
            "favourable_rate": 0.4,
            "others_favourable_rate": 0.7,
            "disparate_impact": 0.5714,
            "below_threshold": True,
        }
    ]
}


def test_an_old_bias_scan_still_reads_with_its_new_fields_empty() -> None:
    (found,) = evidence.bias_scan(OLD_SCAN)
    assert found.group == "Age > 44" and found.disparate_impact == pytest.approx(0.5714)
    assert found.p_value is None and found.q_value is None and found.significant is None
    assert found.features == ("Age",) and not found.intersection
    assert evidence.bias_scan_summary(OLD_SCAN) is None
    assert evidence.bias_scan_intersections(OLD_SCAN) == ()
    assert evidence.labelled_fairness_groups(OLD_SCAN) == ()


def test_the_scans_summary_and_intersections_are_typed() -> None:
    details = {
        "bias_scan_intersections": [
            {
                **OLD_SCAN["bias_scan"][0],
                "feature": "Sex x Age",
                "features": ["Sex", "Age"],
                "group": "Sex = female & 18 <= Age <= 25",
                "others_records": 4100,
                "p_value": 1e-6,
                "q_value": 4e-5,
                "significant": True,
            }
        ],
        "bias_scan_summary": {
            "tested": 140,
            "tested_single": 60,
            "tested_intersections": 80,
            "significant": 3,
            "significant_below_threshold": 2,
            "min_records": 100,
            "fdr": 0.05,
            "test": "two-sided two-proportion z-test, Benjamini-Hochberg",
        },
    }
    (crossed,) = evidence.bias_scan_intersections(details)
    assert crossed.intersection and crossed.significant and crossed.others_records == 4100
    summary = evidence.bias_scan_summary(details)
    assert summary is not None and (summary.tested, summary.significant) == (140, 3)
    assert summary.describe().startswith("140 groups tested (60 single, 80 intersections, at least 100 records")


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("disparate_impact[Sex]", ("disparate_impact", "Sex", False)),
        ("disparate_impact[Sex|labelled]", ("disparate_impact", "Sex", True)),
        ("statistical_parity_difference[Age|labelled]", ("statistical_parity_difference", "Age", True)),
        ("equal_opportunity_difference[Age]", ("equal_opportunity_difference", "Age", True)),
        ("average_odds_difference[Foreign Worker]", ("average_odds_difference", "Foreign Worker", True)),
        ("roc_auc", None),
        ("disparate_impact[Sex", None),
    ],
)
def test_a_fairness_metrics_name_reads_as_kind_attribute_and_subset(
    name: str, read: tuple[str, str, bool] | None
) -> None:
    found = evidence.FairnessMetric.parse(name)
    assert (None if found is None else (found.kind, found.attribute, found.labelled)) == read


@given(st.text(min_size=1, max_size=20).filter(lambda t: "[" not in t and "]" not in t and "|" not in t))
def test_any_attribute_name_survives_the_labelled_suffix(attribute: str) -> None:
    found = evidence.FairnessMetric.parse(f"disparate_impact[{attribute}|labelled]")
    assert found is not None and found.attribute == attribute and found.labelled
