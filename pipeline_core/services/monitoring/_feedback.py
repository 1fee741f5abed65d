"""Feedback: labelled records for a deployment, from CSV, JSON records or WML fields/values.

A record is *linked* when it names a ``scoring_id``: then it is that scoring's label, and its
features are the ones the deployment scored (read from the payload log), so the record needs
only the scoring id and the label. Features a linked record does send must be the ones scored,
or the upload is refused naming the line, the field and both values: the label belongs to what
the model saw, not to an edited applicant. A scoring is labelled once: re-sending a stored
scoring id with the same label stores nothing (the result counts it as already stored), with
another label it is a conflict naming both. An *unlinked* record carries every feature and is
stored as sent. Every record is checked against the spec of the model the deployment serves
(the checks of training data: columns, types, categories, valid ranges, labels). A batch is
stored in one transaction, or not at all.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from pipeline_core.data.columns import SCORING_ID
from pipeline_core.data.load import parse_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ConflictError, DataError
from pipeline_core.services import audit, deployments, integrations
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import scored_inputs
from pipeline_core.stages.validate import find_anomalies
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import FeedbackRecord

SHOWN_IDS = 3  # unknown scoring ids quoted in a refusal


@dataclass(frozen=True)
class FeedbackBatch:
    """What an upload stored: ``records`` new records (``linked`` of them to a scoring id), and how many
    linked records were ``already_stored`` with the same label (before, or earlier in the same upload)
    and so not stored again."""

    batch_id: str
    deployment_id: int
    records: int
    linked: int
    already_stored: int = 0

    def describe(self) -> str:
        """One line for the CLI."""
        return (
            f"stored {self.records} feedback record(s) for deployment {self.deployment_id} "
            f"({self.linked} linked to scoring ids), {self.already_stored} already stored and not stored again, "
            f"batch {self.batch_id}"
        )


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
    """Validate and store labelled records for ``deployment_id``; all or nothing (the module says how)."""
    require(ctx, actor, "upload_feedback")
    spec = deployments.deployment_spec(ctx, actor, deployment_id)
    frame = frame.reset_index(drop=True)
    ids = _scoring_ids(frame)
    what = f"feedback {source!r} for deployment {deployment_id}"
    if any(ids):
        frame = _with_scored_features(ctx, actor, deployment_id, frame, ids, spec, what)
    clean, anomalies = find_anomalies(frame, spec=spec, extra_ok=(SCORING_ID,))
    blocking = [a for a in anomalies if a.blocking]
    if blocking:
        raise DataError(f"{what} refused: " + "; ".join(a.describe() for a in blocking))
    labels = [str(label) for label in clean[spec.target]]
    first = _first_of_each_scoring(ids, labels, what)
    batch_id, now = uuid.uuid4().hex, utcnow()
    features = json.loads(clean[spec.feature_names].to_json(orient="records"))
    with ctx.db.write() as session:  # writes are serialised: no other upload stores these ids meanwhile
        stored = _stored_labels(session, deployment_id, list(first))
        for sid, label in stored.items():
            line = first[sid]
            if label != labels[line]:
                raise ConflictError(
                    f"{what}: line {_line(line)}: scoring id {sid!r} is stored with label {label!r}; "
                    f"this upload labels it {labels[line]!r}"
                )
        new = [i for i, sid in enumerate(ids) if sid is None or (first.get(sid) == i and sid not in stored)]
        rows = [
            {
                "deployment_id": deployment_id,
                "batch_id": batch_id,
                SCORING_ID: ids[i],
                "features": features[i],
                "label": labels[i],
                "uploaded_by": actor.username,
                "created_at": now,
            }
            for i in new
        ]
        if rows:
            session.execute(insert(FeedbackRecord), rows)
        linked = sum(ids[i] is not None for i in new)
        again = sum(sid is not None for sid in ids) - linked  # stored before, or earlier in this upload
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
                "linked": linked,
                "already_stored": again,
            },
        )
    if new:
        integrations.openscale_log_feedback(ctx, actor, deployment_id, clean.iloc[new], spec=spec)
    return FeedbackBatch(batch_id, deployment_id, len(rows), linked, again)


def _line(position: int) -> int:
    # Line numbers of the CSV file, as an editor (and the validate stage's report) shows them: the header is line 1.
    return position + 2


def _scoring_ids(frame: pd.DataFrame) -> list[str | None]:
    if SCORING_ID not in frame.columns:
        return [None] * len(frame)
    return [None if _absent(v) or str(v).strip() == "" else str(v).strip() for v in frame[SCORING_ID]]


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def _with_scored_features(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    frame: pd.DataFrame,
    ids: list[str | None],
    spec: DataSpec,
    what: str,
) -> pd.DataFrame:
    """``frame`` with each linked record's features as scored; refused if one it sends differs."""
    linked = [i for i, sid in enumerate(ids) if sid is not None]
    scored = scored_inputs(ctx, actor, deployment_id, [ids[i] or "" for i in linked])
    unknown = [i for i in linked if ids[i] not in scored]
    if unknown:
        shown = ", ".join(f"line {_line(i)}: {ids[i]!r}" for i in unknown[:SHOWN_IDS])
        more = f", and {len(unknown) - SHOWN_IDS} more" if len(unknown) > SHOWN_IDS else ""
        raise DataError(
            f"{what} refused: {len(unknown)} scoring id(s) were not scored by deployment {deployment_id} "
            f"({shown}{more})"
        )
    numeric = set(spec.numeric)
    filled = frame.copy()
    for name in spec.feature_names:
        given = list(frame[name]) if name in frame.columns else [None] * len(frame)
        for i in linked:
            inputs = scored[ids[i] or ""]
            if name not in inputs:
                continue
            value = inputs[name]
            if not _absent(given[i]) and not _same(given[i], value, numeric=name in numeric):
                raise DataError(
                    f"{what} refused: line {_line(i)} (scoring id {ids[i]!r}): field {name!r} was scored as "
                    f"{value!r}; the feedback says {given[i]!r}"
                )
            given[i] = value
        filled[name] = pd.Series(given, index=frame.index, dtype=None if name in numeric else object)
    return filled


