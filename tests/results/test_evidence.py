"""Typed evidence read from monitors' details: drifted records, consistency findings, explanations."""

from __future__ import annotations

from typing import Any

import pytest

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
