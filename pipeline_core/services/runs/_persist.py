"""Persisting a run as it executes: each stage's status, timings, log and outputs; the model version it registers.

Every write is conditional on this worker still owning the run (status running, same
worker id), so a worker that lost its run to the reaper cannot register a model after
the fact. The model version, its artifact reference, the register stage's success and
their audit event are committed in one transaction, by the hook that sees ``register`` finish.
The model version carries the train/test split the validate stage made (the hook saw it
finish), so that evaluations read the split instead of making it again.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pipeline_core.errors import ConflictError, PipelineError
from pipeline_core.pipeline import Hooks, Stage, StageResultLike
from pipeline_core.services import audit
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.jsonable import jsonable
from pipeline_core.stages.register import ModelVersionDraft
from pipeline_core.stages.validate import ValidationResult
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ModelVersion, Run, StageResult
from pipeline_core.vocabulary import ModelState, RunState, StageState

ProgressFn = Callable[[str, str, float], None]  # (stage, "start" | "done" | "failed", seconds)


@dataclass
class RunControl:
    """Signals between the heartbeat thread and the runner."""

    cancel: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)


class OwnershipLost(PipelineError):
    """The run is no longer ours (reaped or cancelled under us); stop without writing."""


def assert_owned(session: Session, run_id: int, worker_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None or run.status != RunState.RUNNING or run.worker_id != worker_id:
        raise OwnershipLost(f"run {run_id} is no longer owned by worker {worker_id}")
    return run


@dataclass(frozen=True)
class RunSubject:
    """What the run trains on and for whom: recorded on the model version it registers."""

    run_id: int
    worker_id: str
    launched_by: str
    dataset_id: int
    dataset_sha256: str
    model_name: str


class PersistingHooks(Hooks):
    """The runner's hooks: the store follows the pipeline stage by stage."""

    def __init__(
        self, ctx: ServiceContext, subject: RunSubject, control: RunControl, progress: ProgressFn | None
    ) -> None:
        self.ctx, self.subject, self.control, self.progress = ctx, subject, control, progress
        self.model_version_id: int | None = None
        self.validation: ValidationResult | None = None  # the passed validate stage: its split goes on the version

    def registered(self) -> int:
        """The model version this run registered (the service stages work on it)."""
        if self.model_version_id is None:
            raise ConflictError(f"run {self.subject.run_id} has not registered a model version yet")
        return self.model_version_id

    def _stage_write(self, name: str, **values: Any) -> None:
        with self.ctx.db.write() as session:
            assert_owned(session, self.subject.run_id, self.subject.worker_id)
            session.execute(
                update(StageResult)
                .where(StageResult.run_id == self.subject.run_id, StageResult.name == name)
                .values(**values)
            )

    def before(self, stage: Stage) -> None:
        if self.progress:
            self.progress(stage.name, "start", 0.0)
        self._stage_write(stage.name, status=StageState.RUNNING, started_at=utcnow())

    def after(self, stage: Stage, result: StageResultLike, seconds: float) -> None:
        if self.progress:
            self.progress(stage.name, "done" if result.gate.passed else "failed", seconds)
        if stage.name == "validate" and result.gate.passed:
            assert isinstance(result, ValidationResult)
            self.validation = result
        if stage.name == "register" and result.gate.passed:
            assert isinstance(result, ModelVersionDraft)
            self.model_version_id = self._register(result, seconds)
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
            raise OwnershipLost(f"run {self.subject.run_id} is no longer owned by worker {self.subject.worker_id}")
        return self.control.cancel.is_set()

    def _register(self, draft: ModelVersionDraft, seconds: float) -> int:
        """Store the artifact, then the model version and the register stage's success in one transaction."""
        s = self.subject
        split = self.validation
        if split is None or split.clean is None:  # execute() runs register only after validate passed
            raise ConflictError(f"run {s.run_id} registers a model version without the split validate made")
        stored = self.ctx.artifacts.put(draft.artifact)
        if stored != draft.artifact_sha256:
            raise ConflictError(f"artifact store returned {stored} for artifact {draft.artifact_sha256}")
        now = utcnow()
        with self.ctx.db.write() as session:
            assert_owned(session, s.run_id, s.worker_id)
            latest = session.execute(
                select(func.max(ModelVersion.version)).where(ModelVersion.name == s.model_name)
            ).scalar()
            version = ModelVersion(
                name=s.model_name,
                version=(latest or 0) + 1,
                run_id=s.run_id,
                dataset_id=s.dataset_id,
                artifact_sha256=draft.artifact_sha256,
                training_data_sha256=s.dataset_sha256,
                model_type=draft.model_type,
                params=jsonable(draft.params),
                metrics=jsonable(draft.metrics),
                lineage=jsonable({**draft.lineage, "run_id": s.run_id, "created_by": s.launched_by}),
                review_state=ModelState.TRAINED,
                created_by=s.launched_by,
                created_at=now,
            )
            # Positions into the frame the run validated: load_frame's parse of the dataset's bytes.
            version.record_split(
                dataset_sha256=s.dataset_sha256,
                n_rows=len(split.clean),
                train=split.train_index.tolist(),
                test=split.test_index.tolist(),
            )
            session.add(version)
            session.flush()
            session.execute(
                update(StageResult)
                .where(StageResult.run_id == s.run_id, StageResult.name == "register")
                .values(
                    status=StageState.SUCCEEDED,
                    finished_at=now,
                    duration_seconds=seconds,
                    log=list(draft.log),
                    outputs=jsonable({**draft.to_dict(), "model_version_id": version.id, "version": version.version}),
                    gate_passed=True,
                    gate_reason=draft.gate.reason,
                )
            )
            audit.record(
                session,
                actor=s.worker_id,
                action="model_version.registered",
                object_type="model_version",
                object_id=version.id,
                details={
                    "name": s.model_name,
                    "version": version.version,
                    "run_id": s.run_id,
                    "artifact_sha256": draft.artifact_sha256,
                },
            )
            return version.id
