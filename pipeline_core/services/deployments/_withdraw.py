"""Withdrawing failed versions: a dev or pre-prod deployment serving one is put back to the version before.

A model version is failed when the run that trained it did not succeed (``services.runs``). Its run
may have deployed it to pre-prod already (the deploy stage precedes the evaluation), so each such
deployment is put back: to the newest version it served before that is not failed and whose artifact
passes the integrity check, through the same road as any deployment (a revision for the reason
``run_failed``, its audit event), or, when there is none, deleted (its keys revoked, audited). Prod
never serves a failed version: one is never approved.

``withdraw_failed`` looks for every such deployment, not only one version's, so that it is the same
call after a run fails, after the reaper fails one, and again later if either stopped half-way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from pipeline_core.errors import ModelIntegrityError
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments._endpoints import _put, _retire, _served
from pipeline_core.store.models import Deployment, DeploymentRevision, ModelVersion
from pipeline_core.vocabulary import DeploymentStatus, ModelState, RevisionReason, Space

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Withdrawal:
    """A deployment that served a failed version: what it serves now instead (None: it was deleted)."""

    deployment_id: int
    space: Space
    failed_model_version_id: int
    restored_model_version_id: int | None


@dataclass(frozen=True)
class _Serving:
    deployment_id: int
    space: Space
    failed: int
    before: tuple[int, ...]  # the versions it served before, newest first, none of them failed


def _serving_failed(ctx: ServiceContext) -> list[_Serving]:
    with ctx.db.read() as session:
        query = (
            select(Deployment.id, Deployment.space, ModelVersion.id)
            .select_from(Deployment)  # the ON clause reads deployments only inside its derived model_version_id
            .join(ModelVersion, ModelVersion.id == Deployment.model_version_id)
            .where(
                Deployment.status == DeploymentStatus.ACTIVE,
                Deployment.space != Space.PROD,
                ModelVersion.state == ModelState.FAILED,
            )
            .order_by(Deployment.id)
        )
        found = []
        for dep_id, space, failed in session.execute(query).all():
            history = session.execute(
                select(DeploymentRevision.model_version_id)
                .join(ModelVersion, ModelVersion.id == DeploymentRevision.model_version_id)
                .where(DeploymentRevision.deployment_id == dep_id, ModelVersion.state != ModelState.FAILED)
                .order_by(DeploymentRevision.id.desc())
            ).scalars()
            before = tuple(dict.fromkeys(int(v) for v in history))
            found.append(_Serving(int(dep_id), Space(space), int(failed), before))
    return found


def _still_serves(ctx: ServiceContext, serving: _Serving) -> bool:
    with ctx.db.read() as session:
        dep = session.get(Deployment, serving.deployment_id)
        return dep is not None and dep.status == DeploymentStatus.ACTIVE and dep.model_version_id == serving.failed


def _delete(ctx: ServiceContext, actor: Principal, serving: _Serving) -> None:
    """Take the deployment down on its target, then retire it, its revision and its keys in the store, audited."""
    with ctx.db.read() as session:
        dep = session.get(Deployment, serving.deployment_id)
        target = _served(dep)
    if target is not None:  # taken down on the target first: if that fails, the store still says it is up
        ctx.deployments.delete(target)
    with ctx.db.write() as session:
        dep = session.get(Deployment, serving.deployment_id)
        if dep is None or dep.status != DeploymentStatus.ACTIVE:
            return  # someone else retired it meanwhile
        _retire(session, actor, dep, details={"reason": RevisionReason.RUN_FAILED, "model_version_id": serving.failed})


def withdraw_failed(ctx: ServiceContext, actor: Principal) -> list[Withdrawal]:
    """Put back every dev and pre-prod deployment that serves a failed version (the product's housekeeping).

    The pipeline's own action, like its pre-prod deployment of a candidate, which it undoes.
    """
    require(ctx, actor, "deploy_candidate")
    done = []
    for found in _serving_failed(ctx):
        restored, superseded = None, False
        for version in found.before:
            if not _still_serves(ctx, found):  # a newer deployment, or another sweep, since the look: leave it be
                superseded = True
                break
            try:
                _put(ctx, actor, version, found.space, reason=RevisionReason.RUN_FAILED)
            except ModelIntegrityError as exc:  # recorded by the check; the one before it, then
                log.error("deployment %d: model version %d not put back: %s", found.deployment_id, version, exc)
                continue
            restored = version
            break
        if superseded:
            continue
        if restored is None:
            _delete(ctx, actor, found)
        done.append(Withdrawal(found.deployment_id, found.space, found.failed, restored))
        log.warning(
            "deployment %d (%s) served failed model version %d; %s",
            found.deployment_id,
            found.space,
            found.failed,
            f"it serves model version {restored} again" if restored is not None else "it was deleted",
        )
    return done
