"""Delivers the store's domain events to the external services (OpenScale, AI Factsheets), with retries.

``services.events.record`` writes an event and one pending delivery per sink in the transaction
of the change it reports; ``deliver`` hands the due deliveries over after the commit. Approve,
reject and the pipeline's pre-prod evaluation call it for their own events at once; the worker
calls it between runs for whatever is still due, so a sink that was down catches up.

- **Claiming.** A delivery is claimed by an UPDATE guarded by the status and the attempts the
  dispatcher read (as the worker claims a run): of two processes dispatching at once exactly one
  sees its row change. The claim counts the attempt and holds the delivery for ``lease_seconds``;
  a dispatcher that dies mid-call leaves it due again once the lease is over.
- **Back-off.** A failed attempt is recorded (``last_error``), logged and audited under the action
  the sink has always used (``factsheet.not_published``, ``model_version.risk_status_not_synced``),
  and tried again from ``now + base * 2**attempts`` (capped). After ``max_attempts`` the delivery
  is ``failed``: no more automatic attempts; it stays listed by ``not_in_sync`` and ``sync_now``
  (the Factsheets page's "Retry now") tries it again on demand.
- **A sink this install does not configure** (no ``ctx.monitors``, no ``ctx.factsheets``) has its
  delivery marked delivered with the detail "not configured": every event gets a row per sink
  (``events.SINKS``), and there is nothing to catch up on when a sink is configured later. Only a
  delivery never tried, though: one that a process with the sink has tried is left to such a
  process, so a dashboard started without the IBM settings never drops what the worker owes.
- A sink's call is idempotent (a status set, facts set, an asset tracked again), so a delivery
  retried after a lost lease does no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from pipeline_core.errors import PipelineError
from pipeline_core.services import audit
from pipeline_core.services.authz import SYSTEM_ROLE, Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.events import SINKS
from pipeline_core.services.integrations import _factsheets, _openscale
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import DomainEvent, EventDelivery, ModelVersion
from pipeline_core.vocabulary import DeliveryStatus, EventKind, Outcome, Sink

log = logging.getLogger(__name__)
NOT_CONFIGURED = "not configured"


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed delivery is tried again, and when the dispatcher gives up on it."""

    base_seconds: float = 15.0
    cap_seconds: float = 3600.0
    max_attempts: int = 8  # 30 s, 1, 2, 4, 8, 16, 32 min, then failed: about an hour of trying
    lease_seconds: float = 300.0  # how long a claim holds a delivery from other dispatchers

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        return timedelta(seconds=min(self.base_seconds * 2**attempts, self.cap_seconds))


RETRY = RetryPolicy()


@dataclass(frozen=True)
class _Event:
    id: int
    kind: EventKind
    model_version_id: int
    actor: str
    payload: Mapping[str, Any]


def _decision(ctx: ServiceContext, event: _Event) -> str:
    return _openscale.set_decision(ctx, event.model_version_id, approved=event.payload["outcome"] == Outcome.APPROVED)


def _decision_facts(ctx: ServiceContext, event: _Event) -> str:
    return _factsheets.publish_decision(
        ctx,
        event.model_version_id,
        approved=event.payload["outcome"] == Outcome.APPROVED,
        actor=event.actor,
        comment=event.payload["comment"],
        decided_at=event.payload["decided_at"],
    )


def _candidate_facts(ctx: ServiceContext, event: _Event) -> str:
    return _factsheets.publish_candidate(ctx, event.model_version_id, event.payload["facts"])


@dataclass(frozen=True)
class _SinkSpec:
    label: str  # the service's name, as people know it
    failure: str  # what a failed delivery means, for a caller's message
    audit_action: str  # the action a failed delivery is audited as (the names predate the outbox)
    configured: Callable[[ServiceContext], bool]
    handlers: Mapping[EventKind, Callable[[ServiceContext, _Event], str]]


_SINKS: Mapping[Sink, _SinkSpec] = {
    Sink.OPENSCALE: _SinkSpec(
        label="OpenScale",
        failure="OpenScale's risk evaluation status was not set",
        audit_action="model_version.risk_status_not_synced",
        configured=lambda ctx: ctx.monitors is not None,
        handlers={EventKind.DECISION_RECORDED: _decision},
    ),
    Sink.FACTSHEETS: _SinkSpec(
        label="AI Factsheets",
        failure="AI Factsheets was not updated",
        audit_action="factsheet.not_published",
        configured=lambda ctx: ctx.factsheets is not None,
        handlers={EventKind.DECISION_RECORDED: _decision_facts, EventKind.CANDIDATE_EVALUATED: _candidate_facts},
    ),
}
SINK_LABELS: Mapping[Sink, str] = {sink: spec.label for sink, spec in _SINKS.items()}
assert all(kind in _SINKS[sink].handlers for kind, sinks in SINKS.items() for sink in sinks)  # a handler per route


