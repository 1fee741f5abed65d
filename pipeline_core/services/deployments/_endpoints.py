"""Deployments: put a model version behind a scoring endpoint in a space; replace, delete, roll back.

A deployment is an endpoint (one per model name and space) that serves one model version
at a time. Replacing the version keeps the endpoint and its keys: the new artifact is
loaded and verified first, then a new revision opens in one transaction, and the scoring
service swaps models only once the new one is loaded, so no request fails. The open
revision is what the deployment serves, and the revisions are where a model version has
been served (in pre-prod, in production, retired): both are read from them, not stored
beside them (``store.models``). Rollback walks back along them to the newest earlier version that
still holds an approval of its artifact, and takes a person's reason (``services.reasons``), kept on
the revision it opens and in its audit event. API keys are random tokens stored as sha256 (they carry
256 bits of entropy, so a slow hash adds nothing but latency) beside their first characters, so that
a person can tell them apart when listing or revoking them.
Every road to a target (deploy, the pipeline's, approval, rollback, putting one back) takes the
artifact through ``_integrity``'s check first; a refusal is recorded there, nothing here.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from pipeline_core.backends.base import ModelToServe, ServedModel
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import (
    ApprovalError,
    ConflictError,
    DataError,
    DeploymentError,
    NotFoundError,
    PermissionDenied,
    PipelineError,
)
from pipeline_core.services import audit, integrations, lookup, reasons
from pipeline_core.services.authz import Principal, allowed, refused, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments._integrity import Checkpoint, verified
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import (
    Approval,
    Dataset,
    Deployment,
    DeploymentKey,
    DeploymentRevision,
    ModelVersion,
    scoring_path,
    username_key,
)
from pipeline_core.vocabulary import (
    DeploymentStatus,
    ModelState,
    Outcome,
    RevisionReason,
    Space,
    decision,
    transition,
)

KEY_PREFIX = "mlk_"
# How much of a token is kept in the clear to tell keys apart: 6 random characters (36 of its 256 bits).
SHOWN_KEY_CHARACTERS = len(KEY_PREFIX) + 6
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeploymentInfo:
    id: int
    name: str
    space: str
    status: str
    model_version_id: int
    model_name: str
    model_version: int
    artifact_sha256: str
    scoring_path: str
    created_by: str
    created_at: datetime
    updated_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class DeployResult:
    deployment: DeploymentInfo
    created: bool
    api_key: str | None  # shown once, when the deployment is created


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _info(session: Session, dep: Deployment) -> DeploymentInfo:
    mv = session.get(ModelVersion, dep.model_version_id)
    assert mv is not None  # foreign key
    return DeploymentInfo(
        dep.id,
        dep.name,
        dep.space,
        dep.status,
        mv.id,
        mv.name,
        mv.version,
        mv.artifact_sha256,
        scoring_path(dep.id),
        dep.created_by,
        dep.created_at,
        dep.updated_at,
    )


def _new_key(session: Session, deployment_id: int, *, label: str, actor: str) -> str:
    key = f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"
    session.add(
        DeploymentKey(
            deployment_id=deployment_id,
            key_hash=hash_key(key),
            prefix=key[:SHOWN_KEY_CHARACTERS],
            label=label,
            created_by=actor,
            created_at=utcnow(),
        )
    )
    return key


def _to_serve(ctx: ServiceContext, actor: Principal, mv_id: int, space: str, *, at: Checkpoint) -> ModelToServe:
    """Model version ``mv_id``'s verified artifact and spec, as a deployment target takes them.

    ``ModelIntegrityError`` (recorded, at checkpoint ``at``) if the artifact is missing, altered or does not load.
    """
    with ctx.db.read() as session:
        mv = lookup.model_version(session, mv_id)
        if mv.state == ModelState.FAILED:  # its run did not succeed: never served anywhere again
            raise DeploymentError(f"model version {mv_id} is failed (its run did not succeed); it cannot be deployed")
        dataset = session.get(Dataset, mv.dataset_id)
        assert dataset is not None  # foreign key
        name, version, sha, spec = mv.name, mv.version, mv.artifact_sha256, DataSpec.from_dict(dataset.spec)
    # The new version is proven ready before the old one is retired, and before anything is written.
    artifact = verified(ctx, actor, mv_id, sha, at=at).artifact
    described = f"{name} version {version} (model version {mv_id}), artifact sha256 {sha}"
    # The target gets the plain word: it is its own vocabulary from here (its messages, its documents).
    return ModelToServe(
        name=f"{name}-{space}",
        space=Space(space).value,
        artifact=artifact,
        artifact_sha256=sha,
        spec=spec,
        description=described,
    )


def _served(dep: Deployment | None) -> ServedModel | None:
    return ServedModel.from_dict(dep.served) if dep is not None and dep.served else None


def _moves(
    session: Session, mv: ModelVersion, space: Space, serving: int | None
) -> list[tuple[ModelVersion, ModelState]]:
    """The state changes of serving ``mv`` in ``space`` where version ``serving`` is served now.

    Each goes through ``transition()``, so an illegal one (a rejected version to prod) raises
    ``ConflictError`` naming both states. Pre-prod moves only a freshly trained version; prod moves
    the version in, and the one it replaces out; serving in prod what it already serves moves nothing.
    Nothing writes them: the revision ``_record`` opens is the move, and it checks that it is.
    """
    what = f"model version {mv.id}"
    if space == Space.PREPROD:
        return [(mv, transition(mv.state, ModelState.IN_PREPROD, what=what))] if mv.state == ModelState.TRAINED else []
    if space != Space.PROD or (serving == mv.id and mv.state == ModelState.IN_PRODUCTION):
        return []
    moves = [(mv, transition(mv.state, ModelState.IN_PRODUCTION, what=what))]
    if serving is not None and serving != mv.id:
        replaced = session.get(ModelVersion, serving)
        assert replaced is not None  # foreign key
        moves.append((replaced, transition(replaced.state, ModelState.RETIRED, what=f"model version {serving}")))
    return moves


def _space(space: str) -> Space:
    try:
        return Space(space)
    except ValueError:
        raise DeploymentError(f"space {space!r} is not one of {[s.value for s in Space]}") from None


def _active(session: Session, space: Space, model_name: str) -> Deployment | None:
    """The active deployment of model ``model_name`` in ``space``: what identifies a deployment."""
    return session.execute(
        select(Deployment).where(
            Deployment.model_name == model_name, Deployment.space == space, Deployment.status == DeploymentStatus.ACTIVE
        )
    ).scalar_one_or_none()


def _put(
    ctx: ServiceContext, actor: Principal, mv_id: int, space: str, *, reason: RevisionReason, comment: str | None = None
) -> DeployResult:
    """Deploy (or replace with) model version ``mv_id`` in ``space``; no role check here.

    The deployment target puts the model online first (replacing keeps the endpoint up); the
    store records it in one transaction after. If that transaction fails, the target is put
    back as it was, so the store and what is served never disagree. An illegal state change
    is refused before the target is touched, and again (authoritatively) in that transaction.
    """
    where = _space(space)
    at = Checkpoint(reason.value)  # the revision reasons are checkpoints' words
    model = _to_serve(ctx, actor, mv_id, where, at=at)
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None  # _to_serve found it
        current = _active(session, where, mv.name)
        before, before_mv = _served(current), (current.model_version_id if current is not None else None)
        _moves(session, mv, where, before_mv)
    served = ctx.deployments.deploy(model, replacing=before)
    try:
        # a new endpoint is subscribed in the external monitor service; a replaced one keeps its subscription
        subscribed = integrations.openscale_subscribe(ctx, actor, served, model) if current is None else None
        sub = (
            (subscribed.to_dict() if subscribed is not None else None)
            if current is None
            else (current.served or {}).get(integrations.OPENSCALE_KEY)
        )
        document = {**served.to_dict(), **({integrations.OPENSCALE_KEY: sub} if sub else {})}
        return _record(
            ctx,
            actor.username,
            mv_id,
            where,
            reason=reason,
            served=document,
            sha=model.artifact_sha256,
            comment=comment,
        )
    except BaseException:
        _put_back(ctx, actor, served, before, before_mv, where, at=at)
        raise


def _put_back(
    ctx: ServiceContext,
    actor: Principal,
    served: ServedModel,
    before: ServedModel | None,
    before_mv: int | None,
    space: str,
    *,
    at: Checkpoint,
) -> None:
    """Undo ``served`` on the target after the store refused to record it."""
    try:
        if before is None or before_mv is None:
            ctx.deployments.delete(served)
        else:
            ctx.deployments.deploy(_to_serve(ctx, actor, before_mv, space, at=at), replacing=served)
    except PipelineError as exc:  # the original error matters more; this one is logged
        log.error("deployment %s could not be put back after a failed store write: %s", served.deployment_id, exc)


def _record(
    ctx: ServiceContext,
    actor: str,
    mv_id: int,
    space: Space,
    *,
    reason: RevisionReason,
    served: dict[str, Any],
    sha: str,
    comment: str | None,
) -> DeployResult:
    now = utcnow()
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        dep = _active(session, space, mv.name)
        moves = _moves(session, mv, space, dep.model_version_id if dep is not None else None)
        key = None
        created = dep is None
        if dep is None:
            dep = Deployment(
                model_name=mv.name,
                space=space,
                status=DeploymentStatus.ACTIVE,
                served=served,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            session.add(dep)
            session.flush()
            key = _new_key(session, dep.id, label="created with the deployment", actor=actor)
            previous = None
        else:
            previous = dep.model_version_id
            session.execute(
                update(DeploymentRevision)
                .where(DeploymentRevision.deployment_id == dep.id, DeploymentRevision.ended_at.is_(None))
                .values(ended_at=now)
            )
            dep.updated_at = now
        dep.served = served
        session.add(
            DeploymentRevision(
                deployment_id=dep.id,
                model_version_id=mv_id,
                artifact_sha256=sha,
                reason=reason,
                actor=actor,
                started_at=now,
                comment=comment,
            )
        )
        for version, _ in moves:  # a state kept from before revisions existed (0010) gives way to its decision
            version.review_state = decision(version.review_state)
        _check_moved(session, dep, mv_id, moves)
        audit.record(
            session,
            actor=actor,
            action="deployment.created" if created else "deployment.replaced",
            object_type="deployment",
            object_id=dep.id,
            details={
                "space": space,
                "model_version_id": mv_id,
                "previous_model_version_id": previous,
                "artifact_sha256": sha,
                "reason": reason,
                **({"comment": comment} if comment is not None else {}),
                "backend": served["backend"],
                "served_as": served["deployment_id"],
            },
        )
        info = _info(session, dep)
    return DeployResult(info, created, key)


def _check_moved(session: Session, dep: Deployment, mv_id: int, moves: list[tuple[ModelVersion, ModelState]]) -> None:
    """Read back what the new revision derives: ``dep`` serves ``mv_id``, and every move landed where it was allowed.

    The derived attributes loaded before the revision opened are stale; they are expired and read
    again. A disagreement would mean the state table and the derivation (``vocabulary.derived_state``)
    parted ways; the transaction is refused rather than record a state nobody decided.
    """
    session.flush()
    session.expire(dep, ["model_version_id"])
    for version, _ in moves:
        session.expire(version, ["deployed_state"])
    if dep.model_version_id != mv_id:
        raise ConflictError(
            f"deployment {dep.id}'s revisions say it serves model version {dep.model_version_id}, not {mv_id}"
        )
    wrong = [f"model version {v.id} to {v.state}, not {state}" for v, state in moves if v.state != state]
    if wrong:
        raise ConflictError(f"the new revision of deployment {dep.id} moved " + "; ".join(wrong))


def deploy(ctx: ServiceContext, actor: Principal, model_version_id: int, *, space: str) -> DeployResult:
    """Deploy to dev or preprod. Production is reached only through an approval."""
    require(ctx, actor, "deploy_nonprod")
    if space == Space.PROD:
        raise DeploymentError("deploying to prod goes through approve() and its production deployment check")
    return _put(ctx, actor, model_version_id, space, reason=RevisionReason.DEPLOY)


def deploy_candidate(ctx: ServiceContext, actor: Principal, model_version_id: int) -> DeployResult:
    """The pipeline's own pre-prod deployment of the candidate it trained (the system principal only)."""
    require(ctx, actor, "deploy_candidate")
    return _put(ctx, actor, model_version_id, Space.PREPROD, reason=RevisionReason.PIPELINE)


