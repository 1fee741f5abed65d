"""The model-risk policy's commands: a model's tier and owner, conditions of approval, revalidation, what is due."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.identity import login
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ExitCode
from pipeline_core.vocabulary import RevalidationOutcome

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext
    from pipeline_core.services.governance import ConditionInfo, ConditionInput

COMMANDS = Declarations()
MODEL = COMMANDS.group("model", help="a model's materiality tier, owner and business use")
CONDITIONS = COMMANDS.group("conditions", help="conditions of approval: list them, mark one met")
REVALIDATION = COMMANDS.group("revalidation", help="revalidate a production model: show its case, decide it")
DUE = COMMANDS.group("due", help="approvals nearing or past expiry and overdue conditions")
MODEL_NAME = arg("model", help="the model's name (its versions share it)")


def condition(text: str) -> ConditionInput:
    """``TEXT|OWNER|YYYY-MM-DD`` or ``TEXT|OWNER|YYYY-MM-DD|FINDING_ID``: an argparse ``type`` (exit 2 naming it)."""
    from pipeline_core.services.governance import ConditionInput

    parts = text.split("|")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(f"condition {text[:80]!r} is not TEXT|OWNER|YYYY-MM-DD[|FINDING_ID]")
    try:
        due = date.fromisoformat(parts[2].strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"condition {text[:80]!r}: {parts[2][:40]!r} is not a date") from None
    finding: int | None = None
    if len(parts) == 4:
        try:
            finding = int(parts[3])
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"condition {text[:80]!r}: {parts[3][:40]!r} is not a finding id"
            ) from None
    return ConditionInput(text=parts[0], owner=parts[1], due_date=due, finding_id=finding)


CONDITION = arg(
    "--condition",
    action="append",
    dest="conditions",
    type=condition,
    help="a condition of approval as TEXT|OWNER|YYYY-MM-DD[|FINDING_ID] (repeatable)",
)


@MODEL.command(
    "tier",
    MODEL_NAME,
    arg("--tier", type=int, required=True, choices=(1, 2, 3), help="1 high, 2 medium, 3 low materiality"),
    arg("--reason", required=True, help="why this tier, at least a sentence"),
    help="set a model's materiality tier (validator or admin)",
)
def tier(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    governance.set_tier(ctx, login(ctx, args), args.model, tier=args.tier, reason=args.reason)
    out.write(f"model {args.model} is tier {args.tier}\n")
    return ExitCode.OK


@MODEL.command(
    "info",
    MODEL_NAME,
    arg("--owner", default=None, help="the account that owns the model"),
    arg("--business-use", default=None, help="what the model decides, for whom"),
    help="set a model's owner and business use",
)
def info(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    governance.set_model_info(ctx, login(ctx, args), args.model, owner=args.owner, business_use=args.business_use)
    out.write(f"model {args.model} updated\n")
    return ExitCode.OK


def _condition_dict(c: ConditionInfo) -> dict[str, object]:
    return {
        "id": c.id,
        "approval_id": c.approval_id,
        "model_version_id": c.model_version_id,
        "model": c.model_name,
        "text": c.text,
        "owner": c.owner,
        "due_date": c.due_date.isoformat(),
        "finding_id": c.finding_id,
        "state": str(c.state),
        "overdue": c.overdue,
        "met_by": c.met_by,
        "met_at": c.met_at.isoformat() if c.met_at else None,
        "met_note": c.met_note,
    }


@CONDITIONS.command(
    "list",
    arg("--model", default=None),
    arg("--open", action="store_true", dest="open_only", help="only those not yet met"),
    arg("--json", action="store_true"),
    help="list conditions of approval, overdue first",
)
def list_conditions(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    found = governance.list_conditions(ctx, login(ctx, args), model_name=args.model, open_only=args.open_only)
    if args.json:
        out.write(json.dumps([_condition_dict(c) for c in found], indent=2) + "\n")
        return ExitCode.OK
    if not found:
        out.write("no condition of approval\n")
    for c in found:
        flag = " OVERDUE" if c.overdue else ""
        out.write(
            f"condition {c.id} ({c.state}{flag}) of {c.model_name} model version {c.model_version_id}: {c.text} "
            f"(owner {c.owner}, due {c.due_date.isoformat()})\n"
        )
    return ExitCode.OK


@CONDITIONS.command(
    "met",
    arg("condition_id", type=int),
    arg("--note", required=True, help="what you saw that meets it, at least a sentence"),
    help="mark a condition of approval met (validator)",
)
def condition_met(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    done = governance.mark_condition_met(ctx, login(ctx, args), args.condition_id, note=args.note)
    out.write(f"condition {done.id} met ({done.met_by})\n")
    return ExitCode.OK


@REVALIDATION.command(
    "show", arg("model_version", type=int), help="a production model's revalidation case: its approval, evidence"
)
def show(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    case = governance.revalidation_case(ctx, login(ctx, args), args.model_version)
    expiry = case.expires_at.date().isoformat() if case.expires_at else "none"
    out.write(
        f"{case.model_name} v{case.version} (model version {case.model_version_id}), artifact {case.artifact_sha256}\n"
        f"standing approval {case.standing_approval_id}, expires {expiry}{' (EXPIRED)' if case.expired else ''}; "
        f"a renewal runs {case.revalidation_months} months\n"
    )
    for e in case.evaluations:
        out.write(f"  evaluation {e.id} ({e.space}, {e.created_at.isoformat(timespec='minutes')}): {e.status}\n")
    for c in case.open_conditions:
        out.write(f"  open condition {c.id}: {c.text} (owner {c.owner}, due {c.due_date.isoformat()})\n")
    out.write(f"evidence to cite: {' '.join(f'--evidence {e.id}' for e in case.evaluations) or 'none'}\n")
    return ExitCode.OK


@REVALIDATION.command(
    "decide",
    arg("model_version", type=int),
    arg("--outcome", required=True, choices=[o.value for o in RevalidationOutcome]),
    arg("--comment", required=True, help="why, at least a sentence"),
    arg("--evidence", type=int, action="append", default=[], help="every evaluation id the case showed (repeatable)"),
    CONDITION,
    help="renew, renew with conditions, or retire a production model (validator)",
)
def decide(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    result = governance.revalidate(
        ctx,
        login(ctx, args),
        args.model_version,
        outcome=args.outcome,
        comment=args.comment,
        evidence=args.evidence,
        conditions=args.conditions or (),
    )
    if result.expires_at is not None:
        out.write(
            f"revalidation {result.revalidation_id}: {result.outcome}; the approval now expires on "
            f"{result.expires_at.date().isoformat()}\n"
        )
    else:
        out.write(
            f"revalidation {result.revalidation_id}: retired; prod deployment {result.retired_deployment_id} "
            "taken down\n"
        )
    return ExitCode.OK


@DUE.command("sweep", help="raise alerts for expiring approvals and overdue conditions; list what is due")
def sweep(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    items = governance.sweep_due(ctx, login(ctx, args))
    if not items:
        out.write("nothing is due\n")
    for item in items:
        out.write(f"{item.kind}: {item.message} (alert {item.alert_id})\n")
    return ExitCode.OK
