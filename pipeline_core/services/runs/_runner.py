"""The runner: execute one claimed run, persisting every stage as it goes.

Every write is conditional on this worker still owning the run (status running, same
worker id), so a worker that lost its run to the reaper cannot register a model after
the fact. The model version, its artifact reference, the run's success and their audit
events are committed in one transaction: a run killed before it leaves no model behind.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pipeline_core.data.columns import PROBABILITY
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import (
    ConflictError,
    DeploymentError,
    GateFailed,
    NotFoundError,
    PipelineError,
    RunCancelled,
    ValidationFailed,
)
from pipeline_core.monitors.suite import run_monitors
from pipeline_core.params import RunParams
from pipeline_core.pipeline import Hooks, PipelineInputs, PipelineState, Stage, StageResultLike, execute, run_stage
from pipeline_core.services import audit, deployments, integrations, monitoring
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import load_frame
from pipeline_core.services.deployments import _endpoints, score_over_http
from pipeline_core.services.jsonable import jsonable
from pipeline_core.services.runs import _model_tests
from pipeline_core.services.runs._launch import SERVICE_STAGE_TITLES
from pipeline_core.stages.common import Gate
from pipeline_core.stages.validate import Schema
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Dataset, ModelVersion, Run, StageResult
from pipeline_core.vocabulary import ModelState, RevisionReason, RunState, Space, StageState, transition

ProgressFn = Callable[[str, str, float], None]  # (stage, "start" | "done" | "failed", seconds)
# What execute_run returns when the run was taken from this worker: not a state, nothing is stored.
LOST = "lost"


@dataclass
class RunControl:
    """Signals between the heartbeat thread and the runner."""

    cancel: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)


class OwnershipLost(PipelineError):
    """The run is no longer ours (reaped or cancelled under us); stop without writing."""


class _PersistingHooks(Hooks):
    def __init__(
        self, ctx: ServiceContext, run_id: int, worker_id: str, control: RunControl, progress: ProgressFn | None
    ) -> None:
        self.ctx, self.run_id, self.worker_id, self.control, self.progress = ctx, run_id, worker_id, control, progress

    def _stage_write(self, name: str, **values: Any) -> None:
        with self.ctx.db.write() as session:
            _assert_owned(session, self.run_id, self.worker_id)
            session.execute(
                update(StageResult).where(StageResult.run_id == self.run_id, StageResult.name == name).values(**values)
            )

    def before(self, stage: Stage) -> None:
        if self.progress:
            self.progress(stage.name, "start", 0.0)
        self._stage_write(stage.name, status=StageState.RUNNING, started_at=utcnow())

    def after(self, stage: Stage, result: StageResultLike, seconds: float) -> None:
        if self.progress:
            self.progress(stage.name, "done" if result.gate.passed else "failed", seconds)
        if stage.name == "register" and result.gate.passed:
            # Finished in the same transaction that stores the model version.
            self._stage_write(stage.name, log=list(result.log), duration_seconds=seconds)
            return
        self._stage_write(
            stage.name,
            status=StageState.SUCCEEDED if result.gate.passed else StageState.FAILED,
            finished_at=utcnow(),
            duration_seconds=seconds,
            log=list(result.log),
            outputs=jsonable(result.to_dict()),
            gate_passed=result.gate.passed,
            gate_reason=result.gate.reason,
        )

    def failed(self, stage: Stage, error: BaseException, seconds: float) -> None:
        if self.progress:
            self.progress(stage.name, "failed", seconds)
        lines = [f"{type(error).__name__}: {error}"]
        if not isinstance(error, PipelineError):
            lines += traceback.format_exception(error)[-6:]
        self._stage_write(
            stage.name, status=StageState.FAILED, finished_at=utcnow(), duration_seconds=seconds, log=lines
        )

    def cancel_requested(self) -> bool:
        if self.control.lost.is_set():
            raise OwnershipLost(f"run {self.run_id} is no longer owned by worker {self.worker_id}")
        return self.control.cancel.is_set()


def _assert_owned(session: Session, run_id: int, worker_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None or run.status != RunState.RUNNING or run.worker_id != worker_id:
        raise OwnershipLost(f"run {run_id} is no longer owned by worker {worker_id}")
    return run


def reference_schema(ctx: ServiceContext, dataset: Dataset) -> Schema | None:
    """The schema of the training data of the newest model version under the same spec."""
    with ctx.db.read() as session:
        ref = session.execute(
            select(Dataset)
            .join(ModelVersion, ModelVersion.dataset_id == Dataset.id)
            .where(Dataset.spec_name == dataset.spec_name, Dataset.id != dataset.id)
            .order_by(ModelVersion.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    return Schema.from_dict(ref.schema) if ref is not None else None


def execute_run(
    ctx: ServiceContext,
    run_id: int,
    *,
    worker_id: str,
    control: RunControl | None = None,
    progress: ProgressFn | None = None,
) -> str:
    """Execute claimed run ``run_id``; return its final status."""
    control = control or RunControl()
    with ctx.db.read() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        dataset = session.get(Dataset, run.dataset_id)
        params_dict, actor = dict(run.params), run.created_by
    assert dataset is not None  # foreign key
    hooks = _PersistingHooks(ctx, run_id, worker_id, control, progress)
    try:
        spec = DataSpec.from_dict(dataset.spec)
        inputs = PipelineInputs(
            frame=load_frame(ctx, dataset),
            spec=spec,
            params=RunParams.from_dict(params_dict),
            dataset={"id": dataset.id, "name": dataset.name, "sha256": dataset.sha256, "source": dataset.source},
            reference_schema=reference_schema(ctx, dataset),
        )
        state = execute(inputs, hooks)
        mv_id = _register_model(ctx, run_id, worker_id, actor, dataset, state)
        for stage in _service_stages(ctx, run_id, mv_id):
            run_stage(stage, inputs, state, hooks)
        return _finish_awaiting_review(ctx, run_id, worker_id, mv_id, state)
    except OwnershipLost:
        return LOST
    except RunCancelled as exc:
        return _finish(ctx, run_id, worker_id, RunState.CANCELLED, str(exc), None)
    except (ValidationFailed, GateFailed) as exc:
        gated = exc.stage if isinstance(exc, GateFailed) else "validate"
        return _finish(ctx, run_id, worker_id, RunState.FAILED, str(exc), gated)
    except Exception as exc:  # noqa: BLE001 - any crash of a stage fails the run, with its reason
        crashed = _running_stage(ctx, run_id)
        where = f"stage '{crashed}'" if crashed else "run set-up"
        return _finish(ctx, run_id, worker_id, RunState.FAILED, f"{where} raised {type(exc).__name__}: {exc}", crashed)


def _running_stage(ctx: ServiceContext, run_id: int) -> str | None:
    with ctx.db.read() as session:
        return session.execute(
            select(StageResult.name).where(
                StageResult.run_id == run_id, StageResult.status.in_((StageState.RUNNING, StageState.FAILED))
            )
        ).scalar()


def _finish(ctx: ServiceContext, run_id: int, worker_id: str, status: RunState, error: str, stage: str | None) -> str:
    try:
        with ctx.db.write() as session:
            run = _assert_owned(session, run_id, worker_id)
            run.status, run.finished_at, run.error, run.failed_stage = status, utcnow(), error, stage
            session.execute(
                update(StageResult)
                .where(StageResult.run_id == run_id, StageResult.status.in_((StageState.PENDING, StageState.RUNNING)))
                .values(status=StageState.CANCELLED if status == RunState.CANCELLED else StageState.SKIPPED)
            )
            audit.record(
                session,
                actor=worker_id,
                action=f"run.{status}",
                object_type="run",
                object_id=run_id,
                details={"error": error, "stage": stage},
            )
    except OwnershipLost:
        return LOST
    return status


def _register_model(
    ctx: ServiceContext, run_id: int, worker_id: str, actor: str, dataset: Dataset, state: PipelineState
) -> int:
    """Store the artifact, then the model version and the register stage's success in one transaction."""
    draft = state.draft
    stored = ctx.artifacts.put(draft.artifact)
    if stored != draft.artifact_sha256:
        raise ConflictError(f"artifact store returned {stored} for artifact {draft.artifact_sha256}")
    now = utcnow()
    with ctx.db.write() as session:
        _assert_owned(session, run_id, worker_id)
        name = str(DataSpec.from_dict(dataset.spec).name)
        latest = session.execute(select(func.max(ModelVersion.version)).where(ModelVersion.name == name)).scalar()
        version = ModelVersion(
            name=name,
            version=(latest or 0) + 1,
            run_id=run_id,
            dataset_id=dataset.id,
            artifact_sha256=draft.artifact_sha256,
            training_data_sha256=dataset.sha256,
            model_type=draft.model_type,
            params=jsonable(draft.params),
            metrics=jsonable(draft.metrics),
            lineage=jsonable({**draft.lineage, "run_id": run_id, "created_by": actor}),
            state=ModelState.TRAINED,
            created_by=actor,
            created_at=now,
        )
        session.add(version)
        session.flush()
        session.execute(
            update(StageResult)
            .where(StageResult.run_id == run_id, StageResult.name == "register")
            .values(
                status=StageState.SUCCEEDED,
                finished_at=now,
                outputs=jsonable({**draft.to_dict(), "model_version_id": version.id, "version": version.version}),
                gate_passed=True,
                gate_reason=draft.gate.reason,
            )
        )
        audit.record(
            session,
            actor=worker_id,
            action="model_version.registered",
            object_type="model_version",
            object_id=version.id,
            details={
                "name": name,
                "version": version.version,
                "run_id": run_id,
                "artifact_sha256": draft.artifact_sha256,
            },
        )
        return version.id