def deploy_to_production(ctx: ServiceContext, actor: Principal, model_version_id: int) -> DeployResult:
    """Serve an approved model version in prod: the one road there, taken by ``approve`` (validators only).

    Whoever calls it, the store is asked again here, at the moment of the deployment, for an
    approval of this version's exact artifact; without one nothing is touched.
    """
    require(ctx, actor, "approve")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        approved = session.execute(
            select(Approval.id).where(
                Approval.model_version_id == mv.id,
                Approval.outcome == Outcome.APPROVED,
                Approval.artifact_sha256 == mv.artifact_sha256,
            )
        ).first()
    if approved is None:
        raise ApprovalError(f"model version {model_version_id} has no approval of artifact {mv.artifact_sha256}")
    return _put(ctx, actor, model_version_id, Space.PROD, reason=RevisionReason.APPROVAL)


def issue_key(ctx: ServiceContext, actor: Principal, deployment_id: int, *, label: str) -> str:
    """A new API key for a deployment (data scientists and admins; the pipeline as system)."""
    require(ctx, actor, "deploy_nonprod")
    with ctx.db.write() as session:
        dep = session.get(Deployment, deployment_id)
        if dep is None or dep.status != DeploymentStatus.ACTIVE:
            raise NotFoundError(f"deployment {deployment_id} does not exist or was deleted")
        key = _new_key(session, deployment_id, label=label, actor=actor.username)
        audit.record(
            session,
            actor=actor.username,
            action="deployment.key_issued",
            object_type="deployment",
            object_id=deployment_id,
            details={"label": label},
        )
    return key


