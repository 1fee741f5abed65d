"""Evaluations: run the monitors on a deployment's traffic, store the result, raise alerts and retraining.

A production evaluation reads a window of the deployment's payload (columnar chunks)
and the feedback uploaded for it, scores the feedback with the deployed model, and runs
the monitor preset against the model's training data. The evaluation, an alert per failed
critical check and, when one failed, a retraining request listing the drifted records are
written in one transaction. The pre-prod evaluation (the pipeline's *evaluate* stage)
stores its result through ``store_evaluation`` the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import NotFoundError, PipelineError
from pipeline_core.model_io import load_model
from pipeline_core.monitors.explain import ExplainConfig, global_importance
from pipeline_core.monitors.suite import SuiteConfig, overall_status, run_monitors
from pipeline_core.params import RunParams
from pipeline_core.results import MonitorResult
from pipeline_core.services import audit, datasets, integrations, lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow, load_frame, read_payload
from pipeline_core.services.jsonable import jsonable
from pipeline_core.stages.validate import validate
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import (
    Alert,
    Dataset,
    Deployment,
    Evaluation,
    FeedbackRecord,
    RetrainingRequest,
    Run,
)


class EvaluationError(PipelineError):
    """An evaluation could not run (no traffic, no model, ...); nothing was stored."""


@dataclass
class ModelFrames:
    """A model version with its training data split as it was trained: what evaluations compare against."""

    model_version_id: int
    model: Any
    spec: DataSpec
    reference: pd.DataFrame  # training split, scored
    held_out: pd.DataFrame  # test split, scored
    importance: list[dict[str, Any]] | None = None  # global importance on held_out, computed once

    def global_importance(self, config: ExplainConfig) -> list[dict[str, Any]]:
        if self.importance is None:
            self.importance = global_importance(self.model, self.held_out, spec=self.spec, config=config)
        return self.importance


_CACHE: OrderedDict[tuple[str, int], ModelFrames] = OrderedDict()
_CACHE_LOCK = Lock()


def score_frame(model: Any, frame: pd.DataFrame, spec: DataSpec) -> pd.DataFrame:
    """``frame`` with the model's ``prediction`` and ``probability`` (of the positive label)."""
    proba = np.asarray(model.predict_proba(frame[spec.feature_names]))
    classes = [str(c) for c in model.classes_]
    out = frame.copy()
    out[PREDICTION] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    out[PROBABILITY] = proba[:, classes.index(spec.positive_label)]
    return out


def model_frames(ctx: ServiceContext, model_version_id: int) -> ModelFrames:
    """The model and its scored training and test splits, rebuilt exactly as its run split them."""
    key = (ctx.settings.database_url or str(ctx.settings.data_dir), model_version_id)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        dataset = session.get(Dataset, mv.dataset_id)
        run = session.get(Run, mv.run_id)
        assert dataset is not None  # foreign key
        assert run is not None  # foreign key
    # Production monitoring judges against the thresholds in force (an admin may have tightened them).
    spec = datasets.thresholds_in_force(ctx, DataSpec.from_dict(dataset.spec))
    params = RunParams.from_dict(dict(run.params))
    model = load_model(ctx.artifacts.get(mv.artifact_sha256))
    split = validate(load_frame(ctx, dataset), spec=spec, seed=params.seed, test_size=params.test_size)
    if split.clean is None:
        raise EvaluationError(f"model version {model_version_id}: its training data no longer validates")
    frames = ModelFrames(
        model_version_id,
        model,
        spec,
        score_frame(model, split.clean.iloc[split.train_index], spec),
        score_frame(model, split.clean.iloc[split.test_index], spec),
    )
    with _CACHE_LOCK:
        _CACHE[key] = frames
        while len(_CACHE) > 8:
            _CACHE.popitem(last=False)
    return frames


def feedback_frame(
    ctx: ServiceContext, deployment_id: int, spec: DataSpec, *, since: datetime | None = None
) -> pd.DataFrame:
    """The deployment's feedback records: features and true label (as the spec's target)."""
    query = select(FeedbackRecord.features, FeedbackRecord.label, FeedbackRecord.scoring_id).where(
        FeedbackRecord.deployment_id == deployment_id
    )
    if since is not None:
        query = query.where(FeedbackRecord.created_at >= since)
    with ctx.db.read() as session:
        rows = session.execute(query.order_by(FeedbackRecord.id)).all()
    frame = pd.DataFrame([r.features for r in rows], columns=spec.feature_names)
    frame[spec.target] = [r.label for r in rows]
    frame[SCORING_ID] = [r.scoring_id for r in rows]
    return frame


