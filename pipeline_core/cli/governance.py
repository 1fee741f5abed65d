"""The validator's commands and the record: review list, approve, reject, audit verify, report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.deployments import write_deployment
from pipeline_core.cli.identity import login
from pipeline_core.cli.inputs import comment
from pipeline_core.cli.policy import CONDITION
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ApprovalError, ConfigError, ExitCode, IntegrityError, exit_code_for

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext
    from pipeline_core.services.governance import ApprovalOutcome

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
            f"model version {c.model_version_id}: {c.name} v{c.version} by {c.created_by}, {c.state}, "
            f"tier {int(c.tier) if c.tier else 'not set (judged as 1)'}, {c.approvals_needed} validator(s), "
            f"ROC AUC {c.metrics.get('roc_auc', float('nan')):.4f}, evaluations {c.evaluation_ids}, "
            f"artifact {c.artifact_sha256}\n"
        )
        if c.pending is not None:
            what = (
                f"overrides {', '.join(c.pending.overridden)} ({c.pending.override})"
                if c.pending.overridden
                else f"is the first of {c.approvals_needed} its tier needs"
            )
            out.write(
                f"  approval {c.pending.approval_id} by {c.pending.decided_by} {what}; it awaits a second validator\n"
            )
        for b in c.blocking:
            out.write(f"  blocking{'' if b.overridable else ' (not overridable)'}: {b.key}: {b.text}\n")
    return ExitCode.OK


@COMMANDS.command(
    "approve",
    MODEL_VERSION,
    arg("--comment", required=True, type=comment("an approval needs a comment saying why")),
    arg("--artifact", required=True, help="the sha256 of the artifact you reviewed"),
    arg("--evidence", type=int, action="append", help="every pre-prod evaluation id you reviewed (repeatable)"),
    arg(
        "--override",
        default=None,
        help="reason (at least a sentence) to approve despite failed or unjudged critical checks; "
        "the approval then awaits a second validator's countersign",
    ),
    arg(
        "--override-check",
        action="append",
        dest="override_checks",
        help="a blocking check the override lifts, as monitor:metric (repeat for each one)",
    ),
    CONDITION,
    help="approve a candidate (runs the production check and deploys to prod; a tier-1 model's approval then "
    "awaits a second validator's countersign)",
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
        overrides=args.override_checks,
        conditions=args.conditions or (),
    )
    out.write(f"approval {outcome.approval_id} recorded for model version {args.model_version}\n")
    return _told(ctx, outcome, out)


def _told(ctx: ServiceContext, outcome: ApprovalOutcome, out: TextIO) -> int:
    """What a decision did: the production check, the deployment, or why nothing was deployed (yet)."""
    for note in outcome.notes:
        out.write(f"note: {note}\n")
    if outcome.pending:
        out.write(f"pending: {'; '.join(outcome.check.reasons)}; nothing is deployed until then\n")
        return ExitCode.OK
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
    "countersign",
    MODEL_VERSION,
    arg("--approval", type=int, required=True, help="the approval awaiting countersign (review list names it)"),
    arg("--comment", required=True, type=comment("a countersign needs a comment saying why")),
    arg("--artifact", required=True, help="the sha256 of the artifact you reviewed"),
    help="countersign another validator's override (then the production check runs and it deploys)",
)
def countersign(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    outcome = governance.countersign(
        ctx,
        login(ctx, args),
        args.model_version,
        approval_id=args.approval,
        comment=args.comment,
        artifact_sha256=args.artifact,
    )
    out.write(f"approval {outcome.approval_id} countersigned for model version {args.model_version}\n")
    return _told(ctx, outcome, out)


@COMMANDS.command(
    "reject",
    MODEL_VERSION,
    arg("--comment", required=True, type=comment("a rejection needs a comment saying why")),
    arg("--artifact", default=None, help="the sha256 of the artifact you reviewed (refused if it changed)"),
    help="reject a candidate (awaiting review, or an override awaiting countersign)",
)
def reject(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    decision = governance.reject(
        ctx, login(ctx, args), args.model_version, comment=args.comment, artifact_sha256=args.artifact
    )
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