@dataclass(frozen=True)
class SyncFailure:
    """An attempt to deliver an event to a sink that failed (it is recorded, audited and retried)."""

    delivery_id: int
    event_id: int
    sink: Sink
    kind: EventKind
    model_version_id: int
    error: str
    attempts: int
    gave_up: bool  # no automatic attempt is left: retried only on demand

    @property
    def summary(self) -> str:
        """E.g. "AI Factsheets was not updated: <error>"."""
        return f"{_SINKS[self.sink].failure}: {self.error}"


@dataclass(frozen=True)
class UnsyncedDelivery:
    """An event a sink does not have yet: still pending, or failed for good."""

    delivery_id: int
    event_id: int
    sink: Sink
    sink_label: str
    kind: EventKind
    what: str
    model_version_id: int
    model: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None  # None: only on demand (failed)
    recorded_at: datetime


def configured_sinks(ctx: ServiceContext, actor: Principal) -> tuple[Sink, ...]:
    """The sinks this install delivers to."""
    require(ctx, actor, "view")
    return tuple(sink for sink, spec in _SINKS.items() if spec.configured(ctx))


def deliver(
    ctx: ServiceContext,
    actor: Principal,
    event_ids: Sequence[int] | None = None,
    *,
    force: bool = False,
    now: datetime | None = None,
    policy: RetryPolicy = RETRY,
    limit: int = 100,
) -> tuple[SyncFailure, ...]:
    """Hand the due deliveries (of ``event_ids``, or all) to their sinks; the attempts that failed.

    ``force`` also takes failed deliveries and pending ones still backing off (retry now). Failures
    are audited as ``actor`` when a person asked (Retry now), else (the product, delivering after a
    commit or from a worker) as the event's actor, on whose behalf it is delivered. ``now`` is the
    dispatcher's clock, for tests that move it.
    """
    require(ctx, actor, "sync_integrations")
    audited_as = None if actor.role == SYSTEM_ROLE else actor.username
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    query = (
        select(EventDelivery.id, EventDelivery.sink, EventDelivery.status, EventDelivery.attempts, DomainEvent)
        .join(DomainEvent, DomainEvent.id == EventDelivery.event_id)
        .order_by(EventDelivery.id)
    )
    if event_ids is not None:
        query = query.where(EventDelivery.event_id.in_(list(event_ids)))
    if force:
        query = query.where(EventDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.FAILED]))
    else:
        query = query.where(EventDelivery.status == DeliveryStatus.PENDING, EventDelivery.next_attempt_at <= clock())
    with ctx.db.read() as session:
        due = [
            (_Delivery(delivery_id, Sink(sink), status, attempts), _event(row))
            for delivery_id, sink, status, attempts, row in session.execute(query.limit(limit)).all()
        ]
    failures = []
    for delivery, event in due:
        failure = _deliver_one(ctx, delivery, event, clock=clock, actor=audited_as, policy=policy)
        if failure is not None:
            failures.append(failure)
    return tuple(failures)


@dataclass(frozen=True)
class _Delivery:
    """A delivery as the dispatcher read it: what its claim is guarded by."""

    id: int
    sink: Sink
    status: str
    attempts: int


def _event(row: DomainEvent) -> _Event:
    return _Event(row.id, EventKind(row.kind), row.model_version_id, row.actor, dict(row.payload))


def _claim(delivery: _Delivery, now: datetime, policy: RetryPolicy) -> Any:
    """The guarded UPDATE of a claim: the delivery is still as read, and no live claim holds it."""
    lease = timedelta(seconds=policy.lease_seconds)
    return update(EventDelivery).where(
        EventDelivery.id == delivery.id,
        EventDelivery.status == delivery.status,
        EventDelivery.attempts == delivery.attempts,
        or_(EventDelivery.claimed_at.is_(None), EventDelivery.claimed_at <= now - lease),
    )