def _same(given: Any, scored: Any, *, numeric: bool) -> bool:
    if numeric:
        try:
            return float(given) == float(scored)
        except (TypeError, ValueError):
            return False
    return str(given).strip() == str(scored)


def _first_of_each_scoring(ids: Sequence[str | None], labels: Sequence[str], what: str) -> dict[str, int]:
    """The position of each scoring id's first record; a repeat with another label in one upload is refused."""
    first: dict[str, int] = {}
    for i, sid in enumerate(ids):
        if sid is None:
            continue
        j = first.setdefault(sid, i)
        if labels[j] != labels[i]:
            raise ConflictError(
                f"{what}: scoring id {sid!r} is labelled {labels[j]!r} on line {_line(j)} and {labels[i]!r} "
                f"on line {_line(i)}"
            )
    return first


def _stored_labels(session: Session, deployment_id: int, scoring_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(scoring_ids), 500):
        rows = session.execute(
            select(FeedbackRecord.scoring_id, FeedbackRecord.label)
            .where(FeedbackRecord.deployment_id == deployment_id)
            .where(FeedbackRecord.scoring_id.in_(scoring_ids[start : start + 500]))
            .order_by(FeedbackRecord.id)
        ).all()
        for sid, label in rows:
            found.setdefault(str(sid), str(label))  # duplicates stored before uploads were idempotent: the first
    return found


def count_feedback(ctx: ServiceContext, actor: Principal, *, deployment_id: int | None = None) -> int:
    require(ctx, actor, "view")
    query = select(func.count()).select_from(FeedbackRecord)
    if deployment_id is not None:
        query = query.where(FeedbackRecord.deployment_id == deployment_id)
    with ctx.db.read() as session:
        return int(session.execute(query).scalar() or 0)
