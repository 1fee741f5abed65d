"""The validator's commands and the record: review list, approve, reject, audit verify, report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.deployments import write_deployment
from pipeline_core.cli.identity import login
from pipeline_core.cli.inputs import comment
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ApprovalError, ConfigError, ExitCode, IntegrityError, exit_code_for

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext

COMMANDS = Declarations()
MODEL_VERSION = arg("model_version", type=int)


@COMMANDS.command("review", arg("review_command", choices=("list",)), help="list candidates awaiting review")
def review(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    queue = governance.review_queue(ctx, login(ctx, args))
    if not queue:
        out.write("no model version is awaiting review\n")
    for c in queue:
        out.write(
            f"model version {c.model_version_id}: {c.name} v{c.version} by {c.created_by}, "
            f"ROC AUC {c.metrics.get('roc_auc', float('nan')):.4f}, evaluations {c.evaluation_ids}, "
            f"artifact {c.artifact_sha256}\n"
        )
    return ExitCode.OK


@COMMANDS.command(
    "approve",
    MODEL_VERSION,
    arg("--comment", required=True, type=comment("an approval needs a comment saying why")),
    arg("--artifact", required=True, help="the sha256 of the artifact you reviewed"),
    arg("--evidence", type=int, action="append", help="evaluation id cited (repeatable)"),
    arg("--override", default=None, help="reason to approve despite a failed critical threshold"),
    help="approve a candidate (runs the production check and deploys to prod)",
)
def approve(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    actor = login(ctx, args)
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
        write_deployment(outcome.deployment, ctx.settings.scoring_url, out)
    if outcome.error:
        out.write(f"error: {outcome.error}\n")
        return exit_code_for(ApprovalError)  # the approval is recorded, but the production check said no
    return ExitCode.OK


@COMMANDS.command(
    "reject",
    MODEL_VERSION,
    arg("--comment", required=True, type=comment("a rejection needs a comment saying why")),
    help="reject a candidate",
)
def reject(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    decision = governance.reject(ctx, login(ctx, args), args.model_version, comment=args.comment)
    out.write(f"model version {args.model_version} rejected (decision {decision})\n")
    return ExitCode.OK


@COMMANDS.command(
    "audit", arg("audit_command", choices=("verify",)), help="verify the audit log: keyed hash chain, anchors, records"
)
def audit(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    status = governance.chain_status(ctx, login(ctx, args))
    out.write(
        f"audit chain: {'intact' if status.ok else 'BROKEN'} "
        f"({status.events} events, {status.anchors} anchors checked)\n"
    )
    for problem in status.problems:
        out.write(f"  {problem}\n")
    return ExitCode.OK if status.ok else exit_code_for(IntegrityError)


@COMMANDS.command(
    "report",
    MODEL_VERSION,
    arg("--out", required=True),
    arg("--evaluation", type=int, default=None, help="default: the newest evaluation"),
    help="write a model version's validation report (HTML)",
)
def report(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    text = governance.validation_report(ctx, login(ctx, args), args.model_version, evaluation_id=args.evaluation)
    path = Path(args.out)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"report file {args.out!r} cannot be written: {exc.strerror}") from exc
    out.write(f"validation report of model version {args.model_version} written to {path} ({len(text):,} bytes)\n")
    return ExitCode.OK
