"""The Review and Monitoring pages on evaluations an earlier version stored: read, shown, judged as before."""

from __future__ import annotations

from typing import Any

from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Evaluation
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.results.stored import BEFORE_MONITORS, STORED


def _store_row(ctx: ServiceContext, mv_id: int, document: dict[str, Any]) -> int:
    with ctx.db.write() as session:
        row = Evaluation(
            model_version_id=mv_id,
            deployment_id=None,
            space="preprod",
            data_window={"source": "test split", "records": 120},
            results=document,
            status=document["status"],
            created_at=utcnow(),
            created_by="pipeline",
        )
        session.add(row)
        session.flush()
        return row.id


def test_review_shows_an_evaluation_from_before_the_monitors(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    old_id = _store_row(live_ctx, candidate, BEFORE_MONITORS)
    at = page("review", "vera")
    assert_readable(at, "review of an evaluation from before the monitors")
    assert [(m.label, m.value) for m in at.metric] == [
        ("Risk level", "unknown"),
        ("Tests run", "0"),
        ("Passed", "0"),
        ("Warn", "0"),
        ("Failed", "0"),
        ("Unjudged", "0"),
    ]
    quality = next(t for t in at.tabs if t.label == "Quality")
    table = quality.dataframe[0].value
    assert list(table["metric"]) == ["roc_auc", "pr_auc"] and list(table["verdict"]) == ["fail", "pass"]
    fairness = next(t for t in at.tabs if t.label == "Fairness")
    assert [i.value for i in fairness.info] == ["This evaluation has no results for this monitor."]
    assert f"roc_auc 0.5200 fails threshold 0.60 (evaluation {old_id})" in " ".join(w.value for w in at.warning)


def test_review_shows_a_stored_risk_summary_once(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    _store_row(live_ctx, candidate, STORED)
    at = page("review", "vera")
    assert_readable(at, "review of a stored evaluation")
    assert [(m.label, m.value) for m in at.metric] == [
        ("Risk level", "medium"),
        ("Tests run", "3"),
        ("Passed", "2"),
        ("Warn", "0"),
        ("Failed", "0"),
        ("Unjudged", "1"),  # the critical check with too few records: counted, never as passed
    ]
    summary = next(t for t in at.tabs if t.label == "Summary").dataframe[0].value
    # What stops an approval first: the unjudged critical check, the monitors this evaluation did not run.
    assert list(zip(summary["monitor"], summary["check"], summary["status"], strict=True)) == [
        ("fairness", "disparate_impact[Sex]", "insufficient"),
        ("drift", "(every check)", "not run"),
        ("explainability", "(every check)", "not run"),
        ("quality", "roc_auc", "pass"),
        ("model_tests", "invariance", "pass"),
    ]
    # The risk summary is no monitor: no tab lists it among a monitor's metrics.
    for tab in at.tabs:
        for frame in tab.dataframe:
            if "metric" in frame.value.columns:
                assert not {"tests_run", "risk_level"} & set(frame.value["metric"]), tab.label
