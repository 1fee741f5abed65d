"""Evaluations: run the monitors on a deployment's traffic, store the result, raise alerts and retraining.

A production evaluation reads a window of the deployment's payload (columnar chunks)
and the feedback uploaded for it, scores the feedback with the deployed model, and runs
the monitor preset against the model's training data; its risk summary counts the served
version's newest stored model tests, as the pre-prod evaluation counts its run's. The evaluation, its alerts
(``_alerts.raise_or_update``: raised, counted or resolved per deployment and check, each change's notifications
queued) and, when a critical check failed, a retraining request listing the drifted records are
written in one transaction. The pre-prod evaluation (the pipeline's *evaluate* stage)
stores its result through ``store_evaluation`` the same way. What is stored is an
``EvaluationReport``'s document; what readers get back is that report in an ``EvaluationInfo``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from threading import Lock
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, object_session

from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DataError, IntegrityError, NotFoundError, PipelineError
from pipeline_core.model_io import load_model
from pipeline_core.model_tests.results import ModelTestReport
from pipeline_core.monitors import suite
from pipeline_core.monitors.explain import ExplainConfig, global_importance
from pipeline_core.monitors.suite import SuiteConfig
from pipeline_core.params import RunParams
from pipeline_core.results import MonitorResult
from pipeline_core.results.evaluation import EvaluationReport, MonitorName, RiskLevel
from pipeline_core.results.evidence import DriftedRecord, RecordsToLabel, drifted_records_from, records_to_label
from pipeline_core.services import audit, datasets, events, integrations, lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow, load_frame, read_payload
from pipeline_core.services.jsonable import jsonable
from pipeline_core.services.monitoring import _alerts
from pipeline_core.stages.validate import find_anomalies, validate
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import (
    Dataset,
    Deployment,
    Evaluation,
    FeedbackRecord,
    ModelTestRun,
    ModelVersion,
    RetrainingRequest,
    Run,
)
from pipeline_core.vocabulary import AlertChannel, CheckStatus, DeploymentStatus, EventKind, RetrainingStatus, Space

T = TypeVar("T")


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


def model_frames(ctx: ServiceContext, actor: Principal, model_version_id: int) -> ModelFrames:
    """The model and its scored training and test splits, exactly as its run split them."""
    require(ctx, actor, "view")
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
    spec = datasets.thresholds_in_force(ctx, actor, DataSpec.from_dict(dataset.spec))
    model = load_model(ctx.artifacts.get(mv.artifact_sha256))
    train, test = _split(mv, dataset, load_frame(ctx, actor, dataset), spec, RunParams.from_dict(dict(run.params)))
    frames = ModelFrames(model_version_id, model, spec, score_frame(model, train, spec), score_frame(model, test, spec))
    with _CACHE_LOCK:
        _CACHE[key] = frames
        while len(_CACHE) > 8:
            _CACHE.popitem(last=False)
    return frames


def _split(
    mv: ModelVersion, dataset: Dataset, frame: pd.DataFrame, spec: DataSpec, params: RunParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training and test rows of ``frame`` (the dataset as ``load_frame`` parses it), cleaned as validate cleans."""
    try:
        stored = mv.stored_split(dataset_sha256=dataset.sha256, n_rows=len(frame))
    except IntegrityError as exc:
        raise EvaluationError(str(exc)) from exc
    if stored is not None:
        # The typed copy validate splits (numbers parsed, categories stripped, labels as text); it does
        # not depend on the reference schema the run validated against, only on the spec's columns.
        clean, _ = find_anomalies(frame, spec=spec)
        train, test = stored
        return clean.iloc[train], clean.iloc[test]
    # The old path, for model versions registered before migration 0010 stored the split: make it again
    # by re-running validate with the run's seed and test size (deterministic, as the run made it).
    split = validate(frame, spec=spec, seed=params.seed, test_size=params.test_size)
    if split.clean is None:
        raise EvaluationError(f"model version {mv.id}: its training data no longer validates")
    return split.clean.iloc[split.train_index], split.clean.iloc[split.test_index]


