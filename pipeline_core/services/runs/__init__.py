"""Runs: launch, cancel and list runs, the runner and the worker that execute them, model tests, retraining."""

from __future__ import annotations

from pipeline_core.pipeline import RUN_STAGES, SERVICE_STAGES, STAGE_TITLES
from pipeline_core.services.runs._launch import (
    cancel_run,
    get_run,
    launch_bytes_run,
    launch_file_run,
    launch_run,
    list_model_versions,
    list_runs,
    live_workers,
    model_version_for_run,
    reap_stale_runs,
    run_summary,
)
from pipeline_core.services.runs._model_tests import StoredModelTests
from pipeline_core.services.runs._model_tests import latest as latest_model_tests
from pipeline_core.services.runs._model_tests import run_on_version as run_model_tests
from pipeline_core.services.runs._persist import ProgressFn, RunControl
from pipeline_core.services.runs._retraining import RetrainOutcome, retrain
from pipeline_core.services.runs._runner import LOST, execute_run
from pipeline_core.services.runs._views import ModelVersionInfo, RunInfo, StageInfo, WorkerInfo
from pipeline_core.services.runs._worker import RunWorker, new_worker_id

__all__ = [
    "LOST",
    "RUN_STAGES",
    "SERVICE_STAGES",
    "STAGE_TITLES",
    "ModelVersionInfo",
    "ProgressFn",
    "RetrainOutcome",
    "RunControl",
    "RunInfo",
    "RunWorker",
    "StageInfo",
    "StoredModelTests",
    "WorkerInfo",
    "cancel_run",
    "execute_run",
    "get_run",
    "latest_model_tests",
    "launch_bytes_run",
    "launch_file_run",
    "launch_run",
    "list_model_versions",
    "list_runs",
    "live_workers",
    "model_version_for_run",
    "new_worker_id",
    "reap_stale_runs",
    "retrain",
    "run_model_tests",
    "run_summary",
]
