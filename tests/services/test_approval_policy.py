"""The tier's policy at approval: two validators for tier 1, required documentation, tier-critical checks,
conditions of approval, and the approval's expiry failing the production check."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from pipeline_core.errors import ApprovalError, ConfigError, ConflictError, PermissionDenied
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import ConditionInput
from pipeline_core.services.governance._approval_policy import add_months
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, ApprovalCondition, AuditEvent, ModelRecord, ModelVersion
from pipeline_core.vocabulary import ConditionState, DocSection, ModelState, Tier
from tests.services.helpers import make_candidate, set_test_tier


def _sha(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.artifact_sha256


def _state(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.state


def _approval(ctx: ServiceContext, approval_id: int) -> Approval:
    with ctx.db.read() as session:
        found = session.get(Approval, approval_id)
        assert found is not None
        return found


def _in(days: int) -> date:
    return utcnow().date() + timedelta(days=days)


# --- tier 1: two distinct validators, neither an author -------------------------------------------------


def test_tier_1_approval_waits_for_a_second_distinct_validator(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    set_test_tier(live_ctx, candidate, tier=Tier.HIGH)
    sha = _sha(live_ctx, candidate)
    first = governance.approve(live_ctx, people["vera"], candidate, comment="evidence holds", artifact_sha256=sha)
    assert first.pending and first.deployment is None
    assert "tier 1 policy: a version needs 2 independent validators" in first.check.reasons[0]
    assert _state(live_ctx, candidate) == ModelState.AWAITING_COUNTERSIGN
    check = governance.production_check(live_ctx, people["max"], candidate)
    assert not check.passed and any("needs two validators by its tier" in r for r in check.reasons)
    queued = governance.review_queue(live_ctx, people["max"])[0]
    assert (queued.tier, queued.approvals_needed) == (Tier.HIGH, 2) and queued.pending is not None

    with pytest.raises(PermissionDenied, match="the countersign must be a second validator's"):
        governance.countersign(
            live_ctx, people["vera"], candidate, approval_id=first.approval_id, comment="me again", artifact_sha256=sha
        )
    with pytest.raises(PermissionDenied, match="dora is a data_scientist"):
        governance.countersign(
            live_ctx, people["dora"], candidate, approval_id=first.approval_id, comment="mine", artifact_sha256=sha
        )
    second = governance.countersign(
        live_ctx, people["victor"], candidate, approval_id=first.approval_id, comment="agreed", artifact_sha256=sha
    )
    assert second.check.passed and second.deployment is not None and second.deployment.space == "prod"
    decided = _approval(live_ctx, first.approval_id)
    assert (decided.decided_by, decided.countersigned_by) == ("vera", "victor")
    assert decided.countersigned_at is not None
    assert decided.expires_at == add_months(decided.countersigned_at, 12)  # tier 1: yearly
    assert (decided.seen or {})["policy"]["approvals"] == 2


def test_tier_3_approval_is_final_with_one_validator_and_expires_in_36_months(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    outcome = governance.approve(
        live_ctx, people["vera"], candidate, comment="holds", artifact_sha256=_sha(live_ctx, candidate)
    )
    assert outcome.check.passed and not outcome.pending
    decided = _approval(live_ctx, outcome.approval_id)
    assert decided.kind == "approval" and decided.expires_at == add_months(decided.decided_at, 36)


def test_an_untiered_model_is_judged_as_tier_1(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with live_ctx.db.write() as session:
        session.execute(update(ModelRecord).values(tier=None))
    outcome = governance.approve(
        live_ctx, people["vera"], candidate, comment="holds", artifact_sha256=_sha(live_ctx, candidate)
    )
    assert outcome.pending and "tier 1 policy" in outcome.check.reasons[0]


# --- documentation, tier-critical checks ------------------------------------------------------------------


def test_missing_required_documentation_blocks_until_written_or_overridden(
    live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    mv = make_candidate(live_ctx, people["dora"], tmp_path, governed=False)
    set_test_tier(live_ctx, mv)
    sha = _sha(live_ctx, mv)
    with pytest.raises(ApprovalError, match="documentation section 'Purpose and intended use' is not written"):
        governance.approve(live_ctx, people["vera"], mv, comment="holds", artifact_sha256=sha)
    blocking = governance.review_queue(live_ctx, people["vera"])[0].blocking
    assert "documentation:purpose" in {b.key for b in blocking} and all(b.overridable for b in blocking)
    governance.write_documentation(
        live_ctx, people["dora"], _name(live_ctx, mv), sections={s: f"{s.heading}: as written." for s in DocSection}
    )
    outcome = governance.approve(live_ctx, people["vera"], mv, comment="holds", artifact_sha256=sha)
    assert outcome.check.passed


def _name(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.name


def test_a_check_critical_for_the_tier_blocks_when_no_evaluation_judged_it(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    live_ctx.settings = replace(live_ctx.settings, policy_tier3_critical_checks="quality:not_a_metric")
    with pytest.raises(ApprovalError, match="quality:not_a_metric is critical for tier 3 but no evaluation"):
        governance.approve(
            live_ctx, people["vera"], candidate, comment="holds", artifact_sha256=_sha(live_ctx, candidate)
        )


# --- conditions of approval -------------------------------------------------------------------------------


def test_an_approval_carries_its_conditions_and_a_validator_marks_one_met(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    due = _in(30)
    outcome = governance.approve(
        live_ctx,
        people["vera"],
        candidate,
        comment="holds, with a condition",
        artifact_sha256=_sha(live_ctx, candidate),
        conditions=[ConditionInput(text="  Re-run fairness on Q1 data  ", owner="DORA", due_date=due)],
    )
    assert outcome.check.passed
    [condition] = governance.list_conditions(live_ctx, people["max"])
    assert (condition.text, condition.owner, condition.due_date, condition.state, condition.overdue) == (
        "Re-run fairness on Q1 data",
        "dora",
        due,
        ConditionState.OPEN,
        False,
    )
    assert condition.approval_id == outcome.approval_id
    with pytest.raises(PermissionDenied, match="dora is a data_scientist"):
        governance.mark_condition_met(live_ctx, people["dora"], condition.id, note="I did it, trust me on this one.")
    met = governance.mark_condition_met(
        live_ctx, people["victor"], condition.id, note="Fairness re-run on Q1 data: disparate impact 0.91."
    )
    assert (met.state, met.met_by) == (ConditionState.MET, "victor")
    with pytest.raises(ConflictError, match=f"condition {condition.id} is met; it cannot be marked met again"):
        governance.mark_condition_met(live_ctx, people["victor"], condition.id, note="Seen again, and still met.")
    with live_ctx.db.read() as session:
        actions = session.execute(
            select(AuditEvent.action).where(AuditEvent.object_type == "condition").order_by(AuditEvent.seq)
        ).scalars()
        assert list(actions) == ["condition.set", "condition.met"]


@pytest.mark.parametrize(
    ("condition", "match"),
    [
        (ConditionInput(text="  ", owner="dora", due_date=date(2099, 1, 1)), "condition 1: the text is empty"),
        (ConditionInput(text="x" * 2001, owner="dora", due_date=date(2099, 1, 1)), "over 2000 characters"),
        (ConditionInput(text="retest", owner="nobody", due_date=date(2099, 1, 1)), "owner 'nobody' is not an account"),
        (ConditionInput(text="retest", owner="dora", due_date=date(2000, 1, 1)), "2000-01-01 is in the past"),
        (
            ConditionInput(text="retest", owner="dora", due_date=datetime(2099, 1, 1)),
            "is not a date",
        ),
        (
            ConditionInput(text="retest", owner="dora", due_date=date(2099, 1, 1), finding_id="7"),  # type: ignore[arg-type]
            "finding '7' is not a finding id",
        ),
    ],
)
def test_a_bad_condition_refuses_the_approval_naming_it(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, condition: ConditionInput, match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        governance.approve(
            live_ctx,
            people["vera"],
            candidate,
            comment="holds",
            artifact_sha256=_sha(live_ctx, candidate),
            conditions=[condition],
        )
    assert _state(live_ctx, candidate) == ModelState.AWAITING_REVIEW
    assert governance.list_conditions(live_ctx, people["max"]) == []


def test_an_overdue_condition_is_listed_first(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    governance.approve(
        live_ctx,
        people["vera"],
        candidate,
        comment="holds",
        artifact_sha256=_sha(live_ctx, candidate),
        conditions=[
            ConditionInput(text="later", owner="dora", due_date=_in(60)),
            ConditionInput(text="sooner", owner="dora", due_date=_in(10)),
        ],
    )
    with live_ctx.db.write() as session:
        session.execute(update(ApprovalCondition).where(ApprovalCondition.text == "later").values(due_date=_in(-1)))
    listed = governance.list_conditions(live_ctx, people["max"], open_only=True)
    assert [(c.text, c.overdue) for c in listed] == [("later", True), ("sooner", False)]


# --- expiry ------------------------------------------------------------------------------------------------


def test_an_expired_approval_fails_the_production_check_but_does_not_cut_serving(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    served = next(d for d in deployments.list_deployments(live_ctx, people["max"]) if d.space == "prod")
    with live_ctx.db.write() as session:
        session.execute(update(Approval).values(expires_at=utcnow() - timedelta(days=1)))
    check = governance.production_check(live_ctx, people["max"], served.model_version_id)
    assert not check.passed
    assert any("expired on" in r and "a revalidation must renew it before a new deployment" in r for r in check.reasons)
    with pytest.raises(ApprovalError, match="expired on"):
        governance.deploy_approved(live_ctx, people["vera"], served.model_version_id)
    verdicts = {v.deployment_id: v for v in deployments.serving_verdicts(live_ctx, people["max"])}
    assert verdicts[served.id].allowed  # the production model keeps serving; the alert is the sweep's


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2026, 1, 31, 9), 1, datetime(2026, 2, 28, 9)),
        (datetime(2027, 12, 15), 12, datetime(2028, 12, 15)),
        (datetime(2027, 11, 30), 3, datetime(2028, 2, 29)),
        (datetime(2026, 5, 1), 36, datetime(2029, 5, 1)),
    ],
)
def test_add_months_keeps_the_day_or_the_months_last(start: datetime, months: int, end: datetime) -> None:
    assert add_months(start, months) == end