@dataclass(frozen=True)
class KeyInfo:
    """An API key as a person may see it: never the token or its hash, only what tells it apart and its story."""

    id: int
    deployment_id: int
    prefix: str | None  # the token's first characters; None for keys issued before they were kept
    label: str
    created_by: str
    created_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _key_info(row: DeploymentKey) -> KeyInfo:
    return KeyInfo(
        row.id,
        row.deployment_id,
        row.prefix,
        row.label,
        row.created_by,
        row.created_at,
        row.revoked_by,
        row.revoked_at,
    )


def list_keys(ctx: ServiceContext, actor: Principal, deployment_id: int) -> list[KeyInfo]:
    """A deployment's API keys, revoked ones too, oldest first (whoever may issue one)."""
    require(ctx, actor, "deploy_nonprod")
    with ctx.db.read() as session:
        if session.get(Deployment, deployment_id) is None:
            raise NotFoundError(f"deployment {deployment_id} does not exist")
        rows = session.execute(
            select(DeploymentKey).where(DeploymentKey.deployment_id == deployment_id).order_by(DeploymentKey.id)
        ).scalars()
        return [_key_info(r) for r in rows]


def revoke_key(ctx: ServiceContext, actor: Principal, key: str | None = None, *, key_id: int | None = None) -> KeyInfo:
    """Revoke an API key, named by its token (``key``) or its id (``key_id``); serving refuses it from its next refresh.

    Whoever may issue a key may revoke one. By id, a prod deployment's key is for an admin to revoke,
    or for whoever issued it: prod's clients score with it, and cutting one off is not a data
    scientist's call. By token, holding the token is the authority (a leaked key is revoked by whoever
    finds it). Revoking a revoked key is a ``ConflictError`` naming when and by whom.
    """
    current = require(ctx, actor, "deploy_nonprod")
    if (key is None) == (key_id is None):
        raise DataError("name the API key to revoke by its token or by its id, not both or neither")
    query = select(DeploymentKey)
    query = query.where(DeploymentKey.id == key_id if key is None else DeploymentKey.key_hash == hash_key(key))
    with ctx.db.read() as session:
        row = _revocable(session, query, key_id)
        dep = session.get(Deployment, row.deployment_id)
        assert dep is not None  # foreign key
        found, space, issuer = row.id, dep.space, row.created_by
    mine = username_key(issuer) == username_key(current.username)
    if key is None and space == Space.PROD and not mine and not allowed(current.role, "revoke_prod_key"):
        message = (
            f"API key {found} of prod deployment {row.deployment_id} was issued by {issuer}; only an admin or "
            f"{issuer} may revoke it, not {current.username} ({current.role})"
        )
        refused(ctx, current, "revoke_prod_key", message, object_id=found)
        raise PermissionDenied(message)
    with ctx.db.write() as session:
        row = _revocable(session, select(DeploymentKey).where(DeploymentKey.id == found), found)
        row.revoked_at, row.revoked_by = utcnow(), current.username
        audit.record(
            session,
            actor=current.username,
            action="deployment.key_revoked",
            object_type="deployment",
            object_id=row.deployment_id,
            details={
                "key_id": row.id,
                "label": row.label,
                "prefix": row.prefix,
                "named_by": "id" if key is None else "token",
            },
        )
        return _key_info(row)


