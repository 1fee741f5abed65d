"""Runs: launch, cancel, look up, list; and the reaper of runs whose worker died."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from pipeline_core.data.load import parse_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ConflictError, NotFoundError
from pipeline_core.params import RunParams
from pipeline_core.pipeline import RUN_STAGES
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import DatasetInfo, register_dataset, register_file
from pipeline_core.services.runs._failed import fail_version, withdraw
from pipeline_core.services.runs._views import ModelVersionInfo, RunInfo, WorkerInfo
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ModelVersion, Run, StageResult, Worker
from pipeline_core.vocabulary import FINISHED_RUN_STATES, RunState, StageState


def launch_run(ctx: ServiceContext, actor: Principal, *, dataset: DatasetInfo, params: RunParams) -> RunInfo:
    """Queue a run of the pre-prod pipeline on ``dataset``."""
    require(ctx, actor, "launch_run")
    with ctx.db.write() as session:
        run = Run(
            status=RunState.QUEUED,
            dataset_id=dataset.id,
            params=params.to_dict(),
            created_by=actor.username,
            created_at=utcnow(),
            cancel_requested=False,
        )
        session.add(run)
        session.flush()
        for position, name in enumerate(RUN_STAGES):
            session.add(
                StageResult(run_id=run.id, name=name, position=position, status=StageState.PENDING, log=[], outputs={})
            )
        audit.record(
            session,
            actor=actor.username,
            action="run.queued",
            object_type="run",
            object_id=run.id,
            details={"dataset_id": dataset.id, "dataset_sha256": dataset.sha256, "params": params.to_dict()},
        )
    return get_run(ctx, actor, run.id)


def launch_file_run(ctx: ServiceContext, actor: Principal, path: str, *, spec: DataSpec, params: RunParams) -> RunInfo:
    """Register the CSV at ``path`` (inside an allowed data folder, or ``s3://``) as a dataset and queue a run on it."""
    require(ctx, actor, "launch_run")
    dataset = register_file(ctx, actor, path, spec=spec)
    return launch_run(ctx, actor, dataset=dataset, params=params)


def launch_bytes_run(
    ctx: ServiceContext, actor: Principal, data: bytes, *, name: str, spec: DataSpec, params: RunParams, source: str
) -> RunInfo:
    """Register CSV ``data`` (an upload, generated demo data) as a dataset and queue a run on it."""
    require(ctx, actor, "launch_run")
    dataset = register_dataset(ctx, actor, parse_csv_bytes(data, name=name), spec=spec, source=source)
    return launch_run(ctx, actor, dataset=dataset, params=params)


_WITH_STAGES = (selectinload(Run.stages), selectinload(Run.dataset))


def get_run(ctx: ServiceContext, actor: Principal, run_id: int) -> RunInfo:
    """Run ``run_id`` with its dataset and stages."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        run = session.execute(select(Run).where(Run.id == run_id).options(*_WITH_STAGES)).scalar_one_or_none()
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        return RunInfo.of(run)


def list_runs(
    ctx: ServiceContext, actor: Principal, *, limit: int = 50, status: RunState | None = None
) -> list[RunInfo]:
    """The newest runs first (those in ``status``, if given)."""
    require(ctx, actor, "view")
    query = select(Run).options(*_WITH_STAGES).order_by(Run.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Run.status == status)
    with ctx.db.read() as session:
        return [RunInfo.of(r) for r in session.execute(query).scalars()]


def list_model_versions(ctx: ServiceContext, actor: Principal, *, limit: int = 50) -> list[ModelVersionInfo]:
    """The newest model versions first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        query = select(ModelVersion).order_by(ModelVersion.id.desc()).limit(limit)
        return [ModelVersionInfo.of(mv) for mv in session.execute(query).scalars()]


def model_version_for_run(ctx: ServiceContext, actor: Principal, run_id: int) -> ModelVersionInfo | None:
    """The model version run ``run_id`` registered, if it got that far."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        mv = session.execute(select(ModelVersion).where(ModelVersion.run_id == run_id)).scalar_one_or_none()
        return ModelVersionInfo.of(mv) if mv is not None else None


def cancel_run(ctx: ServiceContext, actor: Principal, run_id: int) -> RunInfo:
    """Cancel a queued run now, or ask the worker of a running one to stop at the next stage."""
    require(ctx, actor, "cancel_run")
    with ctx.db.write() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"run {run_id} does not exist")
        if run.status in FINISHED_RUN_STATES:
            raise ConflictError(f"run {run_id} is already {run.status}; there is nothing to cancel")
        if run.status == RunState.QUEUED:
            run.status = RunState.CANCELLED
            run.finished_at = utcnow()
            run.error = f"cancelled by {actor.username} before it started"
            session.execute(update(StageResult).where(StageResult.run_id == run_id).values(status=StageState.CANCELLED))
        run.cancel_requested = True
        audit.record(
            session,
            actor=actor.username,
            action="run.cancel_requested",
            object_type="run",
            object_id=run_id,
            details={"status": run.status},
        )
    return get_run(ctx, actor, run_id)


def live_workers(ctx: ServiceContext, actor: Principal) -> list[WorkerInfo]:
    """Workers that have beaten within the heartbeat timeout and not stopped."""
    require(ctx, actor, "view")
    cutoff = utcnow() - timedelta(seconds=ctx.settings.heartbeat_timeout)
    with ctx.db.read() as session:
        query = select(Worker).where(Worker.stopped_at.is_(None), Worker.heartbeat_at >= cutoff)
        return [WorkerInfo.of(w) for w in session.execute(query).scalars()]


def reap_stale_runs(ctx: ServiceContext, actor: Principal) -> list[int]:
    """Mark failed every running run whose worker has not beaten within the timeout (the product's housekeeping).

    Its model version is failed with it, and every deployment serving a failed version is put back.
    """
    require(ctx, actor, "reap_runs")
    timeout = ctx.settings.heartbeat_timeout
    cutoff = utcnow() - timedelta(seconds=timeout)
    with ctx.db.write() as session:
        stale = list(
            session.execute(select(Run).where(Run.status == RunState.RUNNING, Run.heartbeat_at < cutoff)).scalars()
        )
        for run in stale:
            run.status = RunState.FAILED
            run.finished_at = utcnow()
            last = run.heartbeat_at.isoformat(timespec="seconds") if run.heartbeat_at else "never"
            run.error = (
                f"worker {run.worker_id} stopped sending heartbeats (last {last} UTC, timeout {timeout:g} s); "
                "the run was abandoned"
            )
            running = session.execute(
                select(StageResult).where(StageResult.run_id == run.id, StageResult.status == StageState.RUNNING)
            ).scalars()
            for stage in running:
                stage.status = StageState.FAILED
                stage.finished_at = run.finished_at
                stage.log = [*stage.log, "worker lost: no heartbeat"]
                run.failed_stage = stage.name
            audit.record(
                session,
                actor=actor.username,
                action="run.failed",
                object_type="run",
                object_id=run.id,
                details={"reason": "heartbeat timeout", "worker_id": run.worker_id},
            )
            fail_version(session, run.id, actor=actor.username, status=RunState.FAILED, reason=run.error)
        reaped = [r.id for r in stale]
    withdraw(ctx, actor)  # every sweep: also what a process that died after failing a version left serving
    return reaped


def run_summary(run: RunInfo) -> dict[str, Any]:
    """A JSON-friendly view of a run and its stages (for the CLI and pages)."""
    return {
        "id": run.id,
        "status": run.status,
        "dataset": {"id": run.dataset_id, "name": run.dataset.name, "sha256": run.dataset.sha256},
        "params": run.params,
        "created_by": run.created_by,
        "created_at": run.created_at.isoformat(timespec="seconds"),
        "started_at": run.started_at.isoformat(timespec="seconds") if run.started_at else None,
        "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
        "worker_id": run.worker_id,
        "error": run.error,
        "failed_stage": run.failed_stage,
        "stages": [
            {
                "name": s.name,
                "status": s.status,
                "duration_seconds": s.duration_seconds,
                "gate": None if s.gate_passed is None else {"passed": s.gate_passed, "reason": s.gate_reason},
                "log": s.log,
                "outputs": s.outputs,
            }
            for s in run.stages
        ],
    }