@dataclass
class ServiceStageResult:
    """The result of a stage the runner does against services (deploy, evaluate)."""

    outputs: dict[str, Any]
    gate: Gate
    log: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {**self.outputs, "gate": self.gate.to_dict()}


def _service_stages(ctx: ServiceContext, run_id: int, mv_id: int) -> list[Stage]:
    def model_tests_stage(inputs: PipelineInputs, state: PipelineState) -> ServiceStageResult:
        return _model_tests_stage(ctx, run_id, mv_id, inputs, state)

    def deploy_stage(inputs: PipelineInputs, state: PipelineState) -> ServiceStageResult:
        return _deploy_and_smoke_test(ctx, run_id, mv_id, inputs, state)

    def evaluate_stage(inputs: PipelineInputs, state: PipelineState) -> ServiceStageResult:
        return _evaluate_in_preprod(ctx, mv_id, inputs, state)

    runs_by_name = {"model_tests": model_tests_stage, "deploy": deploy_stage, "evaluate": evaluate_stage}
    return [Stage(name, SERVICE_STAGE_TITLES[name], runs_by_name[name]) for name in SERVICE_STAGE_TITLES]


def _model_tests_stage(
    ctx: ServiceContext, run_id: int, mv_id: int, inputs: PipelineInputs, state: PipelineState
) -> ServiceStageResult:
    """The model test suite on the trained model and its stored artifact: a failed critical test stops the run."""
    clean = state.validation.clean
    assert clean is not None
    test_id, report = _model_tests.run_in_pipeline(
        ctx,
        model=state.trained.model,
        model_version_id=mv_id,
        run_id=run_id,
        spec=inputs.spec,
        held_out=clean.iloc[state.validation.test_index],
        reference=clean.iloc[state.validation.train_index],
        learning_curve=state.trained.learning_curve,
    )
    log = [
        f"{v.name}: {v.status}{' (critical)' if v.critical and v.status == 'fail' else ''}: {v.summary}"
        for v in report.verdicts
    ]
    log.append(f"{len(report.verdicts)} model tests in {report.seconds:.2f} s; stored as model test run {test_id}")
    critical, other = report.failed_critical, [v for v in report.failed if not v.critical]
    if critical:
        gate = Gate(False, "critical model test(s) failed: " + "; ".join(f"{v.name}: {v.summary}" for v in critical))
    elif other:
        gate = Gate(True, "passed with warnings: " + ", ".join(v.name for v in other) + " failed (not critical)")
    else:
        judged = sum(v.status != "skip" for v in report.verdicts)
        gate = Gate(True, f"all {judged} judged model tests passed")
    outputs = {
        "model_test_run_id": test_id,
        "status": report.status,
        "seconds": report.seconds,
        "verdicts": [
            {"name": v.name, "status": v.status, "critical": v.critical, "summary": v.summary} for v in report.verdicts
        ],
        "mrm": report.mrm_entries(),
    }
    return ServiceStageResult(outputs, gate, log)


SMOKE_ROWS = 5


def _deploy_and_smoke_test(
    ctx: ServiceContext, run_id: int, mv_id: int, inputs: PipelineInputs, state: PipelineState
) -> ServiceStageResult:
    """The IBM pipeline's "deployed?" gate: deploy to pre-prod, then score through the deployment's endpoint."""
    result = _endpoints._put(ctx, f"pipeline:run-{run_id}", mv_id, Space.PREPROD, reason=RevisionReason.PIPELINE)
    dep = result.deployment
    served = deployments.served_model(ctx, dep.id)
    url = (
        served.scoring_url
        if served is not None and served.scoring_url
        else ctx.settings.scoring_url.rstrip("/") + dep.scoring_path
    )
    log = [f"{'created' if result.created else 'replaced'} pre-prod deployment {dep.id} with model version {mv_id}"]
    clean = state.validation.clean
    assert clean is not None
    rows = clean.iloc[state.validation.test_index[:SMOKE_ROWS]]
    model = state.trained.model
    classes = [str(c) for c in model.classes_]
    expected = model.predict_proba(rows[inputs.spec.feature_names])[:, classes.index(inputs.spec.positive_label)]
    outputs: dict[str, Any] = {"deployment_id": dep.id, "endpoint": url, "model_version_id": mv_id}
    try:
        scored = score_over_http(
            ctx, SYSTEM, dep.id, rows, spec=inputs.spec, label=f"smoke test of run {run_id}", classes=classes
        )
    except DeploymentError as exc:
        gate = Gate(False, f"smoke test: {exc}")
        return ServiceStageResult(outputs, gate, [*log, f"deployed? {gate.reason}"])
    outputs["smoke_status"] = 200
    got = scored[PROBABILITY].to_numpy(dtype=float)
    max_diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    outputs["smoke_max_abs_difference"] = max_diff
    ok = max_diff <= 1e-9
    gate = Gate(
        ok,
        f"{len(rows)} test records scored through {url}; "
        + (
            "probabilities identical to the trained model"
            if ok
            else f"probabilities differ from the trained model by {max_diff:g}"
        ),
    )
    return ServiceStageResult(outputs, gate, [*log, f"deployed? {gate.reason}"])