def _deliver_one(
    ctx: ServiceContext,
    delivery: _Delivery,
    event: _Event,
    *,
    clock: Callable[[], datetime],
    actor: str | None,
    policy: RetryPolicy,
) -> SyncFailure | None:
    spec = _SINKS[delivery.sink]
    now = clock()
    if not spec.configured(ctx) and delivery.attempts > 0:
        return None  # a process that has the sink tried it: it is that one's to deliver, not ours to drop
    with ctx.db.write() as session:
        if not spec.configured(ctx):
            session.execute(
                _claim(delivery, now, policy).values(
                    status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None, detail=NOT_CONFIGURED
                )
            )
            return None
        claimed = session.execute(
            _claim(delivery, now, policy).values(
                status=DeliveryStatus.PENDING,
                attempts=delivery.attempts + 1,
                claimed_at=now,
                # not due for other dispatchers while held; due again if this one dies holding it
                next_attempt_at=now + timedelta(seconds=policy.lease_seconds),
            )
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None  # another dispatcher has it, or delivered it since we looked
    attempt = delivery.attempts + 1
    try:
        detail = spec.handlers[event.kind](ctx, event)
    except PipelineError as exc:
        error = str(exc)
        log.error("%s: event %d of model version %d: %s", spec.failure, event.id, event.model_version_id, error)
    except Exception as exc:  # a bug in a sink must not leave its delivery held: recorded and retried as any failure
        error = f"{type(exc).__name__}: {exc}"
        log.exception("%s: event %d of model version %d", spec.failure, event.id, event.model_version_id)
    else:
        with ctx.db.write() as session:
            session.execute(
                update(EventDelivery)
                .where(EventDelivery.id == delivery.id, EventDelivery.attempts == attempt)
                .values(
                    status=DeliveryStatus.DELIVERED,
                    delivered_at=clock(),
                    next_attempt_at=None,
                    claimed_at=None,
                    detail=detail,
                )
            )
        return None
    gave_up = attempt >= policy.max_attempts
    with ctx.db.write() as session:
        recorded = session.execute(
            update(EventDelivery)
            .where(EventDelivery.id == delivery.id, EventDelivery.attempts == attempt)
            .values(
                status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
                last_error=error,
                claimed_at=None,
                next_attempt_at=None if gave_up else clock() + policy.delay(attempt),
            )
        )
        if recorded.rowcount == 1:  # type: ignore[attr-defined]
            audit.record(
                session,
                actor=actor or event.actor,
                action=spec.audit_action,
                object_type="model_version",
                object_id=event.model_version_id,
                details={
                    "error": error,
                    "event_id": event.id,
                    "kind": event.kind,
                    "sink": delivery.sink,
                    "attempt": attempt,
                    "gave_up": gave_up,
                },
            )
    mv_id = event.model_version_id
    return SyncFailure(delivery.id, event.id, delivery.sink, event.kind, mv_id, error, attempt, gave_up)


def sync_now(ctx: ServiceContext, actor: Principal) -> tuple[SyncFailure, ...]:
    """Try every undelivered event again now, failed ones and those backing off too (the page's "Retry now")."""
    require(ctx, actor, "sync_integrations")
    return deliver(ctx, actor, force=True, limit=1000)


def _what(kind: EventKind, actor: str, payload: Mapping[str, Any]) -> str:
    if kind == EventKind.DECISION_RECORDED:
        return f"decision: {payload.get('outcome', 'decided')} by {actor}"
    evaluation = payload.get("evaluation_id")
    return f"facts of evaluation {evaluation}" if evaluation is not None else "facts of the pre-prod evaluation"


def not_in_sync(ctx: ServiceContext, actor: Principal) -> list[UnsyncedDelivery]:
    """Every event a sink does not have yet (pending or failed), oldest first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(
            select(EventDelivery, DomainEvent, ModelVersion.name, ModelVersion.version)
            .join(DomainEvent, DomainEvent.id == EventDelivery.event_id)
            .join(ModelVersion, ModelVersion.id == DomainEvent.model_version_id)
            .where(EventDelivery.status != DeliveryStatus.DELIVERED)
            .order_by(EventDelivery.event_id, EventDelivery.id)
        ).all()
        return [
            UnsyncedDelivery(
                delivery_id=d.id,
                event_id=e.id,
                sink=Sink(d.sink),
                sink_label=SINK_LABELS[Sink(d.sink)],
                kind=EventKind(e.kind),
                what=_what(EventKind(e.kind), e.actor, e.payload),
                model_version_id=e.model_version_id,
                model=f"{name} v{version}",
                status=DeliveryStatus(d.status),
                attempts=d.attempts,
                last_error=d.last_error,
                next_attempt_at=d.next_attempt_at,
                recorded_at=e.created_at,
            )
            for d, e, name, version in rows
        ]