def _revocable(session: Session, query: Select[tuple[DeploymentKey]], key_id: int | None) -> DeploymentKey:
    """The one key ``query`` finds, unrevoked; else ``NotFoundError`` or ``ConflictError`` naming it."""
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"API key {key_id} does not exist" if key_id is not None else "no such API key")
    if row.revoked_at is not None:
        raise ConflictError(
            f"API key {row.id} of deployment {row.deployment_id} was already revoked at "
            f"{row.revoked_at:%Y-%m-%d %H:%M:%S} by {row.revoked_by or 'the product (before revokers were kept)'}"
        )
    return row


def delete_deployment(ctx: ServiceContext, actor: Principal, deployment_id: int) -> None:
    """Retire a dev or preprod endpoint; prod is replaced or rolled back, never just deleted."""
    require(ctx, actor, "delete_deployment")
    with ctx.db.read() as session:
        found = session.get(Deployment, deployment_id)
        if found is None or found.status != DeploymentStatus.ACTIVE:
            raise NotFoundError(f"deployment {deployment_id} does not exist or was already deleted")
        if found.space == Space.PROD:
            raise DeploymentError("a prod deployment is replaced through an approval or rolled back, not deleted")
        served = _served(found)
    if served is not None:  # taken down on the target first: if that fails, the store still says it is up
        ctx.deployments.delete(served)
    with ctx.db.write() as session:
        dep = session.get(Deployment, deployment_id)
        if dep is None or dep.status != DeploymentStatus.ACTIVE:
            raise NotFoundError(f"deployment {deployment_id} does not exist or was already deleted")
        _retire(session, actor, dep)


