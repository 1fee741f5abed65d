"""Payload logging's store side: scored records in columnar chunks; windows, counts, scoring ids.

The payload logger hands over a flush of requests; each (deployment, model version) in
it becomes one chunk (``pipeline_core.data.columnar``) plus one ``PayloadBatch`` row per
request saying where its records are. Evaluations read a window of chunks as one frame.

Storing is idempotent by request id (the logger replays its write-ahead log after a crash,
and some of that may be stored already), and it tells two kinds of failure apart: requests
that cannot be encoded raise ``DataError`` naming them (retrying cannot help, so the logger
splits the batch and sets the culprit aside with ``quarantine_payload``); anything else is
the store's trouble, and retrying will help.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from pipeline_core.config import Settings
from pipeline_core.data.columnar import decode_frames, encode_frame
from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID, UNSEEN
from pipeline_core.errors import DataError
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import PayloadBatch, PayloadChunk

# Columns a chunk holds beside the model's input fields.


def scoring_id(request_id: str, index: int) -> str:
    return f"{request_id}-{index}"


def split_scoring_id(value: str) -> tuple[str, int] | None:
    request_id, sep, index = value.rpartition("-")
    if not sep or not request_id or not index.isdigit():
        return None
    return request_id, int(index)


def _chunk_frame(requests: Sequence[dict[str, Any]]) -> pd.DataFrame:
    frames = []
    for r in requests:
        # Fields sorted so every chunk has one column order, whatever order a request used.
        frame = pd.DataFrame(r["values"], columns=r["fields"])[sorted(r["fields"])]
        # An integer in [2**63, 2**64) makes pandas hold its column as uint64: that encodes, but later
        # concatenates with no int64 chunk of the same field, so reading the window would fail instead.
        wide = [c for c in frame.columns if frame[c].dtype == "uint64"]
        if wide:
            raise DataError(f"request {r['request_id']}: field {wide[0]!r} holds an integer beyond 64 bits")
        frame[PREDICTION] = r["predictions"]
        frame[PROBABILITY] = r["probabilities"]
        frame[SCORING_ID] = [scoring_id(r["request_id"], i) for i in range(len(frame))]
        frame[UNSEEN] = r[UNSEEN]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _encoded_chunk(frame: pd.DataFrame) -> bytes:
    wide = [c for c in frame.columns if frame[c].dtype == "uint64"]
    if wide:  # as in _chunk_frame: a chunk of uint64 could not be read with the others
        raise DataError(f"column {wide[0]!r} holds an integer beyond the signed 64-bit range")
    categorical = [c for c in frame.columns if frame[c].dtype == object and c != SCORING_ID]
    return encode_frame(frame, categorical=categorical)


def _add_chunk(
    session: Session,
    deployment_id: int,
    model_version_id: int,
    data: bytes,
    n_records: int,
    first_at: datetime,
    last_at: datetime,
) -> int:
    chunk = PayloadChunk(
        deployment_id=deployment_id,
        model_version_id=model_version_id,
        first_at=first_at,
        last_at=last_at,
        n_records=n_records,
        data=data,
    )
    session.add(chunk)
    session.flush()
    return chunk.id


def _printable(text: str, limit: int = 500) -> str:
    # An error may quote the offending value: a lone surrogate is no UTF-8 and would fail again downstream.
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


@dataclass(frozen=True)
class _Chunk:
    deployment_id: int
    model_version_id: int
    requests: list[dict[str, Any]]
    data: bytes


def _encode_chunks(requests: Sequence[dict[str, Any]]) -> list[_Chunk]:
    """One encoded chunk per (deployment, model version), before any transaction opens."""

    def key(r: dict[str, Any]) -> tuple[int, int]:
        return int(r["deployment_id"]), int(r["model_version_id"])

    chunks = []
    for (deployment_id, model_version_id), group in groupby(sorted(requests, key=key), key=key):
        batch = list(group)
        try:
            data = _encoded_chunk(_chunk_frame(batch))
        except Exception as exc:  # pure computation over these requests: the data is at fault
            ids = ", ".join(str(r["request_id"]) for r in batch[:3]) + (", ..." if len(batch) > 3 else "")
            raise DataError(
                f"payload of deployment {deployment_id} (request(s) {ids}) cannot be encoded: "
                f"{type(exc).__name__}: {_printable(str(exc))}"
            ) from exc
        chunks.append(_Chunk(deployment_id, model_version_id, batch, data))
    return chunks


def _stored_request_ids(session: Session, request_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(request_ids), 500):
        part = list(request_ids[start : start + 500])
        query = select(PayloadBatch.request_id).where(PayloadBatch.request_id.in_(part))
        found.update(session.execute(query).scalars())
    return found


def store_payload_batch(ctx: ServiceContext, actor: Principal, requests: Sequence[dict[str, Any]]) -> int:
    """Store logged requests as columnar chunks in one transaction; returns how many records were new.

    A request whose id is stored already (a replayed write-ahead log) is skipped. Raises
    ``DataError`` when a request cannot be encoded, naming the requests of its chunk.
    """
    require(ctx, actor, "log_payload")
    if not requests:
        return 0
    unique = list({str(r["request_id"]): r for r in requests}.values())
    stored = 0
    try:
        with ctx.db.write() as session:
            present = _stored_request_ids(session, [str(r["request_id"]) for r in unique])
            for chunk in _encode_chunks([r for r in unique if str(r["request_id"]) not in present]):
                batch = chunk.requests
                n_records = sum(int(r["n_records"]) for r in batch)
                chunk_id = _add_chunk(
                    session,
                    chunk.deployment_id,
                    chunk.model_version_id,
                    chunk.data,
                    n_records,
                    min(r["created_at"] for r in batch),
                    max(r["created_at"] for r in batch),
                )
                offsets, offset = [], 0
                for r in batch:
                    offsets.append(offset)
                    offset += int(r["n_records"])
                session.execute(
                    insert(PayloadBatch),
                    [
                        {
                            "request_id": r["request_id"],
                            "deployment_id": chunk.deployment_id,
                            "model_version_id": chunk.model_version_id,
                            "created_at": r["created_at"],
                            "n_records": int(r["n_records"]),
                            "chunk_id": chunk_id,
                            "chunk_offset": o,
                        }
                        for r, o in zip(batch, offsets, strict=True)
                    ],
                )
                stored += n_records
    except sa_exc.DataError as exc:  # the database refused a value of these rows: a retry would too
        raise DataError(f"payload of {len(unique)} request(s) refused by the store: {_printable(str(exc))}") from exc
    return stored


@dataclass(frozen=True)
class QuarantinedPayload:
    """A scored request the store could not take, set aside with why (a line of the quarantine file)."""

    request_id: str
    deployment_id: int | None
    n_records: int
    error: str
    at: datetime


def quarantine_file(settings: Settings) -> Path:
    """Where set-aside requests are kept: one JSON object a line, under the data folder."""
    return settings.data_dir / "payload" / "quarantine.jsonl"


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def quarantine_payload(
    ctx: ServiceContext, actor: Principal, request: Mapping[str, Any], *, error: str
) -> QuarantinedPayload:
    """Keep ``request`` (as received, with ``error``) in the quarantine file, synced, and audit it.

    The file line comes first: if the audit write fails the caller retries, and a request
    quarantined twice is still one (``quarantined_payload`` keeps the first line of an id).
    """
    require(ctx, actor, "log_payload")
    entry = QuarantinedPayload(
        request_id=str(request.get("request_id", "")),
        deployment_id=_int_or_none(request.get("deployment_id")),
        n_records=_int_or_none(request.get("n_records")) or 0,
        error=_printable(error),
        at=datetime.now(UTC).replace(tzinfo=None),
    )
    line = {
        "request_id": entry.request_id,
        "deployment_id": entry.deployment_id,
        "n_records": entry.n_records,
        "error": entry.error,
        "at": entry.at.isoformat(),
        # ensure_ascii: a lone surrogate is kept as its \ud800 escape, so the file is valid UTF-8.
        "request": dict(request),
    }
    text = json.dumps(line, default=str, ensure_ascii=True) + "\n"
    path = quarantine_file(ctx.settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # several service processes may share the file: whole lines only
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    with ctx.db.write() as session:
        audit.record(
            session,
            actor=actor.username,
            action="payload.quarantined",
            object_type="deployment",
            object_id=entry.deployment_id if entry.deployment_id is not None else "unknown",
            details={
                "request_id": entry.request_id,
                "n_records": entry.n_records,
                "error": entry.error,
                "file": str(path),
            },
        )
    return entry


def quarantined_payload(ctx: ServiceContext, actor: Principal) -> list[QuarantinedPayload]:
    """Every request set aside in this data folder, oldest first, one entry per request id."""
    require(ctx, actor, "view")
    path = quarantine_file(ctx.settings)
    if not path.is_file():
        return []
    seen: dict[str, QuarantinedPayload] = {}
    with path.open("r", encoding="ascii", errors="replace") as handle:
        for text in handle:
            try:
                line = json.loads(text)
                entry = QuarantinedPayload(
                    request_id=str(line["request_id"]),
                    deployment_id=_int_or_none(line.get("deployment_id")),
                    n_records=int(line.get("n_records") or 0),
                    error=str(line.get("error", "")),
                    at=datetime.fromisoformat(str(line["at"])),
                )
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash mid-write
            seen.setdefault(entry.request_id, entry)
    return list(seen.values())


_COUNTS: dict[Path, tuple[int, int, int]] = {}


def count_quarantined_payload(ctx: ServiceContext, actor: Principal) -> int:
    """How many requests are set aside (``quarantined_payload``); re-read only when the file changed."""
    require(ctx, actor, "view")
    path = quarantine_file(ctx.settings)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return 0
    cached = _COUNTS.get(path)
    if cached is not None and cached[:2] == (stat.st_size, stat.st_mtime_ns):
        return cached[2]
    count = len(quarantined_payload(ctx, actor))
    _COUNTS[path] = (stat.st_size, stat.st_mtime_ns, count)
    return count


def store_payload_frame(
    ctx: ServiceContext,
    actor: Principal,
    *,
    deployment_id: int,
    model_version_id: int,
    frame: pd.DataFrame,
    request_id: str,
    created_at: datetime,
) -> int:
    """Store already-scored records as one request (bulk loads: imports, benchmarks), as the logger would."""
    require(ctx, actor, "log_payload")
    required = {PREDICTION, PROBABILITY}
    missing = sorted(required - set(frame.columns))
    if missing:
        raise DataError(f"payload frame for deployment {deployment_id} lacks column(s) {missing}")
    out = frame[sorted(c for c in frame.columns if c not in required | {SCORING_ID, UNSEEN})].copy()
    out[PREDICTION] = frame[PREDICTION].astype(str).to_numpy()
    out[PROBABILITY] = frame[PROBABILITY].astype(float).to_numpy()
    out[SCORING_ID] = [scoring_id(request_id, i) for i in range(len(frame))]
    out[UNSEEN] = frame[UNSEEN].to_numpy() if UNSEEN in frame.columns else 0
    data = _encoded_chunk(out)
    with ctx.db.write() as session:
        chunk_id = _add_chunk(session, deployment_id, model_version_id, data, len(out), created_at, created_at)
        batch = PayloadBatch(
            request_id=request_id,
            deployment_id=deployment_id,
            model_version_id=model_version_id,
            created_at=created_at,
            n_records=len(out),
            chunk_id=chunk_id,
            chunk_offset=0,
        )
        session.add(batch)
    return len(out)


@dataclass(frozen=True, kw_only=True)
class PayloadWindow:
    """Which records an evaluation reads: scored records by time, model version, and at most ``max_records``;
    feedback by upload time (the same ``since`` / ``until``) and, with ``feedback_batch``, one upload alone.

    ``since`` after ``until`` is refused (``DataError`` naming both): such a window holds nothing, and an
    evaluation of nothing would read as one of everything gone quiet.
    """

    since: datetime | None = None
    until: datetime | None = None
    model_version_id: int | None = None
    max_records: int | None = None
    feedback_batch: str | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise DataError(
                f"window since {self.since.isoformat()} is after until {self.until.isoformat()}: it holds no records"
            )
        if self.max_records is not None and self.max_records < 1:
            raise DataError(f"window max_records {self.max_records} is not a whole number >= 1")
        if self.feedback_batch is not None and not self.feedback_batch.strip():
            raise DataError("window feedback_batch is blank: name an upload's batch id, or leave it out")

    def describe(self) -> str:
        """The window as a person reads it in a message (``to_dict`` is what an evaluation stores)."""
        since = f"from {self.since:%Y-%m-%d %H:%M:%S}" if self.since else "from the first record"
        until = f"until {self.until:%Y-%m-%d %H:%M:%S}" if self.until else "until now"
        version = f"model version {self.model_version_id}" if self.model_version_id else "every model version"
        newest = f", the newest {self.max_records:,} records" if self.max_records else ""
        batch = f", feedback of batch {self.feedback_batch} only" if self.feedback_batch else ""
        return f"{since} {until}, {version}{newest}{batch}"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "model_version_id": self.model_version_id,
            "max_records": self.max_records,
        }
        if self.feedback_batch is not None:  # without one, the stored window keeps its earlier shape
            out["feedback_batch"] = self.feedback_batch
        return out


def read_payload(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    window: PayloadWindow | None = None,
    *,
    scoring_ids: bool = False,
) -> pd.DataFrame:
    """The scored records of a deployment in ``window``, oldest first, one row per record.

    With ``max_records``, the newest chunks are read until that many records are in.
    Scoring ids are left out unless asked for: a million distinct strings cost more than
    everything else in the frame.
    """
    require(ctx, actor, "view")
    window = window or PayloadWindow()
    query = select(PayloadChunk.id, PayloadChunk.n_records).where(PayloadChunk.deployment_id == deployment_id)
    if window.since is not None:
        query = query.where(PayloadChunk.last_at >= window.since)
    if window.until is not None:
        query = query.where(PayloadChunk.first_at <= window.until)
    if window.model_version_id is not None:
        query = query.where(PayloadChunk.model_version_id == window.model_version_id)
    with ctx.db.read() as session:
        chosen, total = [], 0
        for chunk_id, n in session.execute(query.order_by(PayloadChunk.id.desc())).all():
            if window.max_records is not None and total >= window.max_records:
                break
            chosen.append(chunk_id)
            total += n
        chosen.reverse()
        blobs: list[bytes] = []
        for start in range(0, len(chosen), 500):
            part = chosen[start : start + 500]
            rows: dict[int, bytes] = {
                i: data
                for i, data in session.execute(
                    select(PayloadChunk.id, PayloadChunk.data).where(PayloadChunk.id.in_(part))
                ).tuples()
            }
            blobs.extend(rows[i] for i in part)
    frame = decode_frames(blobs)
    if not scoring_ids and SCORING_ID in frame.columns:
        frame = frame.drop(columns=[SCORING_ID])
    if window.max_records is not None and len(frame) > window.max_records:
        frame = frame.iloc[len(frame) - window.max_records :].reset_index(drop=True)
    return frame


def count_payload(ctx: ServiceContext, actor: Principal, *, deployment_id: int | None = None) -> int:
    """How many scored records are stored (for one deployment, or all)."""
    require(ctx, actor, "view")
    query = select(func.coalesce(func.sum(PayloadBatch.n_records), 0))
    if deployment_id is not None:
        query = query.where(PayloadBatch.deployment_id == deployment_id)
    with ctx.db.read() as session:
        return int(session.execute(query).scalar() or 0)


@dataclass(frozen=True)
class ScoredRecord:
    """One record the service scored: its id, the inputs as received, and what the model said."""

    scoring_id: str
    inputs: dict[str, Any]
    prediction: str
    probability: float
    unseen_categories: int


def recent_payload(
    ctx: ServiceContext, actor: Principal, deployment_id: int, *, limit: int = 100
) -> list[ScoredRecord]:
    """The newest scored records of a deployment, newest first."""
    require(ctx, actor, "view")
    frame = read_payload(ctx, actor, deployment_id, PayloadWindow(max_records=limit), scoring_ids=True)
    extra = {PREDICTION, PROBABILITY, SCORING_ID, UNSEEN}
    inputs = [c for c in frame.columns if c not in extra]
    return [
        ScoredRecord(
            scoring_id=str(row[SCORING_ID]),
            inputs={c: row[c] for c in inputs},
            prediction=str(row[PREDICTION]),
            probability=float(row[PROBABILITY]),
            unseen_categories=int(row[UNSEEN]),
        )
        for row in frame.iloc[::-1].to_dict(orient="records")
    ]


def existing_scoring_ids(
    ctx: ServiceContext, actor: Principal, deployment_id: int, scoring_ids: Sequence[str]
) -> set[str]:
    """The subset of ``scoring_ids`` that name a record this deployment scored."""
    require(ctx, actor, "view")
    wanted: dict[str, list[tuple[str, int]]] = {}
    for value in dict.fromkeys(scoring_ids):
        parts = split_scoring_id(value)
        if parts is not None:
            wanted.setdefault(parts[0], []).append((value, parts[1]))
    found: set[str] = set()
    request_ids = list(wanted)
    with ctx.db.read() as session:
        for start in range(0, len(request_ids), 500):
            chunk = request_ids[start : start + 500]
            rows = session.execute(
                select(PayloadBatch.request_id, PayloadBatch.n_records).where(
                    PayloadBatch.deployment_id == deployment_id, PayloadBatch.request_id.in_(chunk)
                )
            ).all()
            for request_id, n in rows:
                found.update(v for v, i in wanted[request_id] if i < n)
    return found


@dataclass(frozen=True)
class ScoredInputs:
    """The inputs of scored records as the deployment received them, by scoring id."""

    by_scoring_id: Mapping[str, Mapping[str, Any]]

    def __contains__(self, scoring_id: object) -> bool:
        return scoring_id in self.by_scoring_id

    def __getitem__(self, scoring_id: str) -> Mapping[str, Any]:
        return self.by_scoring_id[scoring_id]


def scored_inputs(
    ctx: ServiceContext, actor: Principal, deployment_id: int, scoring_ids: Sequence[str]
) -> ScoredInputs:
    """The inputs as scored of each of ``scoring_ids`` this deployment scored (the others are left out).

    Linked feedback takes its features from here, so a labeller sends only the scoring id and the
    label; only the chunks holding the wanted requests are decoded.
    """
    require(ctx, actor, "view")
    wanted: dict[str, set[str]] = {}
    for value in dict.fromkeys(scoring_ids):
        parts = split_scoring_id(value)
        if parts is not None:
            wanted.setdefault(parts[0], set()).add(value)
    chunk_ids: set[int] = set()
    found: dict[str, dict[str, Any]] = {}
    request_ids = list(wanted)
    with ctx.db.read() as session:
        for start in range(0, len(request_ids), 500):
            rows = session.execute(
                select(PayloadBatch.request_id, PayloadBatch.chunk_id, PayloadBatch.n_records, PayloadBatch.request)
                .where(PayloadBatch.deployment_id == deployment_id)
                .where(PayloadBatch.request_id.in_(request_ids[start : start + 500]))
            ).all()
            for request_id, chunk_id, n_records, request in rows:
                if chunk_id is not None:
                    chunk_ids.add(int(chunk_id))
                elif request:  # logged before payload went columnar (0004): the request's own JSON
                    found.update(_legacy_inputs(request_id, int(n_records), request, wanted[request_id]))
        blobs = [
            data
            for (data,) in session.execute(
                select(PayloadChunk.data).where(PayloadChunk.id.in_(sorted(chunk_ids))).order_by(PayloadChunk.id)
            ).all()
        ]
    every = set().union(*wanted.values()) if wanted else set()
    for blob in blobs:
        frame = decode_frames([blob])
        frame = frame[frame[SCORING_ID].astype(str).isin(every)]
        inputs = [c for c in frame.columns if c not in (PREDICTION, PROBABILITY, SCORING_ID, UNSEEN)]
        for record in frame.astype(object).to_dict(orient="records"):
            found[str(record[SCORING_ID])] = {c: record[c] for c in inputs}
    return ScoredInputs(found)


def _legacy_inputs(request_id: str, n_records: int, request: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    try:
        block = json.loads(request)["input_data"][0]
        fields, values = list(block["fields"]), list(block["values"])
    except (ValueError, KeyError, IndexError, TypeError):
        return {}
    return {
        sid: dict(zip(fields, values[i], strict=False))
        for i in range(min(n_records, len(values)))
        if (sid := scoring_id(request_id, i)) in wanted
    }
