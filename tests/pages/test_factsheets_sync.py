"""The Factsheets page's "External services" section: what OpenScale and AI Factsheets lack, for every role.

The store: the candidate, approved by vera while AI Factsheets was down (that delivery waits for its
next attempt), and an evaluation's facts whose delivery failed for good. The sink is the stand-in of
``tests/services/test_events.py``, injected into the dashboard's context.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_core.services import events, governance, integrations
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.monitoring import list_evaluations
from pipeline_core.services.runs import list_model_versions
from pipeline_core.vocabulary import EventKind
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.services.test_events import DOWN, FakeFactsheets, _served_by_watsonx, _sha

COLUMNS = ["service", "model version", "what", "attempts", "next attempt", "last error"]


def _first_evaluation(ctx: ServiceContext, people: dict[str, Principal], mv_id: int) -> int:
    return list_evaluations(ctx, people["max"], model_version_id=mv_id)[-1].id


@pytest.fixture
def lagging(live_ctx: ServiceContext, candidate: int, people: dict[str, Principal]) -> FakeFactsheets:
    """AI Factsheets down for an approval (1 attempt so far) and for an evaluation's facts (given up)."""
    fake = FakeFactsheets(failures=2)
    _served_by_watsonx(live_ctx, candidate)
    live_ctx.factsheets = fake
    evaluation_id = _first_evaluation(live_ctx, people, candidate)
    with live_ctx.db.write() as session:
        event_id = events.record(
            session,
            kind=EventKind.CANDIDATE_EVALUATED,
            model_version_id=candidate,
            actor="pipeline",
            payload={"evaluation_id": evaluation_id, "facts": {"mlops_stage": "pre-prod evaluation"}},
        )
    (gave_up,) = integrations.deliver(
        live_ctx, SYSTEM, event_ids=[event_id], policy=integrations.RetryPolicy(max_attempts=1)
    )
    assert gave_up.gave_up
    outcome = governance.approve(
        live_ctx, people["vera"], candidate, comment="holds", artifact_sha256=_sha(live_ctx, candidate)
    )
    assert outcome.deployment is not None and outcome.error is not None
    return fake


def _sync_table(at: Any) -> list[dict[str, Any]]:
    frame = at.dataframe[-1].value
    assert list(frame.columns) == COLUMNS
    rows: list[dict[str, Any]] = frame.to_dict(orient="records")
    return rows


@pytest.mark.parametrize("who", ["dora", "vera", "max", "admin"])
def test_every_role_sees_what_the_external_services_lack(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], lagging: FakeFactsheets, who: str
) -> None:
    unsynced = integrations.not_in_sync(live_ctx, people[who])
    (version,) = list_model_versions(live_ctx, SYSTEM, limit=5)
    at = page("factsheets", who)
    assert not at.exception
    assert_readable(at, who)
    assert [w.value for w in at.warning] == [
        "2 update(s) not yet in AI Factsheets: see **External services** at the end of the page."
    ]
    assert [s.value for s in at.subheader][-1] == "External services"
    _evaluation, decision = unsynced
    model = f"{version.name} v{version.version}"
    assert _sync_table(at) == [
        {
            "service": "AI Factsheets",
            "model version": model,
            "what": f"facts of evaluation {_first_evaluation(live_ctx, people, version.id)}",
            "attempts": 1,
            "next attempt": "on demand only",
            "last error": DOWN,
        },
        {
            "service": "AI Factsheets",
            "model version": model,
            "what": "decision: approved by vera",
            "attempts": 1,
            "next attempt": decision.next_attempt_at.strftime("%Y-%m-%d %H:%M"),  # type: ignore[union-attr]
            "last error": DOWN,
        },
    ]
    # the error in full (a cell cuts it off), once for the two updates it stopped
    assert "**AI Factsheets**, last error of 2 update(s): AI Factsheets answered 503: the service is down" in [
        m.value for m in at.markdown
    ]
    buttons = [b.label for b in at.button]
    if who == "max":  # a manager may look, not push
        assert buttons == [] and "A data scientist, validator or administrator can retry them now." in [
            m.value for m in at.markdown
        ]
    else:
        assert buttons == ["Retry now"]


def test_retry_now_delivers_and_the_page_says_all_is_in_sync(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], lagging: FakeFactsheets
) -> None:
    at = page("factsheets", "vera")
    lagging.failures = 0  # AI Factsheets is back
    at.button(key="sync-now").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [
        "Every update was delivered.",
        "In sync: AI Factsheets has every decision and pre-prod evaluation the store recorded.",
    ]
    # lineage, stages, deployments, evaluations, decisions, production history
    assert not at.warning and len(at.dataframe) == 6
    assert integrations.not_in_sync(live_ctx, people["vera"]) == []
    assert {c[0] for c in lagging.calls} == {"track", "record"}


def test_a_retry_that_fails_again_says_why_and_keeps_the_rows(
    page: PageRunner, live_ctx: ServiceContext, lagging: FakeFactsheets
) -> None:
    at = page("factsheets", "admin")
    lagging.failures = 5
    at.button(key="sync-now").click().run()
    assert [w.value for w in at.warning][-1] == (
        f"Still not in sync: AI Factsheets was not updated: {DOWN}; AI Factsheets was not updated: {DOWN}"
    )
    assert [r["attempts"] for r in _sync_table(at)] == [2, 2]


def test_a_dashboard_without_the_service_s_settings_does_not_pretend_to_retry(
    page: PageRunner, live_ctx: ServiceContext, lagging: FakeFactsheets
) -> None:
    at = page("factsheets", "vera")
    live_ctx.factsheets = None  # this dashboard's settings name no AI Factsheets; the worker's do
    at.button(key="sync-now").click().run()
    assert [w.value for w in at.warning][-1] == (
        "Not retried: AI Factsheets is not configured in this dashboard's settings; retry from a dashboard "
        "that has them (the worker retries the pending ones)."
    )
    assert len(_sync_table(at)) == 2 and not lagging.calls[2:]


def test_a_store_with_no_external_service_has_nothing_to_sync(page: PageRunner, candidate: int) -> None:
    at = page("factsheets", "max")
    assert not at.exception and not at.warning
    assert [i.value for i in at.info] == [
        "Nothing to keep in sync: no external service (OpenScale, AI Factsheets) is configured, "
        "so the store's own factsheet above is the only one."
    ]
