"""Monitoring commands: evaluate, evaluations list, alerts list|ack|resolve|deliveries|deliver, feedback upload,
retrain, test-model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.follow import execute_or_wait
from pipeline_core.cli.identity import login
from pipeline_core.cli.inputs import timestamp
from pipeline_core.cli.registry import Declarations, arg, one_of
from pipeline_core.errors import DataError, ExitCode, GateFailed, exit_code_for
from pipeline_core.vocabulary import AlertStatus, CheckStatus, DeliveryStatus

if TYPE_CHECKING:
    from pipeline_core.results.evidence import RecordsToLabel
    from pipeline_core.services.context import ServiceContext

COMMANDS = Declarations()
# A check that says no exits as a gate that failed would (1), so a CI server or a scheduler can act on it.
CHECK_FAILED = exit_code_for(GateFailed)


@COMMANDS.command(
    "evaluate",
    arg("--deployment", type=int, required=True),
    arg("--max-records", type=int, default=None, help="newest records read (default: settings)"),
    arg("--since", default=None, help="only records scored, and feedback uploaded, since this ISO timestamp (UTC)"),
    arg("--until", default=None, help="only records scored, and feedback uploaded, until this ISO timestamp (UTC)"),
    arg("--feedback-batch", default=None, help="only the feedback of this upload (its batch id) is labelled"),
    help="evaluate a deployment now on its payload and feedback",
)
def evaluate(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring
    from pipeline_core.services.datasets import PayloadWindow

    actor = login(ctx, args)
    since = timestamp(args.since) if args.since else None
    until = timestamp(args.until, option="--until") if args.until else None
    window = PayloadWindow(
        since=since,
        until=until,
        max_records=args.max_records or ctx.settings.evaluation_max_records,
        feedback_batch=args.feedback_batch,
    )
    outcome = monitoring.evaluate_deployment(ctx, actor, args.deployment, window=window)
    out.write(
        f"evaluation {outcome.evaluation_id} of deployment {args.deployment}: {outcome.status}, "
        f"risk level {outcome.risk_level}\n"
    )
    report = outcome.report
    for result in report.monitors:
        out.write(f"  {result.monitor}: {result.status} ({result.n_records} records)\n")
        for m in result.metrics:
            if m.critical or m.status == CheckStatus.FAIL:
                shown = "insufficient data" if m.value is None else f"{m.value:.4f}"
                out.write(f"    {m.name} {shown} {m.status}{' (critical)' if m.critical else ''}\n")
    if report.risk is not None:
        risk = report.risk
        out.write(f"  risk summary: {risk.level} ({risk.counts.describe()})\n")
        for entry in risk.failed:
            out.write(f"    {entry.source}:{entry.name} failed{' (critical)' if entry.critical else ''}\n")
    for alert_id in outcome.alerts:
        out.write(f"alert {alert_id} open: a critical check failed ('alerts list' counts its occurrences)\n")
    if outcome.retraining_request_id is not None:
        out.write(
            f"retraining request {outcome.retraining_request_id} created; "
            f"run 'retrain --request {outcome.retraining_request_id}'\n"
        )
    _write_to_label(report.to_label, out)
    return CHECK_FAILED if outcome.status == CheckStatus.FAIL else ExitCode.OK


@COMMANDS.command(
    "evaluations",
    arg("evaluations_command", choices=("list",)),
    arg("--deployment", type=int, default=None),
    arg("--model-version", type=int, default=None),
    help="evaluations over time",
)
def evaluations(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    found = monitoring.list_evaluations(
        ctx, login(ctx, args), deployment_id=args.deployment, model_version_id=args.model_version
    )
    if not found:
        out.write("no evaluations yet\n")
    for ev in found:
        out.write(
            f"evaluation {ev.id} {ev.created_at:%Y-%m-%d %H:%M:%S} {ev.space} model version "
            f"{ev.model_version_id}: {ev.status}, risk {ev.report.risk_level}, {ev.records} records\n"
        )
    return ExitCode.OK


ALERTS = COMMANDS.group("alerts", help="list, acknowledge or resolve alerts; their notifications' deliveries")
COMMENT = arg("--comment", required=True, help="why, in at least a sentence (kept with the alert and audited)")


@ALERTS.command(
    "list", arg("--all", action="store_true", help="acknowledged and resolved ones too"), help="open alerts"
)
def alerts_list(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    actor = login(ctx, args)
    found = monitoring.list_alerts(ctx, actor, status=None if args.all else AlertStatus.OPEN)
    if not found:
        out.write("no open alerts\n" if not args.all else "no alerts\n")
    for a in found:
        seen = f", seen {a.occurrences} times, last {a.last_seen_at:%Y-%m-%d %H:%M:%S}" if a.occurrences > 1 else ""
        out.write(
            f"alert {a.id} [{a.status}] {a.created_at:%Y-%m-%d %H:%M:%S} {a.model} deployment {a.deployment_id}"
            f"{seen}: {a.message}\n"
        )
        if a.acknowledged_by is not None:
            out.write(f"  acknowledged by {a.acknowledged_by}: {a.acknowledge_comment or '(no comment)'}\n")
        if a.resolved_by is not None:
            out.write(f"  resolved by {a.resolved_by}: {a.resolve_comment}\n")
        for d in reversed(monitoring.list_deliveries(ctx, actor, alert_id=a.id)):
            out.write(f"  notified: {d.describe()}\n")
    return ExitCode.OK


@ALERTS.command("ack", arg("alert", type=int), COMMENT, help="acknowledge an open alert, saying what you do about it")
def alerts_ack(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    monitoring.acknowledge_alert(ctx, login(ctx, args), args.alert, comment=args.comment)
    out.write(f"alert {args.alert} acknowledged\n")
    return ExitCode.OK


@ALERTS.command("resolve", arg("alert", type=int), COMMENT, help="resolve an acknowledged alert, saying how it ended")
def alerts_resolve(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    monitoring.resolve_alert(ctx, login(ctx, args), args.alert, comment=args.comment)
    out.write(f"alert {args.alert} resolved\n")
    return ExitCode.OK


@ALERTS.command(
    "deliveries",
    arg("--alert", type=int, default=None, help="only this alert's"),
    arg("--status", choices=tuple(DeliveryStatus), default=None, help="only deliveries in this state"),
    help="each notification of an alert to each channel: its state, attempts, last error, next attempt",
)
def alerts_deliveries(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    actor = login(ctx, args)
    channels = monitoring.alert_channels(ctx, actor)
    out.write("channels: " + ("; ".join(c.description for c in channels) or "none configured (README: Alerts)") + "\n")
    found = monitoring.list_deliveries(ctx, actor, alert_id=args.alert, status=args.status)
    if not found:
        out.write("no deliveries\n")
    for d in found:
        due = f", next attempt {d.next_attempt_at:%Y-%m-%d %H:%M:%S}" if d.next_attempt_at is not None else ""
        done = f", delivered {d.delivered_at:%Y-%m-%d %H:%M:%S}" if d.delivered_at is not None else ""
        out.write(f"delivery {d.id} alert {d.alert_id} {d.describe()}{due}{done}\n")
    return ExitCode.OK


@ALERTS.command(
    "deliver",
    arg("--force", action="store_true", help="also those that failed for good or are backing off"),
    help="send the alert notifications due now (the worker does this between runs)",
)
def alerts_deliver(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    done = monitoring.deliver_notifications(ctx, login(ctx, args), force=args.force, limit=1000)
    out.write(f"{len(done.delivered)} notification(s) delivered, {len(done.failures)} failed\n")
    for f in done.failures:
        again = "given up: 'alerts deliver --force' retries it" if f.gave_up else "retried after back-off"
        out.write(
            f"  delivery {f.delivery_id} (alert {f.alert_id}, {f.channel}) attempt {f.attempts}: {f.error}; {again}\n"
        )
    return ExitCode.FAILED if done.failures else ExitCode.OK


@COMMANDS.command(
    "feedback",
    arg("feedback_command", choices=("upload",)),
    arg("--deployment", type=int, required=True),
    arg("--file", required=True, help="CSV, JSON records, or WML fields/values JSON"),
    help="upload labelled feedback records",
)
def feedback(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring

    actor = login(ctx, args)
    path = Path(args.file)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise DataError(f"feedback file {args.file!r} cannot be read: {exc.strerror}") from exc
    batch = monitoring.upload_feedback(
        ctx, actor, args.deployment, monitoring.parse_feedback(content, name=args.file), source=args.file
    )
    out.write(batch.describe() + "\n")
    return ExitCode.OK


# Shown of the list to label on a terminal; the whole list is the evaluation's (Monitoring page, --json).
SHOWN_TO_LABEL = 20


def _write_to_label(to_label: RecordsToLabel, out: TextIO) -> None:
    """The records to label in the words the evaluation and the Monitoring page use, then the first of them."""
    out.write(f"{to_label.describe()}\n")
    for r in to_label.records[:SHOWN_TO_LABEL]:
        out.write(f"  {r.scoring_id or f'record {r.record}'}: {r.why}\n")
    if to_label.total > SHOWN_TO_LABEL:
        out.write(f"  … the first {SHOWN_TO_LABEL} of {to_label.total} shown\n")


@COMMANDS.command(
    "retrain",
    one_of(
        arg("--deployment", type=int, default=None),
        arg("--request", type=int, default=None, help="a retraining request id"),
        required=True,
    ),
    arg("--wait", action="store_true", help="wait until the run finishes"),
    help="retrain on training data + labelled feedback; ends in review",
)
def retrain(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import runs

    actor = login(ctx, args)
    outcome = runs.retrain(ctx, actor, deployment_id=args.deployment, request_id=args.request)
    out.write(
        f"retraining run {outcome.run_id} queued on dataset {outcome.dataset_id}: {outcome.training_records} "
        f"training + {outcome.feedback_records} feedback records"
        + (f" (request {outcome.request_id})" if outcome.request_id else "")
        + "\n"
    )
    if outcome.request_id is not None:
        _write_to_label(outcome.to_label, out)
    return execute_or_wait(ctx, actor, outcome.run_id, wait=args.wait, out=out)


@COMMANDS.command(
    "test-model",
    arg("model_version", type=int),
    arg("--json", default=None, help="also write every verdict with its evidence to this file"),
    help="run the model test suite on a model version; exit 1 if a test fails",
)
def test_model(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import runs

    stored = runs.run_model_tests(ctx, login(ctx, args), args.model_version)
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
    return CHECK_FAILED if report.failed else ExitCode.OK
