"""Shadows: a candidate model version scoring a production deployment's traffic beside it, and what it said.

A candidate in pre-prod (served by its model's active pre-prod deployment, in pre-prod or awaiting review)
can be put in the shadow of the production deployment of the same model: the scoring service then scores
every production request with it too, after the response is sent, and keeps its answers apart
(``shadow_chunks``, keyed by the production scoring ids). Production's responses and payload are never
the shadow's. Starting and stopping are a data scientist's or a validator's, each with a reason (a
sentence, ``services.reasons``) kept on the row and in its audit event. A deployment has at most one
active shadow: a second start is refused, naming the one that runs (stop it first); the database's
partial unique index refuses it too, whatever races past this check.

A shadow stays active until stopped, but the scoring service scores with it only while it is still a
candidate that production does not serve (``shadow_snapshot``): once it is approved and serves, or is
rejected, it has nothing left to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import pandas as pd
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.data.columnar import decode_frames, encode_frame
from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID
from pipeline_core.errors import ConflictError, DataError, NotFoundError
from pipeline_core.services import audit, lookup, reasons
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments._endpoints import _training_ranges
from pipeline_core.services.deployments._integrity import Checkpoint, verified
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Dataset, Deployment, ModelVersion, ShadowAssignment, ShadowChunk
from pipeline_core.vocabulary import DeploymentStatus, ModelState, Space

# A candidate's states: in pre-prod, or awaiting a decision. Approved, rejected, failed or serving: not a candidate.
SHADOWABLE: frozenset[ModelState] = frozenset(
    {ModelState.IN_PREPROD, ModelState.AWAITING_REVIEW, ModelState.AWAITING_COUNTERSIGN}
)


@dataclass(frozen=True)
class ShadowInfo:
    """A shadow: which candidate, on which production deployment, started and (maybe) stopped by whom and why."""

    id: int
    production_deployment_id: int
    model_version_id: int
    model_name: str
    version: int
    artifact_sha256: str
    started_by: str
    started_at: datetime
    start_reason: str
    stopped_by: str | None
    stopped_at: datetime | None
    stop_reason: str | None

    @property
    def active(self) -> bool:
        return self.stopped_at is None

    @property
    def heading(self) -> str:
        return (
            f"shadow {self.id}: {self.model_name} v{self.version} (model version {self.model_version_id}) "
            f"on prod deployment {self.production_deployment_id}"
        )


@dataclass(frozen=True)
class ShadowEntry:
    """What the scoring service needs to score a deployment's traffic in the shadow."""

    shadow_id: int
    production_deployment_id: int
    model_version_id: int
    artifact_sha256: str
    spec: dict[str, Any]
    training_ranges: dict[str, tuple[float, float]]


@dataclass(frozen=True)
class ShadowOutput:
    """The shadow's answers on one production request: one prediction and probability per scoring id."""

    shadow_id: int
    model_version_id: int
    scoring_ids: tuple[str, ...]
    predictions: tuple[str, ...]
    probabilities: tuple[float, ...]  # of the spec's positive label
    created_at: datetime


INT64_MAX = 2**63 - 1


