"""Reading the audit log: events filtered by actor, action and object, and the chain's status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from pipeline_core.services.audit import ChainStatus, verify_chain
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import AuditEvent


@dataclass(frozen=True)
class AuditEventInfo:
    """One audit event as the log shows it (the hash shortened to the first 12 hex digits)."""

    seq: int
    at: datetime
    actor: str
    action: str
    object: str  # "type id"
    details: dict[str, Any]
    hash: str


def list_events(
    ctx: ServiceContext,
    actor: Principal,
    *,
    who: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 200,
) -> list[AuditEventInfo]:
    """Events newest first; ``action`` matches a prefix (``model_version.`` for all of them)."""
    require(ctx, actor, "view")
    query = select(AuditEvent)
    if who:
        query = query.where(AuditEvent.actor == who)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == str(object_id))
    with ctx.db.read() as session:
        events = session.execute(query.order_by(AuditEvent.seq.desc()).limit(limit)).scalars().all()
        return [
            AuditEventInfo(
                e.seq, e.at, e.actor, e.action, f"{e.object_type} {e.object_id}", dict(e.details), e.hash[:12]
            )
            for e in events
        ]


def chain_status(ctx: ServiceContext, actor: Principal) -> ChainStatus:
    """Every event's hash recomputed: intact, or the first event that was edited or removed."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        return verify_chain(session)
