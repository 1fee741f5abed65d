"""Following a run to its end on the terminal: execute it here or wait for a worker, print stages and the result."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from pipeline_core.errors import ExitCode, RunCancelled, RunError, exit_code_for
from pipeline_core.vocabulary import FINISHED_RUN_STATES, RunState, StageState

if TYPE_CHECKING:
    from pipeline_core.services.authz import Principal
    from pipeline_core.services.context import ServiceContext

HEADLINE_METRICS = (
    "roc_auc",
    "pr_auc",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "log_loss",
    "brier",
    "cv_roc_auc_mean",
)


def run_exit_code(status: str) -> int:
    """0 for a run that succeeded; a cancelled or failed (or lost) one exits as its error class would."""
    if status == RunState.SUCCEEDED:
        return ExitCode.OK
    if status == RunState.CANCELLED:
        return exit_code_for(RunCancelled)
    return exit_code_for(RunError)


class TerminalProgress:
    """Stage lines; on a terminal, a live elapsed-time ticker while a stage runs."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.tty = out.isatty()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, stage: str, event: str, seconds: float) -> None:
        from pipeline_core.services.runs import STAGE_TITLES

        if event == "start":
            self._start(stage)
            return
        self._halt()
        mark = "ok  " if event == "done" else "FAIL"
        self._line(f"  [{mark}] {STAGE_TITLES.get(stage, stage):<24} {seconds:7.2f} s")

    def _start(self, stage: str) -> None:
        from pipeline_core.services.runs import STAGE_TITLES

        if not self.tty:
            self._line(f"  [....] {STAGE_TITLES.get(stage, stage)}")
            return
        self._stop.clear()
        began = time.monotonic()

        def tick() -> None:
            frames = "|/-\\"
            i = 0
            while not self._stop.wait(0.2):
                self.out.write(
                    f"\r  [ {frames[i % 4]}  ] {STAGE_TITLES.get(stage, stage):<24} {time.monotonic() - began:7.1f} s"
                )
                self.out.flush()
                i += 1

        self._ticker = threading.Thread(target=tick, daemon=True)
        self._ticker.start()

    def _halt(self) -> None:
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
            self.out.write("\r" + " " * 60 + "\r")

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def execute_or_wait(ctx: ServiceContext, actor: Principal, run_id: int, *, wait: bool, out: TextIO) -> int:
    """Run it here when no worker is alive; otherwise leave it to the workers (and wait).

    ``actor`` is who launched it: what is printed about the run is read as them.
    """
    from pipeline_core.cli.supervise import scoring_service
    from pipeline_core.services.authz import SYSTEM
    from pipeline_core.services.runs import RunWorker, live_workers, new_worker_id, reap_stale_runs

    reap_stale_runs(ctx, SYSTEM)
    workers = live_workers(ctx, actor)
    if not workers:
        out.write(f"run {run_id}: no worker is running; executing it in this process\n")
        worker = RunWorker(ctx, worker_id=new_worker_id("cli"), progress=TerminalProgress(out))
        try:
            if not worker.claim(run_id):
                out.write(f"run {run_id} was taken by another worker meanwhile; waiting for it\n")
                return wait_for_run(ctx, actor, run_id, out)
            with scoring_service(ctx, out):
                status = worker.execute(run_id)
        finally:
            worker.stop()
        return report(ctx, actor, run_id, status, out)
    if not wait:
        out.write(f"run {run_id} queued for {len(workers)} worker(s); follow it with: runs show {run_id}\n")
        return ExitCode.OK
    return wait_for_run(ctx, actor, run_id, out)


def wait_for_run(ctx: ServiceContext, actor: Principal, run_id: int, out: TextIO) -> int:
    """Print each stage as a worker moves it on, until the run finishes; then its report."""
    from pipeline_core.services.authz import SYSTEM
    from pipeline_core.services.runs import STAGE_TITLES, get_run, reap_stale_runs

    seen: dict[str, str] = {}
    while True:
        run = get_run(ctx, actor, run_id)
        for stage in run.stages:
            if seen.get(stage.name) != stage.status and stage.status != StageState.PENDING:
                seen[stage.name] = stage.status
                secs = f"{stage.duration_seconds:7.2f} s" if stage.duration_seconds is not None else ""
                out.write(f"  [{stage.status:<9}] {STAGE_TITLES.get(stage.name, stage.name):<24} {secs}\n")
                out.flush()
        if run.status in FINISHED_RUN_STATES:
            return report(ctx, actor, run_id, run.status, out)
        reap_stale_runs(ctx, SYSTEM)
        time.sleep(0.5)


def report(ctx: ServiceContext, actor: Principal, run_id: int, status: str, out: TextIO) -> int:
    """The run's outcome, its blocking anomalies, its model version and headline metrics; its exit code."""
    from pipeline_core.services.runs import get_run, model_version_for_run

    run = get_run(ctx, actor, run_id)
    out.write(f"run {run_id}: {run.status}\n")
    if run.error:
        out.write(f"  reason: {run.error}\n")
    validate = next((s for s in run.stages if s.name == "validate"), None)
    if validate is not None and validate.outputs.get("anomalies"):
        for anomaly in validate.outputs["anomalies"]:
            out.write(
                f"  {'BLOCKING' if anomaly['blocking'] else 'warning '} {anomaly['kind']}: "
                f"{anomaly['column'] or ''} {anomaly['detail']}\n"
            )
    model = model_version_for_run(ctx, actor, run_id)
    if model is not None:
        out.write(
            f"  model version {model.name} v{model.version} (id {model.id}), artifact sha256 {model.artifact_sha256}\n"
        )
        for key in HEADLINE_METRICS:
            if key in model.metrics:
                out.write(f"    {key:<16} {model.metrics[key]:.4f}\n")
        out.write(f"  state: {model.state.replace('_', ' ')}\n")
    # The stored status decides; the executor's answer ("lost": the run was taken from us) only when it is unfinished.
    return run_exit_code(run.status if run.status in FINISHED_RUN_STATES else status)
