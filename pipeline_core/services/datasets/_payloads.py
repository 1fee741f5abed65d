"""Payload logging's store side: scored records in columnar chunks; windows, counts, scoring ids.

The payload logger hands over a flush of requests; each (deployment, model version) in
it becomes one chunk (``pipeline_core.data.columnar``) plus one ``PayloadBatch`` row per
request saying where its records are. Evaluations read a window of chunks as one frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from pipeline_core.data.columnar import decode_frames, encode_frame
from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID, UNSEEN
from pipeline_core.errors import DataError
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
        frame[PREDICTION] = r["predictions"]
        frame[PROBABILITY] = r["probabilities"]
        frame[SCORING_ID] = [scoring_id(r["request_id"], i) for i in range(len(frame))]
        frame[UNSEEN] = r[UNSEEN]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _add_chunk(
    session: Session,
    deployment_id: int,
    model_version_id: int,
    frame: pd.DataFrame,
    first_at: datetime,
    last_at: datetime,
) -> int:
    categorical = [c for c in frame.columns if frame[c].dtype == object and c != SCORING_ID]
    data = encode_frame(frame, categorical=categorical)
    chunk = PayloadChunk(
        deployment_id=deployment_id,
        model_version_id=model_version_id,
        first_at=first_at,
        last_at=last_at,
        n_records=len(frame),
        data=data,
    )
    session.add(chunk)
    session.flush()
    return chunk.id


def store_payload_batch(ctx: ServiceContext, actor: Principal, requests: Sequence[dict[str, Any]]) -> int:
    """Store logged requests as columnar chunks in one transaction; returns how many records they hold."""
    require(actor, "log_payload")
    if not requests:
        return 0

    def key(r: dict[str, Any]) -> tuple[int, int]:
        return int(r["deployment_id"]), int(r["model_version_id"])

    with ctx.db.write() as session:
        for (deployment_id, model_version_id), group in groupby(sorted(requests, key=key), key=key):
            batch = list(group)
            chunk_id = _add_chunk(
                session,
                deployment_id,
                model_version_id,
                _chunk_frame(batch),
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
                        "deployment_id": deployment_id,
                        "model_version_id": model_version_id,
                        "created_at": r["created_at"],
                        "n_records": int(r["n_records"]),
                        "chunk_id": chunk_id,
                        "chunk_offset": o,
                    }
                    for r, o in zip(batch, offsets, strict=True)
                ],
            )
    return sum(int(r["n_records"]) for r in requests)


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
    require(actor, "log_payload")
    required = {PREDICTION, PROBABILITY}
    missing = sorted(required - set(frame.columns))
    if missing:
        raise DataError(f"payload frame for deployment {deployment_id} lacks column(s) {missing}")
    out = frame[sorted(c for c in frame.columns if c not in required | {SCORING_ID, UNSEEN})].copy()
    out[PREDICTION] = frame[PREDICTION].astype(str).to_numpy()
    out[PROBABILITY] = frame[PROBABILITY].astype(float).to_numpy()
    out[SCORING_ID] = [scoring_id(request_id, i) for i in range(len(frame))]
    out[UNSEEN] = frame[UNSEEN].to_numpy() if UNSEEN in frame.columns else 0
    with ctx.db.write() as session:
        chunk_id = _add_chunk(session, deployment_id, model_version_id, out, created_at, created_at)
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
    """Which scored records an evaluation reads: by time, model version, and at most ``max_records``."""

    since: datetime | None = None
    until: datetime | None = None
    model_version_id: int | None = None
    max_records: int | None = None

    def describe(self) -> str:
        """The window as a person reads it in a message (``to_dict`` is what an evaluation stores)."""
        since = f"from {self.since:%Y-%m-%d %H:%M:%S}" if self.since else "from the first record"
        until = f"until {self.until:%Y-%m-%d %H:%M:%S}" if self.until else "until now"
        version = f"model version {self.model_version_id}" if self.model_version_id else "every model version"
        newest = f", the newest {self.max_records:,} records" if self.max_records else ""
        return f"{since} {until}, {version}{newest}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "model_version_id": self.model_version_id,
            "max_records": self.max_records,
        }


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
    require(actor, "view")
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
    require(actor, "view")
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
    require(actor, "view")
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
    require(actor, "view")
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