def feedback_frame(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    spec: DataSpec,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: str | None = None,
) -> pd.DataFrame:
    """The deployment's feedback records: features and true label (as the spec's target).

    Only those uploaded in [``since``, ``until``] and, with ``batch``, of that upload alone; a batch
    this deployment never received is refused (``DataError`` naming it), not read as no feedback.
    """
    require(ctx, actor, "view")
    query = select(FeedbackRecord.features, FeedbackRecord.label, FeedbackRecord.scoring_id).where(
        FeedbackRecord.deployment_id == deployment_id
    )
    if since is not None:
        query = query.where(FeedbackRecord.created_at >= since)
    if until is not None:
        query = query.where(FeedbackRecord.created_at <= until)
    if batch is not None:
        query = query.where(FeedbackRecord.batch_id == batch)
    with ctx.db.read() as session:
        if batch is not None and not _has_batch(session, deployment_id, batch):
            raise DataError(f"feedback batch {batch!r} does not exist for deployment {deployment_id}")
        rows = session.execute(query.order_by(FeedbackRecord.id)).all()
    frame = pd.DataFrame([r.features for r in rows], columns=spec.feature_names)
    frame[spec.target] = [r.label for r in rows]
    frame[SCORING_ID] = [r.scoring_id for r in rows]
    return frame


def _has_batch(session: Session, deployment_id: int, batch: str) -> bool:
    found = session.execute(
        select(FeedbackRecord.id)
        .where(FeedbackRecord.deployment_id == deployment_id, FeedbackRecord.batch_id == batch)
        .limit(1)
    ).first()
    return found is not None


@dataclass(frozen=True)
class EvaluationInfo:
    """A stored evaluation: what was evaluated, where, when, on which data, and its report."""

    id: int
    model_version_id: int
    deployment_id: int | None
    space: Space
    created_at: datetime
    created_by: str | None
    data_window: Mapping[str, Any]
    report: EvaluationReport

    @property
    def status(self) -> CheckStatus:
        return self.report.status

    @property
    def records(self) -> int | None:
        """Records evaluated: the test split in pre-prod, the payload window in prod."""
        found = self.data_window.get("records")
        return None if found is None else int(found)

    @property
    def feedback_records(self) -> int | None:
        found = self.data_window.get("feedback_records")
        return None if found is None else int(found)

    @property
    def results(self) -> dict[str, Any]:
        """The stored document, for callers not yet reading ``report`` (the CLI); everything else reads ``report``."""
        return self.report.to_dict()


def _evaluation_info(row: Evaluation) -> EvaluationInfo:
    """A stored evaluation row as the DTO every reader gets."""
    report = EvaluationReport.from_dict(row.results)
    if row.status != report.status:
        # The column is what listings showed and the audit event recorded; it wins over the document.
        report = replace(report, status=CheckStatus(row.status))
    return EvaluationInfo(
        row.id,
        row.model_version_id,
        row.deployment_id,
        Space(row.space),
        row.created_at,
        row.created_by,
        dict(row.data_window),
        report,
    )


@dataclass(frozen=True)
class RetrainingRequestInfo:
    """Raised by a failed production evaluation, with the records someone should label; launched by a run.

    ``to_label`` is its evaluation's one list with the counts that explain it (``describe``); ``drifted_records``
    are that list's records, the very ones the evaluation shows.
    """

    id: int
    deployment_id: int
    model_version_id: int
    evaluation_id: int
    reason: str
    drifted_records: tuple[DriftedRecord, ...]
    status: RetrainingStatus
    run_id: int | None
    created_at: datetime
    launched_by: str | None
    to_label: RecordsToLabel