def _retire(session: Session, actor: Principal, dep: Deployment, *, details: dict[str, Any] | None = None) -> None:
    """Mark ``dep`` deleted in the caller's transaction: its open revision ended, its keys revoked, audited.

    The caller has taken it down on its target first (if that fails, the store still says it is up).
    """
    now = utcnow()
    dep.status, dep.retired_at = DeploymentStatus.DELETED, now
    session.execute(
        update(DeploymentRevision)
        .where(DeploymentRevision.deployment_id == dep.id, DeploymentRevision.ended_at.is_(None))
        .values(ended_at=now)
    )
    session.execute(
        update(DeploymentKey)
        .where(DeploymentKey.deployment_id == dep.id, DeploymentKey.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=actor.username)
    )
    audit.record(
        session,
        actor=actor.username,
        action="deployment.deleted",
        object_type="deployment",
        object_id=dep.id,
        details=details,
    )


@dataclass(frozen=True)
class RollbackTarget:
    """What rolling prod deployment ``deployment_id`` back would serve (``model_version_id``), or None and why not.

    ``explanation`` says it either way, naming each earlier version passed over and why.
    """

    deployment_id: int
    serving: int
    model_version_id: int | None
    explanation: str


def _prod(session: Session, deployment_id: int | None, model_name: str | None) -> Deployment:
    query = select(Deployment).where(Deployment.space == Space.PROD, Deployment.status == DeploymentStatus.ACTIVE)
    if deployment_id is not None:
        query = query.where(Deployment.id == deployment_id)
    if model_name is not None:
        query = query.where(Deployment.model_name == model_name)
    deps = list(session.execute(query).scalars())
    if len(deps) != 1:
        named = f" {deployment_id}" if deployment_id is not None else ""
        named += f" of model {model_name!r}" if model_name is not None else ""
        what = f"no active prod deployment{named}" if not deps else f"{len(deps)} prod deployments; name one"
        raise DeploymentError(f"cannot roll back: {what}")
    return deps[0]


