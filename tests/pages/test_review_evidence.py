"""The Review page's evidence (issue 16, findings 8 and 9): summary counts that add up, a like-for-like comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Tab

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.monitors.mrm import risk_summary
from pipeline_core.results import MonitorResult, insufficient, judged
from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.monitoring import EvaluationError
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Evaluation, ModelVersion
from pipeline_core.vocabulary import ModelState
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.services.helpers import copy_version, make_candidate
from tests.states import State

SHADOW_HEADING = "#### In the shadow of production"


def test_the_summary_counts_warn_and_unjudged_apart_and_they_add_up(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    quality = MonitorResult(
        "quality",
        [judged("roc_auc", 0.61, 0.6, higher=True, critical=True), insufficient("di", 40, 100, critical=True)],
        300,
        100,
    )
    tests: list[dict[str, object]] = [
        {"name": "invariance", "status": "fail", "critical": False},
        {"name": "slow", "status": "skip"},
    ]
    report = EvaluationReport.judge([quality], risk_summary([quality], model_tests=tests))
    with live_ctx.db.write() as session:
        session.add(
            Evaluation(
                model_version_id=candidate,
                deployment_id=None,
                space="preprod",
                data_window={"source": "test split", "records": 300},
                results=report.to_dict(),
                status=report.status,
                created_at=utcnow(),
                created_by="pipeline",
            )
        )
    at = page("review", "vera")
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    # Before: "Passed 1" (the warning) and no place for the two tests that were never judged.
    assert shown == {
        "Risk level": "medium",
        "Tests run": "4",
        "Passed": "0",
        "Warn": "1",
        "Failed": "1",
        "Unjudged": "2",
    }
    assert [getattr(b, "label", None) for b in at.get("download_button")] == [
        "Report (HTML)",
        "Report (PDF)",
        "Report (DOCX)",
        "Evidence pack (zip)",
    ]


def _compare_tab(at: AppTest) -> Tab:
    return next(t for t in at.tabs if t.label == "Compare with production")


def test_the_compare_tab_shows_paired_differences_on_named_records(
    page: PageRunner,
    in_prod: int,
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    starting_state: State,
    tmp_path: Path,
) -> None:
    new_id = make_candidate(live_ctx, people["dora"], tmp_path, seed=8)
    at = page("review", "vera")
    assert_readable(at, "review with a model in prod")
    assert at.selectbox[0].value == new_id and not at.exception
    compare = _compare_tab(at)
    found = monitoring.compare_with_production(live_ctx, people["vera"], new_id)
    assert found is not None and found.held_out is not None
    candidate, production = found.candidate.heading, found.production.heading
    assert f"model version {starting_state.model_version_id}" in production
    texts = [m.value for m in compare.markdown]
    # The comparison, then the shadow section below it (its own tests: tests/pages/test_review_shadow.py).
    assert texts[: texts.index(SHADOW_HEADING)] == [
        f"**{candidate}** against **{production}**",
        "**On the candidate's held-out test split**",
        "**On production's labelled feedback**",
    ]
    caption = next(c.value for c in compare.caption if c.value.startswith("Data: "))
    held = found.held_out
    assert caption == (
        f"Data: {held.data} · window: {held.window} · {held.records} records, the same for both columns · "
        f"evaluation: {held.evaluation}"
    )
    assert "held-out test split" in caption and f"{held.records} records" in caption
    (table,) = [d.value for d in compare.dataframe]
    assert list(table.columns) == [
        "metric",
        candidate,
        production,
        "difference (candidate − production)",
        "95% interval (paired bootstrap, 1000 resamples)",
        "records",
    ]
    assert list(table["metric"]) == ["roc_auc", "accuracy"]
    assert [int(r) for r in table["records"]] == [held.records, held.records]
    auc = held.difference("roc_auc")
    assert auc.difference is not None and auc.low is not None and auc.high is not None
    assert float(table[candidate][0]) == round(auc.candidate or 0, 4)
    assert float(table["difference (candidate − production)"][0]) == round(auc.difference, 4)
    assert table["95% interval (paired bootstrap, 1000 resamples)"][0] == f"{auc.low:+.4f} to {auc.high:+.4f}"
    assert [i.value for i in compare.info] == [
        f"No comparison: deployment {in_prod} (prod) has no labelled feedback yet."
    ]

    monitoring.upload_feedback(live_ctx, people["dora"], in_prod, generate_german_credit(120, seed=5))
    at = page("review", "vera")
    compare = _compare_tab(at)
    tables = [d.value for d in compare.dataframe]
    assert len(tables) == 2 and [int(r) for r in tables[1]["records"]] == [120, 120]
    captions = [c.value for c in compare.caption]
    assert captions[1].startswith(f"Data: labelled feedback of the prod deployment {in_prod} · window: feedback")
    assert "· 120 records, the same for both columns" in captions[1]


def test_the_compare_tab_says_identical_artifacts(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, starting_state: State
) -> None:
    with live_ctx.db.write() as session:
        live = session.get(ModelVersion, starting_state.model_version_id)
        assert live is not None
        same = copy_version(session, live, state=ModelState.AWAITING_REVIEW)
        same_id, sha = same.id, same.artifact_sha256
        # The review needs a pre-prod evaluation: the served version's own, as if re-evaluated for the copy.
        stored = session.query(Evaluation).filter_by(model_version_id=live.id, space="preprod").first()
        assert stored is not None
        session.add(
            Evaluation(
                model_version_id=same_id,
                deployment_id=None,
                space="preprod",
                data_window=stored.data_window,
                results=stored.results,
                status=stored.status,
                created_at=utcnow(),
                created_by="pipeline",
            )
        )
    at = page("review", "vera", state={})
    at.selectbox[0].set_value(same_id).run()
    assert not at.exception
    compare = _compare_tab(at)
    (said,) = [i.value for i in compare.info]
    assert said.startswith(f"Identical artifacts: the candidate is the artifact production serves (sha256 `{sha}`)")
    assert list(compare.dataframe) == []


def test_a_comparison_that_cannot_be_made_says_why_not_that_nothing_is_in_prod(
    page: PageRunner, candidate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise EvaluationError("production model version 9 needs features the candidate's records lack: Income")

    monkeypatch.setattr(monitoring, "compare_with_production", refuse)
    at = page("review", "vera")
    compare = _compare_tab(at)
    assert [e.value for e in compare.error] == [
        "EvaluationError: production model version 9 needs features the candidate's records lack: Income"
    ]
    # Nothing says "nothing is in prod" of the comparison (the shadow section below speaks of its own traffic).
    assert [i.value for i in compare.info if "traffic to shadow" not in i.value] == []