def _request_to_label(session: Session, row: RetrainingRequest) -> RecordsToLabel:
    """The request's records to label: its evaluation's list, read where the evaluation stored it.

    An evaluation from before that list has it rebuilt from its parts (what the request stored then); a request
    whose evaluation has no drift results at all keeps its own stored copy, with no counts beyond it.
    """
    evaluation = session.get(Evaluation, row.evaluation_id)
    monitors = (evaluation.results.get("monitors") or {}) if evaluation is not None else {}
    details = (monitors.get(MonitorName.DRIFT) or {}).get("details") or {}
    if details:
        return records_to_label(details)
    stored = drifted_records_from(row.drifted_records)
    inconsistent = sum(1 for r in stored if r.reason is not None)
    return RecordsToLabel(stored, listed_likely=len(stored) - inconsistent, listed_inconsistent=inconsistent)


def _request_info(row: RetrainingRequest) -> RetrainingRequestInfo:
    session = object_session(row)
    assert session is not None  # converted while its session is open (_newest_first, retraining_request)
    to_label = _request_to_label(session, row)
    return RetrainingRequestInfo(
        row.id,
        row.deployment_id,
        row.model_version_id,
        row.evaluation_id,
        row.reason,
        to_label.records,
        RetrainingStatus(row.status),
        row.run_id,
        row.created_at,
        row.launched_by,
        to_label,
    )


def _report(results: EvaluationReport | Sequence[MonitorResult]) -> EvaluationReport:
    return results if isinstance(results, EvaluationReport) else EvaluationReport.from_results(results)


def checks(results: EvaluationReport | Sequence[MonitorResult]) -> list[dict[str, Any]]:
    """Every metric of every monitor, flat, with its monitor, as stored (``EvaluationReport.checks``, typed)."""
    return [c.to_dict() for c in _report(results).checks]


def results_document(results: EvaluationReport | Sequence[MonitorResult]) -> dict[str, Any]:
    """The document an evaluation is stored as (``EvaluationReport.to_dict``)."""
    return _report(results).to_dict()


def drifted_records(results: EvaluationReport | Sequence[MonitorResult]) -> list[dict[str, Any]]:
    """Records someone should label, as a retraining request stores them (``EvaluationReport.drifted_records``)."""
    return [r.to_dict() for r in _report(results).drifted_records]


@dataclass(frozen=True)
class EvaluationOutcome:
    """What ``store_evaluation`` did: the evaluation's id and report, the alerts raised, the retraining request."""

    evaluation_id: int
    report: EvaluationReport
    alerts: list[int]
    retraining_request_id: int | None
    events: tuple[int, ...] = ()  # the outbox events recorded with it (a candidate's facts for the external inventory)

    @property
    def status(self) -> CheckStatus:
        return self.report.status

    @property
    def risk_level(self) -> RiskLevel | None:
        return self.report.risk_level

    @property
    def results(self) -> list[MonitorResult]:
        """The flat list (the risk summary last, as the monitor "mrm") for callers not yet reading ``report``."""
        return self.report.legacy_results()


def store_evaluation(
    ctx: ServiceContext,
    actor: Principal,
    *,
    model_version_id: int,
    deployment_id: int | None,
    space: str,
    data_window: dict[str, Any],
    retrain_on_failure: bool,
    report: EvaluationReport | None = None,
    results: Sequence[MonitorResult] = (),
    candidate_model_tests: Sequence[Mapping[str, Any]] | None = None,
) -> EvaluationOutcome:
    """The evaluation, its alerts and (when asked and a critical check failed) a retraining request, in one transaction.

    Pass the ``report``, or the flat ``results`` in which the risk summary is the monitor "mrm"
    (what OpenScale's evaluation and older callers hand over): the report is built from them.
    With ``candidate_model_tests`` (a candidate's pre-prod evaluation), the candidate's facts for the
    external inventory are recorded as an outbox event of the same transaction.
    """
    require(ctx, actor, "evaluate_now")
    if report is None:
        report = EvaluationReport.from_results(results)
    elif results:
        raise ValueError("store_evaluation takes a report or results, not both")
    with ctx.db.write() as session:
        outcome = _store(
            session,
            model_version_id=model_version_id,
            deployment_id=deployment_id,
            space=space,
            data_window=data_window,
            actor=actor.username,
            retrain_on_failure=retrain_on_failure,
            report=report,
            channels=_alerts.channels_of(ctx),
        )
        if candidate_model_tests is None:
            return outcome
        facts = integrations.factsheets_candidate_facts(
            results=report.monitors,
            model_tests=candidate_model_tests,
            status=outcome.status,
            risk_level=outcome.risk_level,
        )
        event_id = events.record(
            session,
            kind=EventKind.CANDIDATE_EVALUATED,
            model_version_id=model_version_id,
            actor=actor.username,
            payload={"evaluation_id": outcome.evaluation_id, "facts": facts},
        )
    return replace(outcome, events=(event_id,))


