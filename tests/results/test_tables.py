"""The evidence tables the Review page and the validation report share: columns, rounding, order."""

from __future__ import annotations

import pytest

from pipeline_core.results import Metric, MonitorResult, insufficient, judged, tables
from pipeline_core.results.evaluation import EvaluationReport, RiskEntry, RiskLevel, RiskSummary
from pipeline_core.results.evidence import FeatureDrift
from pipeline_core.vocabulary import CheckStatus


def test_metric_rows_round_for_reading_and_leave_nothing_empty() -> None:
    rows = tables.metric_rows(
        [judged("roc_auc", 0.812345, 0.6, higher=True, critical=True), insufficient("pr_auc", 5, 100)]
    )
    assert rows == [
        {
            "metric": "roc_auc",
            "value": 0.8123,
            "threshold": 0.6,
            "direction": "higher is better",
            "verdict": "pass",
            "critical": "yes",
            "detail": "",
        },
        {
            "metric": "pr_auc",
            "value": None,
            "threshold": None,
            "direction": None,
            "verdict": "insufficient",
            "critical": "",
            "detail": "insufficient data: 5 < 100",
        },
    ]
    assert tables.metric_rows([Metric("brier", 0.2)])[0]["verdict"] == "info"


def test_risk_rows_list_every_judged_test() -> None:
    risk = RiskSummary(
        RiskLevel.HIGH,
        (
            RiskEntry("quality", "roc_auc", CheckStatus.FAIL, True, 0.5, 0.6),
            RiskEntry("model_tests", "slice", CheckStatus.PASS),
        ),
    )
    assert [(r["source"], r["test"], r["verdict"], r["critical"]) for r in tables.risk_rows(risk)] == [
        ("quality", "roc_auc", "fail", "yes"),
        ("model_tests", "slice", "pass", ""),
    ]


@pytest.mark.parametrize(
    ("statistic", "values", "first"),
    [("ks_p_value", (0.3, 1e-6, 0.05), 1e-6), ("wasserstein_normed", (0.3, 1e-6, 0.05), 0.3)],
    ids=["p-values-low-first", "distances-high-first"],
)
def test_the_most_drifted_feature_comes_first(statistic: str, values: tuple[float, ...], first: float) -> None:
    features = [FeatureDrift(f"f{i}", statistic, v, False) for i, v in enumerate(values)]
    assert tables.drift_rows(features)[0]["value"] == round(first, 4)
    assert tables.most_drifted_first(features)[0].value == first


def _report(*monitors: MonitorResult, tests: tuple[RiskEntry, ...] = ()) -> EvaluationReport:
    return EvaluationReport.judge(list(monitors), RiskSummary(RiskLevel.LOW, tests) if tests else None)


PASS_AUC = judged("roc_auc", 0.81234, 0.6, higher=True, critical=True, detail="held-out reference 0.8")
FAIL_DI = judged("disparate_impact[Sex]", 0.5, 0.8, higher=True, critical=True)
WARN_DI = judged("disparate_impact[Age]", 0.81, 0.8, higher=True, critical=True)
FAIL_NON_CRITICAL = judged("share", 0.9, 0.5, higher=False)
FEW = insufficient("disparate_impact[Foreign]", 3, 8, threshold=0.8, critical=True)
NO_REFERENCE = Metric("disparate_impact[Job]", None, 0.8, "higher_is_better", CheckStatus.INFO, True, "no favourable")
FIGURE = Metric("accuracy", 0.7)  # a reported figure, not a check


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        pytest.param(
            _report(MonitorResult("quality", [PASS_AUC, FIGURE], 120, 50)),
            [
                ("fairness", "(every check)", "not run", "no"),
                ("drift", "(every check)", "not run", "no"),
                ("explainability", "(every check)", "not run", "no"),
                ("quality", "roc_auc", "pass", "yes"),
            ],
            id="monitors-not-run-before-passes",
        ),
        pytest.param(
            _report(
                MonitorResult("quality", [PASS_AUC], 120, 50),
                MonitorResult("fairness", [WARN_DI, FAIL_NON_CRITICAL, FEW, FAIL_DI, NO_REFERENCE], 120, 8),
                MonitorResult("drift", [], 120, 50),
                MonitorResult("explainability", [], 120, 50),
            ),
            [
                ("fairness", "disparate_impact[Sex]", "fail", "yes"),
                ("fairness", "disparate_impact[Foreign]", "insufficient", "yes"),  # critical: blocks, so ahead
                ("fairness", "disparate_impact[Job]", "not judged", "yes"),
                ("fairness", "share", "fail", "no"),
                ("fairness", "disparate_impact[Age]", "warn", "yes"),
                ("quality", "roc_auc", "pass", "yes"),
            ],
            id="critical-fail-and-unjudged-then-the-rest-then-warn-then-pass",
        ),
        pytest.param(
            _report(
                MonitorResult("quality", [PASS_AUC], 120, 50),
                tests=(
                    RiskEntry("quality", "roc_auc", CheckStatus.PASS, True, 0.81, 0.6),  # the monitor's: not twice
                    RiskEntry("model_tests", "invariance", CheckStatus.PASS),
                    RiskEntry("model_tests", "slices", CheckStatus.FAIL, True, detail="slice young"),
                    RiskEntry("model_tests", "regression", CheckStatus.INFO, detail="nothing in production"),
                ),
            ),
            [
                ("model_tests", "slices", "fail", "yes"),
                ("fairness", "(every check)", "not run", "no"),
                ("drift", "(every check)", "not run", "no"),
                ("explainability", "(every check)", "not run", "no"),
                ("model_tests", "regression", "not run", "no"),
                ("quality", "roc_auc", "pass", "yes"),
                ("model_tests", "invariance", "pass", "no"),
            ],
            id="model-tests-beside-the-monitors-a-skipped-one-not-run",
        ),
    ],
)
def test_summary_rows_put_what_stops_an_approval_first(
    report: EvaluationReport, expected: list[tuple[str, str, str, str]]
) -> None:
    rows = tables.summary_rows(report)
    assert [(r["monitor"], r["check"], r["status"], r["critical"]) for r in rows] == expected


def test_summary_rows_carry_value_threshold_and_detail() -> None:
    (row,) = tables.summary_rows(_report(MonitorResult("quality", [PASS_AUC], 120, 50)), expected=())
    assert row == {
        "monitor": "quality",
        "check": "roc_auc",
        "value": 0.8123,
        "threshold": 0.6,
        "status": "pass",
        "critical": "yes",
        "detail": "held-out reference 0.8",
    }
    (few,) = tables.summary_rows(_report(MonitorResult("fairness", [FEW], 3, 8)), expected=())
    assert (few["value"], few["threshold"], few["detail"]) == (None, 0.8, "insufficient data: 3 < 8")


def test_summary_rows_lead_with_what_the_tier_policy_holds_against_the_candidate() -> None:
    policy = [
        (
            "documentation",
            "purpose",
            tables.NOT_JUDGED,
            "documentation section 'Purpose and intended use' is not written",
        ),
        ("finding", "3", "open", "finding 3 'Thin data' (high) is open"),
    ]
    rows = tables.summary_rows(_report(MonitorResult("quality", [PASS_AUC], 120, 50)), expected=(), policy=policy)
    assert [(r["monitor"], r["check"], r["status"], r["critical"]) for r in rows] == [
        ("documentation", "purpose", "not judged", "yes"),
        ("finding", "3", "open", "yes"),
        ("quality", "roc_auc", "pass", "yes"),
    ]
