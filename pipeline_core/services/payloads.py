"""Payload records: what the scoring service scored, stored in batches; counts and reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select

from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import PayloadRecord


def store_payload_batch(ctx: ServiceContext, records: Sequence[dict[str, Any]]) -> int:
    """Insert scored records (one transaction for the batch); returns how many."""
    if not records:
        return 0
    with ctx.db.write() as session:
        session.execute(insert(PayloadRecord), list(records))
    return len(records)


def count_payload(ctx: ServiceContext, *, deployment_id: int | None = None) -> int:
    query = select(func.count()).select_from(PayloadRecord)
    if deployment_id is not None:
        query = query.where(PayloadRecord.deployment_id == deployment_id)
    with ctx.db.read() as session:
        return int(session.execute(query).scalar() or 0)


def recent_payload(
    ctx: ServiceContext, actor: Principal, deployment_id: int, *, limit: int = 100
) -> list[dict[str, Any]]:
    require(actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(
            select(PayloadRecord)
            .where(PayloadRecord.deployment_id == deployment_id)
            .order_by(PayloadRecord.id.desc())
            .limit(limit)
        ).scalars()
        return [
            {"scoring_id": r.scoring_id, "model_version_id": r.model_version_id, "created_at": r.created_at.isoformat(),
             "inputs": r.inputs, "prediction": r.prediction, "probability": r.probability, "warnings": r.warnings}
            for r in rows
        ]  # fmt: skip


def existing_scoring_ids(ctx: ServiceContext, deployment_id: int, scoring_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    ids = list(dict.fromkeys(scoring_ids))
    with ctx.db.read() as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found.update(
                session.execute(
                    select(PayloadRecord.scoring_id).where(
                        PayloadRecord.deployment_id == deployment_id, PayloadRecord.scoring_id.in_(chunk)
                    )
                ).scalars()
            )
    return found
