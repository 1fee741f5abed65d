"""The command line: ``python -m pipeline_core COMMAND`` (demo, run, runs, models, worker, ...).

Exit codes: 0 the run succeeded (or the command did its work), 1 the run failed,
2 bad arguments or input (named in the message), 3 the run was cancelled, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DataError, PipelineError
from pipeline_core.params import RunParams
from pipeline_core.pipeline import STAGES
from pipeline_core.services.audit import verify_chain
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.datasets import builtin_spec
from pipeline_core.services.runs import (
    cancel_run,
    get_run,
    launch_file_run,
    list_model_versions,
    list_runs,
    live_workers,
    model_version_for_run,
    reap_stale_runs,
    run_summary,
)
from pipeline_core.services.worker import RunWorker, new_worker_id

EXIT = {"succeeded": 0, "failed": 1, "cancelled": 3, "lost": 1}
TITLES = {s.name: s.title for s in STAGES}
HEADLINE_METRICS = ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier",
                    "cv_roc_auc_mean")  # fmt: skip


class TerminalProgress:
    """Stage lines; on a terminal, a live elapsed-time ticker while a stage runs."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.tty = out.isatty()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, stage: str, event: str, seconds: float) -> None:
        if event == "start":
            self._start(stage)
            return
        self._halt()
        mark = "ok  " if event == "done" else "FAIL"
        self._line(f"  [{mark}] {TITLES.get(stage, stage):<24} {seconds:7.2f} s")

    def _start(self, stage: str) -> None:
        if not self.tty:
            self._line(f"  [....] {TITLES.get(stage, stage)}")
            return
        self._stop.clear()
        began = time.monotonic()

        def tick() -> None:
            frames = "|/-\\"
            i = 0
            while not self._stop.wait(0.2):
                self.out.write(
                    f"\r  [ {frames[i % 4]}  ] {TITLES.get(stage, stage):<24} {time.monotonic() - began:7.1f} s"
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


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _load_spec(value: str) -> DataSpec:
    path = Path(value)
    if path.suffix == ".json" or path.is_file():
        try:
            return DataSpec.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"spec file {value!r} cannot be read: {exc}") from exc
    return builtin_spec(value)


def _execute_or_wait(ctx: ServiceContext, run_id: int, *, wait: bool, out: TextIO) -> int:
    """Run it here when no worker is alive; otherwise leave it to the workers (and wait)."""
    reap_stale_runs(ctx)
    workers = live_workers(ctx)
    if not workers:
        out.write(f"run {run_id}: no worker is running; executing it in this process\n")
        worker = RunWorker(ctx, worker_id=new_worker_id("cli"), progress=TerminalProgress(out))
        try:
            if not worker.claim(run_id):
                out.write(f"run {run_id} was taken by another worker meanwhile; waiting for it\n")
                return _wait(ctx, run_id, out)
            status = worker.execute(run_id)
        finally:
            worker.stop()
        return _report(ctx, run_id, status, out)
    if not wait:
        out.write(f"run {run_id} queued for {len(workers)} worker(s); follow it with: runs show {run_id}\n")
        return 0
    return _wait(ctx, run_id, out)


def _wait(ctx: ServiceContext, run_id: int, out: TextIO) -> int:
    seen: dict[str, str] = {}
    while True:
        run = get_run(ctx, run_id)
        for stage in run.stages:
            if seen.get(stage.name) != stage.status and stage.status not in ("pending",):
                seen[stage.name] = stage.status
                secs = f"{stage.duration_seconds:7.2f} s" if stage.duration_seconds is not None else ""
                out.write(f"  [{stage.status:<9}] {TITLES.get(stage.name, stage.name):<24} {secs}\n")
                out.flush()
        if run.status in ("succeeded", "failed", "cancelled"):
            return _report(ctx, run_id, run.status, out)
        reap_stale_runs(ctx)
        time.sleep(0.5)


