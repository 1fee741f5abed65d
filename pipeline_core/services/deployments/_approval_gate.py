"""The serving gate: whether a deployment may serve the model version the store says it serves, and why not.

The rule, in one place, for the scoring service (which loads nothing it refuses), ``audit verify``
and the pages:

- **prod** serves a model version only with a valid approval: an ``approvals`` row with outcome
  approved whose artifact sha256 is the version's, *and* the audit event that recorded it
  (``model_version.approved`` on that version, naming that approval id and that artifact, by its
  decider, sealed with the audit key), and only while the version's state is an approved one. A
  version put in prod by editing the database (a revision pointed at a rejected version, an
  approval row inserted without its event, an approval of other bytes) fails it. An approval that
  awaits a countersign is not ``approved`` yet, so it fails it too.
- **dev and pre-prod** never serve a failed version (its run did not succeed; ``runs`` puts such
  a deployment back, and this holds meanwhile).

Whether the artifact's bytes still hash to that sha256 is the integrity check's (``_integrity``).
A refusal is recorded once while it stays open: an audit event (``deployment.serving_refused``)
and an alert (monitor "approval"), in a transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import NotFoundError
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments._integrity import raise_alert_once
from pipeline_core.store.models import Approval, AuditEvent, Deployment, ModelVersion
from pipeline_core.vocabulary import APPROVED_STATES, DeploymentStatus, ModelState, Outcome, Space

# The monitor of an alert raised because a deployment points at a version it may not serve.
APPROVAL_MONITOR = "approval"
APPROVED_EVENT = "model_version.approved"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingVerdict:
    """May ``deployment_id`` serve ``model_version_id`` (the version the store says it serves)? If not, why."""

    deployment_id: int
    space: Space
    model_version_id: int
    artifact_sha256: str
    approval_id: int | None  # the approval that lets prod serve it (None outside prod, or when refused)
    refusal: str | None  # why it may not be served; None when it may

    @property
    def allowed(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class _Row:
    deployment_id: int
    space: Space
    version: ModelVersion


def _active(session: Session, deployment_id: int | None = None) -> list[_Row]:
    query = (
        select(Deployment.id, Deployment.space, ModelVersion)
        .select_from(Deployment)  # the ON clause reads deployments only inside its derived model_version_id
        .join(ModelVersion, ModelVersion.id == Deployment.model_version_id)
        .where(Deployment.status == DeploymentStatus.ACTIVE)
        .order_by(Deployment.id)
    )
    if deployment_id is not None:
        query = query.where(Deployment.id == deployment_id)
    return [_Row(int(d), Space(space), mv) for d, space, mv in session.execute(query).all()]


def _approval(
    session: Session, mv: ModelVersion, approvals: list[Approval], events: list[AuditEvent]
) -> tuple[int | None, str | None]:
    """(the valid approval's id, None), or (None, why ``mv`` has none): the rule for prod."""
    what = f"model version {mv.id}"
    if mv.state not in APPROVED_STATES:
        return None, f"{what} is {mv.state}, not approved"
    if not approvals:
        return None, f"{what} has no approval"
    bound = [a for a in approvals if a.artifact_sha256 == mv.artifact_sha256]
    if not bound:
        return None, f"the approval of {what} is for artifact {approvals[0].artifact_sha256}, not {mv.artifact_sha256}"
    problems = []
    for approval in bound:  # newest first: any one valid approval of these bytes suffices
        event = next(
            (
                e
                for e in events
                if e.details.get("approval_id") == approval.id
                and e.details.get("artifact_sha256") == mv.artifact_sha256
            ),
            None,
        )
        if event is None:
            problems.append(f"approval {approval.id} of {what} has no audit event recording it")
        elif event.actor != approval.decided_by:
            problems.append(
                f"approval {approval.id} of {what} says decided by {approval.decided_by!r}; "
                f"its audit event {event.seq} says {event.actor!r}"
            )
        elif not audit.sealed(session, event):
            problems.append(f"the audit event {event.seq} of approval {approval.id} was not written with the audit key")
        else:
            return approval.id, None
    return None, "; ".join(problems)


def _judge(session: Session, rows: Iterable[_Row]) -> dict[int, ServingVerdict]:
    rows = list(rows)
    prod = {r.version.id for r in rows if r.space == Space.PROD}
    approvals: dict[int, list[Approval]] = {}
    events: dict[str, list[AuditEvent]] = {}
    if prod:
        for a in session.execute(
            select(Approval)
            .where(Approval.model_version_id.in_(prod), Approval.outcome == Outcome.APPROVED)
            .order_by(Approval.id.desc())
        ).scalars():
            approvals.setdefault(a.model_version_id, []).append(a)
        for e in session.execute(
            select(AuditEvent).where(
                AuditEvent.action == APPROVED_EVENT,
                AuditEvent.object_type == "model_version",
                AuditEvent.object_id.in_([str(i) for i in prod]),
            )
        ).scalars():
            events.setdefault(e.object_id, []).append(e)
    verdicts = {}
    for row in rows:
        mv = row.version
        approval_id: int | None = None
        refusal: str | None = None
        if row.space == Space.PROD:
            approval_id, refusal = _approval(session, mv, approvals.get(mv.id, []), events.get(str(mv.id), []))
        elif mv.state == ModelState.FAILED:
            refusal = f"model version {mv.id} failed: the run that trained it did not succeed"
        verdicts[row.deployment_id] = ServingVerdict(
            row.deployment_id, row.space, mv.id, mv.artifact_sha256, approval_id, refusal
        )
    return verdicts


def serving_verdicts(ctx: ServiceContext, actor: Principal) -> list[ServingVerdict]:
    """The verdict on every active deployment, by deployment id, read in one transaction."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        return list(_judge(session, _active(session)).values())


def approval_of_served(
    ctx: ServiceContext, actor: Principal, deployment_id: int, *, record: bool = False
) -> ServingVerdict:
    """The verdict on active deployment ``deployment_id``; with ``record``, a refusal is recorded (once while open).

    It judges again before it records, so what it records is what the store says now, whoever asks.
    """
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        verdict = _judge(session, _active(session, deployment_id)).get(deployment_id)
    if verdict is None:
        raise NotFoundError(f"deployment {deployment_id} does not exist or was deleted")
    if record and verdict.refusal is not None:
        _record_refusal(ctx, actor, verdict)
    return verdict


def refusal_message(verdict: ServingVerdict) -> str:
    """What the alert, the audit event and ``/health`` say of a refused verdict."""
    return (
        f"deployment {verdict.deployment_id} ({verdict.space}) may not serve model version "
        f"{verdict.model_version_id}: {verdict.refusal}"
    )


def _record_refusal(ctx: ServiceContext, actor: Principal, verdict: ServingVerdict) -> int:
    """The refusal's audit event, and its alert unless the same one is open, in one transaction; the alert's id."""
    message = refusal_message(verdict)
    with ctx.db.write() as session:
        alert_id = raise_alert_once(
            session,
            monitor=APPROVAL_MONITOR,
            metric="approval",
            message=message,
            deployment_id=verdict.deployment_id,
            model_version_id=verdict.model_version_id,
            per="deployment",
        )
        audit.record(
            session,
            actor=actor.username,
            action="deployment.serving_refused",
            object_type="deployment",
            object_id=verdict.deployment_id,
            details={
                "space": verdict.space,
                "model_version_id": verdict.model_version_id,
                "artifact_sha256": verdict.artifact_sha256,
                "reason": verdict.refusal,
                "alert_id": alert_id,
            },
        )
    log.error("%s (alert %s)", message, alert_id)
    return int(alert_id)
