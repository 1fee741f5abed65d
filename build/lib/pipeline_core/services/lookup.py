"""Stored objects by id, or a ``NotFoundError`` naming what was asked for."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import NotFoundError
from pipeline_core.store.models import ModelVersion


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
