"""The append-only audit log: each event chained to the one before it by a keyed hash, the head anchored outside.

Tamper evidence has three parts, so that someone who can write to the database (a database
administrator, a stolen connection string) cannot rewrite history unnoticed:

- each event's hash is an HMAC-SHA256 over the previous hash and the event, with a key that
  is never stored in the database (``audit_key`` from the environment; the embedded default
  keeps it in a 0600 file in the data folder). An event written without the key, or edited and
  re-hashed without it, does not verify;
- after every committed transaction that appended events, the chain's head (seq and hash,
  itself keyed) is appended to an anchor log outside the database (``audit_anchor_path``), so
  deleting the newest events, or rebuilding the chain from some point, disagrees with an anchor;
- ``verify_chain`` recomputes everything, names each missing or altered event by its seq, and
  checks that the records the events describe (approvals, deployment revisions, roles,
  thresholds) still say what the events say.

Chains written before the key existed verify as a leading stretch of plain sha256 events; once
a keyed event exists, an unkeyed one after it is reported as forged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import ConfigError, StoreError
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, AuditEvent, Deployment, DeploymentRevision, SpecThresholds, User

GENESIS = "0" * 64
SESSION_KEY = "audit"  # where a session's ``info`` carries the ``AuditSeal`` (set by the context's database)
PENDING_HEAD = "audit_head"  # the newest event a session appended, anchored once it commits


@dataclass(frozen=True)
class AnchorLog:
    """An append-only file of chain heads, one keyed JSON line each, outside the database."""

    path: Path

    def append(self, key: bytes, seq: int, head: str, at: datetime) -> None:
        line = {"seq": seq, "hash": head, "at": at.isoformat(timespec="seconds")}
        line["mac"] = _anchor_mac(key, seq, head)
        data = (json.dumps(line, sort_keys=True) + "\n").encode("utf-8")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # One write() of one short line with O_APPEND: lines from several processes never interleave.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """(line number, the anchor or None when the line is not one), oldest first."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for number, text in enumerate(lines, start=1):
                try:
                    found = json.loads(text)
                except ValueError:
                    yield number, None
                    continue
                yield number, found if isinstance(found, dict) else None


@dataclass(frozen=True)
class AuditSeal:
    """The key that seals the chain and the anchor log its head is written to."""

    key: bytes = field(repr=False)
    anchors: AnchorLog


def load_seal(*, key: str, key_file: Path | None, anchor_path: Path) -> AuditSeal:
    """The seal from a configured key, else (the embedded default only) from ``key_file``, made once."""
    if key:
        if len(key) < 32:
            raise ConfigError("the audit key (MLOPS_AUDIT_KEY) must be at least 32 characters")
        return AuditSeal(key.encode("utf-8"), AnchorLog(anchor_path))
    if key_file is None:
        raise ConfigError(
            "the audit key is not set: set MLOPS_AUDIT_KEY (32+ random characters, the same for every process "
            "of this store, kept outside the database) before opening a shared store"
        )
    try:
        if not key_file.exists():
            key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        value = key_file.read_text(encoding="utf-8").strip()
    except FileExistsError:  # another process made it between our check and our create
        value = key_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise StoreError(f"audit key file {str(key_file)!r} cannot be read or made: {exc.strerror}") from exc
    if len(value) < 32:
        raise StoreError(f"audit key file {str(key_file)!r} holds no usable key (under 32 characters)")
    return AuditSeal(value.encode("utf-8"), AnchorLog(anchor_path))


def _seal(session: Session) -> AuditSeal:
    found = session.info.get(SESSION_KEY)
    if not isinstance(found, AuditSeal):
        # Never fall back to an unkeyed chain: a session without the seal was not opened by the product.
        raise StoreError("this database session carries no audit key; open the store through open_context()")
    return found