def _target(session: Session, dep: Deployment) -> RollbackTarget:
    """The newest earlier version of ``dep``'s history that may serve in prod again: legal to move there, and
    holding an approval of its exact artifact (each did when it went to prod, unless the history was tampered with).
    """
    current = dep.model_version_id
    rows = session.execute(
        select(DeploymentRevision.model_version_id, DeploymentRevision.ended_at)
        .where(DeploymentRevision.deployment_id == dep.id, DeploymentRevision.model_version_id != current)
        .order_by(DeploymentRevision.id.desc())
    ).all()
    seen: set[int] = set()
    passed: list[str] = []
    for mv_id, ended in rows:
        if mv_id in seen:
            continue
        seen.add(mv_id)
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None  # foreign key
        try:
            transition(mv.state, ModelState.IN_PRODUCTION, what=f"model version {mv_id}")
        except ConflictError as exc:
            passed.append(str(exc))
            continue
        approved = session.execute(
            select(Approval.id).where(
                Approval.model_version_id == mv_id,
                Approval.outcome == Outcome.APPROVED,
                Approval.artifact_sha256 == mv.artifact_sha256,
            )
        ).first()
        if approved is None:
            passed.append(f"model version {mv_id} has no approval of its artifact {mv.artifact_sha256}")
            continue
        until = f" until {ended:%Y-%m-%d %H:%M}" if ended is not None else ""
        skipped = f" (passed over: {'; '.join(passed)})" if passed else ""
        explanation = (
            f"deployment {dep.id} would serve model version {mv_id} ({mv.name} v{mv.version}) again, "
            f"which it served{until}{skipped}"
        )
        return RollbackTarget(dep.id, current, mv_id, explanation)
    why = "; ".join(passed) if passed else f"it has served only model version {current}"
    return RollbackTarget(dep.id, current, None, f"deployment {dep.id} has nothing to roll back to: {why}")


