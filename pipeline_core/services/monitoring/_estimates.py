"""Estimates beside what came true: each evaluation's performance estimate and the realised value once labelled.

An evaluation estimates ROC AUC and accuracy from the probabilities of its window's records
(the monitor "estimate"). Labels arrive later as feedback linked to scoring ids; the realised
value of an evaluation is computed on the feedback that labels records of *its* window, with
the probabilities the deployment answered for them (read from the payload log), at the
estimate's decision threshold.

A window is not stored record by record (a million scoring ids would outweigh the document),
so membership is decided by when each record was scored, at the granularity of its request:
from the window's ``since`` to its ``until`` (or the evaluation's time when it had none), the
model version it read, and for a window of the newest ``max_records`` only the newest requests
that add up to that many records. An evaluation of the test split (pre-prod) is its own
realisation: its quality monitor measured the same records with their labels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
from sklearn.metrics import roc_auc_score
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.data.columnar import decode_frames
from pipeline_core.data.columns import PROBABILITY
from pipeline_core.errors import NotFoundError
from pipeline_core.results.evaluation import MonitorName
from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import split_scoring_id
from pipeline_core.services.monitoring._evaluations import EvaluationInfo, list_evaluations
from pipeline_core.store.models import Deployment, FeedbackRecord, PayloadBatch, PayloadChunk
from pipeline_core.vocabulary import DeploymentStatus

PAYLOAD = "payload"  # the data window's source of a production evaluation
_BATCH = 500
T = TypeVar("T")


@dataclass(frozen=True)
class EstimateVsRealised:
    """One evaluation's estimate (None where refused, with why) and, once labels arrived, the realised values."""

    evaluation_id: int
    evaluated_at: datetime
    model_version_id: int
    records: int
    estimated_roc_auc: float | None
    estimated_roc_auc_interval: tuple[float, float] | None
    estimated_accuracy: float | None
    estimated_accuracy_interval: tuple[float, float] | None
    refused: str | None
    labelled: int  # records of the window with a label
    realised_roc_auc: float | None  # None: no labels yet, or one class only
    realised_accuracy: float | None

    @property
    def realised_interval(self) -> tuple[float, float] | None:
        """Where the realised AUC of the labelled records is expected to fall: the estimate's interval, widened.

        The estimate's interval is the spread of the AUC of the whole window; the labelled records are
        fewer, and an AUC's spread grows as one over the square root of the records: the half-width is
        scaled by ``sqrt(records / labelled)`` (the labelled taken as a sample of the window).
        """
        if self.estimated_roc_auc is None or self.estimated_roc_auc_interval is None or not self.labelled:
            return None
        lower, upper = self.estimated_roc_auc_interval
        scale = math.sqrt(max(self.records, self.labelled) / self.labelled)
        below, above = (self.estimated_roc_auc - lower) * scale, (upper - self.estimated_roc_auc) * scale
        return max(0.0, self.estimated_roc_auc - below), min(1.0, self.estimated_roc_auc + above)

    @property
    def roc_auc_covered(self) -> bool | None:
        """Whether the realised AUC fell inside ``realised_interval`` (None: nothing to compare yet)."""
        bounds = self.realised_interval
        if self.realised_roc_auc is None or bounds is None:
            return None
        return bounds[0] <= self.realised_roc_auc <= bounds[1]


@dataclass(frozen=True)
class _Labelled:
    """The deployment's linked feedback with when and by whom each labelled record was scored, and its probability."""

    scored_at: np.ndarray  # datetime64
    model_version_id: np.ndarray
    positive: np.ndarray
    probability: np.ndarray


