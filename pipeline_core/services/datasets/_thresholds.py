"""Thresholds per spec: an admin sets them; new datasets and production evaluations use them.

A pre-prod evaluation keeps the thresholds its dataset was registered with, so the
evidence a validator cited never changes after the fact; production monitoring and new
runs judge against the thresholds in force.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from typing import Any

from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.errors import DataError
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import SpecThresholds


def in_force(ctx: ServiceContext, actor: Principal, spec: DataSpec) -> DataSpec:
    """``spec`` with the thresholds an admin set for it, if any."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        row = session.get(SpecThresholds, spec.name)
        values = dict(row.thresholds) if row is not None else None
    return spec if values is None else replace(spec, thresholds=Thresholds(**values))


def set_thresholds(ctx: ServiceContext, actor: Principal, spec: DataSpec, changes: dict[str, Any]) -> Thresholds:
    """Change some of ``spec``'s thresholds (the rest stay as in force); checked, stored, audited."""
    require(ctx, actor, "manage_thresholds")
    known = {f.name for f in fields(Thresholds)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise DataError(f"spec {spec.name!r}: no threshold named {unknown[0]!r}; thresholds: {sorted(known)}")
    current = in_force(ctx, actor, spec).thresholds
    updated = Thresholds(**{**asdict(current), **changes})  # raises naming the field and value
    with ctx.db.write() as session:
        row = session.get(SpecThresholds, spec.name)
        if row is None:
            session.add(
                SpecThresholds(
                    spec_name=spec.name, thresholds=asdict(updated), updated_by=actor.username, updated_at=utcnow()
                )
            )
        else:
            row.thresholds, row.updated_by, row.updated_at = asdict(updated), actor.username, utcnow()
        audit.record(
            session,
            actor=actor.username,
            action="thresholds.changed",
            object_type="spec",
            object_id=spec.name,
            details={"from": asdict(current), "to": asdict(updated)},
        )
    return updated