def _payload(
    prev_hash: str, seq: int, at: str, actor: str, action: str, obj_type: str, obj_id: str, details: dict[str, Any]
) -> bytes:
    return json.dumps(
        [prev_hash, seq, at, actor, action, obj_type, obj_id, details],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode("utf-8")


def _keyed(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _plain(payload: bytes) -> str:
    """The hash of chains written before the key existed."""
    return hashlib.sha256(payload).hexdigest()


def _anchor_mac(key: bytes, seq: int, head: str) -> str:
    return hmac.new(key, f"anchor:{seq}:{head}".encode(), hashlib.sha256).hexdigest()


def sign(session: Session, payload: bytes) -> str:
    """An HMAC-SHA256 of ``payload`` with the audit key (hex): what the product vouches for outside the database.

    Prefixed so that no signature is ever an event's hash (a JSON list) or an anchor's mac (``anchor:``).
    """
    return _keyed(_seal(session).key, b"signature:" + payload)


def verify_signature(session: Session, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` is ``sign(session, payload)``, compared in constant time."""
    return hmac.compare_digest(signature.encode("utf-8", "replace"), sign(session, payload).encode("ascii"))


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
    seal = _seal(session)
    last = session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one_or_none()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    at = utcnow()
    details = json.loads(json.dumps(details or {}, default=str))
    payload = _payload(prev, seq, at.isoformat(), actor, action, object_type, str(object_id), details)
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details,
        prev_hash=prev,
        hash=_keyed(seal.key, payload),
    )
    session.add(event)
    session.flush()
    _anchor_after_commit(session, seal, seq, event.hash, at)
    return event


def sealed(session: Session, event: AuditEvent) -> bool:
    """Whether ``event``'s hash is the keyed hash of its content: written by the product, with the key, unaltered.

    One event on its own (``verify_chain`` checks its place in the chain); what a reader that trusts one
    event, such as the scoring service's approval check, asks before it does.
    """
    payload = _payload(
        event.prev_hash,
        event.seq,
        event.at.isoformat(),
        event.actor,
        event.action,
        event.object_type,
        event.object_id,
        event.details,
    )
    return hmac.compare_digest(event.hash, _keyed(_seal(session).key, payload))


def _anchor_after_commit(session: Session, seal: AuditSeal, seq: int, head: str, at: datetime) -> None:
    # After the commit only: an anchor names a head that exists; a rolled-back one is never anchored.
    # One anchor per transaction, its newest event: a transaction's events are one change.
    first = PENDING_HEAD not in session.info
    session.info[PENDING_HEAD] = (seq, head, at)
    if not first:
        return

    def write(committed: Session) -> None:
        pending = committed.info.pop(PENDING_HEAD, None)
        if pending is not None:
            seal.anchors.append(seal.key, *pending)

    def forget(rolled_back: Session, _transaction: object) -> None:
        rolled_back.info.pop(PENDING_HEAD, None)

    sa_event.listen(session, "after_commit", write, once=True)
    sa_event.listen(session, "after_soft_rollback", forget, once=True)


def anchor_head(session: Session) -> int | None:
    """Anchor the chain's current head now (the CLI's ``audit anchor``, a clean shutdown); its seq."""
    seal = _seal(session)
    last = session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one_or_none()
    if last is None:
        return None
    seal.anchors.append(seal.key, last.seq, last.hash, utcnow())
    return last.seq


@dataclass(frozen=True)
class ChainStatus:
    """What verifying found: ``ok``, how many events, and each problem (the first one's seq and text too)."""

    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str = ""
    problems: tuple[str, ...] = ()
    anchors: int = 0  # anchors checked


def verify_chain(session: Session) -> ChainStatus:
    """Recompute every hash, check every anchor and the records the events describe; name each problem."""
    seal = _seal(session)
    problems: list[tuple[int | None, str]] = []
    hashes: dict[int, str] = {}
    prev, expected_seq, keyed_seen = GENESIS, 1, False
    events = list(session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())
    for ev in events:
        if ev.seq > expected_seq:
            missing = f"event {expected_seq}" if ev.seq == expected_seq + 1 else f"events {expected_seq}-{ev.seq - 1}"
            problems.append((expected_seq, f"{missing} {'is' if ev.seq == expected_seq + 1 else 'are'} missing"))
        elif ev.prev_hash != prev:
            problems.append((ev.seq, f"event {ev.seq} does not point at its predecessor"))
        payload = _payload(
            ev.prev_hash, ev.seq, ev.at.isoformat(), ev.actor, ev.action, ev.object_type, ev.object_id, ev.details
        )
        if hmac.compare_digest(ev.hash, _keyed(seal.key, payload)):
            keyed_seen = True
        elif hmac.compare_digest(ev.hash, _plain(payload)):
            if keyed_seen:
                problems.append((ev.seq, f"event {ev.seq} was written without the audit key (forged)"))
        else:
            problems.append((ev.seq, f"event {ev.seq} was altered (its hash does not match its content)"))
        hashes[ev.seq] = ev.hash
        prev, expected_seq = ev.hash, ev.seq + 1
    last_seq = expected_seq - 1
    anchors = 0
    for number, anchor in seal.anchors.read():
        anchors += 1
        where = f"anchor {number} of {seal.anchors.path}"
        seq, head = (anchor or {}).get("seq"), (anchor or {}).get("hash")
        if not isinstance(seq, int) or not isinstance(head, str) or not isinstance((anchor or {}).get("mac"), str):
            problems.append((None, f"{where} is not an anchor"))
            continue
        assert anchor is not None
        if not hmac.compare_digest(anchor["mac"], _anchor_mac(seal.key, seq, head)):
            problems.append((None, f"{where} was altered or written without the audit key"))
        elif seq > last_seq:
            problems.append(
                (last_seq + 1, f"events after {last_seq} were deleted: {where} names event {seq} ({anchor.get('at')})")
            )
        elif seq in hashes and hashes[seq] != head:
            problems.append((seq, f"event {seq} differs from {where} (the chain was rewritten from there)"))
    problems += [(None, p) for p in _state_disagreements(session, events)]
    if not problems:
        return ChainStatus(True, len(events), anchors=anchors)
    first_seq, first = problems[0]
    return ChainStatus(False, len(events), first_seq, first, tuple(p for _, p in problems), anchors)


# A decision's outcome -> the audit action that records it as it stands.
_DECISION_ACTIONS = {
    "approved": "model_version.approved",
    "rejected": "model_version.rejected",
    "pending": "model_version.approval_pending",
}


def _state_disagreements(session: Session, events: list[AuditEvent]) -> Iterator[str]:
    """Records that say something no event says: written or edited outside the product."""
    # The newest event of each decision says what it is now (a countersign follows its pending approval).
    decided = {int(e.details.get("approval_id", -1)): e for e in events if e.action in _DECISION_ACTIONS.values()}
    for a in session.execute(select(Approval).order_by(Approval.id)).scalars():
        ev = decided.get(a.id)
        if ev is None:
            yield f"approval {a.id} (model version {a.model_version_id}) has no audit event"
            continue
        if ev.object_id != str(a.model_version_id) or ev.action != _DECISION_ACTIONS.get(a.outcome):
            yield f"approval {a.id} names model version {a.model_version_id} {a.outcome}; its event {ev.seq} does not"
        elif ev.actor != a.decided_by:
            yield f"approval {a.id} says decided by {a.decided_by!r}; its event {ev.seq} says {ev.actor!r}"
        elif "artifact_sha256" in ev.details and ev.details["artifact_sha256"] != a.artifact_sha256:
            yield f"approval {a.id}'s artifact differs from its event {ev.seq}"
        elif (ev.details.get("countersigned_by") or None) != (a.countersigned_by or None):
            yield f"approval {a.id} says countersigned by {a.countersigned_by!r}; its event {ev.seq} does not"
    deployed: dict[str, list[AuditEvent]] = {}
    for e in events:
        if e.action in ("deployment.created", "deployment.replaced"):
            deployed.setdefault(e.object_id, []).append(e)
    revisions: dict[int, list[DeploymentRevision]] = {}
    for r in session.execute(select(DeploymentRevision).order_by(DeploymentRevision.id)).scalars():
        revisions.setdefault(r.deployment_id, []).append(r)
    for dep_id in session.execute(select(Deployment.id)).scalars():
        told = deployed.get(str(dep_id), [])
        history = revisions.get(dep_id, [])
        for i, r in enumerate(history):
            match = next((e for e in told if e.details.get("model_version_id") == r.model_version_id), None)
            if match is None:
                yield f"deployment {dep_id} revision {i + 1} (model version {r.model_version_id}) has no audit event"
            elif match.details.get("artifact_sha256") not in (None, r.artifact_sha256):
                yield f"deployment {dep_id} revision {i + 1}'s artifact differs from its event {match.seq}"
    roles: dict[str, str] = {}
    for e in events:
        if e.action == "user.added" and "role" in e.details:
            roles[e.object_id] = str(e.details["role"])
        elif e.action == "user.role_changed" and "to" in e.details:
            roles[e.object_id] = str(e.details["to"])
    for user in session.execute(select(User).order_by(User.id)).scalars():
        said = roles.get(user.username)
        if said is None:
            yield f"user {user.username!r} has no audit event of being added"
        elif said != user.role:
            yield f"user {user.username!r} is a {user.role}; the audit log last made them a {said}"
    set_to: dict[str, Any] = {}
    for e in events:
        if e.action == "thresholds.changed":
            set_to[e.object_id] = e.details.get("to")
    for row in session.execute(select(SpecThresholds)).scalars():
        if row.spec_name not in set_to:
            yield f"thresholds of spec {row.spec_name!r} have no audit event"
        elif set_to[row.spec_name] != row.thresholds:
            yield f"thresholds of spec {row.spec_name!r} differ from the last audit event that set them"