def _report(ctx: ServiceContext, run_id: int, status: str, out: TextIO) -> int:
    run = get_run(ctx, run_id)
    out.write(f"run {run_id}: {run.status}\n")
    if run.error:
        out.write(f"  reason: {run.error}\n")
    validate = next((s for s in run.stages if s.name == "validate"), None)
    if validate is not None and validate.outputs.get("anomalies"):
        for anomaly in validate.outputs["anomalies"]:
            out.write(f"  {'BLOCKING' if anomaly['blocking'] else 'warning '} {anomaly['kind']}: "
                      f"{anomaly['column'] or ''} {anomaly['detail']}\n")  # fmt: skip
    model = model_version_for_run(ctx, run_id)
    if model is not None:
        out.write(f"  model version {model.name} v{model.version} (id {model.id}), "
                  f"artifact sha256 {model.artifact_sha256}\n")  # fmt: skip
        for key in HEADLINE_METRICS:
            if key in model.metrics:
                out.write(f"    {key:<16} {model.metrics[key]:.4f}\n")
    return EXIT.get(run.status if run.status in EXIT else status, 1)


def cmd_demo(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    path = ctx.settings.data_dir / "demo" / f"german_credit_generated_{args.rows}_seed{args.seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(frame_to_csv_bytes(generate_german_credit(args.rows, seed=args.seed)))
    out.write(f"demo data: {path} ({args.rows} generated German credit applicants, seed {args.seed})\n")
    run = launch_file_run(ctx, str(path), spec=builtin_spec("german_credit"), params=RunParams(), actor=_actor())
    out.write(f"run {run.id} queued on dataset {run.dataset.sha256[:12]}…\n")
    return _execute_or_wait(ctx, run.id, wait=True, out=out)


def cmd_run(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    params = RunParams.from_strings(args.param or [])
    run = launch_file_run(ctx, args.data, spec=_load_spec(args.spec), params=params, actor=_actor())
    out.write(f"run {run.id} queued on {args.data} (sha256 {run.dataset.sha256[:12]}…)\n")
    return _execute_or_wait(ctx, run.id, wait=args.wait, out=out)


def cmd_runs(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    reap_stale_runs(ctx)
    if args.runs_command == "list":
        out.write(f"{'id':>5}  {'status':<10} {'created':<19}  {'by':<16} {'dataset':<32} error\n")
        for run in list_runs(ctx, limit=args.limit, status=args.status):
            created = run.created_at.isoformat(sep=" ", timespec="seconds")
            error = (run.error or "")[:60]
            out.write(f"{run.id:>5}  {run.status:<10} {created}  {run.created_by[:16]:<16} "
                      f"{run.dataset.name[:32]:<32} {error}\n")  # fmt: skip
        return 0
    if args.runs_command == "show":
        run = get_run(ctx, args.run_id)
        if args.json:
            out.write(json.dumps(run_summary(run), indent=2) + "\n")
            return 0
        summary = run_summary(run)
        out.write(f"run {run.id}: {run.status}  (by {run.created_by}, worker {run.worker_id or '-'})\n")
        out.write(f"  dataset {summary['dataset']['name']} sha256 {summary['dataset']['sha256']}\n")
        out.write(f"  params {json.dumps(run.params, sort_keys=True)}\n")
        for stage in summary["stages"]:
            secs = f"{stage['duration_seconds']:.2f} s" if stage["duration_seconds"] is not None else "-"
            out.write(f"  {stage['name']:<10} {stage['status']:<10} {secs:>9}\n")
            for line in stage["log"]:
                out.write(f"      {line}\n")
        if run.error:
            out.write(f"  error: {run.error}\n")
        return 0
    if args.runs_command == "cancel":
        run = cancel_run(ctx, args.run_id, actor=_actor())
        out.write(f"run {run.id}: {'cancelled' if run.status == 'cancelled' else 'cancel requested'}\n")
        return 0
    raise AssertionError(args.runs_command)


def cmd_models(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    out.write(f"{'id':>4}  {'name':<16} {'ver':>3}  {'type':<14} {'state':<10} {'roc_auc':>7}  {'run':>4}  sha256\n")
    for mv in list_model_versions(ctx, limit=args.limit):
        auc = mv.metrics.get("roc_auc", float("nan"))
        out.write(f"{mv.id:>4}  {mv.name:<16} {mv.version:>3}  {mv.model_type:<14} {mv.state:<10} "
                  f"{auc:>7.4f}  {mv.run_id:>4}  {mv.artifact_sha256[:16]}\n")  # fmt: skip
    return 0


def cmd_worker(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        out.write(f"worker: {signal.Signals(signum).name} received; finishing the current run, then stopping\n")
        out.flush()
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = RunWorker(ctx, progress=TerminalProgress(out) if args.verbose else None)
    out.write(f"worker {worker.id} serving {ctx.db.safe_url}\n")
    out.flush()
    done = worker.serve(stop, max_runs=args.max_runs)
    out.write(f"worker {worker.id} stopped after {done} run(s)\n")
    return 0


def cmd_generate(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    Path(args.out).write_bytes(frame_to_csv_bytes(generate_german_credit(args.rows, seed=args.seed)))
    out.write(f"wrote {args.rows} generated German credit rows to {args.out}\n")
    return 0


def cmd_audit(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    with ctx.db.read() as session:
        status = verify_chain(session)
    out.write(f"audit chain: {'intact' if status.ok else 'BROKEN'} ({status.events} events checked)"
              f"{'' if status.ok else ': ' + status.reason}\n")  # fmt: skip
    return 0 if status.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline_core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate demo data and run the pipeline on it once")
    demo.add_argument("--rows", type=int, default=5000)
    demo.add_argument("--seed", type=int, default=0)

    run = sub.add_parser("run", help="run the pipeline on a CSV file")
    run.add_argument("--data", required=True, help="path of the CSV file")
    run.add_argument("--spec", default="german_credit", help="built-in spec name or a spec JSON file")
    run.add_argument("--param", action="append", metavar="KEY=VALUE", help="run parameter (repeatable)")
    run.add_argument("--wait", action="store_true", help="when workers are running, wait for the result")

    runs = sub.add_parser("runs", help="list, show or cancel runs")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True)
    runs_list = runs_sub.add_parser("list")
    runs_list.add_argument("--limit", type=int, default=30)
    runs_list.add_argument("--status", choices=("queued", "running", "succeeded", "failed", "cancelled"))
    runs_show = runs_sub.add_parser("show")
    runs_show.add_argument("run_id", type=int)
    runs_show.add_argument("--json", action="store_true")
    runs_cancel = runs_sub.add_parser("cancel")
    runs_cancel.add_argument("run_id", type=int)

    models = sub.add_parser("models", help="list model versions")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    models_list = models_sub.add_parser("list")
    models_list.add_argument("--limit", type=int, default=30)

    worker = sub.add_parser("worker", help="claim and execute queued runs until stopped")
    worker.add_argument("--max-runs", type=int, default=None)
    worker.add_argument("--verbose", action="store_true", help="print each stage")

    gen = sub.add_parser("generate", help="write generated German credit data to a CSV file")
    gen.add_argument("--rows", type=int, default=5000)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True)

    aud = sub.add_parser("audit", help="verify the audit log's hash chain")
    aud.add_argument("audit_command", choices=("verify",))
    return parser


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "runs": cmd_runs,
    "models": cmd_models,
    "worker": cmd_worker,
    "generate": cmd_generate,
    "audit": cmd_audit,
}


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = build_parser().parse_args(argv)
    try:
        ctx = open_context()
    except PipelineError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    try:
        return COMMANDS[args.command](ctx, args, out)
    except PipelineError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    finally:
        ctx.close()
