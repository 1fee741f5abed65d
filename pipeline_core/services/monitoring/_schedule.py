"""The evaluation schedule: which production deployments are due, and one claimed evaluation per due time.

A deployment falls due once its newest evaluation is older than the interval. However many workers
(processes, machines) find it due at the same moment, one evaluates it: each first inserts a claim
on (deployment, the newest evaluation it fell due after), which the store keeps unique. SQLite's
write transactions are serialised; PostgreSQL's unique index makes the second insert fail. The
claim is finished with the evaluation it made, or deleted when none could be made (no traffic yet),
so that a later turn tries again; a claim left unfinished past ``evaluation_claim_timeout``, its
worker gone, may be taken over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError as StoreConflict
from sqlalchemy.orm import Session

from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow
from pipeline_core.services.monitoring._evaluations import EvaluationOutcome, evaluate_deployment
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Deployment, Evaluation, EvaluationClaim
from pipeline_core.vocabulary import DeploymentStatus, Space


@dataclass(frozen=True)
class EvaluationClaimInfo:
    """A worker's claim on a deployment's evaluation due after evaluation ``after_evaluation_id`` (0: none yet)."""

    id: int
    deployment_id: int
    after_evaluation_id: int
    claimed_by: str
    claimed_at: datetime


def due_deployments(ctx: ServiceContext, actor: Principal, *, interval: float) -> list[int]:
    """Active production deployments whose newest evaluation is older than ``interval`` seconds (or absent)."""
    require(ctx, actor, "view")
    cutoff = utcnow() - timedelta(seconds=interval)
    with ctx.db.read() as session:
        deployments = (
            session.execute(
                select(Deployment.id).where(
                    Deployment.space == Space.PROD.value, Deployment.status == DeploymentStatus.ACTIVE.value
                )
            )
            .scalars()
            .all()
        )
        return [d for d in deployments if _due_after(session, d, cutoff) is not None]


def _due_after(session: Session, deployment_id: int, cutoff: datetime) -> int | None:
    """The id of the newest evaluation the deployment fell due after (0: never evaluated); None when not due."""
    newest = session.execute(
        select(Evaluation.id, Evaluation.created_at)
        .where(Evaluation.deployment_id == deployment_id)
        .order_by(Evaluation.id.desc())
        .limit(1)
    ).one_or_none()
    if newest is None:
        return 0
    return newest.id if newest.created_at < cutoff else None


def claim_evaluation(
    ctx: ServiceContext, actor: Principal, deployment_id: int, *, interval: float, claimant: str | None = None
) -> EvaluationClaimInfo | None:
    """Claim the deployment's due evaluation; None when it is not due or another holds the claim.

    ``claimant`` names who holds it (a worker's id; the actor's name by default): the scheduled
    evaluation itself is the system's, whichever worker runs it.
    """
    current = require(ctx, actor, "evaluate_now")
    holder = claimant or current.username
    now = utcnow()
    stale = now - timedelta(seconds=ctx.settings.evaluation_claim_timeout)
    try:
        with ctx.db.write() as session:
            after = _due_after(session, deployment_id, now - timedelta(seconds=interval))
            if after is None:
                return None
            held = session.execute(
                select(EvaluationClaim).where(
                    EvaluationClaim.deployment_id == deployment_id, EvaluationClaim.after_evaluation_id == after
                )
            ).scalar_one_or_none()
            if held is None:
                claim = EvaluationClaim(
                    deployment_id=deployment_id, after_evaluation_id=after, claimed_by=holder, claimed_at=now
                )
                session.add(claim)
                session.flush()
                return EvaluationClaimInfo(claim.id, deployment_id, after, holder, now)
            if held.finished_at is not None or held.claimed_at >= stale:
                return None
            # Its worker is gone: take it over, guarded by the claim time read, so that one taker wins.
            taken = session.execute(
                update(EvaluationClaim)
                .where(EvaluationClaim.id == held.id, EvaluationClaim.claimed_at == held.claimed_at)
                .values(claimed_by=holder, claimed_at=now)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return EvaluationClaimInfo(held.id, deployment_id, after, holder, now)
    except StoreConflict:
        return None  # PostgreSQL: another worker inserted the same claim first


def evaluate_if_due(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    *,
    interval: float,
    window: PayloadWindow | None = None,
    claimant: str | None = None,
) -> EvaluationOutcome | None:
    """Evaluate the deployment if it is due and this call wins its claim; None when another worker has it.

    An ``EvaluationError`` (no traffic in the window) propagates after the claim is deleted, so the
    next turn tries again; the claim of an evaluation made records its id.
    """
    claim = claim_evaluation(ctx, actor, deployment_id, interval=interval, claimant=claimant)
    if claim is None:
        return None
    try:
        outcome = evaluate_deployment(ctx, actor, deployment_id, window=window)
    except BaseException:
        with ctx.db.write() as session:
            session.execute(delete(EvaluationClaim).where(EvaluationClaim.id == claim.id))
        raise
    with ctx.db.write() as session:
        session.execute(
            update(EvaluationClaim)
            .where(EvaluationClaim.id == claim.id)
            .values(finished_at=utcnow(), evaluation_id=outcome.evaluation_id)
        )
    return outcome
