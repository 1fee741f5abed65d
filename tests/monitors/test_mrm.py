"""MRM risk levels and counts from hand-made results, and the risk summary as the MRM monitor stores it."""

from __future__ import annotations

import pytest

from pipeline_core.monitors.mrm import risk_evaluation, risk_summary
from pipeline_core.results import Metric, MonitorResult, insufficient, judged
from pipeline_core.results.evaluation import RiskCounts, RiskSummary


def _result(*metrics: Metric) -> MonitorResult:
    return MonitorResult("quality", list(metrics), 500, 100)


@pytest.mark.parametrize(
    ("metrics", "model_tests", "level", "counts"),
    [
        ([judged("roc_auc", 0.8, 0.6, higher=True, critical=True)], [], "low", RiskCounts(1, 1, 0, 0, 0)),
        # A warning is its own count, never a pass; it does not raise the level.
        ([judged("roc_auc", 0.61, 0.6, higher=True, critical=True)], [], "low", RiskCounts(1, 0, 1, 0, 0)),
        ([judged("roc_auc", 0.5, 0.6, higher=True, critical=True)], [], "high", RiskCounts(1, 0, 0, 1, 0)),
        (
            [judged("roc_auc", 0.8, 0.6, higher=True, critical=True), judged("pr_auc", 0.2, 0.3, higher=True)],
            [],
            "medium",
            RiskCounts(2, 1, 0, 1, 0),
        ),
        ([insufficient("roc_auc", 20, 100, critical=True)], [], "medium", RiskCounts(1, 0, 0, 0, 1)),
        ([Metric("brier", 0.2)], [], "low", RiskCounts(0, 0, 0, 0, 0)),  # information only: not a test
        (
            [judged("roc_auc", 0.8, 0.6, higher=True, critical=True)],
            [{"name": "invariance", "status": "fail", "critical": True}],
            "high",
            RiskCounts(2, 1, 0, 1, 0),
        ),
        (
            [judged("roc_auc", 0.61, 0.6, higher=True, critical=True), insufficient("di", 5, 100, critical=True)],
            [{"name": "invariance", "status": "fail"}, {"name": "slow", "status": "skip"}],
            "medium",
            RiskCounts(4, 0, 1, 1, 2),
        ),
    ],
    ids=["pass", "warn", "critical-fail", "noncritical-fail", "insufficient", "info-only", "model-test-fail", "mixed"],
)
def test_risk_levels_and_counts(
    metrics: list[Metric], model_tests: list[dict[str, object]], level: str, counts: RiskCounts
) -> None:
    summary = risk_summary([_result(*metrics)], model_tests=model_tests)
    assert summary.level == level
    assert summary.counts == counts
    stored = {m.name: m.value for m in summary.as_monitor_result().metrics}
    assert (stored["tests_run"], stored["tests_passed"], stored["tests_failed"]) == (
        counts.run,
        counts.passed,
        counts.failed,
    )
    # Read back from the stored document, every count is what was judged.
    assert RiskSummary.from_monitor_dict(summary.as_monitor_result().to_dict()).counts == counts


def test_risk_counts_must_add_up() -> None:
    with pytest.raises(ValueError, match="risk counts do not add up"):
        RiskCounts(3, 1, 0, 1, 0)
    assert RiskCounts(4, 1, 1, 1, 1).describe() == "tests run 4: passed 1, warn 1, failed 1, unjudged 1"


@pytest.mark.parametrize(
    ("status", "counted"),
    [("pass", "pass"), ("fail", "fail"), ("warn", "warn"), ("skip", "info")],
    ids=["pass", "fail", "warn", "skip"],
)
def test_the_risk_summary_is_what_the_mrm_monitor_stored(status: str, counted: str) -> None:
    results = [
        _result(judged("roc_auc", 0.8, 0.6, higher=True, critical=True), insufficient("di", 5, 100, critical=True))
    ]
    tests = [{"name": "invariance", "status": status, "critical": False, "detail": "flip rate 0.01"}]
    summary = risk_summary(results, model_tests=tests)
    assert [(e.source, e.name, e.status) for e in summary.entries] == [
        ("quality", "roc_auc", "pass"),
        ("quality", "di", "insufficient"),
        ("model_tests", "invariance", counted),
    ]
    assert risk_evaluation(results, model_tests=tests) == summary.as_monitor_result()
    assert RiskSummary.from_monitor_dict(summary.as_monitor_result().to_dict()) == summary
