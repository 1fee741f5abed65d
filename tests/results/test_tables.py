"""The evidence tables the Review page and the validation report share: columns, rounding, order."""

from __future__ import annotations

import pytest

from pipeline_core.results import Metric, insufficient, judged, tables
from pipeline_core.results.evaluation import RiskEntry, RiskLevel, RiskSummary
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
