"""Hand-made report inputs: an evaluation with curves, groups and a bias scan, a decision record, a plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from pipeline_core.reports.validation import (
    ApprovalRow,
    ConditionRow,
    CriticalCheck,
    DecisionRecord,
    EvaluationFacts,
    FindingRow,
    ModelFacts,
    MonitoringPlan,
    ProductionFacts,
    ReportInputs,
)
from pipeline_core.results import Metric, MonitorResult, judged
from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.vocabulary import DocSection, Tier

CURVES = {
    "roc": {"fpr": [0.0, 0.1, 0.3, 1.0], "tpr": [0.0, 0.55, 0.8, 1.0], "thresholds": [1.0, 0.7, 0.4, 0.0]},
    "pr": {"recall": [0.0, 0.55, 0.8, 1.0], "precision": [1.0, 0.8, 0.6, 0.3]},
    "calibration": {"mean_predicted": [0.1, 0.5, 0.9], "fraction_positive": [0.12, 0.47, 0.86], "count": [50, 30, 20]},
    "scores": {"edges": [0.0, 0.25, 0.5, 0.75, 1.0], "favourable": [40, 20, 8, 2], "positive": [3, 7, 10, 10]},
}
GROUP = {"group": "age < 25", "n": 60, "favourable_rate": 0.62, "tpr": 0.7, "fpr": 0.3}
REFERENCE = {"group": "age >= 25", "n": 140, "favourable_rate": 0.74, "tpr": 0.8, "fpr": 0.25}
SCAN = {
    "feature": "purpose",
    "group": "purpose = business",
    "records": 25,
    "favourable_rate": 0.52,
    "others_favourable_rate": 0.72,
    "disparate_impact": 0.72,
    "below_threshold": True,
}
DECIDED = datetime(2026, 11, 20, 9, 30)
COUNTERSIGNED = datetime(2026, 11, 21, 14, 5)


def report() -> EvaluationReport:
    quality = MonitorResult(
        "quality",
        [
            judged("roc_auc", 0.81, 0.6, higher=True, critical=True, detail="held-out reference 0.8000"),
            Metric("pr_auc", 0.66),
            Metric("accuracy", 0.77),
            Metric("brier", 0.16),
            Metric("log_loss", 0.49),
        ],
        200,
        100,
        {
            "confusion_matrix": {"labels": ["No Risk", "Risk"], "matrix": [[120, 20], [26, 34]], "threshold": 0.5},
            "curves": CURVES,
        },
    )
    fairness = MonitorResult(
        "fairness",
        [judged("disparate_impact[age]", 0.84, 0.8, higher=True, critical=True, detail="age < 25 vs age >= 25")],
        200,
        30,
        {"groups": {"age": {"monitored": GROUP, "reference": REFERENCE}}, "bias_scan": [SCAN]},
    )
    return EvaluationReport.judge([quality, fairness])


def model(**changes: object) -> ModelFacts:
    facts = ModelFacts(
        name="german_credit",
        version=2,
        id=7,
        state="approved",
        model_type="logistic_regression",
        artifact_sha256="a" * 64,
        training_data_sha256="b" * 64,
        created_by="dora",
        created_at=datetime(2026, 11, 18, 8, 0),
        run_id=11,
        params={"C": 1.0, "max_iter": 200},
        training_metrics={"cv_roc_auc": 0.8123},
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def inputs(**changes: object) -> ReportInputs:
    full = ReportInputs(
        model=model(),
        evaluation=EvaluationFacts(
            id=31,
            space="preprod",
            created_at=datetime(2026, 11, 19, 10, 0),
            data_window={"records": 200},
            report=report(),
        ),
        model_tests=[{"name": "invariance", "status": "pass", "critical": True, "detail": "flip rate 0.0100"}],
        documentation={DocSection.PURPOSE: "Scores consumer credit applications.\n\nNot for mortgages."},
        decision=DecisionRecord(
            approvals=(
                ApprovalRow(
                    decided_by="vera",
                    decided_at=DECIDED,
                    kind="approval",
                    outcome="approved",
                    comment="Sound; watch the young applicants.",
                    countersigned_by="victor",
                    countersigned_at=COUNTERSIGNED,
                    override_reason=None,
                    expires_at=datetime(2027, 11, 21, 14, 5),
                ),
            ),
            conditions=(
                ConditionRow(
                    text="Re-check disparate impact on age in 3 months",
                    owner="dora",
                    due=date(2027, 2, 21),
                    state="open",
                ),
            ),
        ),
        findings=(FindingRow(id=4, title="Thin data for age < 25", severity="medium", state="open", owner="dora"),),
        production=ProductionFacts(model=model(version=1, id=3, state="in_production"), evaluation=None),
        monitoring=MonitoringPlan(
            tier=Tier.HIGH,
            approvals_required=2,
            revalidation_months=12,
            critical_checks=(
                CriticalCheck(name="quality:roc_auc", threshold=0.6, direction="higher_is_better", source="the spec"),
            ),
            next_revalidation=datetime(2027, 11, 21, 14, 5),
        ),
    )
    return replace(full, **changes)  # type: ignore[arg-type]
