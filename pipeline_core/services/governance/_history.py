"""Production history: which version of a model served production when, approved by whom, on which evidence.

Read from the prod deployments' revisions (each row says which version served from when to when, and
why: an approval or a rollback) and from the approval that let each version there: the newest
approval of that exact artifact decided no later than the period began (a rollback serves a version
approved earlier, so its period names that earlier approval). Nothing here is stored twice: the
revisions are the one record of what was served.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import NotFoundError
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Approval, ApprovalCondition, Deployment, DeploymentRevision, ModelVersion
from pipeline_core.vocabulary import ConditionState, Outcome, Space


@dataclass(frozen=True)
class PeriodCondition:
    """A condition the approval of a production period carries."""

    id: int
    text: str
    owner: str
    due_date: date
    state: ConditionState

    def overdue(self, today: date) -> bool:
        """Open past its due date (derived, never stored)."""
        return self.state == ConditionState.OPEN and self.due_date < today


@dataclass(frozen=True)
class ProductionPeriod:
    """One version's stretch in production: from its revision's start to its end (None: still serving)."""

    model_name: str
    model_version_id: int
    version: int
    artifact_sha256: str
    started_at: datetime
    ended_at: datetime | None
    deployment_id: int
    revision_id: int
    reason: str  # RevisionReason: approval or rollback
    started_by: str
    approval_id: int | None  # None: no approval of this artifact is on record (a history written outside the product)
    approved_by: str | None
    approved_at: datetime | None
    countersigned_by: str | None
    countersigned_at: datetime | None
    expires_at: datetime | None
    conditions: tuple[PeriodCondition, ...]
    evaluation_ids: tuple[int, ...]  # the evaluations the approval cited
    model_test_run_ids: tuple[int, ...]  # the model test runs on screen when it was decided

    def covers(self, moment: datetime) -> bool:
        """Whether this version served production at ``moment`` (naive UTC)."""
        return self.started_at <= moment and (self.ended_at is None or moment < self.ended_at)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether it served at any moment of ``[start, end)``."""
        return self.started_at < end and (self.ended_at is None or self.ended_at > start)


def _window(on: date | datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` of a day, or the one moment of a datetime (an instant's window ends just after it)."""
    if isinstance(on, datetime):
        moment = on if on.tzinfo is None else on.astimezone(UTC).replace(tzinfo=None)  # stored: naive UTC
        return moment, moment + timedelta(microseconds=1)
    start = datetime.combine(on, time())
    return start, start + timedelta(days=1)


def _approval(session: Session, revision: DeploymentRevision) -> Approval | None:
    """The approval that let the revision's artifact into production: the newest one decided by its start."""
    approvals = list(
        session.execute(
            select(Approval)
            .where(
                Approval.model_version_id == revision.model_version_id,
                Approval.artifact_sha256 == revision.artifact_sha256,
                Approval.outcome == Outcome.APPROVED,
            )
            .order_by(Approval.decided_at.desc(), Approval.id.desc())
        ).scalars()
    )
    by_start = [a for a in approvals if a.decided_at <= revision.started_at]
    # None decided by then: a clock step or a planted history; the newest approval is still what it rests on.
    chosen = by_start or approvals
    return chosen[0] if chosen else None


def _conditions(session: Session, approval: Approval | None) -> tuple[PeriodCondition, ...]:
    if approval is None:
        return ()
    rows = session.execute(
        select(ApprovalCondition).where(ApprovalCondition.approval_id == approval.id).order_by(ApprovalCondition.id)
    ).scalars()
    return tuple(PeriodCondition(c.id, c.text, c.owner, c.due_date, ConditionState(c.state)) for c in rows)


def _ids(document: dict[str, object] | None, key: str) -> tuple[int, ...]:
    values = (document or {}).get(key) or []
    return tuple(int(i) for i in values) if isinstance(values, list) else ()


def periods(session: Session, model_name: str) -> list[ProductionPeriod]:
    """Every production period of the model, oldest first; ``NotFoundError`` if no version has that name."""
    if session.execute(select(ModelVersion.id).where(ModelVersion.name == model_name).limit(1)).first() is None:
        raise NotFoundError(f"model {model_name!r} has no version")
    rows = session.execute(
        select(DeploymentRevision, ModelVersion)
        .join(Deployment, Deployment.id == DeploymentRevision.deployment_id)
        .join(ModelVersion, ModelVersion.id == DeploymentRevision.model_version_id)
        .where(ModelVersion.name == model_name, Deployment.space == Space.PROD.value)
        .order_by(DeploymentRevision.started_at, DeploymentRevision.id)
    ).all()
    out: list[ProductionPeriod] = []
    for revision, mv in rows:
        approval = _approval(session, revision)
        out.append(
            ProductionPeriod(
                model_name=model_name,
                model_version_id=mv.id,
                version=mv.version,
                artifact_sha256=revision.artifact_sha256,
                started_at=revision.started_at,
                ended_at=revision.ended_at,
                deployment_id=revision.deployment_id,
                revision_id=revision.id,
                reason=revision.reason,
                started_by=revision.actor,
                approval_id=None if approval is None else approval.id,
                approved_by=None if approval is None else approval.decided_by,
                approved_at=None if approval is None else approval.decided_at,
                countersigned_by=None if approval is None else approval.countersigned_by,
                countersigned_at=None if approval is None else approval.countersigned_at,
                expires_at=None if approval is None else approval.expires_at,
                conditions=_conditions(session, approval),
                evaluation_ids=() if approval is None else _ids(approval.evidence, "evaluation_ids"),
                model_test_run_ids=() if approval is None else _ids(approval.seen, "model_test_run_ids"),
            )
        )
    return out


def production_history(
    ctx: ServiceContext, actor: Principal, model_name: str, *, on: date | datetime | None = None
) -> list[ProductionPeriod]:
    """The model's production periods, oldest first; ``on``: only those serving on that day (or at that moment)."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        found = periods(session, model_name)
    if on is None:
        return found
    start, end = _window(on)
    return [p for p in found if p.overlaps(start, end)]


def served_on(ctx: ServiceContext, actor: Principal, model_name: str, on: date | datetime) -> ProductionPeriod | None:
    """What served production for the model on that day (the last to start that day) or at that moment, or None."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        found = periods(session, model_name)
    start, end = _window(on)
    serving = [p for p in found if p.overlaps(start, end)]
    return serving[-1] if serving else None
