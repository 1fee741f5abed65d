"""Payload logging's store side: scoring requests stored in batches; exact counts; reads by scoring id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select

from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import PayloadBatch


def scoring_id(request_id: str, index: int) -> str:
    return f"{request_id}-{index}"


def split_scoring_id(value: str) -> tuple[str, int] | None:
    request_id, sep, index = value.rpartition("-")
    if not sep or not request_id or not index.isdigit():
        return None
    return request_id, int(index)


def store_payload_batch(ctx: ServiceContext, requests: Sequence[dict[str, Any]]) -> int:
    """Insert logged requests in one transaction; returns how many records they hold."""
    if not requests:
        return 0
    with ctx.db.write() as session:
        session.execute(insert(PayloadBatch), list(requests))
    return sum(int(r["n_records"]) for r in requests)


def count_payload(ctx: ServiceContext, *, deployment_id: int | None = None) -> int:
    """How many scored records are stored (for one deployment, or all)."""
    query = select(func.coalesce(func.sum(PayloadBatch.n_records), 0))
    if deployment_id is not None:
        query = query.where(PayloadBatch.deployment_id == deployment_id)
    with ctx.db.read() as session:
        return int(session.execute(query).scalar() or 0)


def recent_payload(
    ctx: ServiceContext, actor: Principal, deployment_id: int, *, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest scored records of a deployment, one dict per record, newest request first."""
    require(actor, "view")
    out: list[dict[str, Any]] = []
    with ctx.db.read() as session:
        batches = session.execute(
            select(PayloadBatch)
            .where(PayloadBatch.deployment_id == deployment_id)
            .order_by(PayloadBatch.id.desc())
            .limit(limit)
        ).scalars()
        for batch in batches:
            block = json.loads(batch.request)["input_data"][0]
            response = json.loads(batch.response)
            predictions = response["predictions"][0]["values"]
            warnings: dict[int, list[dict[str, Any]]] = {}
            for w in response.get("warnings", []):
                warnings.setdefault(int(w["record"]), []).append(w)
            for i, (row, (label, proba)) in enumerate(zip(block["values"], predictions, strict=True)):
                out.append({"scoring_id": scoring_id(batch.request_id, i), "model_version_id": batch.model_version_id,
                            "created_at": batch.created_at.isoformat(), "inputs": dict(zip(block["fields"], row,
                            strict=True)), "prediction": label, "probability": proba,
                            "warnings": warnings.get(i, [])})  # fmt: skip
                if len(out) >= limit:
                    return out
    return out


def existing_scoring_ids(ctx: ServiceContext, deployment_id: int, scoring_ids: Sequence[str]) -> set[str]:
    """The subset of ``scoring_ids`` that name a record this deployment scored."""
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
