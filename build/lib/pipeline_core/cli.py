"""The command line: ``python -m pipeline_core COMMAND`` (demo, run, runs, models, worker, ...).

Exit codes: 0 the run succeeded (or the command did its work), 1 the run failed,
2 bad arguments or input (named in the message), 3 the run was cancelled, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipeline_core.errors import AuthError, ConfigError, DataError, DeploymentError, NotFoundError, PipelineError

# Each command imports the services it uses inside its function: imported here, they pulled in shap, sklearn,
# plotly, pandas, fastapi and uvicorn (about 2 s) before `--help` or `users list` could answer.
if TYPE_CHECKING:
    from pipeline_core.data.spec import DataSpec
    from pipeline_core.services.authz import Principal
    from pipeline_core.services.context import ServiceContext
    from pipeline_core.services.deployments import DeploymentInfo

EXIT = {"succeeded": 0, "failed": 1, "cancelled": 3, "lost": 1}
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


DEMO_USERS = (
    ("demo_scientist", "data_scientist"),
    ("demo_validator", "validator"),
    ("demo_manager", "manager"),
    ("demo_admin", "admin"),
)


def _login(ctx: ServiceContext, args: argparse.Namespace) -> Principal:
    """The acting user: --user or MLOPS_USER, password from MLOPS_PASSWORD or a prompt."""
    from pipeline_core.services import governance

    username = getattr(args, "user", None) or ctx.settings.user
    if not username:
        raise AuthError("name the acting user with --user or MLOPS_USER")
    password = ctx.settings.password
    if not password:
        if not sys.stdin.isatty():
            raise AuthError(f"no password for {username!r}: set MLOPS_PASSWORD or run from a terminal")
        password = getpass.getpass(f"password for {username}: ")
    return governance.authenticate(ctx, username, password)


def _new_password(ctx: ServiceContext, args: argparse.Namespace) -> str:
    """From stdin (--password-stdin), MLOPS_NEW_PASSWORD, or a prompt; never an argument (ps shows those)."""
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    if ctx.settings.new_password:
        return ctx.settings.new_password
    if not sys.stdin.isatty():
        raise AuthError("give the new password on stdin with --password-stdin")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise AuthError("the two passwords differ")
    return first


def _ensure_demo_users(ctx: ServiceContext, out: TextIO) -> None:
    """Create the demo users once, with passwords from MLOPS_DEMO_PASSWORD or generated and shown once."""
    from pipeline_core.services import governance

    if governance.user_count(ctx) > 0:
        return
    out.write("creating demo users (passwords are shown only now; they are stored as argon2 hashes):\n")
    admin: Principal | None = None
    for username, role in sorted(DEMO_USERS, key=lambda u: u[1] != "admin"):
        password = ctx.settings.demo_password or secrets.token_urlsafe(12)
        principal = governance.add_user(ctx, admin, username=username, role=role, password=password)
        admin = admin or principal
        shown = "(MLOPS_DEMO_PASSWORD)" if ctx.settings.demo_password else password
        out.write(f"  {username:<16} {role:<15} {shown}\n")


def _demo_scientist(ctx: ServiceContext) -> Principal:
    from pipeline_core.services import governance

    try:
        return governance.get_principal(ctx, "demo_scientist")
    except NotFoundError as exc:
        raise AuthError("the store has users but no demo_scientist; use `run --user ...` instead of demo") from exc


def _scoring_alive(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url.rstrip("/") + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def scoring_service(ctx: ServiceContext, out: TextIO) -> Iterator[None]:
    """Make sure a scoring service answers at settings.scoring_url for the pipeline's deploy stage."""
    from pipeline_core.serving.server import BackgroundServer

    if _scoring_alive(ctx.settings.scoring_url):
        yield
        return
    try:
        server = BackgroundServer(ctx, host=ctx.settings.serve_host, port=ctx.settings.serve_port)
    except OSError as exc:
        # Another process (a second worker starting at the same moment) took the port first.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if _scoring_alive(ctx.settings.scoring_url):
                yield
                return
            time.sleep(0.2)
        raise DeploymentError(
            f"cannot start the scoring service on {ctx.settings.serve_host}:{ctx.settings.serve_port} "
            f"({exc.strerror}) and nothing answers at {ctx.settings.scoring_url}"
        ) from exc
    server.start()
    out.write(f"scoring service started in this process at {server.url}\n")
    try:
        yield
    finally:
        server.stop()