def checks(results: Sequence[MonitorResult]) -> list[dict[str, Any]]:
    """Every metric of every monitor, flat, with its monitor: what approvals and alerts read."""
    return [{"monitor": r.monitor, **m.to_dict()} for r in results for m in r.metrics if r.monitor != "mrm"]


def results_document(results: Sequence[MonitorResult]) -> dict[str, Any]:
    mrm = next((r for r in results if r.monitor == "mrm"), None)
    return {
        "status": overall_status(results),
        "checks": checks(results),
        "risk_level": mrm.details["risk_level"] if mrm else None,
        "monitors": {r.monitor: r.to_dict() for r in results},
    }


def drifted_records(results: Sequence[MonitorResult]) -> list[dict[str, Any]]:
    """Records someone should label: likely mispredicted (by the drift detector), then inconsistent ones."""
    drift = next((r for r in results if r.monitor == "drift"), None)
    if drift is None:
        return []
    found = list(drift.details.get("accuracy_drop", {}).get("records", []))
    listed = {r["record"] for r in found}
    for i in drift.details.get("data_consistency", {}).get("example_records", []):
        if i not in listed:
            found.append({"record": i, "reason": "breaks a constraint learned from the training data"})
    return found


@dataclass
class EvaluationOutcome:
    evaluation_id: int
    status: str
    risk_level: str | None
    alerts: list[int]
    retraining_request_id: int | None
    results: list[MonitorResult]


def store_evaluation(
    session: Session,
    *,
    model_version_id: int,
    deployment_id: int | None,
    space: str,
    data_window: dict[str, Any],
    results: Sequence[MonitorResult],
    actor: str,
    retrain_on_failure: bool,
) -> EvaluationOutcome:
    """The evaluation, its alerts and (when asked and a critical check failed) a retraining request."""
    document = results_document(results)
    evaluation = Evaluation(
        model_version_id=model_version_id,
        deployment_id=deployment_id,
        space=space,
        data_window=data_window,
        results=jsonable(document),
        status=document["status"],
        created_at=utcnow(),
        created_by=actor,
    )
    session.add(evaluation)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="evaluation.recorded",
        object_type="evaluation",
        object_id=evaluation.id,
        details={"model_version_id": model_version_id, "space": space, "status": document["status"]},
    )
    alerts = []
    failed = [(r.monitor, m) for r in results if r.monitor != "mrm" for m in r.failed_critical]
    for monitor, m in failed:
        alert = Alert(
            evaluation_id=evaluation.id,
            deployment_id=deployment_id,
            model_version_id=model_version_id,
            monitor=monitor,
            metric=m.name,
            value=m.value,
            threshold=m.threshold,
            message=f"{m.name} = {m.value:.4f} fails its critical threshold {m.threshold:.4f} "
            f"({space}, evaluation {evaluation.id})",
            status="open",
            created_at=utcnow(),
        )
        session.add(alert)
        session.flush()
        alerts.append(alert.id)
        audit.record(
            session,
            actor=actor,
            action="alert.raised",
            object_type="alert",
            object_id=alert.id,
            details={"metric": m.name, "evaluation_id": evaluation.id},
        )
    request_id = None
    if failed and retrain_on_failure and deployment_id is not None:
        request = RetrainingRequest(
            deployment_id=deployment_id,
            model_version_id=model_version_id,
            evaluation_id=evaluation.id,
            reason="; ".join(f"{m.name} failed" for _, m in failed),
            drifted_records=jsonable(drifted_records(results)),
            status="open",
            created_at=utcnow(),
        )
        session.add(request)
        session.flush()
        request_id = request.id
        audit.record(
            session,
            actor=actor,
            action="retraining.requested",
            object_type="retraining_request",
            object_id=request.id,
            details={"evaluation_id": evaluation.id},
        )
    return EvaluationOutcome(
        evaluation.id, document["status"], document["risk_level"], alerts, request_id, list(results)
    )


