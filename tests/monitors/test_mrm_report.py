"""MRM risk levels from hand-made results, and the validation report as a complete, valid HTML file."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.explain import ExplainConfig
from pipeline_core.monitors.mrm import risk_evaluation, risk_summary
from pipeline_core.monitors.report import SECTIONS, render_validation_report
from pipeline_core.monitors.suite import SuiteConfig, run_monitors
from pipeline_core.results import Metric, MonitorResult, insufficient, judged
from pipeline_core.results.evaluation import EvaluationReport, RiskCounts, RiskSummary


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


class _Checker(HTMLParser):
    """Balanced tags (void elements aside), and the ids present."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(v for k, v in attrs if k == "id" and v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()


def test_the_report_is_valid_html_with_every_section(spec: DataSpec) -> None:
    from pipeline_core.params import RunParams
    from pipeline_core.pipeline import PipelineInputs, execute

    frame = generate_german_credit(2000, seed=4)  # a test split large enough for the bias scan
    state = execute(
        PipelineInputs(
            frame=frame, spec=spec, params=RunParams(max_iter=30, cv_folds=2), dataset={}, reference_schema=None
        )
    )
    model, clean = state.trained.model, state.validation.clean
    assert clean is not None

    def scored(rows: pd.DataFrame) -> pd.DataFrame:
        p = model.predict_proba(rows[spec.feature_names])[:, 1]
        return rows.assign(probability=p, prediction=np.where(p >= 0.5, "Risk", "No Risk"))

    test, train = scored(clean.iloc[state.validation.test_index]), scored(clean.iloc[state.validation.train_index])
    config = SuiteConfig(explain=ExplainConfig(n_repeats=2, background_records=20, max_evals=100, explained_records=1))
    results = run_monitors(test, train, spec=spec, model=model, labelled=test, held_out=test, config=config)
    html = render_validation_report(
        title="Validation report: german_credit v1 <test>",
        model={"artifact sha256": "abc", "created by": "dora"},
        evaluation={"id": 7, "space": "preprod", "data_window": {"records": len(test)}},
        report=EvaluationReport.from_results(results),
        model_tests=[{"name": "invariance", "status": "pass"}],
    )
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>")
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert {s.lower().replace(" ", "-") for s in SECTIONS} <= checker.ids
    assert "&lt;test&gt;" in html  # every value is escaped
    assert html.count("plotly.js v") == 1 and "<script src=" not in html  # self-contained: plotly.js inlined once
    assert html.count('class="plotly-graph-div"') >= 5  # confusion matrix, scan, drift, importance, SHAP
    for word in (
        "Risk level",
        "roc_auc",
        "Bias scan",
        "Drift per feature",
        "Data consistency",
        "Contrastive",
        "invariance",
        "dora",
    ):
        assert word in html, word


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
