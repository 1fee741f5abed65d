"""Typed evidence read from monitors' details: drifted records, consistency findings, explanations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
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


def _to_label(**counts: Any) -> dict[str, Any]:
    likely = [{"record": i, "error_probability": 0.9} for i in range(counts.pop("listed_likely", 0))]
    extra = [{"record": 1000 + i, "reason": evidence.INCONSISTENT} for i in range(counts.pop("listed_inconsistent", 0))]
    return {
        "records": likely + extra,
        "listed_likely": len(likely),
        "listed_inconsistent": len(extra),
        **counts,
    }


@pytest.mark.parametrize(
    ("stored", "sentence"),
    [
        (
            _to_label(likely_mispredicted=294, listed_likely=100, inconsistent=20, listed_inconsistent=20),
            "294 records estimated likely mispredicted; the 100 most likely are listed, plus 20 that break a "
            "learned constraint: 120 to label",
        ),
        (
            _to_label(likely_mispredicted=60, listed_likely=60, inconsistent=35, listed_inconsistent=20),
            "60 records estimated likely mispredicted, all listed, plus the first 20 of the 35 that break a "
            "learned constraint: 80 to label",
        ),
        (
            _to_label(
                likely_mispredicted=60,
                listed_likely=60,
                inconsistent=8,
                inconsistent_already_listed=3,
                listed_inconsistent=5,
            ),
            "60 records estimated likely mispredicted, all listed, plus 5 that break a learned constraint "
            "(3 more listed already as likely mispredicted): 65 to label",
        ),
        (
            _to_label(likely_mispredicted=1, listed_likely=1),
            "1 record estimated likely mispredicted, all listed: 1 to label",
        ),
        (
            _to_label(likely_mispredicted=0, listed_likely=0),
            "no record estimated likely mispredicted: nothing to label",
        ),
        (
            _to_label(likely_mispredicted=7, listed_likely=1),
            "7 records estimated likely mispredicted; the most likely is listed: 1 to label",
        ),
        (_to_label(listed_likely=3), "3 likely mispredicted records listed: 3 to label"),
        (
            _to_label(inconsistent=1, listed_inconsistent=1),
            "1 record that breaks a learned constraint: 1 to label",
        ),
        (
            _to_label(not_estimated="insufficient data: 30 < 50", inconsistent=2, listed_inconsistent=2),
            "likely mispredicted records not estimated (insufficient data: 30 < 50), plus 2 that break a learned "
            "constraint: 2 to label",
        ),
        (_to_label(), "nothing to label"),
    ],
)
def test_the_list_to_label_says_why_it_has_the_length_it_has(stored: dict[str, Any], sentence: str) -> None:
    found = evidence.records_to_label({"to_label": stored})
    assert found.describe() == sentence
    assert found.total == len(stored["records"]) == found.listed_likely + found.listed_inconsistent
    # The drifted records of a document with a list are that list, whatever else the document holds.
    assert evidence.drifted_records({**DRIFT, "to_label": stored}) == found.records


def test_an_older_document_without_a_list_tells_what_it_can() -> None:
    found = evidence.records_to_label(DRIFT)
    assert found.records == evidence.drifted_records(DRIFT)
    assert (found.likely_mispredicted, found.listed_likely, found.inconsistent, found.listed_inconsistent) == (
        2,
        2,
        3,
        2,
    )
    assert found.describe() == (
        "2 records estimated likely mispredicted, all listed, plus the first 2 of the 3 that break a learned "
        "constraint: 4 to label"
    )
    assert evidence.records_to_label({}).describe() == "nothing to label"


def test_multivariate_drift_and_production_importance_are_read_typed() -> None:
    drift = evidence.multivariate_drift(
        {
            "multivariate": {
                "auc": 0.81,
                "interval": [0.79, 0.83],
                "reference_records": 5000,
                "current_records": 4000,
                "fold_auc": [0.8, 0.82],
                "features": [{"feature": "LoanAmount", "importance": 0.2, "std": 0.01}],
                "sampled": True,
            }
        }
    )
    assert drift is not None and drift.auc == 0.81 and drift.interval == (0.79, 0.83) and drift.sampled
    assert drift.features == (evidence.FeatureImportance("LoanAmount", 0.2, 0.01),) and drift.fold_auc == (0.8, 0.82)
    assert evidence.multivariate_drift({}) is None
    unjudged = evidence.multivariate_drift({"multivariate": {"auc": None, "reason": "insufficient data: 60 < 100"}})
    assert unjudged is not None and unjudged.auc is None and unjudged.interval is None and unjudged.reason
    window = evidence.production_importance(
        {
            "production_importance": {
                "method": "m",
                "records": 500,
                "reference_records": 400,
                "features": [
                    {
                        "feature": "Age",
                        "importance": 0.1,
                        "std": 0.01,
                        "reference_importance": 0.02,
                        "rank": 1,
                        "reference_rank": 3,
                    },
                ],
            }
        }
    )
    assert window is not None and window.records == 500 and window.features[0].reference_rank == 3
    assert evidence.production_importance({}) is None


@settings(max_examples=200, deadline=None)
@given(
    likely=st.one_of(st.none(), st.integers(0, 500)),
    listed=st.integers(0, 100),
    inconsistent=st.integers(0, 300),
    already=st.integers(0, 50),
    cap=st.integers(0, 20),
)
def test_the_sentence_always_ends_with_the_length_of_the_list(
    likely: int | None, listed: int, inconsistent: int, already: int, cap: int
) -> None:
    listed = min(listed, likely) if likely is not None else listed
    already = min(already, inconsistent, listed)
    extra = min(cap, inconsistent - already)
    found = evidence.records_to_label(
        {
            "to_label": _to_label(
                likely_mispredicted=likely,
                listed_likely=listed,
                inconsistent=inconsistent,
                inconsistent_already_listed=already,
                listed_inconsistent=extra,
            )
        }
    )
    sentence = found.describe()
    assert found.total == listed + extra
    assert sentence.endswith(f": {found.total} to label") if found.total else sentence.endswith("nothing to label")
    if likely is not None and likely > 0:
        assert sentence.startswith(f"{likely} record")
    assert "None" not in sentence and "  " not in sentence
