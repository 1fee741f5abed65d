"""The append-only audit log, each event chained to the one before it by sha256."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.store.db import utcnow
from pipeline_core.store.models import AuditEvent

GENESIS = "0" * 64


def _digest(
    prev_hash: str, seq: int, at: str, actor: str, action: str, obj_type: str, obj_id: str, details: dict[str, Any]
) -> str:
    payload = json.dumps(
        [prev_hash, seq, at, actor, action, obj_type, obj_id, details],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event in the caller's transaction (so it commits with the change it records)."""
    last = session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one_or_none()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    at = utcnow()
    details = json.loads(json.dumps(details or {}, default=str))
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details,
        prev_hash=prev,
        hash=_digest(prev, seq, at.isoformat(), actor, action, object_type, str(object_id), details),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainStatus:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainStatus:
    """Recompute every hash; report the first event that does not match."""
    prev = GENESIS
    count = 0
    for event in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
        count += 1
        if event.seq != count:
            return ChainStatus(False, count, event.seq, f"sequence gap before event {event.seq}")
        if event.prev_hash != prev:
            return ChainStatus(False, count, event.seq, f"event {event.seq} does not point at its predecessor")
        expected = _digest(
            prev,
            event.seq,
            event.at.isoformat(),
            event.actor,
            event.action,
            event.object_type,
            event.object_id,
            event.details,
        )
        if event.hash != expected:
            return ChainStatus(False, count, event.seq, f"event {event.seq} was altered")
        prev = event.hash
    return ChainStatus(True, count)