def _known(value: int, what: str) -> int:
    """``value`` if it can name a row; a number no database integer holds names nothing (``NotFoundError``)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= INT64_MAX:
        raise NotFoundError(f"{what} {value!r} does not exist")
    return value


def _info(session: Session, row: ShadowAssignment) -> ShadowInfo:
    mv = session.get(ModelVersion, row.model_version_id)
    assert mv is not None  # foreign key
    return ShadowInfo(
        row.id,
        row.production_deployment_id,
        row.model_version_id,
        mv.name,
        mv.version,
        row.artifact_sha256,
        row.started_by,
        row.started_at,
        row.start_reason,
        row.stopped_by,
        row.stopped_at,
        row.stop_reason,
    )


def _active_shadow(session: Session, deployment_id: int) -> ShadowAssignment | None:
    return session.execute(
        select(ShadowAssignment).where(
            ShadowAssignment.production_deployment_id == deployment_id, ShadowAssignment.stopped_at.is_(None)
        )
    ).scalar_one_or_none()


def _check_shadowable(session: Session, deployment_id: int, mv: ModelVersion) -> Deployment:
    """The production deployment ``mv`` may shadow, or the ``ConflictError``/``NotFoundError`` saying why not."""
    dep = session.get(Deployment, deployment_id)
    if dep is None or dep.status != DeploymentStatus.ACTIVE:
        raise NotFoundError(f"deployment {deployment_id} does not exist or was deleted")
    if dep.space != Space.PROD:
        raise ConflictError(
            f"deployment {deployment_id} is a {dep.space} deployment; a shadow scores production traffic: "
            "name the prod deployment"
        )
    if mv.name != dep.model_name:
        raise ConflictError(
            f"model version {mv.id} is of model {mv.name!r}; prod deployment {deployment_id} serves model "
            f"{dep.model_name!r}: a shadow must be a version of the same model"
        )
    if mv.id == dep.model_version_id:
        raise ConflictError(
            f"model version {mv.id} is what prod deployment {deployment_id} serves; it cannot shadow itself"
        )
    state = ModelState(mv.state)
    if state not in SHADOWABLE:
        raise ConflictError(
            f"model version {mv.id} is {state}; only a candidate ({', '.join(sorted(SHADOWABLE))}) can be put in "
            "the shadow"
        )
    preprod = session.execute(
        select(Deployment).where(
            Deployment.model_name == mv.name,
            Deployment.space == Space.PREPROD,
            Deployment.status == DeploymentStatus.ACTIVE,
        )
    ).scalar_one_or_none()
    if preprod is None or preprod.model_version_id != mv.id:
        serving = (
            "no active pre-prod deployment"
            if preprod is None
            else f"pre-prod deployment {preprod.id} serves model version {preprod.model_version_id}"
        )
        raise ConflictError(
            f"model version {mv.id} is not in pre-prod ({mv.name} has {serving}); only the candidate pre-prod "
            "serves can be put in the shadow"
        )
    running = _active_shadow(session, deployment_id)
    if running is not None:
        raise ConflictError(
            f"prod deployment {deployment_id} already has an active shadow: shadow {running.id} (model version "
            f"{running.model_version_id}, started by {running.started_by} at {running.started_at:%Y-%m-%d %H:%M}); "
            "stop it first"
        )
    return dep


def start_shadow(
    ctx: ServiceContext, actor: Principal, *, production_deployment_id: int, model_version_id: int, reason: str
) -> ShadowInfo:
    """Put candidate ``model_version_id`` in the shadow of prod deployment ``production_deployment_id``.

    Refused (naming why) unless the deployment is an active prod one of the same model, the version is a
    candidate its model's pre-prod deployment serves, its artifact passes the integrity check, and the
    deployment has no active shadow. The scoring service starts scoring with it within its refresh.
    """
    current = require(ctx, actor, "shadow")
    said = reasons.sentence(reason, what=f"the reason for shadowing prod deployment {production_deployment_id}")
    _known(production_deployment_id, "deployment")
    _known(model_version_id, "model version")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        _check_shadowable(session, production_deployment_id, mv)
        sha = mv.artifact_sha256
    # Before anything is written: a candidate whose bytes are not the ones reviewed never shadows (recorded there).
    verified(ctx, current, model_version_id, sha, at=Checkpoint.SHADOW, deployment_id=production_deployment_id)
    try:
        with ctx.db.write() as session:
            mv = lookup.model_version(session, model_version_id)
            _check_shadowable(session, production_deployment_id, mv)  # again, authoritatively, under the write lock
            row = ShadowAssignment(
                production_deployment_id=production_deployment_id,
                model_version_id=model_version_id,
                artifact_sha256=sha,
                started_by=current.username,
                started_at=utcnow(),
                start_reason=said,
            )
            session.add(row)
            session.flush()
            audit.record(
                session,
                actor=current.username,
                action="shadow.started",
                object_type="deployment",
                object_id=production_deployment_id,
                details={
                    "shadow_id": row.id,
                    "model_version_id": model_version_id,
                    "artifact_sha256": sha,
                    "reason": said,
                },
            )
            return _info(session, row)
    except sa_exc.IntegrityError as exc:  # the partial unique index: another start won the race
        raise ConflictError(f"prod deployment {production_deployment_id} already has an active shadow") from exc


def stop_shadow(ctx: ServiceContext, actor: Principal, shadow_id: int, *, reason: str) -> ShadowInfo:
    """Stop shadow ``shadow_id``, saying why; what it said so far stays for the comparison."""
    current = require(ctx, actor, "shadow")
    said = reasons.sentence(reason, what=f"the reason for stopping shadow {shadow_id}")
    _known(shadow_id, "shadow")
    with ctx.db.write() as session:
        row = session.get(ShadowAssignment, shadow_id)
        if row is None:
            raise NotFoundError(f"shadow {shadow_id} does not exist")
        if row.stopped_at is not None:
            raise ConflictError(
                f"shadow {shadow_id} was already stopped by {row.stopped_by} at {row.stopped_at:%Y-%m-%d %H:%M:%S}"
            )
        row.stopped_by, row.stopped_at, row.stop_reason = current.username, utcnow(), said
        audit.record(
            session,
            actor=current.username,
            action="shadow.stopped",
            object_type="deployment",
            object_id=row.production_deployment_id,
            details={"shadow_id": row.id, "model_version_id": row.model_version_id, "reason": said},
        )
        return _info(session, row)


def list_shadows(
    ctx: ServiceContext,
    actor: Principal,
    *,
    production_deployment_id: int | None = None,
    model_version_id: int | None = None,
    active_only: bool = False,
) -> list[ShadowInfo]:
    """Shadows, newest first; only those of a deployment or a model version, only active ones, when asked."""
    require(ctx, actor, "view")
    query = select(ShadowAssignment).order_by(ShadowAssignment.id.desc())
    if production_deployment_id is not None:
        _known(production_deployment_id, "deployment")
        query = query.where(ShadowAssignment.production_deployment_id == production_deployment_id)
    if model_version_id is not None:
        query = query.where(ShadowAssignment.model_version_id == model_version_id)
    if active_only:
        query = query.where(ShadowAssignment.stopped_at.is_(None))
    with ctx.db.read() as session:
        return [_info(session, row) for row in session.execute(query).scalars()]


def get_shadow(ctx: ServiceContext, actor: Principal, shadow_id: int) -> ShadowInfo:
    require(ctx, actor, "view")
    _known(shadow_id, "shadow")
    with ctx.db.read() as session:
        row = session.get(ShadowAssignment, shadow_id)
        if row is None:
            raise NotFoundError(f"shadow {shadow_id} does not exist")
        return _info(session, row)


def shadow_snapshot(ctx: ServiceContext, actor: Principal) -> list[ShadowEntry]:
    """The shadows the scoring service scores with now: active, on an active prod deployment, still a candidate."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(
            select(ShadowAssignment, ModelVersion, Dataset.spec, Dataset.schema)
            .join(Deployment, Deployment.id == ShadowAssignment.production_deployment_id)
            .join(ModelVersion, ModelVersion.id == ShadowAssignment.model_version_id)
            .join(Dataset, Dataset.id == ModelVersion.dataset_id)
            .where(ShadowAssignment.stopped_at.is_(None), Deployment.status == DeploymentStatus.ACTIVE)
        ).all()
        return [
            ShadowEntry(
                row.id,
                row.production_deployment_id,
                row.model_version_id,
                row.artifact_sha256,
                dict(spec),
                _training_ranges(mv.lineage, schema),
            )
            for row, mv, spec, schema in rows
            if ModelState(mv.state) in SHADOWABLE and mv.artifact_sha256 == row.artifact_sha256
        ]


