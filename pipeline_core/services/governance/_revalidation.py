"""Revalidation: a validator reviews a production model on its production evidence and renews or retires it.

An approval expires after its tier's revalidation interval (``_approvals``). Before or after that, a
validator who is not one of the model's authors opens the case (``revalidation_case``: the standing
approval and its expiry, every evaluation of the version, newest first, with the production ones
marked, the open conditions) and decides, bound to what the case showed (its evaluation ids, as an
approval is): **renew** (a new expiry from today), **renew with conditions** (the same, with at least
one condition), or **retire** (the prod deployment is taken down and the version retired; its
production check fails from then on). A revalidation is an ``approvals`` row of kind
``revalidation`` (outcome approved for a renewal, rejected for a retirement), audited as
``model_version.revalidated``. It is never a first approval: a candidate is approved, a production
model is revalidated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import ApprovalError, ConfigError, ConflictError, PermissionDenied
from pipeline_core.services import audit, deployments, lookup, reasons
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _conditions, _duties
from pipeline_core.services.governance._approval_policy import add_months
from pipeline_core.services.governance._approvals import policy_of
from pipeline_core.services.governance._conditions import ConditionInfo, ConditionInput
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, ApprovalCondition, Evaluation, ModelVersion
from pipeline_core.vocabulary import ApprovalKind, ConditionState, ModelState, Outcome, RevalidationOutcome, Space


@dataclass(frozen=True)
class EvaluationSeen:
    """One evaluation as a revalidation case lists it."""

    id: int
    space: str
    created_at: datetime
    status: str


@dataclass(frozen=True)
class RevalidationCase:
    """What a validator reviews to revalidate a production model."""

    model_version_id: int
    model_name: str
    version: int
    artifact_sha256: str
    standing_approval_id: int | None  # the approval or revalidation the version serves on now
    expires_at: datetime | None
    expired: bool
    evaluations: tuple[EvaluationSeen, ...]  # newest first
    open_conditions: tuple[ConditionInfo, ...]
    revalidation_months: int


@dataclass(frozen=True)
class RevalidationResult:
    """A revalidation decided: its approvals row, the new expiry (None when retired), what was taken down."""

    revalidation_id: int
    outcome: RevalidationOutcome
    expires_at: datetime | None
    condition_ids: tuple[int, ...] = ()
    retired_deployment_id: int | None = None


def standing(session: Session, mv: ModelVersion) -> Approval | None:
    """The approvals row ``mv`` serves on now: its newest final approval, or a revalidation after it."""
    return session.execute(
        select(Approval)
        .where(
            Approval.model_version_id == mv.id,
            Approval.artifact_sha256 == mv.artifact_sha256,
            Approval.outcome.in_((Outcome.APPROVED, Outcome.REJECTED)),
            (Approval.kind == ApprovalKind.REVALIDATION) | (Approval.outcome == Outcome.APPROVED),
        )
        .order_by(Approval.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _evaluations(session: Session, mv: ModelVersion) -> list[Evaluation]:
    return list(
        session.execute(
            select(Evaluation).where(Evaluation.model_version_id == mv.id).order_by(Evaluation.id.desc())
        ).scalars()
    )


def _in_production(session: Session, actor: Principal, model_version_id: int) -> ModelVersion:
    mv = lookup.model_version(session, model_version_id)
    refused = _duties.conflict(session, actor, mv, "revalidate")
    if refused:
        raise PermissionDenied(refused)
    if mv.state != ModelState.IN_PRODUCTION:
        raise ConflictError(
            f"model version {mv.id} is {mv.state}, not in production: a candidate is approved, only a production "
            "model is revalidated"
        )
    return mv


def revalidation_case(ctx: ServiceContext, actor: Principal, model_version_id: int) -> RevalidationCase:
    """The production model's case for revalidation."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        if mv.state != ModelState.IN_PRODUCTION:
            raise ConflictError(f"model version {mv.id} is {mv.state}, not in production")
        found = standing(session, mv)
        expires = found.expires_at if found is not None else None
        conditions = session.execute(
            select(ApprovalCondition)
            .where(ApprovalCondition.model_version_id == mv.id, ApprovalCondition.state == ConditionState.OPEN)
            .order_by(ApprovalCondition.due_date)
        ).scalars()
        return RevalidationCase(
            model_version_id=mv.id,
            model_name=mv.name,
            version=mv.version,
            artifact_sha256=mv.artifact_sha256,
            standing_approval_id=found.id if found is not None else None,
            expires_at=expires,
            expired=expires is not None and expires <= utcnow(),
            evaluations=tuple(EvaluationSeen(e.id, e.space, e.created_at, e.status) for e in _evaluations(session, mv)),
            open_conditions=tuple(_conditions.info(c) for c in conditions),
            revalidation_months=policy_of(ctx, session, mv).revalidation_months,
        )


