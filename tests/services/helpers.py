"""Build candidates (model versions awaiting review) through the real pipeline."""

from __future__ import annotations

from pathlib import Path

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.params import RunParams
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.runs import RunWorker, launch_file_run, model_version_for_run

FAST = RunParams(max_iter=30, cv_folds=3)


def make_candidate(ctx: ServiceContext, actor: Principal, folder: Path, *, seed: int = 7, rows: int = 600) -> int:
    """Run the pipeline on generated data; return the model version now awaiting review."""
    path = folder / f"credit_{seed}_{rows}.csv"
    path.write_bytes(frame_to_csv_bytes(generate_german_credit(rows, seed=seed)))
    run = launch_file_run(ctx, actor, str(path), spec=german_credit_spec(), params=FAST)
    worker = RunWorker(ctx)
    assert worker.claim(run.id)
    status = worker.execute(run.id)
    worker.stop()
    assert status == "succeeded", status
    mv = model_version_for_run(ctx, SYSTEM, run.id)
    assert mv is not None and mv.state == "awaiting_review"
    return mv.id