def _load_spec(value: str) -> DataSpec:
    from pipeline_core.data.spec import DataSpec
    from pipeline_core.services.datasets import builtin_spec

    path = Path(value)
    if path.suffix == ".json" or path.is_file():
        try:
            return DataSpec.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"spec file {value!r} cannot be read: {exc}") from exc
    return builtin_spec(value)


def _execute_or_wait(ctx: ServiceContext, run_id: int, *, wait: bool, out: TextIO) -> int:
    """Run it here when no worker is alive; otherwise leave it to the workers (and wait)."""
    from pipeline_core.services.runs import RunWorker, live_workers, new_worker_id, reap_stale_runs

    reap_stale_runs(ctx)
    workers = live_workers(ctx)
    if not workers:
        out.write(f"run {run_id}: no worker is running; executing it in this process\n")
        worker = RunWorker(ctx, worker_id=new_worker_id("cli"), progress=TerminalProgress(out))
        try:
            if not worker.claim(run_id):
                out.write(f"run {run_id} was taken by another worker meanwhile; waiting for it\n")
                return _wait(ctx, run_id, out)
            with scoring_service(ctx, out):
                status = worker.execute(run_id)
        finally:
            worker.stop()
        return _report(ctx, run_id, status, out)
    if not wait:
        out.write(f"run {run_id} queued for {len(workers)} worker(s); follow it with: runs show {run_id}\n")
        return 0
    return _wait(ctx, run_id, out)


def _wait(ctx: ServiceContext, run_id: int, out: TextIO) -> int:
    from pipeline_core.services.runs import STAGE_TITLES, get_run, reap_stale_runs

    seen: dict[str, str] = {}
    while True:
        run = get_run(ctx, run_id)
        for stage in run.stages:
            if seen.get(stage.name) != stage.status and stage.status not in ("pending",):
                seen[stage.name] = stage.status
                secs = f"{stage.duration_seconds:7.2f} s" if stage.duration_seconds is not None else ""
                out.write(f"  [{stage.status:<9}] {STAGE_TITLES.get(stage.name, stage.name):<24} {secs}\n")
                out.flush()
        if run.status in ("succeeded", "failed", "cancelled"):
            return _report(ctx, run_id, run.status, out)
        reap_stale_runs(ctx)
        time.sleep(0.5)


def _report(ctx: ServiceContext, run_id: int, status: str, out: TextIO) -> int:
    from pipeline_core.services.runs import get_run, model_version_for_run

    run = get_run(ctx, run_id)
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
    model = model_version_for_run(ctx, run_id)
    if model is not None:
        out.write(
            f"  model version {model.name} v{model.version} (id {model.id}), artifact sha256 {model.artifact_sha256}\n"
        )
        for key in HEADLINE_METRICS:
            if key in model.metrics:
                out.write(f"    {key:<16} {model.metrics[key]:.4f}\n")
        out.write(f"  state: {model.state.replace('_', ' ')}\n")
    return EXIT.get(run.status if run.status in EXIT else status, 1)


