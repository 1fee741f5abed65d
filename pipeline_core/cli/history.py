"""The production history command: ``history MODEL [--on DATE] [--json]``."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TextIO

from pipeline_core.cli.identity import login
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext
    from pipeline_core.services.governance import ProductionPeriod

COMMANDS = Declarations()


def parse_on(value: str) -> date | datetime:
    """``--on``: a day (YYYY-MM-DD) or a moment (ISO date and time, UTC unless it says its offset)."""
    text = value.strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--on {value[:64]!r} is not a date (YYYY-MM-DD) or an ISO date and time") from exc


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def period_document(p: ProductionPeriod) -> dict[str, Any]:
    """A period as JSON-ready values (the CLI's ``--json``)."""
    return {
        "model": p.model_name,
        "model_version_id": p.model_version_id,
        "version": p.version,
        "artifact_sha256": p.artifact_sha256,
        "started_at": _stamp(p.started_at),
        "ended_at": _stamp(p.ended_at),
        "deployment_id": p.deployment_id,
        "reason": p.reason,
        "started_by": p.started_by,
        "approval_id": p.approval_id,
        "approved_by": p.approved_by,
        "approved_at": _stamp(p.approved_at),
        "countersigned_by": p.countersigned_by,
        "countersigned_at": _stamp(p.countersigned_at),
        "expires_at": _stamp(p.expires_at),
        "conditions": [
            {"id": c.id, "text": c.text, "owner": c.owner, "due_date": c.due_date.isoformat(), "state": c.state.value}
            for c in p.conditions
        ],
        "evaluation_ids": list(p.evaluation_ids),
        "model_test_run_ids": list(p.model_test_run_ids),
    }


def _line(p: ProductionPeriod) -> str:
    until = "still serving" if p.ended_at is None else f"{p.ended_at:%Y-%m-%d %H:%M}"
    approval = (
        "no approval on record"
        if p.approval_id is None
        else f"approval {p.approval_id} by {p.approved_by} on {p.approved_at:%Y-%m-%d}"
        + (f", countersigned by {p.countersigned_by}" if p.countersigned_by else "")
    )
    evidence = ", ".join(f"evaluation {i}" for i in p.evaluation_ids) or "no evaluation cited"
    lines = [
        f"v{p.version} (model version {p.model_version_id}) {p.started_at:%Y-%m-%d %H:%M} → {until}, "
        f"{p.reason} by {p.started_by}; {approval}; evidence: {evidence}"
    ]
    lines += [f"  condition {c.id} ({c.state}, {c.owner}, due {c.due_date}): {c.text}" for c in p.conditions]
    return "\n".join(lines)


@COMMANDS.command(
    "history",
    arg("model", help="the model's name (its versions share it)"),
    arg("--on", default=None, help="only what served on this day (YYYY-MM-DD) or at this moment (ISO, UTC)"),
    arg("--json", action="store_true", help="as JSON"),
    help="what served production for a model, when, approved by whom, on which evidence",
)
def history(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    on = None if args.on is None else parse_on(args.on)
    found = governance.production_history(ctx, login(ctx, args), args.model, on=on)
    if args.json:
        out.write(json.dumps([period_document(p) for p in found], indent=2, ensure_ascii=False) + "\n")
    elif not found:
        when = "" if on is None else f" on {args.on.strip()}"
        out.write(f"{args.model}: nothing served production{when}\n")
    else:
        out.write(f"production history of {args.model}" + ("" if on is None else f" on {args.on.strip()}") + "\n")
        out.write("\n".join(_line(p) for p in found) + "\n")
    return ExitCode.OK
