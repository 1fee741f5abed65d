"""A run that did not succeed leaves nothing serving: its model version is failed, its deployments put back.

The version is committed when ``register`` finishes, before the service stages (model tests, the
pre-prod deployment, the evaluation). A run that then fails, is cancelled or is reaped marks it
failed in the transaction that finishes the run (``fail_version``), so it never reaches the review
queue and cannot be approved; ``withdraw`` then puts back the dev and pre-prod deployments that
serve a failed version (``deployments.withdraw_failed``), and the reaper asks for it at every sweep,
so a process that died between the two is made good by the next one.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import ConflictError, PipelineError
from pipeline_core.services import audit, deployments
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import ModelVersion
from pipeline_core.vocabulary import ModelState, RunState, transition

log = logging.getLogger(__name__)


def fail_version(session: Session, run_id: int, *, actor: str, status: RunState, reason: str) -> int | None:
    """Mark the model version run ``run_id`` registered failed, audited, in the caller's transaction; its id.

    None when the run registered none, or its version cannot move to failed (then it is logged, and the
    run's own end is not held up by it).
    """
    mv = session.execute(select(ModelVersion).where(ModelVersion.run_id == run_id)).scalar_one_or_none()
    if mv is None:
        return None
    try:
        mv.review_state = transition(mv.state, ModelState.FAILED, what=f"model version {mv.id}")
    except ConflictError as exc:
        log.error("run %d ended %s, but %s", run_id, status, exc)
        return None
    audit.record(
        session,
        actor=actor,
        action="model_version.failed",
        object_type="model_version",
        object_id=mv.id,
        details={"run_id": run_id, "run_status": status, "reason": reason},
    )
    return int(mv.id)


def withdraw(ctx: ServiceContext, actor: Principal) -> list[deployments.Withdrawal]:
    """``deployments.withdraw_failed``; a failure is logged, and made good by the reaper's next sweep."""
    try:
        return deployments.withdraw_failed(ctx, actor)
    except PipelineError as exc:
        log.error("putting back the deployments of failed model versions failed (retried at the next sweep): %s", exc)
        return []
