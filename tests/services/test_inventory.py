"""The manager's inventory: tier, state, risk, open findings, next revalidation, oldest pending review, overdue."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline_core.services import governance, monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, ApprovalCondition, AuditEvent, Deployment, ModelVersion
from pipeline_core.vocabulary import ConditionState, ModelState, Tier
from tests.services.helpers import copy_version

REASON = "decides a mid-sized book of consumer loans, so the middle tier"
TEST_TIER_REASON = "The test suite tiers the models it builds itself."


def _only(ctx: ServiceContext, who: Principal) -> governance.ModelInfo:
    (info,) = governance.inventory(ctx, who)
    return info


def test_a_candidate_awaiting_review(live_ctx: ServiceContext, people: dict[str, Principal], candidate: int) -> None:
    info = _only(live_ctx, people["max"])
    (evaluation,) = monitoring.list_evaluations(live_ctx, people["max"], model_version_id=candidate)
    with live_ctx.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        waiting = session.execute(
            select(AuditEvent.at).where(
                AuditEvent.action == "model_version.awaiting_review", AuditEvent.object_id == str(candidate)
            )
        ).scalar_one()
    assert (info.name, info.newest_version, info.newest_version_id, info.state) == (
        mv.name,
        1,
        candidate,
        ModelState.AWAITING_REVIEW,
    )
    assert (info.tier, info.effective_tier, info.owner, info.business_use) == (Tier.LOW, Tier.LOW, None, None)
    assert info.tier_reason == TEST_TIER_REASON  # the test suite tiers the models it builds
    assert info.risk_level == evaluation.report.risk_level and info.risk_level is not None
    assert (info.open_findings, info.production_version, info.next_revalidation) == (0, None, None)
    assert (info.pending_reviews, info.oldest_pending_since, info.overdue) == (1, waiting, ())
    assert info.oldest_pending_age is not None and timedelta(0) <= info.oldest_pending_age < timedelta(hours=1)

    governance.set_tier(live_ctx, people["vera"], mv.name, tier=2, reason=REASON)
    governance.set_model_info(live_ctx, people["dora"], mv.name, owner="dan", business_use="Retail loan origination")
    seen: list[tuple[bool, str]] = []

    def three(session: Session, name: str) -> int:
        seen.append((isinstance(session, Session), name))
        return 3

    (told,) = governance.inventory(live_ctx, people["max"], open_findings=three)
    assert (told.tier, told.tier_reason, told.owner, told.business_use) == (
        Tier.MEDIUM,
        REASON,
        "dan",
        "Retail loan origination",
    )
    assert told.open_findings == 3 and seen == [(True, mv.name)]


def test_the_oldest_pending_review_counts_a_countersign_and_the_newest_version_sets_the_state(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    three_days_ago = utcnow() - timedelta(days=3)
    with live_ctx.db.write() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        older = copy_version(session, mv, state=ModelState.AWAITING_COUNTERSIGN)
        older.created_at = three_days_ago  # no audit event says when it began to wait: its registration does
        newest_id = older.id
    info = _only(live_ctx, people["max"])
    assert (info.newest_version, info.newest_version_id, info.state) == (2, newest_id, ModelState.AWAITING_COUNTERSIGN)
    assert info.risk_level is None  # the newest version was never evaluated
    assert (info.pending_reviews, info.oldest_pending_since) == (2, three_days_ago)
    assert info.oldest_pending_age is not None and info.oldest_pending_age >= timedelta(days=3)


def _expire(ctx: ServiceContext, approval_id: int, at: datetime | None) -> None:
    with ctx.db.write() as session:
        session.execute(update(Approval).where(Approval.id == approval_id).values(expires_at=at))


def _condition(ctx: ServiceContext, approval_id: int, *, due: date, state: ConditionState, text: str) -> int:
    with ctx.db.write() as session:
        approval = session.get(Approval, approval_id)
        assert approval is not None
        mv = session.get(ModelVersion, approval.model_version_id)
        assert mv is not None
        row = ApprovalCondition(
            approval_id=approval_id,
            model_version_id=mv.id,
            model_name=mv.name,
            text=text,
            owner="dora",
            due_date=due,
            state=state,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return row.id


def _approval_in_prod(ctx: ServiceContext, who: Principal) -> int:
    (decision,) = governance.decisions(ctx, who)
    return decision.approval_id


@pytest.mark.parametrize(
    ("expires_in", "overdue"),
    [
        (timedelta(days=-2), "approval {a} of v1 expired on {day}: revalidation due"),
        (timedelta(days=10), "approval {a} of v1 expires on {day}: revalidation due soon"),
        (timedelta(days=60), None),
        (None, None),
    ],
    ids=["expired", "within-30-days", "later", "no-expiry"],
)
def test_the_production_approval_s_expiry_is_the_next_revalidation_and_overdue_near_it(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    in_prod: int,
    expires_in: timedelta | None,
    overdue: str | None,
) -> None:
    approval_id = _approval_in_prod(live_ctx, people["max"])
    expires = None if expires_in is None else utcnow() + expires_in
    _expire(live_ctx, approval_id, expires)
    info = _only(live_ctx, people["max"])
    assert (info.state, info.production_version, info.next_revalidation) == (ModelState.IN_PRODUCTION, 1, expires)
    expected = () if overdue is None or expires is None else (overdue.format(a=approval_id, day=f"{expires:%Y-%m-%d}"),)
    assert info.overdue == expected
    assert info.pending_reviews == 0 and info.oldest_pending_since is None and info.oldest_pending_age is None


def test_open_conditions_past_due_are_overdue_and_met_or_future_ones_are_not(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    approval_id = _approval_in_prod(live_ctx, people["max"])
    today = utcnow().date()
    long_text = "Backtest the young applicants' band on a full quarter of production outcomes, then report"
    late = _condition(live_ctx, approval_id, due=today - timedelta(days=1), state=ConditionState.OPEN, text=long_text)
    _condition(live_ctx, approval_id, due=today - timedelta(days=5), state=ConditionState.MET, text="Met already")
    _condition(live_ctx, approval_id, due=today + timedelta(days=1), state=ConditionState.OPEN, text="Not due yet")
    _condition(live_ctx, approval_id, due=today, state=ConditionState.OPEN, text="Due today, not late")
    info = _only(live_ctx, people["max"])
    assert info.overdue == (f"condition {late} (dora) was due {today - timedelta(days=1)}: {long_text[:59]}…",)


def test_overdue_models_come_first_then_by_tier_untiered_as_tier_1(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    with live_ctx.db.write() as session:
        dep = session.get(Deployment, in_prod)
        assert dep is not None
        live = session.get(ModelVersion, dep.model_version_id)
        assert live is not None
        other = copy_version(session, live)
        other.name, other.version = "other_model", 1
        name = live.name
    listed = governance.inventory(live_ctx, people["max"])
    assert [(m.name, m.tier, m.effective_tier) for m in listed] == [
        ("other_model", None, Tier.HIGH),  # untiered: governed as tier 1, so before the tier-3 model
        (name, Tier.LOW, Tier.LOW),
    ]
    _expire(live_ctx, _approval_in_prod(live_ctx, people["max"]), utcnow() - timedelta(days=1))
    listed = governance.inventory(live_ctx, people["dora"])
    assert [m.name for m in listed] == [name, "other_model"] and listed[0].overdue and not listed[1].overdue


def test_the_inventory_counts_the_models_open_findings(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    def raise_one(title: str) -> int:
        return governance.raise_finding(
            live_ctx,
            people["vera"],
            candidate,
            title=title,
            description="Seen in review.",
            severity="low",
            evidence_kind="free",
            evidence_ref="",
            owner="dora",
            due_date=utcnow().date() + timedelta(days=30),
        ).id

    raise_one("Labels in the docs are terse")
    raise_one("Feature names are cryptic")
    (info,) = governance.inventory(live_ctx, people["max"])
    assert info.open_findings == 2