def cmd_demo(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.data.german_credit import generate_german_credit
    from pipeline_core.data.load import frame_to_csv_bytes
    from pipeline_core.params import RunParams
    from pipeline_core.services.datasets import builtin_spec
    from pipeline_core.services.runs import launch_file_run

    path = ctx.settings.data_dir / "demo" / f"german_credit_generated_{args.rows}_seed{args.seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(frame_to_csv_bytes(generate_german_credit(args.rows, seed=args.seed)))
    out.write(f"demo data: {path} ({args.rows} generated German credit applicants, seed {args.seed})\n")
    _ensure_demo_users(ctx, out)
    actor = _demo_scientist(ctx)
    run = launch_file_run(ctx, actor, str(path), spec=builtin_spec("german_credit"), params=RunParams())
    out.write(f"run {run.id} queued on dataset {run.dataset.sha256[:12]}…\n")
    return _execute_or_wait(ctx, run.id, wait=True, out=out)


def cmd_run(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.params import RunParams
    from pipeline_core.services.runs import launch_file_run

    params = RunParams.from_strings(args.param or [])
    actor = _login(ctx, args)
    run = launch_file_run(ctx, actor, args.data, spec=_load_spec(args.spec), params=params)
    out.write(f"run {run.id} queued on {args.data} (sha256 {run.dataset.sha256[:12]}…)\n")
    return _execute_or_wait(ctx, run.id, wait=args.wait, out=out)


def cmd_runs(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services.runs import cancel_run, get_run, list_runs, reap_stale_runs, run_summary

    reap_stale_runs(ctx)
    if args.runs_command == "list":
        out.write(f"{'id':>5}  {'status':<10} {'created':<19}  {'by':<16} {'dataset':<32} error\n")
        for run in list_runs(ctx, limit=args.limit, status=args.status):
            created = run.created_at.isoformat(sep=" ", timespec="seconds")
            error = (run.error or "")[:60]
            out.write(
                f"{run.id:>5}  {run.status:<10} {created}  {run.created_by[:16]:<16} "
                f"{run.dataset.name[:32]:<32} {error}\n"
            )
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
        run = cancel_run(ctx, _login(ctx, args), args.run_id)
        out.write(f"run {run.id}: {'cancelled' if run.status == 'cancelled' else 'cancel requested'}\n")
        return 0
    raise AssertionError(args.runs_command)


def cmd_models(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services.runs import list_model_versions

    out.write(f"{'id':>4}  {'name':<16} {'ver':>3}  {'type':<14} {'state':<10} {'roc_auc':>7}  {'run':>4}  sha256\n")
    for mv in list_model_versions(ctx, limit=args.limit):
        auc = mv.metrics.get("roc_auc", float("nan"))
        out.write(
            f"{mv.id:>4}  {mv.name:<16} {mv.version:>3}  {mv.model_type:<14} {mv.state:<10} "
            f"{auc:>7.4f}  {mv.run_id:>4}  {mv.artifact_sha256[:16]}\n"
        )
    return 0


def cmd_worker(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services.runs import RunWorker

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
    with scoring_service(ctx, out):
        done = worker.serve(stop, max_runs=args.max_runs)
    out.write(f"worker {worker.id} stopped after {done} run(s)\n")
    return 0


def cmd_generate(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.data.german_credit import generate_german_credit
    from pipeline_core.data.load import frame_to_csv_bytes

    Path(args.out).write_bytes(frame_to_csv_bytes(generate_german_credit(args.rows, seed=args.seed)))
    out.write(f"wrote {args.rows} generated German credit rows to {args.out}\n")
    return 0


def cmd_audit(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services.audit import verify_chain

    with ctx.db.read() as session:
        status = verify_chain(session)
    out.write(
        f"audit chain: {'intact' if status.ok else 'BROKEN'} ({status.events} events checked)"
        f"{'' if status.ok else ': ' + status.reason}\n"
    )
    return 0 if status.ok else 1


def cmd_serve(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.serving.server import serve_forever

    host, port = args.host or ctx.settings.serve_host, args.port or ctx.settings.serve_port
    out.write(f"scoring service on http://{host}:{port} (OpenAPI docs at /docs); Ctrl-C stops it\n")
    out.flush()
    serve_forever(ctx, host=host, port=port)
    return 0


def cmd_users(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    if args.users_command == "add":
        actor = None if governance.user_count(ctx) == 0 else _login(ctx, args)
        added = governance.add_user(
            ctx, actor, username=args.username, role=args.role, password=_new_password(ctx, args)
        )
        out.write(f"user {added.username} added as {added.role}\n")
    elif args.users_command == "passwd":
        actor = _login(ctx, args)
        governance.set_password(ctx, actor, username=args.username, password=_new_password(ctx, args))
        out.write(f"password of {args.username} changed\n")
    else:
        for username, role, disabled in governance.list_users(ctx, _login(ctx, args)):
            out.write(f"{username:<24} {role:<15}{' (disabled)' if disabled else ''}\n")
    return 0


def _write_deployment(info: DeploymentInfo, base_url: str, out: TextIO) -> None:
    out.write(
        f"{info.id:>4}  {info.space:<8} {info.name:<28} {info.model_name} v{info.model_version} "
        f"(model version {info.model_version_id})  {base_url.rstrip('/')}{info.scoring_path}\n"
    )


def cmd_deployments(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    actor = _login(ctx, args)
    for info in deployments.list_deployments(ctx, actor):
        _write_deployment(info, ctx.settings.scoring_url, out)
    return 0


def cmd_deploy(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments, governance

    actor = _login(ctx, args)
    if args.space == "prod":
        info = governance.deploy_approved(ctx, actor, args.model_version)
        _write_deployment(info, ctx.settings.scoring_url, out)
        return 0
    result = deployments.deploy(ctx, actor, args.model_version, space=args.space)
    _write_deployment(result.deployment, ctx.settings.scoring_url, out)
    if result.api_key:
        out.write(f"API key (shown once): {result.api_key}\n")
    return 0


def cmd_keys(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    key = deployments.issue_key(ctx, _login(ctx, args), args.deployment, label=args.label)
    out.write(f"API key for deployment {args.deployment} (shown once): {key}\n")
    return 0


def cmd_score(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    import httpx

    from pipeline_core.services import deployments, monitoring
    from pipeline_core.services.datasets import builtin_spec

    key = ctx.settings.api_key
    if not key:
        raise AuthError("set MLOPS_API_KEY to the deployment's API key")
    frame = monitoring.parse_feedback(Path(args.data).read_bytes(), name=args.data)
    spec = builtin_spec(args.spec) if not args.spec.endswith(".json") else _load_spec(args.spec)
    missing = [f for f in spec.feature_names if f not in frame.columns]
    if missing:
        raise DataError(f"{args.data}: no column(s) {missing}")
    values = json.loads(frame[spec.feature_names].to_json(orient="values"))
    url = f"{ctx.settings.scoring_url.rstrip('/')}{deployments.scoring_path(args.deployment)}"
    try:
        response = httpx.post(
            url,
            json={"input_data": [{"fields": spec.feature_names, "values": values}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise PipelineError(f"scoring service at {url} did not answer: {exc}") from exc
    if response.status_code != 200:
        out.write(response.text + "\n")
        return 1
    body = response.json()
    for sid, (label, proba) in zip(body["scoring_ids"], body["predictions"][0]["values"], strict=True):
        out.write(f"{sid}  {label:<10} {json.dumps([round(p, 4) for p in proba])}\n")
    for warning in body.get("warnings", []):
        out.write(f"warning: record {warning['record']}: {warning['field']}={warning['value']!r} {warning['issue']}\n")
    return 0


def cmd_feedback(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    actor = _login(ctx, args)
    path = Path(args.file)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise DataError(f"feedback file {args.file!r} cannot be read: {exc.strerror}") from exc
    batch = monitoring.upload_feedback(
        ctx, actor, args.deployment, monitoring.parse_feedback(content, name=args.file), source=args.file
    )
    out.write(
        f"stored {batch.records} feedback record(s) for deployment {batch.deployment_id} "
        f"({batch.linked} linked to scoring ids), batch {batch.batch_id}\n"
    )
    return 0


def cmd_review(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    queue = governance.review_queue(ctx, _login(ctx, args))
    if not queue:
        out.write("no model version is awaiting review\n")
    for c in queue:
        out.write(
            f"model version {c.model_version_id}: {c.name} v{c.version} by {c.created_by}, "
            f"ROC AUC {c.metrics.get('roc_auc', float('nan')):.4f}, evaluations {c.evaluation_ids}, "
            f"artifact {c.artifact_sha256}\n"
        )
    return 0


def cmd_approve(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    actor = _login(ctx, args)
    outcome = governance.approve(
        ctx,
        actor,
        args.model_version,
        comment=args.comment,
        artifact_sha256=args.artifact,
        evidence=args.evidence or None,
        override_reason=args.override,
    )
    out.write(f"approval {outcome.approval_id} recorded for model version {args.model_version}\n")
    out.write(
        f"production deployment check: {'passed' if outcome.check.passed else 'FAILED'}: "
        f"{'; '.join(outcome.check.reasons)}\n"
    )
    if outcome.deployment:
        _write_deployment(outcome.deployment, ctx.settings.scoring_url, out)
    if outcome.error:
        out.write(f"error: {outcome.error}\n")
        return 1
    return 0


def cmd_reject(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    decision = governance.reject(ctx, _login(ctx, args), args.model_version, comment=args.comment)
    out.write(f"model version {args.model_version} rejected (decision {decision})\n")
    return 0


def cmd_rollback(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    result = deployments.rollback(ctx, _login(ctx, args), deployment_id=args.deployment, model_name=args.model)
    out.write("rolled back: ")
    _write_deployment(result.deployment, ctx.settings.scoring_url, out)
    return 0


def cmd_evaluate(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring
    from pipeline_core.services.datasets import PayloadWindow

    actor = _login(ctx, args)
    since = _timestamp(args.since) if args.since else None
    window = PayloadWindow(since=since, max_records=args.max_records or ctx.settings.evaluation_max_records)
    outcome = monitoring.evaluate_deployment(ctx, actor, args.deployment, window=window)
    out.write(
        f"evaluation {outcome.evaluation_id} of deployment {args.deployment}: {outcome.status}, "
        f"risk level {outcome.risk_level}\n"
    )
    for result in outcome.results:
        out.write(f"  {result.monitor}: {result.status} ({result.n_records} records)\n")
        for m in result.metrics:
            if m.critical or m.status == "fail":
                shown = "insufficient data" if m.value is None else f"{m.value:.4f}"
                out.write(f"    {m.name} {shown} {m.status}{' (critical)' if m.critical else ''}\n")
    for alert_id in outcome.alerts:
        out.write(f"alert {alert_id} raised\n")
    if outcome.retraining_request_id is not None:
        out.write(
            f"retraining request {outcome.retraining_request_id} created; "
            f"run 'retrain --request {outcome.retraining_request_id}'\n"
        )
    return 1 if outcome.status == "fail" else 0


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError as exc:
        raise ConfigError(f"--since {text!r} is not an ISO timestamp (e.g. 2026-11-26T09:00)") from exc


def cmd_evaluations(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    found = monitoring.list_evaluations(
        ctx, _login(ctx, args), deployment_id=args.deployment, model_version_id=args.model_version
    )
    if not found:
        out.write("no evaluations yet\n")
    for ev in found:
        out.write(
            f"evaluation {ev.id} {ev.created_at:%Y-%m-%d %H:%M:%S} {ev.space} model version "
            f"{ev.model_version_id}: {ev.status}, risk {ev.results.get('risk_level')}, "
            f"{ev.data_window.get('records')} records\n"
        )
    return 0


def cmd_alerts(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    actor = _login(ctx, args)
    if args.alerts_command == "ack":
        monitoring.acknowledge_alert(ctx, actor, args.alert)
        out.write(f"alert {args.alert} acknowledged\n")
        return 0
    found = monitoring.list_alerts(ctx, actor, status=None if args.all else "open")
    if not found:
        out.write("no open alerts\n" if not args.all else "no alerts\n")
    for a in found:
        out.write(
            f"alert {a.id} [{a.status}] {a.created_at:%Y-%m-%d %H:%M:%S} deployment {a.deployment_id} "
            f"model version {a.model_version_id}: {a.message}\n"
        )
    return 0


def cmd_retrain(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import runs

    actor = _login(ctx, args)
    outcome = runs.retrain(ctx, actor, deployment_id=args.deployment, request_id=args.request)
    out.write(
        f"retraining run {outcome.run_id} queued on dataset {outcome.dataset_id}: {outcome.training_records} "
        f"training + {outcome.feedback_records} feedback records"
        + (f" (request {outcome.request_id})" if outcome.request_id else "")
        + "\n"
    )
    if outcome.drifted_records:
        out.write(f"{len(outcome.drifted_records)} drifted record(s) to label, e.g.:\n")
        for r in outcome.drifted_records[:20]:
            why = r.get("reason") or f"error probability {r['error_probability']:.3f}"
            out.write(f"  {r.get('scoring_id', 'record ' + str(r['record']))}: {why}\n")
    return _execute_or_wait(ctx, outcome.run_id, wait=args.wait, out=out)


def cmd_test_model(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import runs

    stored = runs.run_model_tests(ctx, _login(ctx, args), args.model_version)
    report = stored.report
    out.write(
        f"model tests of model version {args.model_version} (stored as model test run {stored.id}): "
        f"{report.status}, {report.seconds:.2f} s\n"
    )
    for v in report.verdicts:
        flag = " (critical)" if v.critical else ""
        out.write(f"  {v.status.upper():4} {v.name}{flag}: {v.summary}\n")
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        out.write(f"full evidence written to {args.json}\n")
    # Any failure (critical or not) fails the command, so a CI server can gate on it.
    return 1 if report.failed else 0


def cmd_report(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    text = governance.validation_report(ctx, _login(ctx, args), args.model_version, evaluation_id=args.evaluation)
    path = Path(args.out)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"report file {args.out!r} cannot be written: {exc.strerror}") from exc
    out.write(f"validation report of model version {args.model_version} written to {path} ({len(text):,} bytes)\n")
    return 0


DASHBOARD_APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def start_dashboard(ctx: ServiceContext) -> tuple[subprocess.Popen[bytes], str]:
    """Streamlit serving ``dashboard/app.py`` over this store, from the repository (its .streamlit/config.toml)."""
    import httpx

    if not DASHBOARD_APP.is_file():
        raise ConfigError(f"the dashboard is not installed here: {DASHBOARD_APP} does not exist")
    host, port = ctx.settings.serve_host, ctx.settings.dashboard_port
    env = {
        **os.environ,
        "MLOPS_DATA_DIR": str(ctx.settings.data_dir),
        "MLOPS_DATABASE_URL": ctx.settings.database_url,
        "MLOPS_SCORING_URL": ctx.settings.scoring_url,
    }
    command = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP), "--server.address", host]
    command += ["--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log_path = ctx.settings.data_dir / "dashboard.log"
    with log_path.open("ab") as log_file:  # the child keeps its own handle
        proc = subprocess.Popen(command, cwd=DASHBOARD_APP.parents[1], env=env, stdout=log_file, stderr=log_file)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            error = log_path.read_text(errors="replace")[-2000:]
            raise ConfigError(f"the dashboard exited with {proc.returncode} on {url}; {log_path} ends: {error}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise ConfigError(f"the dashboard did not answer on {url} within 90 s")


def cmd_up(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    """The product on its embedded default: scoring service, a worker, the dashboard and one demo run."""
    from pipeline_core.data.german_credit import generate_german_credit
    from pipeline_core.services import deployments
    from pipeline_core.services.datasets import builtin_spec
    from pipeline_core.services.runs import RunWorker
    from pipeline_core.serving.server import BackgroundServer

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = BackgroundServer(ctx, host=ctx.settings.serve_host, port=ctx.settings.serve_port).start()
    out.write(f"scoring service: {server.url} (OpenAPI docs at {server.url}/docs)\n")
    dashboard, dashboard_url = start_dashboard(ctx)
    worker = RunWorker(ctx)
    worker_thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
    worker_thread.start()
    try:
        code = cmd_demo(ctx, args, out)
        dep = next((d for d in deployments.list_deployments(ctx, _demo_scientist(ctx)) if d.space == "preprod"), None)
        if dep is not None:
            key = deployments.issue_key(ctx, _demo_scientist(ctx), dep.id, label="printed by `up`")
            spec = builtin_spec("german_credit")
            sample = generate_german_credit(2, seed=args.seed)[spec.feature_names]
            example = ctx.settings.data_dir / "demo" / "score_example.json"
            values = json.loads(sample.to_json(orient="values"))
            example.write_text(json.dumps({"input_data": [{"fields": spec.feature_names, "values": values}]}))
            out.write(
                "\nscore the pre-prod deployment (the API key is shown once):\n"
                f"  curl -s -X POST {server.url}{dep.scoring_path} \\\n"
                f"    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d @{example}\n"
            )
        out.write(
            f"\ndashboard: {dashboard_url}  (sign in as a demo user above: demo_scientist, "
            "demo_validator, demo_manager or demo_admin)\n"
        )
        out.write("running; Ctrl-C stops the dashboard, the worker and the scoring service\n")
        out.flush()
        if args.exit_after_demo:
            return code
        while not stop.wait(1.0):
            pass
        return code
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        dashboard.terminate()
        worker_thread.join(timeout=120)
        server.stop()
        try:
            dashboard.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dashboard.kill()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline_core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate demo data and run the pipeline on it once")
    demo.add_argument("--rows", type=int, default=5000)
    demo.add_argument("--seed", type=int, default=0)

    run = sub.add_parser("run", help="run the pipeline on a CSV file")
    run.add_argument("--data", required=True, help="path of the CSV file, or s3://bucket/key of an object in S3 / COS")
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

    up = sub.add_parser("up", help="scoring service + worker + one demo run; runs until Ctrl-C")
    up.add_argument("--rows", type=int, default=5000)
    up.add_argument("--seed", type=int, default=0)
    up.add_argument("--exit-after-demo", action="store_true", help=argparse.SUPPRESS)

    serve = sub.add_parser("serve", help="run the scoring service (WML v4 predictions API)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)

    usr = sub.add_parser("users", help="add users, change passwords, list users")
    usr_sub = usr.add_subparsers(dest="users_command", required=True)
    usr_add = usr_sub.add_parser("add")
    usr_add.add_argument("username")
    usr_add.add_argument("--role", required=True, choices=("data_scientist", "validator", "manager", "admin"))
    usr_add.add_argument("--password-stdin", action="store_true", help="read the new password from stdin")
    usr_pw = usr_sub.add_parser("passwd")
    usr_pw.add_argument("username")
    usr_pw.add_argument("--password-stdin", action="store_true")
    usr_sub.add_parser("list")

    deps = sub.add_parser("deployments", help="list deployments")
    deps.add_argument("deployments_command", choices=("list",))

    dep = sub.add_parser("deploy", help="deploy a model version to dev or preprod (prod: after approval)")
    dep.add_argument("model_version", type=int)
    dep.add_argument("--space", required=True, choices=("dev", "preprod", "prod"))

    keys = sub.add_parser("keys", help="issue an API key for a deployment")
    keys.add_argument("keys_command", choices=("issue",))
    keys.add_argument("--deployment", type=int, required=True)
    keys.add_argument("--label", default="issued from the CLI")

    sc = sub.add_parser("score", help="score a CSV through the scoring service (key in MLOPS_API_KEY)")
    sc.add_argument("--deployment", type=int, required=True)
    sc.add_argument("--data", required=True)
    sc.add_argument("--spec", default="german_credit")

    fb = sub.add_parser("feedback", help="upload labelled feedback records")
    fb.add_argument("feedback_command", choices=("upload",))
    fb.add_argument("--deployment", type=int, required=True)
    fb.add_argument("--file", required=True, help="CSV, JSON records, or WML fields/values JSON")

    rv = sub.add_parser("review", help="list candidates awaiting review")
    rv.add_argument("review_command", choices=("list",))

    ap = sub.add_parser("approve", help="approve a candidate (runs the production check and deploys to prod)")
    ap.add_argument("model_version", type=int)
    ap.add_argument("--comment", required=True)
    ap.add_argument("--artifact", required=True, help="the sha256 of the artifact you reviewed")
    ap.add_argument("--evidence", type=int, action="append", help="evaluation id cited (repeatable)")
    ap.add_argument("--override", default=None, help="reason to approve despite a failed critical threshold")

    rj = sub.add_parser("reject", help="reject a candidate")
    rj.add_argument("model_version", type=int)
    rj.add_argument("--comment", required=True)

    rb = sub.add_parser("rollback", help="serve the previous model version in prod")
    rb.add_argument("--deployment", type=int, default=None)
    rb.add_argument("--model", default=None, help="model name, when there are several prod deployments")

    ev = sub.add_parser("evaluate", help="evaluate a deployment now on its payload and feedback")
    ev.add_argument("--deployment", type=int, required=True)
    ev.add_argument("--max-records", type=int, default=None, help="newest records read (default: settings)")
    ev.add_argument("--since", default=None, help="only records scored since this ISO timestamp (UTC)")

    evs = sub.add_parser("evaluations", help="evaluations over time")
    evs.add_argument("evaluations_command", choices=("list",))
    evs.add_argument("--deployment", type=int, default=None)
    evs.add_argument("--model-version", type=int, default=None)

    al = sub.add_parser("alerts", help="list or acknowledge alerts")
    al_sub = al.add_subparsers(dest="alerts_command", required=True)
    al_list = al_sub.add_parser("list")
    al_list.add_argument("--all", action="store_true", help="acknowledged ones too")
    al_ack = al_sub.add_parser("ack")
    al_ack.add_argument("alert", type=int)

    rt = sub.add_parser("retrain", help="retrain on training data + labelled feedback; ends in review")
    rt_which = rt.add_mutually_exclusive_group(required=True)
    rt_which.add_argument("--deployment", type=int, default=None)
    rt_which.add_argument("--request", type=int, default=None, help="a retraining request id")
    rt.add_argument("--wait", action="store_true", help="wait until the run finishes")

    tm = sub.add_parser("test-model", help="run the model test suite on a model version; exit 1 if a test fails")
    tm.add_argument("model_version", type=int)
    tm.add_argument("--json", default=None, help="also write every verdict with its evidence to this file")

    rp = sub.add_parser("report", help="write a model version's validation report (HTML)")
    rp.add_argument("model_version", type=int)
    rp.add_argument("--out", required=True)
    rp.add_argument("--evaluation", type=int, default=None, help="default: the newest evaluation")

    parser.add_argument("--user", default=None, help="acting user (default MLOPS_USER); password: MLOPS_PASSWORD")
    for sp in _leaf_parsers(sub):
        sp.add_argument("--user", default=argparse.SUPPRESS, help="acting user (default MLOPS_USER)")
    return parser


def _leaf_parsers(sub: Any) -> Iterator[argparse.ArgumentParser]:
    for parser in sub.choices.values():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            yield from _leaf_parsers(nested[0])
        else:
            yield parser


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "runs": cmd_runs,
    "models": cmd_models,
    "worker": cmd_worker,
    "generate": cmd_generate,
    "audit": cmd_audit,
    "up": cmd_up,
    "serve": cmd_serve,
    "users": cmd_users,
    "deployments": cmd_deployments,
    "deploy": cmd_deploy,
    "keys": cmd_keys,
    "score": cmd_score,
    "feedback": cmd_feedback,
    "review": cmd_review,
    "approve": cmd_approve,
    "reject": cmd_reject,
    "rollback": cmd_rollback,
    "evaluate": cmd_evaluate,
    "evaluations": cmd_evaluations,
    "alerts": cmd_alerts,
    "retrain": cmd_retrain,
    "report": cmd_report,
    "test-model": cmd_test_model,
}


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = build_parser().parse_args(argv)
    # Only now: --help and usage errors then answer without loading the store (sqlalchemy, argon2).
    from pipeline_core.services.context import open_context

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
