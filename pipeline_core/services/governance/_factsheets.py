"""Factsheets: a model version's lineage and facts gathered from the store, as JSON or HTML.

Everything here is read from records written when things happened (the run and its
stages, the dataset, evaluations, approvals, deployments, the audit log), so a factsheet
can be exported at any time and shows the same history.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import or_, select

from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.services import lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _documentation
from pipeline_core.services.jsonable import jsonable
from pipeline_core.store.models import (
    Approval,
    AuditEvent,
    Dataset,
    Deployment,
    DeploymentRevision,
    Evaluation,
    Run,
)


@dataclass(frozen=True)
class Factsheet:
    """A model version's facts (JSON values, as exported) and its lineage timeline, oldest event first."""

    model: dict[str, Any]
    training_data: dict[str, Any]
    run: dict[str, Any]
    evaluations: tuple[dict[str, Any], ...]
    approvals: tuple[dict[str, Any], ...]
    deployments: tuple[dict[str, Any], ...]
    timeline: tuple[dict[str, Any], ...]
    # The version's documentation as it stood for it (carried forward; ``_documentation``), in section order.
    documentation: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The export document: one key per section, in this order."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    return [dict(v) for v in value] if isinstance(value, tuple) else dict(value)


def factsheet(ctx: ServiceContext, actor: Principal, model_version_id: int) -> Factsheet:
    """The facts of a model version and its lineage timeline, oldest event first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        run = session.get(Run, mv.run_id)
        dataset = session.get(Dataset, mv.dataset_id)
        assert run is not None  # foreign key
        assert dataset is not None  # foreign key
        evaluations = (
            session.execute(select(Evaluation).where(Evaluation.model_version_id == mv.id).order_by(Evaluation.id))
            .scalars()
            .all()
        )
        approvals = (
            session.execute(select(Approval).where(Approval.model_version_id == mv.id).order_by(Approval.id))
            .scalars()
            .all()
        )
        revisions = session.execute(
            select(DeploymentRevision, Deployment.space)
            .join(Deployment, Deployment.id == DeploymentRevision.deployment_id)
            .where(DeploymentRevision.model_version_id == mv.id)
            .order_by(DeploymentRevision.id)
        ).all()
        dep_ids = sorted({str(r.deployment_id) for r, _ in revisions})
        events = (
            session.execute(
                select(AuditEvent)
                .where(
                    or_(
                        (AuditEvent.object_type == "model_version") & (AuditEvent.object_id == str(mv.id)),
                        (AuditEvent.object_type == "run") & (AuditEvent.object_id == str(run.id)),
                        (AuditEvent.object_type == "dataset") & (AuditEvent.object_id == str(dataset.id)),
                        (AuditEvent.object_type == "deployment") & (AuditEvent.object_id.in_(dep_ids)),
                        (AuditEvent.object_type == "evaluation")
                        & (AuditEvent.object_id.in_([str(e.id) for e in evaluations])),
                    )
                )
                .order_by(AuditEvent.seq)
            )
            .scalars()
            .all()
        )
        doc = _documentation.read(session, mv.name, mv)
        facts = {
            "model": {
                "id": mv.id,
                "name": mv.name,
                "version": mv.version,
                "state": mv.state,
                "model_type": mv.model_type,
                "artifact_sha256": mv.artifact_sha256,
                "created_by": mv.created_by,
                "created_at": mv.created_at.isoformat(),
                "parameters": mv.params,
                "metrics": mv.metrics,
            },
            "training_data": {
                "id": dataset.id,
                "name": dataset.name,
                "sha256": dataset.sha256,
                "spec": dataset.spec_name,
                "rows": dataset.n_rows,
                "columns": dataset.n_columns,
                "source": dataset.source,
                "registered_by": dataset.created_by,
            },
            "run": {
                "id": run.id,
                "status": run.status,
                "created_by": run.created_by,
                "params": run.params,
                "started_at": run.started_at.isoformat() if run.started_at else None,
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "stages": [
                    {"name": s.name, "status": s.status, "seconds": s.duration_seconds, "gate": s.gate_reason}
                    for s in run.stages
                ],
            },
            "evaluations": [
                {
                    "id": e.id,
                    "space": e.space,
                    "status": e.status,
                    "risk_level": EvaluationReport.from_dict(e.results).risk_level,
                    "records": e.data_window.get("records"),
                    "created_at": e.created_at.isoformat(),
                }
                for e in evaluations
            ],
            "approvals": [
                {
                    "id": a.id,
                    "outcome": a.outcome,
                    "decided_by": a.decided_by,
                    "decided_at": a.decided_at.isoformat(),
                    "comment": a.comment,
                    "override": a.override_reason,
                    "evidence": a.evidence,
                }
                for a in approvals
            ],
            "deployments": [
                {
                    "deployment_id": r.deployment_id,
                    "space": space,
                    "reason": r.reason,
                    "actor": r.actor,
                    "from": r.started_at.isoformat(),
                    "until": r.ended_at.isoformat() if r.ended_at else None,
                }
                for r, space in revisions
            ],
            "timeline": [
                {
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "object": f"{e.object_type} {e.object_id}",
                }
                for e in events
            ],
            "documentation": [
                {
                    "section": d.title,
                    "text": d.text,
                    "written_by": d.written_by,
                    "written_at": d.written_at.isoformat() if d.written_at else None,
                    "for_version": d.for_version,
                }
                for d in doc.sections
            ],
        }
    plain: dict[str, Any] = jsonable(facts)
    return Factsheet(
        model=plain["model"],
        training_data=plain["training_data"],
        run=plain["run"],
        evaluations=tuple(plain["evaluations"]),
        approvals=tuple(plain["approvals"]),
        deployments=tuple(plain["deployments"]),
        timeline=tuple(plain["timeline"]),
        documentation=tuple(plain["documentation"]),
    )


def factsheet_json(sheet: Factsheet) -> str:
    return json.dumps(sheet.to_dict(), indent=2, sort_keys=False)


def factsheet_html(sheet: Factsheet) -> str:
    """A self-contained HTML page of the factsheet."""
    facts = sheet.to_dict()

    def table(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "<p><em>none</em></p>"
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    model = facts["model"]
    title = f"Factsheet: {model['name']} v{model['version']}"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for section in ("model", "training_data", "run"):
        flat = {k: v for k, v in facts[section].items() if k != "stages"}
        parts.append(f"<h2>{section.replace('_', ' ').title()}</h2>{table([flat])}")
    parts.append(f"<h3>Stages</h3>{table(facts['run']['stages'])}")
    parts.append("<h2>Documentation</h2>")
    for d in facts["documentation"]:
        if d["text"] is None:
            parts.append(f"<h3>{html.escape(d['section'])}</h3><p><em>not written</em></p>")
            continue
        by = f"{d['written_by']}, {d['written_at']}, for version {d['for_version']}"
        parts.append(
            f'<h3>{html.escape(d["section"])}</h3><p class="doc">{html.escape(d["text"])}</p>'
            f"<p><small>{html.escape(by)}</small></p>"
        )
    for section in ("evaluations", "approvals", "deployments", "timeline"):
        parts.append(f"<h2>{section.title()}</h2>{table(facts[section])}")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25rem .5rem;font-size:.85rem;text-align:left}th{background:#f1f3f4}"
        ".doc{white-space:pre-wrap}"
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )
