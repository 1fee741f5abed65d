"""The runner: execute one claimed run through ``pipeline.execute``, with hooks that persist it, and finish it.

The stages, pure and service alike, are ``pipeline.STAGES``; the persisting hooks
(``_persist``) record every stage and register the model version; the service stages
(``_service_stages``) do their work against the store and the deployment target. The
run's success and the candidate's move to awaiting review commit in one transaction; a run that
fails or is cancelled instead marks its model version failed in the transaction that ends it, and
its pre-prod deployment is put back (``_failed``).
"""

from __future__ import annotations

from sqlalchemy import select, update

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ConflictError, GateFailed, NotFoundError, RunCancelled, ValidationFailed
from pipeline_core.params import RunParams
from pipeline_core.pipeline import PipelineInputs, PipelineState, execute
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import load_frame
from pipeline_core.services.runs._failed import fail_version, withdraw
from pipeline_core.services.runs._persist import (
    OwnershipLost,
    PersistingHooks,
    ProgressFn,
    RunControl,
    RunSubject,
    assert_owned,
)
from pipeline_core.services.runs._service_stages import service_stages
from pipeline_core.stages.validate import Schema
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Dataset, ModelVersion, Run, StageResult
from pipeline_core.vocabulary import ModelState, RunState, StageState, transition

# What execute_run returns when the run was taken from this worker: not a state, nothing is stored.
LOST = "lost"


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
    actor: Principal,
    run_id: int,
    *,
    worker_id: str,
    control: RunControl | None = None,
    progress: ProgressFn | None = None,
) -> str:
    """Execute claimed run ``run_id``; return its final status (a worker, acting as the system)."""
    require(ctx, actor, "execute_run")
    control = control or RunControl()
    with ctx.db.read() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        dataset = session.get(Dataset, run.dataset_id)
        params_dict, created_by = dict(run.params), run.created_by
    assert dataset is not None  # foreign key
    try:
        spec = DataSpec.from_dict(dataset.spec)
        subject = RunSubject(run_id, worker_id, created_by, dataset.id, dataset.sha256, str(spec.name))
        hooks = PersistingHooks(ctx, subject, control, progress)
        inputs = PipelineInputs(
            frame=load_frame(ctx, actor, dataset),
            spec=spec,
            params=RunParams.from_dict(params_dict),
            dataset={"id": dataset.id, "name": dataset.name, "sha256": dataset.sha256, "source": dataset.source},
            reference_schema=reference_schema(ctx, dataset),
        )
        state = execute(inputs, hooks, services=service_stages(ctx, run_id, hooks.registered))
        return _finish_awaiting_review(ctx, actor, run_id, worker_id, hooks.registered(), state)
    except OwnershipLost:
        return LOST
    except RunCancelled as exc:
        return _finish(ctx, actor, run_id, worker_id, RunState.CANCELLED, str(exc), None)
    except (ValidationFailed, GateFailed) as exc:
        gated = exc.stage if isinstance(exc, GateFailed) else "validate"
        return _finish(ctx, actor, run_id, worker_id, RunState.FAILED, str(exc), gated)
    except Exception as exc:  # noqa: BLE001 - any crash of a stage fails the run, with its reason
        crashed = _running_stage(ctx, run_id)
        where = f"stage '{crashed}'" if crashed else "run set-up"
        error = f"{where} raised {type(exc).__name__}: {exc}"
        return _finish(ctx, actor, run_id, worker_id, RunState.FAILED, error, crashed)


def _running_stage(ctx: ServiceContext, run_id: int) -> str | None:
    with ctx.db.read() as session:
        return session.execute(
            select(StageResult.name).where(
                StageResult.run_id == run_id, StageResult.status.in_((StageState.RUNNING, StageState.FAILED))
            )
        ).scalar()


def _finish(
    ctx: ServiceContext, actor: Principal, run_id: int, worker_id: str, status: RunState, error: str, stage: str | None
) -> str:
    """End the run unsuccessfully; its model version, if it registered one, is failed with it and withdrawn."""
    try:
        with ctx.db.write() as session:
            run = assert_owned(session, run_id, worker_id)
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
            failed = fail_version(session, run_id, actor=worker_id, status=status, reason=error)
    except OwnershipLost:
        return LOST
    if failed is not None:
        withdraw(ctx, actor)
    return status


def _finish_awaiting_review(
    ctx: ServiceContext, actor: Principal, run_id: int, worker_id: str, mv_id: int, state: PipelineState
) -> str:
    now = utcnow()
    try:
        with ctx.db.write() as session:
            run = assert_owned(session, run_id, worker_id)
            run.status, run.finished_at = RunState.SUCCEEDED, now
            mv = session.get(ModelVersion, mv_id)
            assert mv is not None
            mv.review_state = transition(mv.state, ModelState.AWAITING_REVIEW, what=f"model version {mv_id}")
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
        return _finish(ctx, actor, run_id, worker_id, RunState.FAILED, str(exc), None)
    return RunState.SUCCEEDED
