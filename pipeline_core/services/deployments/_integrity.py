"""Artifact integrity: the one check before a model version is approved, deployed or served; one record of a refusal.

The check: the bytes are in the artifact store, hash to the sha256 the model version names, and
load as a model. Approving, deploying (dev, pre-prod, the pipeline's pre-prod deployment, prod),
rolling back and serving all go through it, and nothing is written for an artifact that fails it.

The record: a failure is an audit event (``model_version.integrity_failed``: which version, the
expected and the found hash, what it stopped) and an open alert, written in a transaction of its
own: the action it stopped writes nothing, and a refusal recorded inside that action's transaction
would be rolled back with it. The alert is raised once while it stays open (the same failure seen
again, by another attempt or a restarted scoring service, is audited but raises no second alert).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from sklearn.pipeline import Pipeline
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import IntegrityError, ModelIntegrityError, NotFoundError, PipelineError
from pipeline_core.model_io import load_model
from pipeline_core.services import audit, lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Alert
from pipeline_core.vocabulary import AlertStatus

# The monitor of an integrity alert (it has no evaluation; migration 0012).
INTEGRITY_MONITOR = "integrity"
log = logging.getLogger(__name__)


class Checkpoint(StrEnum):
    """Where an artifact is checked: the action a failure stops (the revision reasons' words, and serving)."""

    APPROVAL = "approval"  # approve(), deploy_approved(), deploy_to_production()
    DEPLOY = "deploy"  # deploy() to dev or pre-prod
    PIPELINE = "pipeline"  # a run's pre-prod deployment of its candidate
    ROLLBACK = "rollback"  # rollback() in prod
    RUN_FAILED = "run_failed"  # a dev or pre-prod deployment put back from a failed version (withdraw_failed())
    SERVING = "serving"  # the scoring service loading a deployment's model
    SHADOW = "shadow"  # the scoring service loading a candidate to score production traffic in the shadow


# What the alert says the failure stopped.
STOPPED = {
    Checkpoint.APPROVAL: "the approval or prod deployment was refused",
    Checkpoint.DEPLOY: "the deployment was refused",
    Checkpoint.PIPELINE: "the pipeline's pre-prod deployment was refused",
    Checkpoint.ROLLBACK: "the rollback was refused",
    Checkpoint.RUN_FAILED: "it was not put back in place of a failed version",
    Checkpoint.SERVING: "the scoring service does not serve it",
    Checkpoint.SHADOW: "the scoring service does not score production traffic with it in the shadow",
}


@dataclass(frozen=True)
class VerifiedArtifact:
    """A model version's artifact that passed the check: its bytes and the model they load as."""

    model_version_id: int
    artifact_sha256: str
    artifact: bytes
    model: Pipeline


def check(ctx: ServiceContext, model_version_id: int, sha256: str) -> VerifiedArtifact:
    """The artifact ``sha256`` of model version ``model_version_id``, verified; ``ModelIntegrityError`` if it fails."""
    try:
        artifact = ctx.artifacts.get(sha256)  # the store re-hashes every read
    except NotFoundError:
        raise ModelIntegrityError(
            model_version_id, sha256, None, "the artifact store holds no bytes under that hash"
        ) from None
    except IntegrityError as exc:
        found = getattr(exc, "found", None)
        problem = f"its stored bytes hash to {found}" if found else str(exc)
        raise ModelIntegrityError(model_version_id, sha256, found, problem) from exc
    try:
        model = load_model(artifact)
    except Exception as exc:  # whatever unpickling raises, the artifact is not a model that can be served
        raise ModelIntegrityError(
            model_version_id, sha256, sha256, f"its bytes do not load as a model ({type(exc).__name__}: {exc})"
        ) from exc
    return VerifiedArtifact(model_version_id, sha256, artifact, model)


def record_failure(
    ctx: ServiceContext,
    actor: Principal,
    failure: ModelIntegrityError,
    *,
    at: Checkpoint,
    deployment_id: int | None = None,
) -> int:
    """Record ``failure``: its audit event, and its alert unless the same is open, in one transaction; the alert's id.

    The caller has checked nothing of ``actor`` for this: it records what the product saw while
    ``actor`` acted, whoever that was, and it is called only with a failure ``check`` raised.
    """
    message = f"{failure}; {STOPPED[at]}" + (f" (deployment {deployment_id})" if deployment_id is not None else "")
    with ctx.db.write() as session:
        alert_id = raise_alert_once(
            session,
            monitor=INTEGRITY_MONITOR,
            metric="artifact_sha256",
            message=message,
            deployment_id=deployment_id,
            model_version_id=failure.model_version_id,
            per="model_version",
        )
        audit.record(
            session,
            actor=actor.username,
            action="model_version.integrity_failed",
            object_type="model_version",
            object_id=failure.model_version_id,
            details={
                "expected_sha256": failure.expected,
                "found_sha256": failure.found,
                "problem": failure.problem,
                "checkpoint": at,
                "deployment_id": deployment_id,
                "alert_id": alert_id,
            },
        )
    log.error("%s (alert %s)", message, alert_id)
    return int(alert_id)


def verified(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    sha256: str,
    *,
    at: Checkpoint,
    deployment_id: int | None = None,
    record: bool = True,
) -> VerifiedArtifact:
    """``check``; a failure is recorded (``record_failure``, unless ``record`` is false) and raised again.

    Never call it inside a write transaction: the record needs a transaction of its own.
    """
    try:
        return check(ctx, model_version_id, sha256)
    except ModelIntegrityError as failure:
        if record:
            try:
                record_failure(ctx, actor, failure, at=at, deployment_id=deployment_id)
            except PipelineError as exc:  # the refusal stands whether or not the store took its record
                log.error("%s; its record could not be written: %s", failure, exc)
        raise


def verify_artifact(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    at: Checkpoint,
    deployment_id: int | None = None,
    record: bool = True,
) -> VerifiedArtifact:
    """Model version ``model_version_id``'s own artifact, verified (``verified``): whoever may see it may ask.

    ``ModelIntegrityError`` if it fails, recorded (an audit event and an alert) unless ``record`` is false.
    """
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        sha256 = lookup.model_version(session, model_version_id).artifact_sha256
    return verified(ctx, actor, model_version_id, sha256, at=at, deployment_id=deployment_id, record=record)


@dataclass(frozen=True)
class IntegrityAlert:
    """An open integrity alert of a model version: what failed, and when it was seen."""

    alert_id: int
    model_version_id: int
    deployment_id: int | None
    message: str
    raised_at: datetime


def open_integrity_alerts(ctx: ServiceContext, actor: Principal, model_version_id: int) -> list[IntegrityAlert]:
    """The open integrity alerts of model version ``model_version_id``, newest first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(
            select(Alert)
            .where(
                Alert.monitor == INTEGRITY_MONITOR,
                Alert.model_version_id == model_version_id,
                Alert.status == AlertStatus.OPEN,
            )
            .order_by(Alert.id.desc())
        ).scalars()
        return [IntegrityAlert(a.id, a.model_version_id, a.deployment_id, a.message, a.created_at) for a in rows]


def raise_alert_once(
    session: Session,
    *,
    monitor: str,
    metric: str,
    message: str,
    deployment_id: int | None,
    model_version_id: int,
    per: Literal["model_version", "deployment"],
) -> int:
    """The id of the open alert saying ``message`` for this model version (or deployment), raised if there is none.

    A refusal repeated at every refresh or every retry is one alert while it lasts, not one per attempt.
    """
    same = (
        Alert.model_version_id == model_version_id if per == "model_version" else Alert.deployment_id == deployment_id
    )
    found = session.execute(
        select(Alert.id).where(
            Alert.monitor == monitor, same, Alert.status == AlertStatus.OPEN, Alert.message == message
        )
    ).scalar()
    if found is not None:
        return int(found)
    alert = Alert(
        evaluation_id=None,
        deployment_id=deployment_id,
        model_version_id=model_version_id,
        monitor=monitor,
        metric=metric,
        value=None,
        threshold=None,
        message=message,
        status=AlertStatus.OPEN.value,
        created_at=utcnow(),
    )
    session.add(alert)
    session.flush()
    return alert.id
