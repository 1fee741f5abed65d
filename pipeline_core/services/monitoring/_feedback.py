"""Feedback: labelled records for a deployment, from CSV, JSON records or WML fields/values.

Records are checked against the spec of the model the deployment serves (the same checks
as training data: columns, types, categories, labels); a ``scoring_id`` column links a
record to the payload record it labels and must name one this deployment scored. A batch
is stored in one transaction, or not at all.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select

from pipeline_core.data.columns import SCORING_ID
from pipeline_core.data.load import parse_csv_bytes
from pipeline_core.errors import DataError
from pipeline_core.services import audit, deployments, integrations
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import existing_scoring_ids
from pipeline_core.stages.validate import find_anomalies
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import FeedbackRecord


@dataclass(frozen=True)
class FeedbackBatch:
    batch_id: str
    deployment_id: int
    records: int
    linked: int


def parse_feedback(content: bytes | str | Any, *, name: str = "feedback") -> pd.DataFrame:
    """A frame from CSV bytes, a JSON list of records, or WML ``{"fields", "values"}`` (or ``input_data``)."""
    if isinstance(content, bytes):
        stripped = content.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not stripped.startswith((b"[", b"{")):
            return parse_csv_bytes(content, name=name).frame
        try:
            content = json.loads(content.decode("utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{name}: not valid JSON: {exc}") from exc
    elif isinstance(content, str):
        return parse_feedback(content.encode("utf-8"), name=name)
    if isinstance(content, dict) and "input_data" in content:
        blocks = content["input_data"]
        if not isinstance(blocks, list) or len(blocks) != 1:
            raise DataError(f"{name}: 'input_data' must hold exactly one fields/values object")
        content = blocks[0]
    if isinstance(content, dict):
        fields, values = content.get("fields"), content.get("values")
        if not isinstance(fields, list) or not isinstance(values, list):
            raise DataError(f"{name}: a JSON object needs 'fields' (names) and 'values' (records)")
        bad = next((i for i, row in enumerate(values) if not isinstance(row, list) or len(row) != len(fields)), None)
        if bad is not None:
            raise DataError(f"{name}: record {bad} does not have {len(fields)} values")
        frame = pd.DataFrame(values, columns=fields)
    elif isinstance(content, list):
        if not all(isinstance(r, dict) for r in content):
            raise DataError(f"{name}: a JSON list must hold one object per record")
        frame = pd.DataFrame.from_records(content)
    else:
        raise DataError(f"{name}: expected CSV, a JSON list of records, or a fields/values object")
    if frame.empty:
        raise DataError(f"{name}: no records")
    return frame


def upload_feedback(
    ctx: ServiceContext, actor: Principal, deployment_id: int, frame: pd.DataFrame, *, source: str = "upload"
) -> FeedbackBatch:
    """Validate and store labelled records for ``deployment_id``; all or nothing."""
    require(ctx, actor, "upload_feedback")
    spec = deployments.deployment_spec(ctx, actor, deployment_id)
    clean, anomalies = find_anomalies(frame, spec=spec, extra_ok=(SCORING_ID,))
    blocking = [a for a in anomalies if a.blocking]
    if blocking:
        raise DataError(
            f"feedback {source!r} for deployment {deployment_id} refused: " + "; ".join(a.describe() for a in blocking)
        )
    scoring_ids: list[str | None] = [None] * len(clean)
    if SCORING_ID in clean.columns:
        scoring_ids = [None if pd.isna(v) or str(v).strip() == "" else str(v).strip() for v in clean[SCORING_ID]]
        wanted = [s for s in scoring_ids if s is not None]
        unknown = sorted(set(wanted) - existing_scoring_ids(ctx, actor, deployment_id, wanted))
        if unknown:
            raise DataError(
                f"feedback {source!r}: {len(unknown)} scoring id(s) were not scored by deployment "
                f"{deployment_id}, e.g. {unknown[:3]}"
            )
    batch_id = uuid.uuid4().hex
    now = utcnow()
    features = json.loads(clean[spec.feature_names].to_json(orient="records"))
    rows = [
        {
            "deployment_id": deployment_id,
            "batch_id": batch_id,
            SCORING_ID: sid,
            "features": feats,
            "label": str(label),
            "uploaded_by": actor.username,
            "created_at": now,
        }
        for sid, feats, label in zip(scoring_ids, features, clean[spec.target], strict=True)
    ]
    with ctx.db.write() as session:
        session.execute(insert(FeedbackRecord), rows)
        audit.record(
            session,
            actor=actor.username,
            action="feedback.uploaded",
            object_type="deployment",
            object_id=deployment_id,
            details={
                "batch_id": batch_id,
                "records": len(rows),
                "source": source,
                "linked": sum(s is not None for s in scoring_ids),
            },
        )
    integrations.openscale_log_feedback(ctx, actor, deployment_id, clean, spec=spec)
    return FeedbackBatch(batch_id, deployment_id, len(rows), sum(s is not None for s in scoring_ids))


def count_feedback(ctx: ServiceContext, actor: Principal, *, deployment_id: int | None = None) -> int:
    require(ctx, actor, "view")
    query = select(func.count()).select_from(FeedbackRecord)
    if deployment_id is not None:
        query = query.where(FeedbackRecord.deployment_id == deployment_id)
    with ctx.db.read() as session:
        return int(session.execute(query).scalar() or 0)