def estimate_history(
    ctx: ServiceContext, actor: Principal, deployment_id: int, *, limit: int = 200
) -> list[EstimateVsRealised]:
    """The ``limit`` newest evaluations of ``deployment_id`` with an estimate, oldest first, each beside its labels."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        dep = session.get(Deployment, deployment_id)
        if dep is None or dep.status == DeploymentStatus.DELETED:
            raise NotFoundError(f"deployment {deployment_id} does not exist")
    evaluations = [
        e
        for e in list_evaluations(ctx, actor, deployment_id=deployment_id, limit=limit)
        if e.report.estimate is not None
    ]
    if not evaluations:
        return []
    spec = deployments.deployment_spec(ctx, actor, deployment_id)
    labelled = None
    if any(e.data_window.get("source") == PAYLOAD for e in evaluations):
        with ctx.db.read() as session:
            labelled = _labelled(session, deployment_id, spec.positive_label)
    out = []
    for e in reversed(evaluations):
        if e.data_window.get("source") == PAYLOAD:
            assert labelled is not None
            with ctx.db.read() as session:
                n, auc, accuracy = _realised(session, e, deployment_id, labelled)
        else:
            n, auc, accuracy = _its_own_quality(e)
        estimate = e.report.estimate
        assert estimate is not None
        out.append(
            EstimateVsRealised(
                e.id,
                e.created_at,
                e.model_version_id,
                estimate.records,
                estimate.roc_auc,
                estimate.roc_auc_interval,
                estimate.accuracy,
                estimate.accuracy_interval,
                estimate.refused,
                n,
                auc,
                accuracy,
            )
        )
    return out


def _its_own_quality(e: EvaluationInfo) -> tuple[int, float | None, float | None]:
    """A test-split evaluation: the labelled records are its window, and quality measured them."""
    quality = e.report.monitor(MonitorName.QUALITY)
    if quality is None:
        return 0, None, None
    values = {m.name: m.value for m in quality.metrics}
    auc, accuracy = values.get("roc_auc"), values.get("accuracy")
    if auc is None:
        return 0, None, None
    return quality.n_records, float(auc), None if accuracy is None else float(accuracy)


def _in_chunks(values: list[T]) -> Iterable[list[T]]:
    for start in range(0, len(values), _BATCH):
        yield values[start : start + _BATCH]


def _labelled(session: Session, deployment_id: int, positive_label: str) -> _Labelled:
    """Every linked feedback record of the deployment (the first label of a scoring id), with its payload facts."""
    labels: dict[str, str] = {}
    rows = session.execute(
        select(FeedbackRecord.scoring_id, FeedbackRecord.label)
        .where(FeedbackRecord.deployment_id == deployment_id, FeedbackRecord.scoring_id.is_not(None))
        .order_by(FeedbackRecord.id)
    ).all()
    for sid, label in rows:
        labels.setdefault(str(sid), str(label))
    parts = {sid: p for sid in labels if (p := split_scoring_id(sid)) is not None}
    batches: dict[str, Any] = {}
    for request_ids in _in_chunks(sorted({request_id for request_id, _ in parts.values()})):
        for row in session.execute(
            select(
                PayloadBatch.request_id,
                PayloadBatch.created_at,
                PayloadBatch.model_version_id,
                PayloadBatch.n_records,
                PayloadBatch.chunk_id,
                PayloadBatch.chunk_offset,
            ).where(PayloadBatch.deployment_id == deployment_id, PayloadBatch.request_id.in_(request_ids))
        ):
            batches[row.request_id] = row
    # Records logged before payload went columnar have no stored probability: never in an estimated window.
    found = [
        (sid, batches[request_id], index)
        for sid, (request_id, index) in parts.items()
        if request_id in batches and batches[request_id].chunk_id is not None and index < batches[request_id].n_records
    ]
    chunk_ids = sorted({int(batch.chunk_id) for _, batch, _ in found})
    probabilities: dict[int, np.ndarray] = {}
    for ids in _in_chunks(chunk_ids):
        for chunk_id, data in session.execute(
            select(PayloadChunk.id, PayloadChunk.data).where(PayloadChunk.id.in_(ids))
        ).tuples():
            probabilities[chunk_id] = decode_frames([data], columns=[PROBABILITY])[PROBABILITY].to_numpy(dtype=float)
    return _Labelled(
        scored_at=np.array([batch.created_at for _, batch, _ in found], dtype="datetime64[us]"),
        model_version_id=np.array([batch.model_version_id for _, batch, _ in found], dtype=int),
        positive=np.array([labels[sid] == positive_label for sid, _, _ in found], dtype=bool),
        probability=np.array(
            [probabilities[int(batch.chunk_id)][int(batch.chunk_offset) + index] for _, batch, index in found],
            dtype=float,
        ),
    )


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _realised(
    session: Session, e: EvaluationInfo, deployment_id: int, labelled: _Labelled
) -> tuple[int, float | None, float | None]:
    """How many of ``labelled`` belong to the window of ``e``, and the ROC AUC and accuracy they realise."""
    window = e.data_window
    since, until = _time(window.get("since")), _time(window.get("until")) or e.created_at
    model_version_id = int(window.get("model_version_id") or e.model_version_id)
    max_records = window.get("max_records")
    if max_records:
        start = _newest_start(session, deployment_id, model_version_id, until, since, int(max_records))
        if start is not None and (since is None or start > since):
            since = start
    inside = (labelled.model_version_id == model_version_id) & (labelled.scored_at <= np.datetime64(until, "us"))
    if since is not None:
        inside &= labelled.scored_at >= np.datetime64(since, "us")
    n = int(inside.sum())
    if not n:
        return 0, None, None
    estimate = e.report.estimate
    threshold = estimate.confusion.threshold if estimate is not None and estimate.confusion is not None else 0.5
    y, p = labelled.positive[inside], labelled.probability[inside]
    accuracy = float((y == (p >= threshold)).mean())
    auc = float(roc_auc_score(y, p)) if y.any() and not y.all() else None
    return n, auc, accuracy


def _newest_start(
    session: Session,
    deployment_id: int,
    model_version_id: int,
    until: datetime,
    since: datetime | None,
    max_records: int,
) -> datetime | None:
    """When the oldest request among the newest ``max_records`` records of the window was scored."""
    query = select(PayloadBatch.created_at, PayloadBatch.n_records).where(
        PayloadBatch.deployment_id == deployment_id,
        PayloadBatch.model_version_id == model_version_id,
        PayloadBatch.chunk_id.is_not(None),
        PayloadBatch.created_at <= until,
    )
    if since is not None:
        query = query.where(PayloadBatch.created_at >= since)
    total, oldest = 0, None
    for created_at, n in session.execute(query.order_by(PayloadBatch.created_at.desc())).yield_per(1000):
        total, oldest = total + int(n), created_at
        if total >= max_records:
            break
    return oldest
