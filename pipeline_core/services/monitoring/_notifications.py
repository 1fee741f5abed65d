"""Sends the queued alert notifications to their channels, retried with back-off; lists every delivery and its tries.

``_alerts`` queues one delivery per channel in the transaction of the alert's change; the worker calls
``deliver_notifications`` between runs (and ``alerts deliver`` does on demand), after that commit, so a
channel that is down never blocks an evaluation nor loses its alert: the delivery waits and is retried.

- **Claiming.** A delivery is claimed by an UPDATE guarded by the status and attempts the dispatcher
  read and by no live claim (as ``integrations`` claims its events): of two processes exactly one sends
  it. The claim counts the attempt; a dispatcher that dies mid-send leaves it due again after the lease.
- **Back-off.** A failed attempt records its error and is due again ``alert_delivery_backoff_seconds *
  2**(attempts - 1)`` later (at most an hour); after ``alert_delivery_max_attempts`` it is ``failed``,
  audited (``alert.notification_failed``) and tried again only on demand (``force``).
- **A channel this process does not configure** leaves its deliveries alone: the dashboard may run
  without the secrets the worker has, and must not drop what the worker owes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from pipeline_core.errors import PipelineError
from pipeline_core.notify import channels as notify_channels
from pipeline_core.notify.channels import Channel
from pipeline_core.notify.message import AlertMessage
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Alert, AlertDelivery
from pipeline_core.vocabulary import AlertChannel, AlertNotice, DeliveryStatus

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
CAP = timedelta(hours=1)


@dataclass(frozen=True)
class DeliveryInfo:
    """One notification of an alert to one channel: where its delivery stands, and how its attempts went."""

    id: int
    alert_id: int
    notice: AlertNotice
    channel: AlertChannel
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None  # None: delivered, or no automatic attempt left
    delivered_at: datetime | None
    created_at: datetime
    subject: str

    def describe(self) -> str:
        """E.g. "email raised: delivered after 3 attempts" or "webhook resolved: pending, attempt 2 failed: ..."."""
        head = f"{self.channel} {self.notice}"
        tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        if self.status == DeliveryStatus.DELIVERED:
            return f"{head}: delivered after {tries}"
        if self.status == DeliveryStatus.FAILED:
            return f"{head}: failed after {tries}: {self.last_error}"
        if self.attempts == 0:
            return f"{head}: pending, not tried yet"
        return f"{head}: pending, attempt {self.attempts} failed: {self.last_error}"


@dataclass(frozen=True)
class DeliveryFailure:
    """A delivery attempt that failed (recorded on its row, retried unless ``gave_up``)."""

    delivery_id: int
    alert_id: int
    channel: AlertChannel
    error: str
    attempts: int
    gave_up: bool


@dataclass(frozen=True)
class DeliveryRound:
    """What one call of ``deliver_notifications`` did."""

    delivered: tuple[int, ...]
    failures: tuple[DeliveryFailure, ...]


def _info(row: AlertDelivery) -> DeliveryInfo:
    return DeliveryInfo(
        row.id,
        row.alert_id,
        AlertNotice(row.notice),
        AlertChannel(row.channel),
        DeliveryStatus(row.status),
        row.attempts,
        row.last_error,
        row.next_attempt_at,
        row.delivered_at,
        row.created_at,
        AlertMessage.from_dict(row.message).subject,
    )


def list_deliveries(
    ctx: ServiceContext,
    actor: Principal,
    *,
    alert_id: int | None = None,
    deployment_id: int | None = None,
    status: str | None = None,
    limit: int | None = 500,
) -> list[DeliveryInfo]:
    """Deliveries newest first, of one alert (or of one deployment's alerts, or all), only those in ``status``."""
    require(ctx, actor, "view")
    query = select(AlertDelivery).order_by(AlertDelivery.id.desc())
    if alert_id is not None:
        query = query.where(AlertDelivery.alert_id == alert_id)
    if deployment_id is not None:
        query = query.join(Alert, Alert.id == AlertDelivery.alert_id).where(Alert.deployment_id == deployment_id)
    if status is not None:
        query = query.where(AlertDelivery.status == DeliveryStatus(status).value)
    if limit is not None:
        query = query.limit(limit)
    with ctx.db.read() as session:
        return [_info(row) for row in session.execute(query).scalars()]


@dataclass(frozen=True)
class _Due:
    id: int
    alert_id: int
    channel: AlertChannel
    status: str
    attempts: int
    message: AlertMessage


def deliver_notifications(
    ctx: ServiceContext,
    actor: Principal,
    *,
    force: bool = False,
    now: datetime | None = None,
    channels: Mapping[AlertChannel, Channel] | None = None,
    limit: int = 100,
) -> DeliveryRound:
    """Send the due deliveries (``force``: failed ones and those backing off too); what was delivered and what failed.

    ``now`` is the dispatcher's clock (tests move it to pass the back-off); ``channels`` replaces the
    configured ones (tests hand a channel whose signing clock they set).
    """
    require(ctx, actor, "deliver_alerts")
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    here = dict(notify_channels.configured(ctx.settings) if channels is None else channels)
    if not here:
        return DeliveryRound((), ())
    query = select(AlertDelivery).where(AlertDelivery.channel.in_([c.value for c in here]))
    if force:
        query = query.where(AlertDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.FAILED]))
    else:
        query = query.where(AlertDelivery.status == DeliveryStatus.PENDING, AlertDelivery.next_attempt_at <= clock())
    with ctx.db.read() as session:
        due = [
            _Due(r.id, r.alert_id, AlertChannel(r.channel), r.status, r.attempts, AlertMessage.from_dict(r.message))
            for r in session.execute(query.order_by(AlertDelivery.id).limit(limit)).scalars()
        ]
    delivered, failures = [], []
    for item in due:
        outcome = _deliver_one(ctx, actor, item, here[item.channel], clock=clock)
        if isinstance(outcome, DeliveryFailure):
            failures.append(outcome)
        elif outcome:
            delivered.append(item.id)
    return DeliveryRound(tuple(delivered), tuple(failures))


