"""Domain events: record, in the caller's transaction, what external services must learn of (the outbox).

A service that decides or measures something an external service mirrors (a validator's
decision, a candidate's pre-prod evaluation) calls ``record`` inside the transaction that makes
the change and writes its audit event: the event and one pending delivery per sink that wants
its kind commit with them, or none of it does. Nothing here talks to a sink; the integrations'
dispatcher (``services.integrations.deliver``) hands the deliveries over after the commit, and
retries them, so a sink that is down never undoes nor delays a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from pipeline_core.services.jsonable import jsonable
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import DomainEvent, EventDelivery
from pipeline_core.vocabulary import DeliveryStatus, EventKind, Sink

# Which sinks learn of which kind of event. Every sink gets its row whether or not this install
# configures it; the dispatcher marks a delivery to an unconfigured sink delivered ("not configured").
SINKS: Mapping[EventKind, tuple[Sink, ...]] = {
    EventKind.CANDIDATE_EVALUATED: (Sink.FACTSHEETS,),  # the candidate's facts on its pre-prod asset
    EventKind.DECISION_RECORDED: (Sink.OPENSCALE, Sink.FACTSHEETS),  # risk status; the decision's facts
}


def record(session: Session, *, kind: EventKind, model_version_id: int, actor: str, payload: Mapping[str, Any]) -> int:
    """Add the event and its pending deliveries in the caller's transaction; the event's id."""
    now = utcnow()
    event = DomainEvent(
        kind=kind,
        model_version_id=model_version_id,
        actor=actor,
        payload=jsonable(dict(payload)),
        created_at=now,
    )
    session.add(event)
    session.flush()
    session.add_all(
        EventDelivery(event_id=event.id, sink=sink, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now)
        for sink in SINKS[kind]
    )
    session.flush()
    return event.id