def _evaluate_in_preprod(
    ctx: ServiceContext, mv_id: int, inputs: PipelineInputs, state: PipelineState
) -> ServiceStageResult:
    """Every monitor on the test split scored through the pre-prod endpoint, against the training split."""
    deploy = state.results["deploy"].outputs
    spec, model = inputs.spec, state.trained.model
    clean = state.validation.clean
    assert clean is not None
    test = clean.iloc[state.validation.test_index]
    classes = [str(c) for c in model.classes_]
    label = f"pre-prod evaluation of model version {mv_id}"
    try:
        current = score_over_http(ctx, SYSTEM, deploy["deployment_id"], test, spec=spec, label=label, classes=classes)
    except DeploymentError as exc:
        raise GateFailed("evaluate", str(exc)) from exc
    reference = monitoring.score_frame(model, clean.iloc[state.validation.train_index], spec)
    tested = state.results.get("model_tests")
    results = run_monitors(
        current,
        reference,
        spec=spec,
        model=model,
        labelled=current,
        held_out=current,
        model_tests=tested.outputs["mrm"] if tested is not None else (),
    )
    window = {
        "source": "test split scored through the pre-prod endpoint",
        "records": len(current),
        "endpoint": deploy["endpoint"],
    }
    with ctx.db.write() as session:
        outcome = monitoring.store_evaluation(
            session,
            model_version_id=mv_id,
            deployment_id=deploy["deployment_id"],
            space=Space.PREPROD,
            data_window=window,
            results=results,
            actor="pipeline",
            retrain_on_failure=False,
        )
    mrm_tests = tested.outputs["mrm"] if tested is not None else ()
    integrations.openscale_log_feedback(ctx, deploy["deployment_id"], test, spec=spec)  # the test split's true labels
    external = monitoring.evaluate_externally(
        ctx,
        deployment_id=deploy["deployment_id"],
        model_version_id=mv_id,
        space=Space.PREPROD,
        spec=spec,
        actor="pipeline",
        model_tests=mrm_tests,
    )
    if external is not None:
        results = [*results, *(r for r in external.results if r.monitor != "mrm")]
    failed = [f"{r.monitor}.{m.name}" for r in results if r.monitor != "mrm" for m in r.failed_critical]
    log = [
        f"{r.monitor}: {r.status}"
        + "".join(
            f"; {m.name} {m.value:.4f} vs {m.threshold:.2f} {m.status}"
            for m in r.metrics
            if m.critical and m.value is not None
        )
        for r in results
    ]
    log.append(f"risk level {outcome.risk_level}; {len(current)} test records scored through {deploy['endpoint']}")
    # A failed critical threshold does not stop the run: the validator sees it, and approval
    # then needs an explicit override with a reason.
    reason = "no critical threshold failed" if not failed else "failed critical: " + ", ".join(failed)
    gate = Gate(True, f"evaluation {outcome.evaluation_id}: {outcome.status}; {reason}")
    outputs = {
        "evaluation_id": outcome.evaluation_id,
        "status": outcome.status,
        "risk_level": outcome.risk_level,
        "alerts": outcome.alerts,
        "records": len(current),
    }
    if external is not None:
        outputs |= {"openscale_evaluation_id": external.evaluation_id, "openscale_status": external.status}
        log.append(f"OpenScale evaluation {external.evaluation_id}: {external.status}")
    facts = integrations.factsheets_candidate_facts(
        results=results, model_tests=mrm_tests, status=outcome.status, risk_level=outcome.risk_level
    )
    not_published = integrations.factsheets_publish_candidate(ctx, mv_id, facts, actor="pipeline")
    if not_published is not None:  # the candidate stands; the validator sees why the factsheet lags
        log.append(f"AI Factsheets: not published: {not_published}")
        outputs["factsheet_error"] = not_published
    return ServiceStageResult(outputs, gate, log)


def _finish_awaiting_review(ctx: ServiceContext, run_id: int, worker_id: str, mv_id: int, state: PipelineState) -> str:
    now = utcnow()
    try:
        with ctx.db.write() as session:
            run = _assert_owned(session, run_id, worker_id)
            run.status, run.finished_at = RunState.SUCCEEDED, now
            mv = session.get(ModelVersion, mv_id)
            assert mv is not None
            mv.state = transition(mv.state, ModelState.AWAITING_REVIEW, what=f"model version {mv_id}")
            audit.record(
                session,
                actor=worker_id,
                action="model_version.awaiting_review",
                object_type="model_version",
                object_id=mv_id,
            )
            audit.record(
                session,
                actor=worker_id,
                action="run.succeeded",
                object_type="run",
                object_id=run_id,
                details={"model_version_id": mv_id},
            )
    except OwnershipLost:
        return LOST
    except ConflictError as exc:  # the candidate left pre-prod under the run: the run fails, saying why
        return _finish(ctx, run_id, worker_id, RunState.FAILED, str(exc), None)
    return RunState.SUCCEEDED