def rollback_target(
    ctx: ServiceContext, actor: Principal, *, deployment_id: int | None = None, model_name: str | None = None
) -> RollbackTarget:
    """What ``rollback`` would serve now, or why nothing (a page offers Roll back only when there is something)."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        return _target(session, _prod(session, deployment_id, model_name))


def rollback(
    ctx: ServiceContext,
    actor: Principal,
    *,
    reason: str,
    deployment_id: int | None = None,
    model_name: str | None = None,
) -> DeployResult:
    """Serve again the newest earlier version of the prod deployment's history that holds a valid approval.

    ``reason`` is the person's why, at least a sentence (``services.reasons``); it is kept on the
    revision this opens and in its audit event. Nothing to roll back to is a ``ConflictError`` that
    names each earlier version passed over and why.
    """
    require(ctx, actor, "rollback")
    said = reasons.sentence(reason, what="the reason for a rollback")
    with ctx.db.read() as session:
        target = _target(session, _prod(session, deployment_id, model_name))
    if target.model_version_id is None:
        raise ConflictError(target.explanation)
    return _put(ctx, actor, target.model_version_id, Space.PROD, reason=RevisionReason.ROLLBACK, comment=said)


def withdraw_from_production(ctx: ServiceContext, actor: Principal, model_version_id: int, *, reason: str) -> int:
    """A revalidation's "retire": the prod deployment serving ``model_version_id`` taken down on its target, its
    revision ended, its keys revoked, the version retired; the deployment's id.

    The one way prod is taken down rather than replaced or rolled back, and only a validator's decision
    (the governance area's revalidation) calls it; ``reason`` is that decision's, kept in the audit event.
    """
    require(ctx, actor, "revalidate")
    said = reasons.sentence(reason, what="the reason for retiring a production model")
    with ctx.db.read() as session:
        found = session.execute(
            select(Deployment).where(
                Deployment.space == Space.PROD,
                Deployment.status == DeploymentStatus.ACTIVE,
                Deployment.model_version_id == model_version_id,
            )
        ).scalar_one_or_none()
        if found is None:
            raise ConflictError(f"model version {model_version_id} is not served in prod; there is nothing to retire")
        served = _served(found)
    if served is not None:  # taken down on the target first: if that fails, the store still says it is up
        ctx.deployments.delete(served)
    with ctx.db.write() as session:
        dep = session.get(Deployment, found.id)
        mv = session.get(ModelVersion, model_version_id)
        if dep is None or dep.status != DeploymentStatus.ACTIVE or mv is None:
            raise ConflictError(f"deployment {found.id} was changed while model version {model_version_id} retired")
        # Checked, not stored: a served state is derived, and ending the prod revision is what retires it.
        transition(mv.state, ModelState.RETIRED, what=f"model version {model_version_id}")
        _retire(session, actor, dep, details={"retired_by_revalidation": True, "reason": said})
        return dep.id


def served_model(ctx: ServiceContext, actor: Principal, deployment_id: int) -> ServedModel | None:
    """Where the deployment target serves an active deployment (None for ones made before targets were recorded)."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        dep = session.get(Deployment, deployment_id)
        if dep is None or dep.status != DeploymentStatus.ACTIVE:
            raise NotFoundError(f"deployment {deployment_id} does not exist or was deleted")
        return _served(dep)


def list_deployments(ctx: ServiceContext, actor: Principal, *, include_deleted: bool = False) -> list[DeploymentInfo]:
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        query = select(Deployment).order_by(Deployment.space, Deployment.id)
        if not include_deleted:
            query = query.where(Deployment.status == DeploymentStatus.ACTIVE)
        return [_info(session, d) for d in session.execute(query).scalars()]


def get_deployment(ctx: ServiceContext, actor: Principal, deployment_id: int) -> DeploymentInfo:
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        dep = session.get(Deployment, deployment_id)
        if dep is None:
            raise NotFoundError(f"deployment {deployment_id} does not exist")
        return _info(session, dep)


@dataclass(frozen=True)
class RevisionInfo:
    """One stretch of a deployment's history: which model version it served, why, from whom, from when until when."""

    model_version_id: int
    reason: RevisionReason
    actor: str
    started_at: datetime
    ended_at: datetime | None
    comment: str | None  # a rollback's reason, in the words of who rolled back; None for the other reasons


def revisions(ctx: ServiceContext, actor: Principal, deployment_id: int) -> list[RevisionInfo]:
    """The deployment's revisions, oldest first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(
            select(DeploymentRevision)
            .where(DeploymentRevision.deployment_id == deployment_id)
            .order_by(DeploymentRevision.id)
        ).scalars()
        return [
            RevisionInfo(r.model_version_id, RevisionReason(r.reason), r.actor, r.started_at, r.ended_at, r.comment)
            for r in rows
        ]


@dataclass(frozen=True)
class ServingEntry:
    """What the scoring service needs to serve one deployment."""

    deployment_id: int
    model_version_id: int
    artifact_sha256: str
    spec: dict[str, Any]
    # Each numeric feature's [min, max] in the training split (from the version's lineage; for a version
    # registered before lineage carried them, the training dataset's schema): outside is warned about.
    training_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


def _training_ranges(lineage: dict[str, Any] | None, schema: dict[str, Any] | None) -> dict[str, tuple[float, float]]:
    stored = (lineage or {}).get("training_ranges")
    if isinstance(stored, dict):
        return {str(n): (float(r[0]), float(r[1])) for n, r in stored.items()}
    columns = (schema or {}).get("columns", ())
    return {
        str(c["name"]): (float(c["min"]), float(c["max"]))
        for c in columns
        if c.get("kind") == "numeric" and c.get("min") is not None and c.get("max") is not None
    }


@dataclass(frozen=True)
class ServingSnapshot:
    deployments: dict[int, ServingEntry]
    keys: dict[str, int]  # sha256 of key -> deployment id


def serving_snapshot(ctx: ServiceContext, actor: Principal) -> ServingSnapshot:
    """Every active deployment and unrevoked key, read in one transaction."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(
            select(
                Deployment.id,
                ModelVersion.id,
                ModelVersion.artifact_sha256,
                Dataset.spec,
                ModelVersion.lineage,
                Dataset.schema,
            )
            .select_from(Deployment)  # the ON clause reads deployments only inside its derived model_version_id
            .join(ModelVersion, ModelVersion.id == Deployment.model_version_id)
            .join(Dataset, Dataset.id == ModelVersion.dataset_id)
            .where(Deployment.status == DeploymentStatus.ACTIVE)
        ).all()
        keys = session.execute(
            select(DeploymentKey.key_hash, DeploymentKey.deployment_id)
            .join(Deployment, Deployment.id == DeploymentKey.deployment_id)
            .where(DeploymentKey.revoked_at.is_(None), Deployment.status == DeploymentStatus.ACTIVE)
        ).all()
    return ServingSnapshot(
        deployments={
            int(d): ServingEntry(int(d), int(m), str(s), dict(spec), _training_ranges(lineage, schema))
            for d, m, s, spec, lineage, schema in rows
        },
        keys={str(h): int(d) for h, d in keys},
    )


def deployment_spec(ctx: ServiceContext, actor: Principal, deployment_id: int) -> DataSpec:
    """The spec of the model an active deployment serves."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        row = session.execute(
            select(Dataset.spec)
            .join(ModelVersion, ModelVersion.dataset_id == Dataset.id)
            .join(Deployment, Deployment.model_version_id == ModelVersion.id)
            .where(Deployment.id == deployment_id, Deployment.status == DeploymentStatus.ACTIVE)
        ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"deployment {deployment_id} does not exist or was deleted")
    return DataSpec.from_dict(dict(row))