def store_shadow_outputs(ctx: ServiceContext, actor: Principal, outputs: Sequence[ShadowOutput]) -> int:
    """Store shadow answers as one columnar chunk per shadow, in one transaction; the records stored."""
    require(ctx, actor, "log_shadow")
    stored = 0
    chunks = []
    for shadow_id, group in groupby(sorted(outputs, key=lambda o: o.shadow_id), key=lambda o: o.shadow_id):
        batch = list(group)
        frame = pd.DataFrame(
            {
                SCORING_ID: [s for o in batch for s in o.scoring_ids],
                PREDICTION: [p for o in batch for p in o.predictions],
                PROBABILITY: [float(p) for o in batch for p in o.probabilities],
            }
        )
        try:
            data = encode_frame(frame, categorical=(PREDICTION,))
        except DataError as exc:
            raise DataError(f"shadow {shadow_id}: its answers cannot be encoded: {exc}") from exc
        chunks.append((shadow_id, batch, frame, data))
    with ctx.db.write() as session:
        for shadow_id, batch, frame, data in chunks:
            session.add(
                ShadowChunk(
                    shadow_id=shadow_id,
                    model_version_id=batch[0].model_version_id,
                    first_at=min(o.created_at for o in batch),
                    last_at=max(o.created_at for o in batch),
                    n_records=len(frame),
                    data=data,
                )
            )
            stored += len(frame)
    return stored


def shadow_outputs(ctx: ServiceContext, actor: Principal, shadow_id: int) -> pd.DataFrame:
    """What shadow ``shadow_id`` said: one row per production scoring id (``scoring_id``, ``prediction``,
    ``probability``), oldest first; empty (with those columns) before its first answer."""
    require(ctx, actor, "view")
    _known(shadow_id, "shadow")
    with ctx.db.read() as session:
        if session.get(ShadowAssignment, shadow_id) is None:
            raise NotFoundError(f"shadow {shadow_id} does not exist")
        blobs = list(
            session.execute(
                select(ShadowChunk.data).where(ShadowChunk.shadow_id == shadow_id).order_by(ShadowChunk.id)
            ).scalars()
        )
    if not blobs:
        return pd.DataFrame({SCORING_ID: pd.Series(dtype=object), PREDICTION: [], PROBABILITY: []})
    frame = decode_frames(blobs)
    frame[SCORING_ID] = frame[SCORING_ID].astype(str)
    frame[PREDICTION] = frame[PREDICTION].astype(str)
    # A replayed or retried flush may store an answer twice: one per scoring id.
    return frame.drop_duplicates(SCORING_ID, keep="first").reset_index(drop=True)
