"""Commands on shadows: shadow start|stop|list|compare (a candidate scoring production traffic beside it)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TextIO

from pipeline_core.cli.identity import login
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ExitCode

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext
    from pipeline_core.services.deployments import ShadowInfo
    from pipeline_core.services.monitoring import ShadowComparison

COMMANDS = Declarations()
SHADOW = COMMANDS.group("shadow", help="put a candidate in the shadow of a prod deployment, stop it, compare both")
REASON = arg("--reason", required=True, help="why, in at least a sentence (kept on the shadow and audited)")
JSON = arg("--json", action="store_true", help="print JSON instead of text")


def _line(info: ShadowInfo) -> str:
    state = (
        "active"
        if info.active
        else f"stopped {info.stopped_at:%Y-%m-%d %H:%M:%S} by {info.stopped_by}: {info.stop_reason}"
    )
    return (
        f"{info.heading}; started {info.started_at:%Y-%m-%d %H:%M:%S} by {info.started_by}: {info.start_reason}; "
        f"{state}\n"
    )


def _document(info: ShadowInfo) -> dict[str, Any]:
    doc: dict[str, Any] = {k: v for k, v in info.__dict__.items()}
    for key in ("started_at", "stopped_at"):
        doc[key] = doc[key].isoformat() if doc[key] is not None else None
    doc["active"] = info.active
    return doc


@SHADOW.command(
    "start",
    arg("--deployment", type=int, required=True, help="the prod deployment whose traffic the candidate scores"),
    arg("--model-version", type=int, required=True, help="the candidate, served in pre-prod"),
    REASON,
    JSON,
    help="put a candidate in the shadow of a prod deployment (data scientists and validators)",
)
def shadow_start(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    info = deployments.start_shadow(
        ctx,
        login(ctx, args),
        production_deployment_id=args.deployment,
        model_version_id=args.model_version,
        reason=args.reason,
    )
    out.write(json.dumps(_document(info)) + "\n" if args.json else _line(info))
    return ExitCode.OK


@SHADOW.command(
    "stop", arg("shadow_id", type=int, help="the shadow's id, from 'shadow list'"), REASON, JSON, help="stop a shadow"
)
def shadow_stop(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    info = deployments.stop_shadow(ctx, login(ctx, args), args.shadow_id, reason=args.reason)
    out.write(json.dumps(_document(info)) + "\n" if args.json else _line(info))
    return ExitCode.OK


@SHADOW.command(
    "list",
    arg("--deployment", type=int, help="only the shadows of this prod deployment"),
    arg("--active", action="store_true", help="only the active ones"),
    JSON,
    help="shadows, newest first",
)
def shadow_list(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import deployments

    found = deployments.list_shadows(
        ctx, login(ctx, args), production_deployment_id=args.deployment, active_only=args.active
    )
    if args.json:
        out.write(json.dumps([_document(s) for s in found]) + "\n")
    elif not found:
        out.write("no shadow" + (" is active" if args.active else " was ever started") + "\n")
    for info in [] if args.json else found:
        out.write(_line(info))
    return ExitCode.OK


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _comparison_text(found: ShadowComparison) -> str:
    report = found.report
    rate = "–" if report.agreement_rate is None else f"{report.agreement_rate:.1%}"
    lines = [
        f"{found.shadow.heading} against production v{found.production_version} "
        f"(model version {found.production_model_version_id}), {found.period}",
        f"records compared: {report.records:,} of {found.production_records:,} production records in the period "
        f"({found.missing:,} without a shadow answer: dropped or failed)",
        f"decisions agree on {report.agreed:,} records ({rate})",
    ]
    for name, side, estimate in (
        ("production", report.realised_production, found.estimated_production),
        ("shadow", report.realised_shadow, found.estimated_shadow),
    ):
        realised = (
            "no labelled record"
            if side is None
            else f"ROC AUC {_figure(side.roc_auc)}, accuracy {_figure(side.accuracy)} on {side.records:,} labelled"
        )
        guess = (
            estimate.note
            if estimate.roc_auc is None
            else f"ROC AUC {_figure(estimate.roc_auc)}, accuracy {_figure(estimate.accuracy)} ({estimate.note})"
        )
        lines.append(f"{name}: realised {realised}; estimated {guess}")
    for g in report.fairness:
        judged = "" if g.judged else f" (fewer than {g.minimum} records in a group: not judged)"
        lines.append(
            f"disparate impact [{g.attribute}] {g.monitored} vs {g.reference} ({g.monitored_records:,} / "
            f"{g.reference_records:,} records): production {_figure(g.production)}, shadow {_figure(g.shadow)}{judged}"
        )
    return "\n".join(lines) + "\n"


@SHADOW.command(
    "compare", arg("shadow_id", type=int), JSON, help="production and the shadow on the records both scored"
)
def shadow_compare(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import monitoring
    from pipeline_core.services.jsonable import jsonable

    found = monitoring.shadow_comparison(ctx, login(ctx, args), args.shadow_id)
    if args.json:
        document = asdict(found)
        document["shadow"] = _document(found.shadow)
        out.write(json.dumps(jsonable(document)) + "\n")
    else:
        out.write(_comparison_text(found))
    return ExitCode.OK