def _deliver_one(
    ctx: ServiceContext, actor: Principal, item: _Due, channel: Channel, *, clock: Callable[[], datetime]
) -> DeliveryFailure | bool:
    """Claim, send, record: True when delivered, False when another dispatcher holds it, else the failure."""
    now = clock()
    attempt = item.attempts + 1
    with ctx.db.write() as session:
        claimed = session.execute(
            update(AlertDelivery)
            .where(
                AlertDelivery.id == item.id,
                AlertDelivery.status == item.status,
                AlertDelivery.attempts == item.attempts,
                or_(AlertDelivery.claimed_at.is_(None), AlertDelivery.claimed_at <= now - LEASE),
            )
            .values(status=DeliveryStatus.PENDING, attempts=attempt, claimed_at=now, next_attempt_at=now + LEASE)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False
    try:
        channel.send(item.message)
    except PipelineError as exc:
        error = str(exc)
    except Exception as exc:  # a bug in a channel must not leave its delivery held: recorded and retried as any failure
        error = f"{type(exc).__name__}: {exc}"
        log.exception("alert %d: the %s notification failed", item.alert_id, item.channel)
    else:
        with ctx.db.write() as session:
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id == item.id, AlertDelivery.attempts == attempt)
                .values(
                    status=DeliveryStatus.DELIVERED,
                    delivered_at=clock(),
                    next_attempt_at=None,
                    claimed_at=None,
                    last_error=None,
                )
            )
        return True
    gave_up = attempt >= ctx.settings.alert_delivery_max_attempts
    log.warning("alert %d: %s notification attempt %d failed: %s", item.alert_id, item.channel, attempt, error)
    wait = min(timedelta(seconds=ctx.settings.alert_delivery_backoff_seconds * 2 ** (attempt - 1)), CAP)
    with ctx.db.write() as session:
        recorded = session.execute(
            update(AlertDelivery)
            .where(AlertDelivery.id == item.id, AlertDelivery.attempts == attempt)
            .values(
                status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
                last_error=error[:2000],
                claimed_at=None,
                next_attempt_at=None if gave_up else clock() + wait,
            )
        )
        if gave_up and recorded.rowcount == 1:  # type: ignore[attr-defined]
            audit.record(
                session,
                actor=actor.username,
                action="alert.notification_failed",
                object_type="alert",
                object_id=item.alert_id,
                details={"delivery_id": item.id, "channel": item.channel, "attempts": attempt, "error": error[:500]},
            )
    return DeliveryFailure(item.id, item.alert_id, item.channel, error, attempt, gave_up)
