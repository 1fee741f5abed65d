"""The findings commands: ``findings list``, ``show``, ``raise``, ``remediate``, ``close`` and ``accept-risk``."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import TYPE_CHECKING, Any, TextIO

from pipeline_core.cli.identity import login
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ConfigError, ExitCode
from pipeline_core.vocabulary import EvidenceKind, FindingSeverity

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext
    from pipeline_core.services.governance import FindingInfo

COMMANDS = Declarations()
FINDINGS = COMMANDS.group("findings", help="list, raise, remediate, close or accept the risk of validation findings")
FINDING = arg("finding", type=int, help="the finding's id")
JSON = arg("--json", action="store_true", help="as JSON")
# Not argparse choices: the service refuses another word by name (exit 2), as it does for every caller.
SEVERITIES = ", ".join(s.value for s in FindingSeverity)
KINDS = ", ".join(k.value for k in EvidenceKind)


def day(text: str, *, option: str) -> date:
    """An ISO date (``2027-03-31``); anything else is bad input naming the option and the value."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{option} {text[:40]!r} is not a date (YYYY-MM-DD, e.g. 2027-03-31)") from None


def as_dict(f: FindingInfo) -> dict[str, Any]:
    """A finding as plain JSON types, its history included."""
    acceptance = f.risk_acceptance
    return {
        "id": f.id,
        "model": f.model_name,
        "raised_on": {"model_version_id": f.raised_on_version_id, "version": f.raised_on_version},
        "title": f.title,
        "description": f.description,
        "severity": f.severity.value,
        "state": f.state.value,
        "evidence": {"kind": f.evidence_kind.value, "ref": f.evidence_ref},
        "owner": f.owner,
        "due_date": f.due_date.isoformat(),
        "overdue": f.overdue,
        "raised_by": f.raised_by,
        "raised_at": f.raised_at.isoformat(),
        "remediation": None if f.remediation_note is None else {"by": f.remediation_by, "note": f.remediation_note},
        "closed": None
        if f.closed_on_version_id is None
        else {
            "by": f.closed_by,
            "at": f.closed_at.isoformat() if f.closed_at else None,
            "model_version_id": f.closed_on_version_id,
            "version": f.closed_on_version,
            "resolution": f.resolution_note,
        },
        "risk_acceptance": None
        if acceptance is None
        else {
            "by": acceptance.by,
            "reason": acceptance.reason,
            "expires_on": acceptance.expires_on.isoformat(),
            "expired": acceptance.expired,
        },
        "history": [
            {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "details": dict(e.details)}
            for e in f.history
        ],
    }


def line(f: FindingInfo) -> str:
    """One finding on one line, as ``findings list`` prints it."""
    due = f"due {f.due_date.isoformat()}" + (" OVERDUE" if f.overdue else "")
    return (
        f"finding {f.id}: {f.model_name} v{f.raised_on_version} [{f.severity.value}] {f.state.value}, "
        f"owner {f.owner}, {due}: {f.title} ({f.evidence})"
    )


def _write(out: TextIO, f: FindingInfo, as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(as_dict(f), indent=2, ensure_ascii=False) + "\n")
        return
    out.write(line(f) + "\n")


@FINDINGS.command(
    "list",
    arg("--model", default=None, help="only this model's findings"),
    arg("--owner", default=None, help="only the findings this account owns"),
    arg("--severity", default=None, help=f"only this severity: {SEVERITIES}"),
    arg("--open", action="store_true", help="only open ones (open, remediation proposed, expired risk acceptance)"),
    JSON,
    help="list findings, overdue first, then by due date",
)
def list_(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    found = governance.list_findings(
        ctx, login(ctx, args), model_name=args.model, owner=args.owner, severity=args.severity, open_only=args.open
    )
    if args.json:
        out.write(json.dumps([as_dict(f) for f in found], indent=2, ensure_ascii=False) + "\n")
    elif not found:
        out.write("no findings\n")
    else:
        out.write("".join(line(f) + "\n" for f in found))
    return ExitCode.OK


@FINDINGS.command("show", FINDING, JSON, help="show one finding with its history")
def show(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    f = governance.get_finding(ctx, login(ctx, args), args.finding)
    if args.json:
        _write(out, f, True)
        return ExitCode.OK
    out.write(line(f) + "\n" + f.description + "\n")
    for e in f.history:
        out.write(f"  {e.at:%Y-%m-%d %H:%M} {e.actor}: {e.action.removeprefix('finding.')}\n")
    return ExitCode.OK


@FINDINGS.command(
    "raise",
    arg("model_version", type=int, help="the model version it is raised on"),
    arg("--title", required=True, help="one line naming the issue"),
    arg("--description", required=True, help="what is wrong, and why it matters"),
    arg("--severity", required=True, help=f"{SEVERITIES}; an open high finding blocks approval"),
    arg("--evidence-kind", default=EvidenceKind.FREE.value, help=f"{KINDS} (default: free)"),
    arg("--evidence-ref", default="", help="check: monitor:metric; model_test: its name; report_section: its title"),
    arg("--owner", required=True, help="the account that remediates it"),
    arg("--due", required=True, help="the due date, YYYY-MM-DD"),
    JSON,
    help="raise a finding on a model version (a validator; never on their own model)",
)
def raise_(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    due = day(args.due, option="--due")
    f = governance.raise_finding(
        ctx,
        login(ctx, args),
        args.model_version,
        title=args.title,
        description=args.description,
        severity=args.severity,
        evidence_kind=args.evidence_kind,
        evidence_ref=args.evidence_ref,
        owner=args.owner,
        due_date=due,
    )
    _write(out, f, args.json)
    return ExitCode.OK


@FINDINGS.command(
    "remediate",
    FINDING,
    arg("--note", required=True, help="what was done about it"),
    JSON,
    help="propose a finding's remediation (its owner, or a data scientist)",
)
def remediate(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    _write(out, governance.propose_remediation(ctx, login(ctx, args), args.finding, note=args.note), args.json)
    return ExitCode.OK


@FINDINGS.command(
    "close",
    FINDING,
    arg("--model-version", type=int, required=True, help="the later model version it was verified on"),
    arg("--note", default=None, help="what was verified (required for free and report-section evidence)"),
    JSON,
    help="close a finding, verified on a later version whose linked check passes (a validator)",
)
def close(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    f = governance.close_finding(
        ctx, login(ctx, args), args.finding, model_version_id=args.model_version, note=args.note
    )
    _write(out, f, args.json)
    return ExitCode.OK


@FINDINGS.command(
    "accept-risk",
    FINDING,
    arg("--reason", required=True, help="why the risk is acceptable, at least a sentence"),
    arg("--expires", required=True, help="until when, YYYY-MM-DD (at most 12 months ahead)"),
    JSON,
    help="accept a finding's risk until a date (a validator other than the one who raised it)",
)
def accept_risk(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    until = day(args.expires, option="--expires")
    f = governance.accept_risk(ctx, login(ctx, args), args.finding, reason=args.reason, expires_on=until)
    _write(out, f, args.json)
    return ExitCode.OK