def _outcome(value: str) -> RevalidationOutcome:
    try:
        return RevalidationOutcome(value)
    except ValueError:
        raise ConfigError(
            f"revalidation outcome {value!r} is not one of {[o.value for o in RevalidationOutcome]}"
        ) from None


def _check(
    session: Session, mv: ModelVersion, outcome: RevalidationOutcome, evidence: Sequence[int], conditions: int
) -> list[Evaluation]:
    evaluations = _evaluations(session, mv)
    now = sorted(e.id for e in evaluations)
    if sorted({int(i) for i in evidence}) != now:
        raise ApprovalError(
            f"the evidence of model version {mv.id} changed since the case was shown: its evaluations are now "
            f"{now or 'none'}, the form showed {sorted(set(evidence)) or 'none'}. Open the case again"
        )
    if outcome != RevalidationOutcome.RETIRE and not any(e.space == Space.PROD for e in evaluations):
        raise ApprovalError(
            f"model version {mv.id} has no production evaluation: a renewal is decided on production evidence "
            "(evaluate its prod deployment on labelled feedback first)"
        )
    if outcome == RevalidationOutcome.RENEW_WITH_CONDITIONS and not conditions:
        raise ConfigError("a renewal with conditions needs at least one condition")
    if outcome != RevalidationOutcome.RENEW_WITH_CONDITIONS and conditions:
        raise ConfigError(f"a revalidation that ends in {outcome} carries no conditions; renew with conditions")
    return evaluations


def revalidate(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    outcome: str,
    comment: str,
    evidence: Sequence[int],
    conditions: Sequence[ConditionInput] = (),
) -> RevalidationResult:
    """Decide the revalidation of a production model; ``evidence`` is the case's evaluation ids as shown."""
    require(ctx, actor, "revalidate")
    decided = _outcome(outcome)
    said = reasons.sentence(comment, what=f"the revalidation of model version {model_version_id}")
    with ctx.db.write() as session:
        mv = _in_production(session, actor, model_version_id)
        evaluations = _check(session, mv, decided, evidence, len(conditions))
        checked = _conditions.checked(session, conditions, what=f"the revalidation of model version {mv.id}")
        policy = policy_of(ctx, session, mv)
        now = utcnow()
        renews = decided != RevalidationOutcome.RETIRE
        row = Approval(
            model_version_id=mv.id,
            artifact_sha256=mv.artifact_sha256,
            outcome=Outcome.APPROVED if renews else Outcome.REJECTED,
            comment=said,
            evidence={"evaluation_ids": [e.id for e in evaluations]},
            override_reason=None,
            overridden=[],
            seen={
                "evaluation_ids": [e.id for e in evaluations],
                "revalidation": decided.value,
                "policy": {"tier": int(policy.tier), "revalidation_months": policy.revalidation_months},
            },
            decided_by=actor.username,
            decided_at=now,
            kind=ApprovalKind.REVALIDATION,
            expires_at=add_months(now, policy.revalidation_months) if renews else None,
        )
        session.add(row)
        session.flush()
        condition_ids = _conditions.record(session, actor, row, mv, checked)
        audit.record(
            session,
            actor=actor.username,
            action="model_version.revalidated",
            object_type="model_version",
            object_id=mv.id,
            details={
                "revalidation_id": row.id,
                "outcome": decided.value,
                "comment": said,
                "artifact_sha256": mv.artifact_sha256,
                "evidence": [e.id for e in evaluations],
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
                "condition_ids": condition_ids,
            },
        )
        result = RevalidationResult(row.id, decided, row.expires_at, tuple(condition_ids))
    if decided == RevalidationOutcome.RETIRE:
        # After the decision is committed: a target that fails to take it down leaves the decision standing
        # (its production check fails already) and the error told; retrying the withdrawal is the admin's.
        dep_id = deployments.withdraw_from_production(ctx, actor, model_version_id, reason=said)
        result = RevalidationResult(result.revalidation_id, decided, None, (), retired_deployment_id=dep_id)
    return result
