"""Alerts: one per (deployment, check) while it lasts, counted, resolved when the check passes; each change notified.

An evaluation's failing critical check whose (deployment, monitor, metric) already has an alert that is
not resolved counts one more occurrence on it (when, which evaluation, what value) instead of opening
another. A later evaluation of that deployment that judges the check passed resolves it as "system",
naming the evaluation; so does an evaluation of another version on that deployment (the alert was about
the version it replaced). A person acknowledges an open alert and resolves an acknowledged one, each
with a comment of at least a sentence (``services.reasons``).

A raised or resolved alert is notified: one delivery row per configured channel (``notify.channels``)
with the message as it stands, written in the transaction of the change; ``_notifications`` sends them.
An evaluation without a deployment (a pre-prod one stored by hand) raises an alert per failure as before.
Integrity and governance alerts (no evaluation) are raised by their own areas and never matched here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import ConflictError, NotFoundError
from pipeline_core.notify import channels as notify_channels
from pipeline_core.notify.message import AlertMessage
from pipeline_core.results.evaluation import Check, EvaluationReport
from pipeline_core.services import audit, reasons
from pipeline_core.services.authz import SYSTEM, Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Alert, AlertDelivery, Deployment, Evaluation, ModelVersion
from pipeline_core.vocabulary import AlertChannel, AlertNotice, AlertStatus, CheckStatus, DeliveryStatus


@dataclass(frozen=True)
class AlertInfo:
    """A critical threshold failed in an evaluation, or an artifact its integrity check (no evaluation then).

    Open until someone acknowledges it, saying what they do about it; then resolved, saying how it ended,
    or resolved by the system when a later evaluation judges its check passed. ``occurrences`` counts the
    evaluations that found the check failing while it was not resolved; ``last_*`` is the newest of them.
    """

    id: int
    evaluation_id: int | None
    deployment_id: int | None
    model_version_id: int
    monitor: str
    metric: str
    value: float | None
    threshold: float | None
    message: str
    status: AlertStatus
    created_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledge_comment: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolve_comment: str | None
    model_name: str
    model_version: int
    occurrences: int
    last_seen_at: datetime
    last_evaluation_id: int | None
    last_value: float | None

    @property
    def model(self) -> str:
        """The version it is about, as people say it: "credit-risk v3"."""
        return f"{self.model_name} v{self.model_version}"


def _alert_info(row: Alert, name: str, version: int) -> AlertInfo:
    return AlertInfo(
        row.id,
        row.evaluation_id,
        row.deployment_id,
        row.model_version_id,
        row.monitor,
        row.metric,
        row.value,
        row.threshold,
        row.message,
        AlertStatus(row.status),
        row.created_at,
        row.acknowledged_by,
        row.acknowledged_at,
        row.acknowledge_comment,
        row.resolved_by,
        row.resolved_at,
        row.resolve_comment,
        name,
        version,
        row.occurrences or 1,
        row.last_seen_at or row.created_at,
        row.last_evaluation_id,
        row.last_value,
    )


@dataclass(frozen=True)
class ChannelInfo:
    """A channel alerts are notified on: its kind and where it sends (never a secret)."""

    kind: AlertChannel
    description: str


def alert_channels(ctx: ServiceContext, actor: Principal) -> tuple[ChannelInfo, ...]:
    """The channels this install's settings notify (a delivery is queued for each at every notice)."""
    require(ctx, actor, "view")
    return tuple(ChannelInfo(kind, ch.describe()) for kind, ch in notify_channels.configured(ctx.settings).items())


def channels_of(ctx: ServiceContext) -> tuple[AlertChannel, ...]:
    """The kinds of the channels configured here, for the transactions that queue notifications."""
    return tuple(notify_channels.configured(ctx.settings))


