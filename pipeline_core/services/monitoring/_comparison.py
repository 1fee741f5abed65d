"""Compare with production: the candidate and the production model scored on the same labelled records.

A candidate's pre-prod evaluation (its test split) and production's newest evaluation (live
traffic) are different data: putting their numbers side by side says nothing about which model is
better. Here both models score the *same* records: the candidate's held-out test split, and
separately the production deployment's labelled feedback (if any). Each comparison names its
records and window and gives candidate − production of ROC AUC and accuracy with a paired
bootstrap interval (``monitors.comparison``). When both are the same artifact there is nothing to
compare, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from pipeline_core.data.columns import PROBABILITY
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.comparison import PairedDifference, paired_differences
from pipeline_core.services import lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.monitoring._evaluations import (
    EvaluationError,
    ModelFrames,
    feedback_frame,
    model_frames,
    score_frame,
)
from pipeline_core.store.models import Dataset, FeedbackRecord


@dataclass(frozen=True)
class ComparedModel:
    """One side of the comparison: which model version, which artifact, where it serves."""

    role: str  # "candidate" or "production"
    model_version_id: int
    name: str
    version: int
    artifact_sha256: str
    deployment_id: int | None = None  # the prod deployment, for production

    @property
    def heading(self) -> str:
        return f"{self.role} v{self.version} (model version {self.model_version_id}, {self.artifact_sha256[:12]}…)"


@dataclass(frozen=True)
class PairedComparison:
    """Both models on one set of labelled records: what the records are, how many, and the paired differences."""

    data: str  # which records
    window: str  # which part of them, or when they were received
    records: int
    evaluation: str  # what scored them
    differences: tuple[PairedDifference, ...]
    # How many of these records production trained on (same training data), None where that is unknown.
    production_trained_on: int | None = None

    def difference(self, metric: str) -> PairedDifference:
        found = next((d for d in self.differences if d.metric == metric), None)
        if found is None:
            raise KeyError(f"the comparison has no metric {metric!r}")
        return found


@dataclass(frozen=True)
class ProductionComparison:
    """The candidate against the model production serves now, on the held-out split and on production feedback."""

    candidate: ComparedModel
    production: ComparedModel
    identical: bool  # the same artifact (sha256): nothing was scored
    held_out: PairedComparison | None
    feedback: PairedComparison | None
    no_feedback: str = ""  # why there is no feedback comparison


@dataclass(frozen=True)
class _Bootstrap:
    resamples: int
    confidence: float
    seed: int


def compare_with_production(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ProductionComparison | None:
    """The candidate and the production model of the same name on the same records; None if none is in prod."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        candidate = ComparedModel("candidate", mv.id, mv.name, mv.version, mv.artifact_sha256)
        serving = lookup.in_production(session, mv.name)
        if serving is None:
            return None
        dep_id, prod_mv = serving
        production = ComparedModel(
            "production", prod_mv.id, prod_mv.name, prod_mv.version, prod_mv.artifact_sha256, dep_id
        )
        same_data = mv.dataset_id == prod_mv.dataset_id
        dataset = session.get(Dataset, mv.dataset_id)
        assert dataset is not None  # foreign key
        dataset_name = f"{dataset.name} (sha256 {dataset.sha256[:12]}…)"
    if candidate.artifact_sha256 == production.artifact_sha256:
        return ProductionComparison(candidate, production, True, None, None, "identical artifacts")
    ours, theirs = model_frames(ctx, actor, candidate.model_version_id), model_frames(ctx, actor, prod_mv.id)
    options = _Bootstrap(resamples, confidence, seed)
    held_out = PairedComparison(
        f"held-out test split of the candidate, {dataset_name}",
        f"the candidate's stored split: {len(ours.held_out)} test rows (neither model's own evaluation)",
        len(ours.held_out),
        "both models scored now by this comparison",
        _paired(ours, theirs, ours.held_out, options),
        int(ours.held_out.index.isin(theirs.reference.index).sum()) if same_data else None,
    )
    feedback, why = _feedback(ctx, actor, production, ours, theirs, options)
    return ProductionComparison(candidate, production, False, held_out, feedback, why)


def _feedback(
    ctx: ServiceContext,
    actor: Principal,
    production: ComparedModel,
    ours: ModelFrames,
    theirs: ModelFrames,
    options: _Bootstrap,
) -> tuple[PairedComparison | None, str]:
    """Both models on the production deployment's labelled feedback, or None and why."""
    dep_id = production.deployment_id
    assert dep_id is not None  # production is always a deployment's
    frame = feedback_frame(ctx, actor, dep_id, ours.spec)
    if frame.empty:
        return None, f"deployment {dep_id} (prod) has no labelled feedback yet"
    with ctx.db.read() as session:
        first, last, since, until = session.execute(
            select(
                func.min(FeedbackRecord.id),
                func.max(FeedbackRecord.id),
                func.min(FeedbackRecord.created_at),
                func.max(FeedbackRecord.created_at),
            ).where(FeedbackRecord.deployment_id == dep_id)
        ).one()
    return (
        PairedComparison(
            f"labelled feedback of the prod deployment {dep_id}",
            f"feedback records {first}–{last}, received {_when(since)} – {_when(until)}",
            len(frame),
            "both models scored now by this comparison",
            _paired(ours, theirs, frame, options),
        ),
        "",
    )


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _paired(
    ours: ModelFrames, theirs: ModelFrames, records: pd.DataFrame, options: _Bootstrap
) -> tuple[PairedDifference, ...]:
    """Both models' probabilities of the positive label on ``records``, and the paired differences."""
    spec = ours.spec
    _same_question(spec, theirs.spec, production=theirs.model_version_id)
    positive = (records[spec.target].astype(str) == spec.positive_label).to_numpy()
    return paired_differences(
        positive,
        _probabilities(ours, records),
        _probabilities(theirs, records),
        resamples=options.resamples,
        confidence=options.confidence,
        seed=options.seed,
    )


def _probabilities(frames: ModelFrames, records: pd.DataFrame) -> np.ndarray:
    return np.asarray(score_frame(frames.model, records, frames.spec)[PROBABILITY], dtype=float)


def _same_question(ours: DataSpec, theirs: DataSpec, *, production: int) -> None:
    """Both models must predict the same label from features the records have, or no number compares."""
    if (ours.target, ours.positive_label) != (theirs.target, theirs.positive_label):
        raise EvaluationError(
            f"production model version {production} predicts {theirs.target}={theirs.positive_label!r}, "
            f"the candidate {ours.target}={ours.positive_label!r}: their scores do not compare"
        )
    missing = sorted(set(theirs.feature_names) - set(ours.feature_names))
    if missing:
        raise EvaluationError(
            f"production model version {production} needs features the candidate's records lack: {', '.join(missing)}"
        )
