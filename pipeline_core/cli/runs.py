"""Commands on runs and what they make: demo, run, runs list|show|cancel, models list, worker, generate."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipeline_core import logs
from pipeline_core.cli.follow import TerminalProgress, execute_or_wait
from pipeline_core.cli.identity import demo_scientist, ensure_demo_users, login
from pipeline_core.cli.inputs import load_spec
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ExitCode
from pipeline_core.vocabulary import RunState

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext

COMMANDS = Declarations()
ROWS = arg("--rows", type=int, default=5000)
SEED = arg("--seed", type=int, default=0)


@COMMANDS.command("demo", ROWS, SEED, help="generate demo data and run the pipeline on it once")
def demo(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.data.german_credit import generate_german_credit
    from pipeline_core.data.load import frame_to_csv_bytes
    from pipeline_core.params import RunParams
    from pipeline_core.services.datasets import builtin_spec
    from pipeline_core.services.runs import launch_bytes_run

    path = ctx.settings.data_dir / "demo" / f"german_credit_generated_{args.rows}_seed{args.seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(frame_to_csv_bytes(generate_german_credit(args.rows, seed=args.seed)))
    out.write(f"demo data: {path} ({args.rows} generated German credit applicants, seed {args.seed})\n")
    ensure_demo_users(ctx, out)
    actor = demo_scientist(ctx)
    # The product's own generated file, not a path someone gave: its bytes go in as they are, whatever
    # the allowed data folders (data_roots) are.
    run = launch_bytes_run(
        ctx,
        actor,
        path.read_bytes(),
        name=str(path),
        spec=builtin_spec("german_credit"),
        params=RunParams(),
        source=str(path),
    )
    out.write(f"run {run.id} queued on dataset {run.dataset.sha256[:12]}…\n")
    return execute_or_wait(ctx, actor, run.id, wait=True, out=out)


@COMMANDS.command(
    "run",
    arg(
        "--data",
        required=True,
        help="path of the CSV file inside an allowed data folder (setting data_roots), "
        "or s3://bucket/key of an object in S3 / COS",
    ),
    arg("--spec", default="german_credit", help="built-in spec name or a spec JSON file"),
    arg("--param", action="append", metavar="KEY=VALUE", help="run parameter (repeatable)"),
    arg("--wait", action="store_true", help="when workers are running, wait for the result"),
    help="run the pipeline on a CSV file",
)
def run(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.params import RunParams
    from pipeline_core.services.runs import launch_file_run

    params = RunParams.from_strings(args.param or [])
    actor = login(ctx, args)
    # A relative path on the command line is from the working folder, as a shell user means it (the
    # service takes a relative path from the first data folder); the service then checks the folder.
    data = args.data if args.data.startswith("s3://") else str(Path(args.data).absolute())
    launched = launch_file_run(ctx, actor, data, spec=load_spec(args.spec), params=params)
    out.write(f"run {launched.id} queued on {args.data} (sha256 {launched.dataset.sha256[:12]}…)\n")
    return execute_or_wait(ctx, actor, launched.id, wait=args.wait, out=out)


RUNS = COMMANDS.group("runs", help="list, show or cancel runs")
RUN_ID = arg("run_id", type=int)


@RUNS.command(
    "list",
    arg("--limit", type=int, default=30),
    arg("--status", choices=[s.value for s in RunState]),
    help="the newest runs, with their status and error",
)
def runs_list(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services.authz import SYSTEM
    from pipeline_core.services.runs import list_runs, reap_stale_runs

    actor = login(ctx, args)
    reap_stale_runs(ctx, SYSTEM)
    out.write(f"{'id':>5}  {'status':<10} {'created':<19}  {'by':<16} {'dataset':<32} error\n")
    for listed in list_runs(ctx, actor, limit=args.limit, status=args.status):
        created = listed.created_at.isoformat(sep=" ", timespec="seconds")
        error = (listed.error or "")[:60]
        out.write(
            f"{listed.id:>5}  {listed.status:<10} {created}  {listed.created_by[:16]:<16} "
            f"{listed.dataset.name[:32]:<32} {error}\n"
        )
    return ExitCode.OK


@RUNS.command("show", RUN_ID, arg("--json", action="store_true"), help="one run: stages, timings, logs")
def runs_show(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services.authz import SYSTEM
    from pipeline_core.services.runs import get_run, reap_stale_runs, run_summary

    actor = login(ctx, args)
    reap_stale_runs(ctx, SYSTEM)
    shown = get_run(ctx, actor, args.run_id)
    summary = run_summary(shown)
    if args.json:
        out.write(json.dumps(summary, indent=2) + "\n")
        return ExitCode.OK
    out.write(f"run {shown.id}: {shown.status}  (by {shown.created_by}, worker {shown.worker_id or '-'})\n")
    out.write(f"  dataset {summary['dataset']['name']} sha256 {summary['dataset']['sha256']}\n")
    out.write(f"  params {json.dumps(shown.params, sort_keys=True)}\n")
    for stage in summary["stages"]:
        secs = f"{stage['duration_seconds']:.2f} s" if stage["duration_seconds"] is not None else "-"
        out.write(f"  {stage['name']:<10} {stage['status']:<10} {secs:>9}\n")
        for line in stage["log"]:
            out.write(f"      {line}\n")
    if shown.error:
        out.write(f"  error: {shown.error}\n")
    return ExitCode.OK


@RUNS.command("cancel", RUN_ID, help="cancel a queued run, or ask a running one to stop")
def runs_cancel(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services.authz import SYSTEM
    from pipeline_core.services.runs import cancel_run, reap_stale_runs

    reap_stale_runs(ctx, SYSTEM)
    cancelled = cancel_run(ctx, login(ctx, args), args.run_id)
    out.write(f"run {cancelled.id}: {'cancelled' if cancelled.status == RunState.CANCELLED else 'cancel requested'}\n")
    return ExitCode.OK


MODELS = COMMANDS.group("models", help="list model versions")


@MODELS.command("list", arg("--limit", type=int, default=30), help="model versions, newest first")
def models_list(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services.runs import list_model_versions

    actor = login(ctx, args)
    out.write(f"{'id':>4}  {'name':<16} {'ver':>3}  {'type':<14} {'state':<10} {'roc_auc':>7}  {'run':>4}  sha256\n")
    for mv in list_model_versions(ctx, actor, limit=args.limit):
        auc = mv.metrics.get("roc_auc", float("nan"))
        out.write(
            f"{mv.id:>4}  {mv.name:<16} {mv.version:>3}  {mv.model_type:<14} {mv.state:<10} "
            f"{auc:>7.4f}  {mv.run_id:>4}  {mv.artifact_sha256[:16]}\n"
        )
    return ExitCode.OK


@COMMANDS.command(
    "worker",
    arg("--max-runs", type=int, default=None),
    arg("--verbose", action="store_true", help="print each stage, and log from info up"),
    help="claim and execute queued runs until stopped",
)
def worker(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.cli.supervise import scoring_service
    from pipeline_core.services.runs import RunWorker

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        out.write(f"worker: {signal.Signals(signum).name} received; finishing the current run, then stopping\n")
        out.flush()
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.verbose:
        logs.at_least("info")
    serving = RunWorker(ctx, progress=TerminalProgress(out) if args.verbose else None)
    out.write(f"worker {serving.id} serving {ctx.db.safe_url}\n")
    out.flush()
    with scoring_service(ctx, out):
        done = serving.serve(stop, max_runs=args.max_runs, on_idle=due_sweeper(ctx))
    out.write(f"worker {serving.id} stopped after {done} run(s)\n")
    return ExitCode.OK


def due_sweeper(ctx: ServiceContext, *, every: float = 600.0) -> Callable[[], None]:
    """The worker's idle turn: alerts for expiring approvals and overdue conditions, at most every ``every`` s."""
    import time

    from pipeline_core.services import governance
    from pipeline_core.services.authz import SYSTEM

    due = [0.0]

    def sweep() -> None:
        if time.monotonic() < due[0]:
            return
        due[0] = time.monotonic() + every
        try:
            governance.sweep_due(ctx, SYSTEM)
        except Exception:
            logging.getLogger(__name__).exception("sweeping what is due failed")

    return sweep


@COMMANDS.command(
    "generate", ROWS, SEED, arg("--out", required=True), help="write generated German credit data to a CSV file"
)
def generate(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.data.german_credit import generate_german_credit
    from pipeline_core.data.load import frame_to_csv_bytes

    Path(args.out).write_bytes(frame_to_csv_bytes(generate_german_credit(args.rows, seed=args.seed)))
    out.write(f"wrote {args.rows} generated German credit rows to {args.out}\n")
    return ExitCode.OK