def raise_or_update(
    session: Session,
    *,
    report: EvaluationReport,
    evaluation_id: int,
    deployment_id: int | None,
    model_version_id: int,
    space: str,
    actor: str,
    channels: Sequence[AlertChannel] = (),
) -> list[int]:
    """Raise, count or resolve the alerts ``report`` calls for; the ids of the alerts its failing checks hold open.

    In the caller's transaction (the evaluation's): the evaluation, its alerts and their notifications'
    deliveries (one per channel of ``channels``) are written together or not at all.
    """
    now = utcnow()
    mv = session.get(ModelVersion, model_version_id)
    if mv is None:
        raise NotFoundError(f"model version {model_version_id} does not exist")
    failed = {(c.monitor, c.metric.name): c for c in report.failed_critical}
    judged = {(c.monitor, c.metric.name): c for c in report.checks}
    standing: dict[tuple[str, str], Alert] = {}
    if deployment_id is not None:
        rows = session.execute(
            select(Alert)
            .where(
                Alert.deployment_id == deployment_id,
                Alert.evaluation_id.is_not(None),
                Alert.status != AlertStatus.RESOLVED,
            )
            .order_by(Alert.id)
        ).scalars()
        for alert in rows:
            if alert.model_version_id != model_version_id:
                served = f"{mv.name} v{mv.version}"
                _resolve(
                    session,
                    alert,
                    by=SYSTEM.username,
                    comment=f"deployment {deployment_id} now serves {served}; evaluation {evaluation_id} judges "
                    "its checks anew",
                    evaluation_id=evaluation_id,
                    channels=channels,
                    now=now,
                )
                continue
            key = (alert.monitor, alert.metric)
            if key in standing:
                continue  # two from before one alert per check: the older one counts on
            standing[key] = alert
            check = judged.get(key)
            if key not in failed and check is not None and check.metric.status == CheckStatus.PASS:
                _resolve(
                    session,
                    alert,
                    by=SYSTEM.username,
                    comment=f"the check passed again in evaluation {evaluation_id}: {_figures(check)}",
                    evaluation_id=evaluation_id,
                    channels=channels,
                    now=now,
                )
    held = []
    for key, check in failed.items():
        m = check.metric
        found = standing.get(key)
        if found is not None and found.status != AlertStatus.RESOLVED:
            alert = found
            alert.occurrences = (alert.occurrences or 1) + 1
            alert.last_seen_at, alert.last_evaluation_id, alert.last_value = now, evaluation_id, m.value
            session.flush()
            audit.record(
                session,
                actor=actor,
                action="alert.seen_again",
                object_type="alert",
                object_id=alert.id,
                details={"metric": m.name, "evaluation_id": evaluation_id, "occurrences": alert.occurrences},
            )
            held.append(alert.id)
            continue
        alert = Alert(
            evaluation_id=evaluation_id,
            deployment_id=deployment_id,
            model_version_id=model_version_id,
            monitor=check.monitor,
            metric=m.name,
            value=m.value,
            threshold=m.threshold,
            message=f"{mv.name} v{mv.version}: {_figures(check)} fails its critical threshold "
            f"({space}, evaluation {evaluation_id})",
            status=AlertStatus.OPEN.value,
            created_at=now,
            occurrences=1,
            last_seen_at=now,
            last_evaluation_id=evaluation_id,
            last_value=m.value,
        )
        session.add(alert)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="alert.raised",
            object_type="alert",
            object_id=alert.id,
            details={"metric": m.name, "evaluation_id": evaluation_id},
        )
        queue(session, alert, AlertNotice.RAISED, channels=channels, now=now, evaluation_id=evaluation_id)
        held.append(alert.id)
    return held


def _figures(check: Check) -> str:
    m = check.metric
    value = "no value" if m.value is None else f"{m.value:.4f}"
    threshold = "" if m.threshold is None else f", threshold {m.threshold:.4f}"
    return f"{m.name} = {value}{threshold}"


def _resolve(
    session: Session,
    alert: Alert,
    *,
    by: str,
    comment: str,
    evaluation_id: int | None,
    channels: Sequence[AlertChannel],
    now: datetime,
) -> None:
    alert.status = AlertStatus.RESOLVED.value
    alert.resolved_by, alert.resolved_at, alert.resolve_comment = by, now, comment
    session.flush()
    audit.record(
        session,
        actor=by,
        action="alert.resolved",
        object_type="alert",
        object_id=alert.id,
        details={
            "comment": comment,
            "deployment_id": alert.deployment_id,
            "metric": alert.metric,
            "evaluation_id": evaluation_id,
        },
    )
    queue(session, alert, AlertNotice.RESOLVED, channels=channels, now=now, evaluation_id=evaluation_id)


