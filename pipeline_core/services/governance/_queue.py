"""The review queue and the decision record: what awaits a validator, what was decided, who may decide."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from pipeline_core.errors import PipelineError
from pipeline_core.services import authz, deployments, lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import IntegrityAlert
from pipeline_core.services.governance import _duties, _inventory
from pipeline_core.services.governance._approval_policy import policy_blocking
from pipeline_core.services.governance._approvals import policy_of
from pipeline_core.services.governance._blocking import Blocking
from pipeline_core.store.models import Approval, Evaluation, ModelTestRun, ModelVersion
from pipeline_core.vocabulary import ModelState, Outcome, Space, Tier


@dataclass(frozen=True)
class PendingApproval:
    """The first signature on an override, awaiting a second validator's countersign."""

    approval_id: int
    decided_by: str
    decided_at: datetime
    comment: str
    override: str
    overridden: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    """A model version awaiting a decision, and the evidence a decision on it is bound to."""

    model_version_id: int
    name: str
    version: int
    artifact_sha256: str
    created_by: str
    metrics: dict[str, Any]
    evaluation_ids: list[int]
    integrity_alerts: tuple[IntegrityAlert, ...] = ()  # open: its artifact failed the check (an approval refused)
    model_test_run_ids: tuple[int, ...] = ()
    state: ModelState = ModelState.AWAITING_REVIEW
    pending: PendingApproval | None = None  # set when the state is awaiting countersign
    # What blocks its approval under its tier's policy: critical checks of its pre-prod evaluations that failed
    # or could not be judged and missing documentation (what an override must name), open high findings (not
    # overridable).
    blocking: tuple[Blocking, ...] = ()
    tier: Tier | None = None  # None: untiered, judged as tier 1
    approvals_needed: int = 1  # independent validators its tier's policy asks for
    revalidation_months: int = 0  # how long its approval will stand before a revalidation


def review_queue(ctx: ServiceContext, actor: Principal) -> list[Candidate]:
    """Model versions awaiting review or a countersign, oldest first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        mvs = list(
            session.execute(
                select(ModelVersion)
                .where(ModelVersion.state.in_((ModelState.AWAITING_REVIEW, ModelState.AWAITING_COUNTERSIGN)))
                .order_by(ModelVersion.id)
            ).scalars()
        )
        out = []
        for mv in mvs:
            policy = policy_of(ctx, session, mv)
            evaluations = list(
                session.execute(
                    select(Evaluation)
                    .where(Evaluation.model_version_id == mv.id, Evaluation.space == Space.PREPROD)
                    .order_by(Evaluation.id)
                ).scalars()
            )
            ids = [e.id for e in evaluations]
            tests = session.execute(
                select(ModelTestRun.id).where(ModelTestRun.model_version_id == mv.id).order_by(ModelTestRun.id)
            ).scalars()
            pending = session.execute(
                select(Approval)
                .where(Approval.model_version_id == mv.id, Approval.outcome == Outcome.PENDING)
                .order_by(Approval.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            out.append(
                Candidate(
                    mv.id,
                    mv.name,
                    mv.version,
                    mv.artifact_sha256,
                    mv.created_by,
                    dict(mv.metrics),
                    ids,
                    model_test_run_ids=tuple(int(t) for t in tests),
                    state=ModelState(mv.state),
                    pending=None
                    if pending is None or mv.state != ModelState.AWAITING_COUNTERSIGN
                    else PendingApproval(
                        pending.id,
                        pending.decided_by,
                        pending.decided_at,
                        pending.comment,
                        pending.override_reason or "",
                        tuple(pending.overridden or ()),
                    ),
                    blocking=tuple(policy_blocking(session, mv, policy, evaluations)),
                    tier=_inventory.tier_of(session, mv.name),
                    approvals_needed=policy.approvals,
                    revalidation_months=policy.revalidation_months,
                )
            )
    return [
        replace(c, integrity_alerts=tuple(deployments.open_integrity_alerts(ctx, actor, c.model_version_id)))
        for c in out
    ]


@dataclass(frozen=True)
class DecisionInfo:
    """An approval or a rejection: which version, who, when, why, on what evidence, countersigned by whom."""

    model_version_id: int
    model: str  # "name vN"
    outcome: Outcome
    decided_by: str
    decided_at: datetime
    comment: str
    override: str  # the override's reason; empty without one
    evidence: tuple[int, ...]  # the evaluations cited
    approval_id: int = 0
    artifact_sha256: str = ""
    overridden: tuple[str, ...] = ()
    countersigned_by: str = ""
    countersigned_at: datetime | None = None
    countersign_comment: str = ""


def decisions(ctx: ServiceContext, actor: Principal, *, limit: int = 20) -> list[DecisionInfo]:
    """Recent approvals and rejections, newest first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(
            select(Approval, ModelVersion.name, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == Approval.model_version_id)
            .order_by(Approval.id.desc())
            .limit(limit)
        ).all()
        return [
            DecisionInfo(
                model_version_id=a.model_version_id,
                model=f"{name} v{version}",
                outcome=Outcome(a.outcome),
                decided_by=a.decided_by,
                decided_at=a.decided_at,
                comment=a.comment,
                override=a.override_reason or "",
                evidence=tuple(int(i) for i in a.evidence.get("evaluation_ids", [])),
                approval_id=a.id,
                artifact_sha256=a.artifact_sha256,
                overridden=tuple(a.overridden or ()),
                countersigned_by=a.countersigned_by or "",
                countersigned_at=a.countersigned_at,
                countersign_comment=a.countersign_comment or "",
            )
            for a, name, version in rows
        ]


def decision_refused(ctx: ServiceContext, actor: Principal, model_version_id: int) -> str | None:
    """Why ``actor`` may not decide this candidate now, or None when they may (the UI shows it).

    Asking records nothing: only a refused action is audited, not a page that shows the buttons disabled.
    """
    require(ctx, actor, "view")
    not_allowed = authz.refusal(ctx, actor, "approve")
    if not_allowed:
        return not_allowed
    try:
        with ctx.db.read() as session:
            mv = lookup.model_version(session, model_version_id)
            conflict = _duties.conflict(session, actor, mv, "approve or reject")
            if conflict:
                return conflict
            if mv.state not in (ModelState.AWAITING_REVIEW, ModelState.AWAITING_COUNTERSIGN):
                return f"model version {mv.id} is {mv.state}; it was already decided"
    except PipelineError as exc:
        return str(exc)
    return None
