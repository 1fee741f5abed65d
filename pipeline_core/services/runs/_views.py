"""What the runs area hands out: frozen views of runs, their stages, model versions and workers (never ORM rows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline_core.services.datasets import DatasetInfo
from pipeline_core.store.models import ModelVersion, Run, StageResult, Worker
from pipeline_core.vocabulary import ModelState, RunState, StageState


@dataclass(frozen=True)
class StageInfo:
    """One stage of a run: its state, timings, log, outputs and gate."""

    name: str
    position: int
    status: StageState
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    log: tuple[Any, ...]
    outputs: Mapping[str, Any]
    gate_passed: bool | None
    gate_reason: str | None

    @classmethod
    def of(cls, row: StageResult) -> StageInfo:
        return cls(
            row.name,
            row.position,
            StageState(row.status),
            row.started_at,
            row.finished_at,
            row.duration_seconds,
            tuple(row.log or ()),
            dict(row.outputs or {}),
            row.gate_passed,
            row.gate_reason,
        )


@dataclass(frozen=True)
class RunInfo:
    """A run: on which dataset, with which parameters, by whom, where it is, and its stages in order."""

    id: int
    status: RunState
    dataset_id: int
    dataset: DatasetInfo
    params: Mapping[str, Any]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    error: str | None
    failed_stage: str | None
    stages: tuple[StageInfo, ...]

    @classmethod
    def of(cls, row: Run, *, with_stages: bool = True) -> RunInfo:
        return cls(
            row.id,
            RunState(row.status),
            row.dataset_id,
            DatasetInfo.of(row.dataset),
            dict(row.params),
            row.created_by,
            row.created_at,
            row.started_at,
            row.finished_at,
            row.worker_id,
            row.heartbeat_at,
            bool(row.cancel_requested),
            row.error,
            row.failed_stage,
            tuple(StageInfo.of(s) for s in sorted(row.stages, key=lambda s: s.position)) if with_stages else (),
        )


@dataclass(frozen=True)
class ModelVersionInfo:
    """A model version: the artifact a run produced, its lineage, metrics and where it is in its life cycle."""

    id: int
    name: str
    version: int
    run_id: int
    dataset_id: int
    artifact_sha256: str
    training_data_sha256: str
    model_type: str
    params: Mapping[str, Any]
    metrics: Mapping[str, Any]
    lineage: Mapping[str, Any]
    state: ModelState
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: ModelVersion) -> ModelVersionInfo:
        return cls(
            row.id,
            row.name,
            row.version,
            row.run_id,
            row.dataset_id,
            row.artifact_sha256,
            row.training_data_sha256,
            row.model_type,
            dict(row.params),
            dict(row.metrics),
            dict(row.lineage),
            ModelState(row.state),
            row.created_by,
            row.created_at,
        )


@dataclass(frozen=True)
class WorkerInfo:
    """A worker process: where it runs, when it last beat, which run it holds."""

    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    current_run_id: int | None

    @classmethod
    def of(cls, row: Worker) -> WorkerInfo:
        return cls(row.id, row.hostname, row.pid, row.started_at, row.heartbeat_at, row.current_run_id)
