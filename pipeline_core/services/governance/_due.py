"""Due dates: alerts for approvals of production models nearing or past expiry, and for overdue conditions.

``sweep_due`` is idempotent: an alert says what is due with its date, and the same open alert is not
raised twice (``deployments.raise_alert_once``), so the worker may sweep on every idle turn and the CLI
at any time. The alerts are the monitor ``governance``'s; acknowledging or resolving them is the
Monitoring page's, as for any alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance._revalidation import standing
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ApprovalCondition, ModelVersion
from pipeline_core.vocabulary import ConditionState, ModelState

GOVERNANCE_MONITOR = "governance"
EXPIRY_WARNING = timedelta(days=30)  # how long before its expiry an approval is "nearing" it


@dataclass(frozen=True)
class DueItem:
    """Something due: an expiring or expired approval, or an overdue condition, and its alert."""

    kind: str  # "approval_expired", "approval_expiring", "condition_overdue"
    model_version_id: int
    model_name: str
    due: date
    message: str
    alert_id: int


def sweep_due(ctx: ServiceContext, actor: Principal, *, today: date | None = None) -> list[DueItem]:
    """Raise (once) an alert for each production approval expired or expiring within 30 days and each open
    condition past its due date; every item due, with its alert."""
    require(ctx, actor, "sweep_due")
    on = today or utcnow().date()
    found: list[DueItem] = []
    with ctx.db.write() as session:
        served = session.execute(
            select(ModelVersion).where(ModelVersion.state == ModelState.IN_PRODUCTION).order_by(ModelVersion.id)
        ).scalars()
        for mv in served:
            row = standing(session, mv)
            if row is None or row.expires_at is None:
                continue
            expires = row.expires_at.date()
            if expires <= on:
                kind, text = "approval_expired", f"expired on {expires.isoformat()}: revalidate it"
            elif expires - on <= EXPIRY_WARNING:
                kind, text = "approval_expiring", f"expires on {expires.isoformat()}: revalidate it before then"
            else:
                continue
            message = f"the approval ({row.id}) of {mv.name} v{mv.version} (model version {mv.id}) {text}"
            alert_id = deployments.raise_alert_once(
                session,
                monitor=GOVERNANCE_MONITOR,
                metric=kind,
                message=message,
                deployment_id=None,
                model_version_id=mv.id,
                per="model_version",
            )
            found.append(DueItem(kind, mv.id, mv.name, expires, message, alert_id))
        overdue = session.execute(
            select(ApprovalCondition)
            .where(ApprovalCondition.state == ConditionState.OPEN, ApprovalCondition.due_date < on)
            .order_by(ApprovalCondition.due_date, ApprovalCondition.id)
        ).scalars()
        for c in overdue:
            message = (
                f"condition {c.id} of {c.model_name} (model version {c.model_version_id}), owner {c.owner}, "
                f"was due on {c.due_date.isoformat()}: {c.text[:200]}"
            )
            alert_id = deployments.raise_alert_once(
                session,
                monitor=GOVERNANCE_MONITOR,
                metric="condition_overdue",
                message=message,
                deployment_id=None,
                model_version_id=c.model_version_id,
                per="model_version",
            )
            found.append(DueItem("condition_overdue", c.model_version_id, c.model_name, c.due_date, message, alert_id))
    return found