def _store(
    session: Session,
    *,
    model_version_id: int,
    deployment_id: int | None,
    space: str,
    data_window: dict[str, Any],
    actor: str,
    retrain_on_failure: bool,
    report: EvaluationReport,
    channels: Sequence[AlertChannel] = (),
) -> EvaluationOutcome:
    status = report.status.value
    evaluation = Evaluation(
        model_version_id=model_version_id,
        deployment_id=deployment_id,
        space=space,
        data_window=data_window,
        results=jsonable(report.to_dict()),
        status=status,
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
        details={"model_version_id": model_version_id, "space": space, "status": status},
    )
    failed = report.failed_critical
    alerts = _alerts.raise_or_update(
        session,
        report=report,
        evaluation_id=evaluation.id,
        deployment_id=deployment_id,
        model_version_id=model_version_id,
        space=space,
        actor=actor,
        channels=channels,
    )
    request_id = None
    if failed and retrain_on_failure and deployment_id is not None:
        request = RetrainingRequest(
            deployment_id=deployment_id,
            model_version_id=model_version_id,
            evaluation_id=evaluation.id,
            reason="; ".join(f"{c.metric.name} failed" for c in failed),
            # The evaluation holds the one list (read back from it); this copy is for readers of earlier versions.
            drifted_records=jsonable([r.to_dict() for r in report.to_label.records]),
            status=RetrainingStatus.OPEN.value,
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
    return EvaluationOutcome(evaluation.id, report, alerts, request_id)


def evaluate_deployment(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    *,
    window: PayloadWindow | None = None,
    config: SuiteConfig | None = None,
) -> EvaluationOutcome:
    """Evaluate a deployment now on its payload and feedback in ``window`` (feedback: by upload time and batch)."""
    require(ctx, actor, "evaluate_now")
    with ctx.db.read() as session:
        dep = session.get(Deployment, deployment_id)
        if dep is None or dep.status == DeploymentStatus.DELETED:
            raise NotFoundError(f"deployment {deployment_id} does not exist")
        mv_id, space = dep.model_version_id, dep.space
    frames = model_frames(ctx, actor, mv_id)
    window = window or PayloadWindow()
    window = replace(window, model_version_id=mv_id)
    # The feedback first: a batch that does not exist is the caller's mistake, whatever the payload holds.
    feedback = feedback_frame(
        ctx, actor, deployment_id, frames.spec, since=window.since, until=window.until, batch=window.feedback_batch
    )
    current = read_payload(ctx, actor, deployment_id, window, scoring_ids=True)
    if current.empty:
        raise EvaluationError(
            f"deployment {deployment_id} has no scored records in the window "
            f"({window.describe()}); send scoring requests first"
        )
    labelled = score_frame(frames.model, feedback, frames.spec) if len(feedback) else None
    config = config or SuiteConfig()
    tested_id, model_tests = _stored_model_tests(ctx, mv_id)
    report = suite.evaluate(
        current,
        frames.reference,
        spec=frames.spec,
        model=frames.model,
        labelled=labelled,
        held_out=frames.held_out,
        model_tests=model_tests,
        config=config,
        importance=frames.global_importance(config.explain),
    )
    data_window = {
        **window.to_dict(),
        "source": "payload",
        "records": len(current),
        "feedback_records": len(feedback),
        "model_test_run_id": tested_id,
    }
    outcome = store_evaluation(
        ctx,
        actor,
        model_version_id=mv_id,
        deployment_id=deployment_id,
        space=space,
        data_window=data_window,
        report=report,
        retrain_on_failure=space == Space.PROD,
    )
    evaluate_externally(
        ctx,
        actor,
        deployment_id=deployment_id,
        model_version_id=mv_id,
        space=space,
        spec=frames.spec,
        model_tests=model_tests,
        retrain_on_failure=space == Space.PROD,
    )
    return outcome


def _stored_model_tests(ctx: ServiceContext, model_version_id: int) -> tuple[int | None, list[dict[str, Any]]]:
    """The newest stored model test run of the served version (its id, None if never tested) and what MRM counts.

    The pre-prod evaluation counts its run's model tests; a production one must count the same evidence,
    else a version whose invariance test fails reads "failed 0" once it serves. Read from the store here:
    the runs area (which writes them) sits above monitoring.
    """
    with ctx.db.read() as session:
        row = session.execute(
            select(ModelTestRun.id, ModelTestRun.results)
            .where(ModelTestRun.model_version_id == model_version_id)
            .order_by(ModelTestRun.id.desc())
            .limit(1)
        ).one_or_none()
    if row is None:
        return None, []
    return row.id, ModelTestReport.from_dict(row.results).mrm_entries()


def evaluate_externally(
    ctx: ServiceContext,
    actor: Principal,
    *,
    deployment_id: int,
    model_version_id: int,
    space: str,
    spec: DataSpec,
    model_tests: Sequence[dict[str, Any]] = (),
    retrain_on_failure: bool = False,
) -> EvaluationOutcome | None:
    """Run the external monitors (OpenScale) on the deployment and store what they measured; None without them."""
    require(ctx, actor, "evaluate_now")
    found = integrations.openscale_evaluate(ctx, actor, deployment_id, spec=spec, model_tests=model_tests)
    if found is None:
        return None
    return store_evaluation(
        ctx,
        actor,
        model_version_id=model_version_id,
        deployment_id=deployment_id,
        space=space,
        data_window=found.data_window,
        report=found.report,
        retrain_on_failure=retrain_on_failure,
    )


def list_evaluations(
    ctx: ServiceContext,
    actor: Principal,
    *,
    deployment_id: int | None = None,
    model_version_id: int | None = None,
    limit: int | None = 100,
) -> list[EvaluationInfo]:
    """Evaluations over time, newest first (``limit=None``: all of them)."""
    require(ctx, actor, "view")
    query = select(Evaluation)
    if deployment_id is not None:
        query = query.where(Evaluation.deployment_id == deployment_id)
    if model_version_id is not None:
        query = query.where(Evaluation.model_version_id == model_version_id)
    return _newest_first(ctx, query, Evaluation.id, _evaluation_info, limit)


def get_evaluation(ctx: ServiceContext, actor: Principal, evaluation_id: int) -> EvaluationInfo:
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        row = session.get(Evaluation, evaluation_id)
        if row is None:
            raise NotFoundError(f"evaluation {evaluation_id} does not exist")
        return _evaluation_info(row)


def _newest_first(
    ctx: ServiceContext, query: Select[Any], order: Any, convert: Callable[[Any], T], limit: int | None = None
) -> list[T]:
    """Rows of ``query`` newest first, each made a DTO while the session is open."""
    query = query.order_by(order.desc())
    if limit is not None:
        query = query.limit(limit)
    with ctx.db.read() as session:
        return [convert(row) for row in session.execute(query).scalars()]


def retraining_request(ctx: ServiceContext, actor: Principal, request_id: int) -> RetrainingRequestInfo:
    """One retraining request, with its evaluation's records to label."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        row = session.get(RetrainingRequest, request_id)
        if row is None:
            raise NotFoundError(f"retraining request {request_id} does not exist")
        return _request_info(row)


def list_retraining_requests(
    ctx: ServiceContext, actor: Principal, *, status: str | None = None
) -> list[RetrainingRequestInfo]:
    require(ctx, actor, "view")
    query = select(RetrainingRequest)
    if status is not None:
        query = query.where(RetrainingRequest.status == RetrainingStatus(status).value)
    return _newest_first(ctx, query, RetrainingRequest.id, _request_info)
