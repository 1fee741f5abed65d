"""The evaluation report: round trips, documents already stored (three generations of them), computed checks."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from pipeline_core.monitors.mrm import risk_summary
from pipeline_core.results import Metric, MonitorResult, insufficient, judged
from pipeline_core.results.evaluation import RISK, EvaluationReport, RiskEntry, RiskLevel, RiskSummary
from pipeline_core.vocabulary import CheckStatus
from tests.results.stored import BEFORE_MONITORS, FIRST_FORMAT, STORED


def _stored(report: EvaluationReport) -> dict[str, Any]:
    """The document as the store keeps it: through JSON."""
    document: dict[str, Any] = json.loads(json.dumps(report.to_dict()))
    return document


def test_a_stored_document_reads_as_typed_monitors_and_a_separate_risk_summary() -> None:
    report = EvaluationReport.from_dict(STORED)
    assert [r.monitor for r in report.monitors] == ["quality", "fairness"]  # the risk summary is not a monitor
    assert report.status is CheckStatus.WARN
    assert report.risk == RiskSummary(
        RiskLevel.MEDIUM,
        (
            RiskEntry("quality", "roc_auc", CheckStatus.PASS, True, 0.81, 0.6, "reference 0.8300"),
            RiskEntry(
                "fairness",
                "disparate_impact[Sex]",
                CheckStatus.INSUFFICIENT,
                True,
                None,
                0.95,
                "insufficient data: 40 < 100",
            ),
            RiskEntry("model_tests", "invariance", CheckStatus.PASS),
        ),
    )
    assert report.risk_level is RiskLevel.MEDIUM and report.risk is not None
    assert (report.risk.tests_run, report.risk.tests_passed, report.risk.tests_failed) == (3, 2, 0)
    assert [c.to_dict() for c in report.checks] == STORED["checks"]
    assert report.failed_critical == ()
    assert [(c.monitor, c.metric.name) for c in report.unjudged_critical] == [("fairness", "disparate_impact[Sex]")]
    cm = report.confusion_matrix
    assert cm is not None and cm.matrix == ((70, 10), (12, 28)) and cm.labels == ("No Risk", "Risk")
    (sex,) = report.fairness_groups
    assert (sex.attribute, sex.monitored.group, sex.monitored.n, sex.reference.favourable_rate) == (
        "Sex",
        "female",
        40,
        0.7,
    )
    assert report.bias_scan == () and report.drift_features == () and report.explanations == ()


def test_a_stored_document_is_written_back_unchanged() -> None:
    assert _stored(EvaluationReport.from_dict(STORED)) == STORED


def test_round_trip() -> None:
    quality = MonitorResult(
        "quality",
        [judged("roc_auc", 0.55, 0.6, higher=True, critical=True), Metric("brier", 0.2)],
        300,
        100,
        {"confusion_matrix": {"labels": ["No Risk", "Risk"], "matrix": [[1, 2], [3, 4]], "threshold": 0.5}},
    )
    drift = MonitorResult("drift", [insufficient("drop_in_accuracy", 20, 100, threshold=0.1, critical=True)], 20, 100)
    report = EvaluationReport.judge([quality, drift], risk_summary([quality, drift]))
    assert report.status is CheckStatus.FAIL
    again = EvaluationReport.from_dict(_stored(report))
    assert again == report
    assert EvaluationReport.from_results(report.legacy_results()) == report
    assert report.legacy_results()[-1].monitor == RISK


@pytest.mark.parametrize("document", [BEFORE_MONITORS, FIRST_FORMAT], ids=["checks-with-detail", "first-format"])
def test_documents_from_before_the_monitors_read_as_a_quality_monitor(document: dict[str, Any]) -> None:
    report = EvaluationReport.from_dict(document)
    (quality,) = report.monitors
    assert quality.monitor == "quality" and quality.n_records == 120
    assert [m.name for m in quality.metrics] == ["roc_auc", "pr_auc"]
    assert report.risk is None and report.risk_level is None and report.status is CheckStatus.FAIL
    assert [(c.monitor, c.metric.name, c.metric.value) for c in report.failed_critical] == [
        ("quality", "roc_auc", 0.52)
    ]
    assert _stored(report)["checks"][0] == {**BEFORE_MONITORS["checks"][0], "monitor": "quality"}


def test_the_stored_checks_give_the_verdicts_an_approval_reads() -> None:
    """A document whose flat checks say fail reads as failed, whatever its monitors say (approvals read checks)."""
    edited = {**STORED, "checks": [{**c, "status": "fail"} if c["name"] == "roc_auc" else c for c in STORED["checks"]]}
    report = EvaluationReport.from_dict(edited)
    assert [c.metric.name for c in report.failed_critical] == ["roc_auc"]
    quality = report.monitor("quality")
    assert quality is not None and quality.metric("roc_auc").status is CheckStatus.FAIL


def test_a_document_without_a_status_is_judged() -> None:
    assert EvaluationReport.from_dict({k: v for k, v in STORED.items() if k != "status"}).status is CheckStatus.WARN


ROC_FAIL = judged("roc_auc", 0.5, 0.6, higher=True, critical=True)
ROC_PASS = judged("roc_auc", 0.8, 0.6, higher=True, critical=True)
ROC_WARN = judged("roc_auc", 0.61, 0.6, higher=True, critical=True)
PR_FAIL = judged("pr_auc", 0.2, 0.3, higher=True)
ROC_UNJUDGED = insufficient("roc_auc", 20, 100, threshold=0.6, critical=True)
DI_UNJUDGED = insufficient("disparate_impact[Sex]", 40, 100, threshold=0.95, critical=True)
DRIFT_UNJUDGED = insufficient("drift[Age]", 20, 100)  # not critical


@pytest.mark.parametrize(
    ("metrics", "model_tests", "status", "failed", "unjudged"),
    [
        ([ROC_PASS], [], "pass", [], []),
        ([ROC_WARN], [], "warn", [], []),
        ([ROC_FAIL], [], "fail", ["roc_auc"], []),
        ([ROC_PASS, PR_FAIL], [], "warn", [], []),  # a non-critical failure warns
        ([ROC_UNJUDGED, DI_UNJUDGED, DRIFT_UNJUDGED], [], "warn", [], ["roc_auc", "disparate_impact[Sex]"]),
        ([Metric("brier", 0.2)], [], "pass", [], []),  # information only
        ([ROC_PASS], [{"name": "invariance", "status": "fail", "critical": True}], "fail", [], []),
        ([ROC_PASS], [{"name": "invariance", "status": "fail", "critical": False}], "warn", [], []),
        ([ROC_FAIL, DI_UNJUDGED], [], "fail", ["roc_auc"], ["disparate_impact[Sex]"]),
    ],
    ids=[
        "pass",
        "warn",
        "critical-fail",
        "noncritical-fail",
        "unjudged",
        "info-only",
        "critical-model-test",
        "model-test",
        "fail-and-unjudged",
    ],
)
def test_the_verdict_and_the_computed_checks(
    metrics: list[Metric], model_tests: list[dict[str, Any]], status: str, failed: list[str], unjudged: list[str]
) -> None:
    results = [MonitorResult("quality", metrics, 500, 100)]
    report = EvaluationReport.judge(results, risk_summary(results, model_tests=model_tests))
    assert report.status == status
    assert [c.metric.name for c in report.failed_critical] == failed
    assert [c.metric.name for c in report.unjudged_critical] == unjudged
    # The computed properties are never stored apart from the monitors: a stored report gives the same ones.
    again = EvaluationReport.from_dict(_stored(report))
    assert (again.status, again.failed_critical, again.unjudged_critical) == (
        report.status,
        report.failed_critical,
        report.unjudged_critical,
    )


def test_the_report_is_frozen_and_the_risk_summary_is_no_monitor() -> None:
    report = EvaluationReport.from_dict(STORED)
    with pytest.raises(FrozenInstanceError):
        report.status = CheckStatus.PASS  # type: ignore[misc]
    mrm = MonitorResult(RISK, [], 0, 0)
    with pytest.raises(ValueError, match="the risk summary is not a monitor"):
        EvaluationReport((mrm,), None, CheckStatus.PASS)


def test_verdicts_are_the_vocabulary_s_and_stay_plain_text_when_stored() -> None:
    metric = Metric.from_dict({"name": "roc_auc", "value": 0.7, "status": "pass", "monitor": "quality"})
    assert metric.status is CheckStatus.PASS and metric == Metric("roc_auc", 0.7, status=CheckStatus.PASS)
    assert json.dumps(metric.to_dict()["status"]) == '"pass"'
    with pytest.raises(ValueError, match="'passed' is not a valid CheckStatus"):
        Metric("roc_auc", 0.7, status="passed")  # type: ignore[arg-type]


def test_a_stored_test_outside_the_vocabulary_is_counted_as_run() -> None:
    mrm = STORED["monitors"]["mrm"]
    tests = [*mrm["details"]["tests"], {"source": "model_tests", "name": "slow", "status": "skip", "critical": False}]
    document = {
        **STORED,
        "monitors": {**STORED["monitors"], "mrm": {**mrm, "details": {**mrm["details"], "tests": tests}}},
    }
    risk = EvaluationReport.from_dict(document).risk
    assert risk is not None and risk.entries[-1].status is CheckStatus.INFO
    assert (risk.tests_run, risk.tests_passed, risk.tests_failed) == (4, 2, 0)