def queue(
    session: Session,
    alert: Alert,
    notice: AlertNotice,
    *,
    channels: Sequence[AlertChannel],
    now: datetime,
    evaluation_id: int | None,
) -> list[int]:
    """One pending delivery per channel of ``notice`` about ``alert``, with the message as it stands now."""
    if not channels:
        return []
    mv = session.get(ModelVersion, alert.model_version_id)
    assert mv is not None  # foreign key
    space = _space(session, alert)
    message = AlertMessage(
        notice=notice,
        alert_id=alert.id,
        model_name=mv.name,
        model_version=mv.version,
        model_version_id=mv.id,
        deployment_id=alert.deployment_id,
        space=space,
        monitor=alert.monitor,
        metric=alert.metric,
        value=alert.last_value if alert.last_value is not None else alert.value,
        threshold=alert.threshold,
        occurrences=alert.occurrences or 1,
        evaluation_id=evaluation_id,
        summary=alert.message,
        at=now.isoformat(timespec="seconds") + "Z",
        comment=alert.resolve_comment if notice == AlertNotice.RESOLVED else None,
    )
    rows = [
        AlertDelivery(
            alert_id=alert.id,
            notice=notice.value,
            channel=AlertChannel(channel).value,
            message=message.to_dict(),
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for channel in channels
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def _space(session: Session, alert: Alert) -> str:
    """Where the alert's model version was evaluated: its deployment's space, else its evaluation's."""
    dep = session.get(Deployment, alert.deployment_id) if alert.deployment_id is not None else None
    if dep is not None:
        return str(dep.space)
    evaluation = session.get(Evaluation, alert.evaluation_id) if alert.evaluation_id is not None else None
    return str(evaluation.space) if evaluation is not None else "no space"


def list_alerts(
    ctx: ServiceContext,
    actor: Principal,
    *,
    status: str | None = AlertStatus.OPEN,
    deployment_id: int | None = None,
    model_version_id: int | None = None,
) -> list[AlertInfo]:
    """Alerts newest first, only those in ``status`` (None: all), of a deployment or a model version if given."""
    require(ctx, actor, "view")
    query = select(Alert, ModelVersion.name, ModelVersion.version).join(
        ModelVersion, ModelVersion.id == Alert.model_version_id
    )
    if status is not None:
        query = query.where(Alert.status == AlertStatus(status).value)
    if deployment_id is not None:
        query = query.where(Alert.deployment_id == deployment_id)
    if model_version_id is not None:
        query = query.where(Alert.model_version_id == model_version_id)
    with ctx.db.read() as session:
        return [
            _alert_info(row, name, version) for row, name, version in session.execute(query.order_by(Alert.id.desc()))
        ]


def acknowledge_alert(ctx: ServiceContext, actor: Principal, alert_id: int, *, comment: str) -> AlertInfo:
    """Mark an open alert seen by ``actor``, saying what they do about it (a sentence); returns it as it stands."""
    return _move_alert(ctx, actor, alert_id, AlertStatus.ACKNOWLEDGED, comment)


def resolve_alert(ctx: ServiceContext, actor: Principal, alert_id: int, *, comment: str) -> AlertInfo:
    """Close an acknowledged alert, saying how it ended (at least a sentence); notified; returns it as it stands."""
    return _move_alert(ctx, actor, alert_id, AlertStatus.RESOLVED, comment)


# An alert moves one way: open -> acknowledged -> resolved (the system resolves an open one too).
_ALERT_FROM = {AlertStatus.ACKNOWLEDGED: AlertStatus.OPEN, AlertStatus.RESOLVED: AlertStatus.ACKNOWLEDGED}


def _move_alert(ctx: ServiceContext, actor: Principal, alert_id: int, to: AlertStatus, comment: str) -> AlertInfo:
    current = require(ctx, actor, "evaluate_now")
    verb = "acknowledging" if to == AlertStatus.ACKNOWLEDGED else "resolving"
    said = reasons.sentence(comment, what=f"the comment {verb} alert {alert_id}")
    channels = channels_of(ctx)
    with ctx.db.write() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise NotFoundError(f"alert {alert_id} does not exist")
        if alert.status != _ALERT_FROM[to]:
            done = f" by {alert.resolved_by or alert.acknowledged_by}" if alert.status != AlertStatus.OPEN else ""
            raise ConflictError(
                f"alert {alert_id} is {alert.status}{done}; only an {_ALERT_FROM[to]} alert can be {to}"
            )
        now = utcnow()
        if to == AlertStatus.ACKNOWLEDGED:
            alert.status = to.value
            alert.acknowledged_by, alert.acknowledged_at, alert.acknowledge_comment = current.username, now, said
            audit.record(
                session,
                actor=current.username,
                action=f"alert.{to}",
                object_type="alert",
                object_id=alert_id,
                details={"comment": said, "deployment_id": alert.deployment_id, "metric": alert.metric},
            )
        else:
            _resolve(session, alert, by=current.username, comment=said, evaluation_id=None, channels=channels, now=now)
        mv = session.get(ModelVersion, alert.model_version_id)
        assert mv is not None  # foreign key
        return _alert_info(alert, mv.name, mv.version)