def evaluate_deployment(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    *,
    window: PayloadWindow | None = None,
    config: SuiteConfig | None = None,
) -> EvaluationOutcome:
    """Evaluate a deployment now on its payload ``window`` and all its feedback."""
    require(actor, "evaluate_now")
    with ctx.db.read() as session:
        dep = session.get(Deployment, deployment_id)
        if dep is None or dep.status == "deleted":
            raise NotFoundError(f"deployment {deployment_id} does not exist")
        mv_id, space = dep.model_version_id, dep.space
    frames = model_frames(ctx, mv_id)
    window = window or PayloadWindow()
    window = PayloadWindow(
        since=window.since, until=window.until, model_version_id=mv_id, max_records=window.max_records
    )
    current = read_payload(ctx, deployment_id, window, scoring_ids=True)
    if current.empty:
        raise EvaluationError(
            f"deployment {deployment_id} has no scored records in the window "
            f"({window.describe()}); send scoring requests first"
        )
    feedback = feedback_frame(ctx, deployment_id, frames.spec)
    labelled = score_frame(frames.model, feedback, frames.spec) if len(feedback) else None
    config = config or SuiteConfig()
    results = run_monitors(
        current,
        frames.reference,
        spec=frames.spec,
        model=frames.model,
        labelled=labelled,
        held_out=frames.held_out,
        config=config,
        importance=frames.global_importance(config.explain),
    )
    data_window = {**window.to_dict(), "source": "payload", "records": len(current), "feedback_records": len(feedback)}
    with ctx.db.write() as session:
        outcome = store_evaluation(
            session,
            model_version_id=mv_id,
            deployment_id=deployment_id,
            space=space,
            data_window=data_window,
            results=results,
            actor=actor.username,
            retrain_on_failure=space == "prod",
        )
    evaluate_externally(
        ctx,
        deployment_id=deployment_id,
        model_version_id=mv_id,
        space=space,
        spec=frames.spec,
        actor=actor.username,
        retrain_on_failure=space == "prod",
    )
    return outcome


def evaluate_externally(
    ctx: ServiceContext,
    *,
    deployment_id: int,
    model_version_id: int,
    space: str,
    spec: DataSpec,
    actor: str,
    model_tests: Sequence[dict[str, Any]] = (),
    retrain_on_failure: bool = False,
) -> EvaluationOutcome | None:
    """Run the external monitors (OpenScale) on the deployment and store what they measured; None without them."""
    found = integrations.openscale_evaluate(ctx, deployment_id, spec=spec, model_tests=model_tests)
    if found is None:
        return None
    results, window = found
    with ctx.db.write() as session:
        return store_evaluation(
            session,
            model_version_id=model_version_id,
            deployment_id=deployment_id,
            space=space,
            data_window=window,
            results=results,
            actor=actor,
            retrain_on_failure=retrain_on_failure,
        )


def due_deployments(ctx: ServiceContext, *, interval: float) -> list[int]:
    """Production deployments with traffic whose newest evaluation is older than ``interval`` seconds."""
    cutoff = utcnow() - timedelta(seconds=interval)
    with ctx.db.read() as session:
        deployments = (
            session.execute(select(Deployment.id).where(Deployment.space == "prod", Deployment.status == "active"))
            .scalars()
            .all()
        )
        due = []
        for dep_id in deployments:
            newest = session.execute(
                select(Evaluation.created_at)
                .where(Evaluation.deployment_id == dep_id)
                .order_by(Evaluation.created_at.desc())
                .limit(1)
            ).scalar()
            if newest is None or newest < cutoff:
                due.append(dep_id)
    return due


def list_evaluations(
    ctx: ServiceContext,
    actor: Principal,
    *,
    deployment_id: int | None = None,
    model_version_id: int | None = None,
    limit: int = 100,
) -> list[Evaluation]:
    """Evaluations over time, newest first."""
    require(actor, "view")
    query = select(Evaluation)
    if deployment_id is not None:
        query = query.where(Evaluation.deployment_id == deployment_id)
    if model_version_id is not None:
        query = query.where(Evaluation.model_version_id == model_version_id)
    return _newest_first(ctx, query, Evaluation.id, limit)


def _newest_first(ctx: ServiceContext, query: Select[Any], order: Any, limit: int | None = None) -> list[Any]:
    """Rows of ``query`` newest first, detached from the session so callers can read them after it closes."""
    query = query.order_by(order.desc())
    if limit is not None:
        query = query.limit(limit)
    with ctx.db.read() as session:
        found = list(session.execute(query).scalars().all())
        session.expunge_all()
    return found


def list_alerts(ctx: ServiceContext, actor: Principal, *, status: str | None = "open") -> list[Alert]:
    require(actor, "view")
    query = select(Alert)
    if status is not None:
        query = query.where(Alert.status == status)
    return _newest_first(ctx, query, Alert.id)


def acknowledge_alert(ctx: ServiceContext, actor: Principal, alert_id: int) -> None:
    require(actor, "evaluate_now")
    with ctx.db.write() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise NotFoundError(f"alert {alert_id} does not exist")
        alert.status, alert.acknowledged_by = "acknowledged", actor.username
        audit.record(
            session, actor=actor.username, action="alert.acknowledged", object_type="alert", object_id=alert_id
        )


def list_retraining_requests(
    ctx: ServiceContext, actor: Principal, *, status: str | None = None
) -> list[RetrainingRequest]:
    require(actor, "view")
    query = select(RetrainingRequest)
    if status is not None:
        query = query.where(RetrainingRequest.status == status)
    return _newest_first(ctx, query, RetrainingRequest.id)
