"""The audit chain's tamper evidence on every metadata store: a keyed chain and anchors outside the database.

Each case is what someone with write access to the database (but not the audit key, or with it
but not the anchor log) would try; the guard triggers are dropped first, as such a person would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import delete, insert, select, text, update

from pipeline_core.config import Settings
from pipeline_core.services import audit
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.store.models import AuditEvent


def _drop_guards(ctx: ServiceContext) -> None:
    with ctx.db.write() as session:
        if ctx.db.is_sqlite:
            session.execute(text("DROP TRIGGER audit_events_no_update"))
            session.execute(text("DROP TRIGGER audit_events_no_delete"))
        else:
            session.execute(text("DROP TRIGGER audit_events_no_change ON audit_events"))


def verify(ctx: ServiceContext) -> audit.ChainStatus:
    with ctx.db.read() as session:
        return audit.verify_chain(session)


def record_events(ctx: ServiceContext, n: int) -> None:
    for i in range(n):  # one transaction each, as the product's changes are
        with ctx.db.write() as session:
            audit.record(session, actor="alice", action="thing.done", object_type="thing", object_id=i, details={})


def last_seq(ctx: ServiceContext) -> int:
    with ctx.db.read() as session:
        return int(session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one())


def _edit_middle(ctx: ServiceContext) -> None:
    with ctx.db.write() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(actor="mallory"))


def _delete_middle(ctx: ServiceContext) -> None:
    with ctx.db.write() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq == 5))


def _delete_newest(ctx: ServiceContext) -> None:
    with ctx.db.write() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq > last_seq(ctx) - 3))


def _rehash_from(ctx: ServiceContext, *, key: bytes | None) -> None:
    """Edit event 5 and recompute every hash after it: unkeyed (no key) or with a key."""
    with ctx.db.write() as session:
        rows = list(session.execute(select(AuditEvent).where(AuditEvent.seq >= 4).order_by(AuditEvent.seq)).scalars())
        prev = rows[0].hash
        for row in rows[1:]:
            actor = "mallory" if row.seq == 5 else row.actor
            payload = audit._payload(
                prev, row.seq, row.at.isoformat(), actor, row.action, row.object_type, row.object_id, row.details
            )
            digest = audit._keyed(key, payload) if key is not None else audit._plain(payload)
            session.execute(
                update(AuditEvent).where(AuditEvent.id == row.id).values(actor=actor, prev_hash=prev, hash=digest)
            )
            prev = digest


def _forged_approval(ctx: ServiceContext) -> None:
    """The finding: a ``model_version.approved`` event appended with a correctly recomputed (unkeyed) hash."""
    with ctx.db.write() as session:
        last = session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
        at = last.at
        details = {"approval_id": 99, "artifact_sha256": "f" * 64}
        payload = audit._payload(
            last.hash, last.seq + 1, at.isoformat(), "vera", "model_version.approved", "model_version", "1", details
        )
        session.execute(
            insert(AuditEvent).values(
                seq=last.seq + 1,
                at=at,
                actor="vera",
                action="model_version.approved",
                object_type="model_version",
                object_id="1",
                details=details,
                prev_hash=last.hash,
                hash=audit._plain(payload),
            )
        )


def _stolen_key(ctx: ServiceContext) -> bytes:
    with ctx.db.read() as session:
        return audit._seal(session).key


TAMPERING: dict[str, tuple[Callable[[ServiceContext], None], str]] = {
    "edit a middle event": (_edit_middle, r"event 5 was altered"),
    "delete a middle event": (_delete_middle, r"event 5 is missing"),
    "delete the newest events": (_delete_newest, r"events after \d+ were deleted: anchor \d+ of .* names event \d+"),
    "re-hash the rest without the key": (
        lambda ctx: _rehash_from(ctx, key=None),
        r"event 5 was written without the audit key \(forged\)",
    ),
    "re-hash the rest with a guessed key": (lambda ctx: _rehash_from(ctx, key=b"x" * 32), r"event 5 was altered"),
    "re-hash the rest with the stolen key": (
        lambda ctx: _rehash_from(ctx, key=_stolen_key(ctx)),
        r"event \d+ differs from anchor \d+ .*\(the chain was rewritten from there\)",
    ),
    "append a forged approval": (_forged_approval, r"written without the audit key \(forged\)"),
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_tampering_is_found_and_named(ctx: ServiceContext, how: str) -> None:
    record_events(ctx, 12)
    assert verify(ctx).ok
    _drop_guards(ctx)
    tamper, found = TAMPERING[how]
    tamper(ctx)
    status = verify(ctx)
    assert not status.ok
    assert any(re.search(found, p) for p in status.problems), status.problems


def test_an_altered_or_foreign_anchor_line_is_named(ctx: ServiceContext) -> None:
    record_events(ctx, 3)
    path = ctx.settings.audit_anchor_path
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1]) | {"hash": "0" * 64}
    path.write_text("\n".join([lines[0], json.dumps(edited), lines[2], "not json"]) + "\n")
    problems = verify(ctx).problems
    assert any(p.startswith("anchor 2 of ") and "altered or written without the audit key" in p for p in problems)
    assert any(p.startswith("anchor 4 of ") and p.endswith("is not an anchor") for p in problems)


def test_a_rolled_back_change_anchors_nothing(ctx: ServiceContext) -> None:
    record_events(ctx, 1)
    before = ctx.settings.audit_anchor_path.read_text()
    with pytest.raises(RuntimeError), ctx.db.write() as session:
        audit.record(session, actor="alice", action="thing.done", object_type="thing", object_id=9)
        raise RuntimeError("the change fails after its event")
    assert ctx.settings.audit_anchor_path.read_text() == before and verify(ctx).ok


def test_another_key_finds_every_event_altered(ctx: ServiceContext, settings: Settings) -> None:
    record_events(ctx, 2)
    other = open_context(replace(settings, audit_key="k" * 40))
    try:
        with other.db.read() as session:
            status = audit.verify_chain(session)
    finally:
        other.close()
    assert not status.ok and status.first_bad_seq == 1 and "event 1 was altered" in status.reason
