"""Stored objects by id (or a ``NotFoundError`` naming what was asked for), and what a model serves in prod."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import NotFoundError
from pipeline_core.store.models import Deployment, ModelVersion
from pipeline_core.vocabulary import DeploymentStatus, Space


def model_version(session: Session, model_version_id: int, *, for_update: bool = False) -> ModelVersion:
    """Model version ``model_version_id``; with ``for_update``, row-locked (FOR UPDATE on PostgreSQL)."""
    if for_update:
        mv = session.execute(
            select(ModelVersion).where(ModelVersion.id == model_version_id).with_for_update()
        ).scalar_one_or_none()
    else:
        mv = session.get(ModelVersion, model_version_id)
    if mv is None:
        raise NotFoundError(f"model version {model_version_id} does not exist")
    return mv


def in_production(session: Session, model_name: str) -> tuple[int, ModelVersion] | None:
    """The active prod deployment of model ``model_name`` and the version it serves, or None."""
    found = session.execute(
        select(Deployment.id, ModelVersion)
        .join(ModelVersion, ModelVersion.id == Deployment.model_version_id)
        .where(
            Deployment.space == Space.PROD.value,
            Deployment.status == DeploymentStatus.ACTIVE.value,
            Deployment.model_name == model_name,
        )
        .order_by(Deployment.id.desc())
        .limit(1)
    ).one_or_none()
    return None if found is None else (int(found[0]), found[1])
