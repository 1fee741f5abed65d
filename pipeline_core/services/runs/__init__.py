"""Runs: launch, cancel and list runs, the runner and the worker that execute them, model tests, retraining."""

from __future__ import annotations

from pipeline_core.services.runs._launch import (
    RUN_STAGES,
    SERVICE_STAGE_TITLES,
    SERVICE_STAGES,
    STAGE_TITLES,
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
from pipeline_core.services.runs._model_tests import (
    StoredModelTests,
    production_model,
    run_in_pipeline,
    stored_artifact,
)
from pipeline_core.services.runs._model_tests import latest as latest_model_tests
from pipeline_core.services.runs._model_tests import run_on_version as run_model_tests
from pipeline_core.services.runs._retraining import RetrainOutcome, retrain
from pipeline_core.services.runs._runner import (
    LOST,
    SMOKE_ROWS,
    OwnershipLost,
    ProgressFn,
    RunControl,
    ServiceStageResult,
    execute_run,
    reference_schema,
)
from pipeline_core.services.runs._worker import MAX_CLAIM_ATTEMPTS, RunWorker, new_worker_id

__all__ = [
    "LOST",
    "MAX_CLAIM_ATTEMPTS",
    "RUN_STAGES",
    "SERVICE_STAGES",
    "SERVICE_STAGE_TITLES",
    "SMOKE_ROWS",
    "STAGE_TITLES",
    "OwnershipLost",
    "ProgressFn",
    "RetrainOutcome",
    "RunControl",
    "RunWorker",
    "ServiceStageResult",
    "StoredModelTests",
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
    "production_model",
    "reap_stale_runs",
    "reference_schema",
    "retrain",
    "run_in_pipeline",
    "run_model_tests",
    "run_summary",
    "stored_artifact",
]
