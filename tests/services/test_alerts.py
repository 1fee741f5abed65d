"""Alerts are acknowledged with what someone does about them, then resolved with how they ended; both audited.

An alert moves one way (open -> acknowledged -> resolved); each step takes a comment of at least a
sentence (``services.reasons``, the rule a rollback's reason follows too).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline_core.errors import ConfigError, ConflictError, NotFoundError, PermissionDenied
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Alert
from pipeline_core.vocabulary import AlertStatus

SEEN = "looking into the ROC AUC drop with the data team"
ENDED = "the upstream feed was fixed; ROC AUC is back above its threshold"


def plant_alert(ctx: ServiceContext, deployment_id: int) -> int:
    """An open alert on what ``deployment_id`` serves, as a failed critical check raises it."""
    served = deployments.get_deployment(ctx, SYSTEM, deployment_id).model_version_id
    with ctx.db.write() as session:
        alert = Alert(
            evaluation_id=None,
            deployment_id=deployment_id,
            model_version_id=served,
            monitor="quality",
            metric="roc_auc",
            value=0.5,
            threshold=0.7,
            message="roc_auc 0.500 is below its threshold 0.700",
            status=AlertStatus.OPEN,
            created_at=utcnow(),
        )
        session.add(alert)
        session.flush()
        return alert.id


def test_an_alert_is_acknowledged_then_resolved_each_with_its_comment_and_event(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    alert_id = plant_alert(live_ctx, in_prod)
    seen = monitoring.acknowledge_alert(live_ctx, people["vera"], alert_id, comment=f" {SEEN} ")
    assert (seen.status, seen.acknowledged_by, seen.acknowledge_comment) == (AlertStatus.ACKNOWLEDGED, "vera", SEEN)
    assert seen.acknowledged_at is not None and seen.resolved_by is None
    assert alert_id not in {a.id for a in monitoring.list_alerts(live_ctx, people["max"])}  # no longer open
    ended = monitoring.resolve_alert(live_ctx, people["dora"], alert_id, comment=ENDED)
    assert (ended.status, ended.resolved_by, ended.resolve_comment) == (AlertStatus.RESOLVED, "dora", ENDED)
    assert ended.acknowledge_comment == SEEN and ended.resolved_at is not None
    assert monitoring.list_alerts(live_ctx, people["max"], status=AlertStatus.RESOLVED) == [ended]
    events = governance.list_events(live_ctx, people["max"], object_type="alert", object_id=str(alert_id))
    assert [(e.action, e.actor, e.details["comment"]) for e in events] == [
        ("alert.resolved", "dora", ENDED),
        ("alert.acknowledged", "vera", SEEN),
    ]


Step = Callable[[ServiceContext, dict[str, Principal], int], object]


def _ack(comment: str, who: str = "vera") -> Step:
    return lambda ctx, people, alert_id: monitoring.acknowledge_alert(ctx, people[who], alert_id, comment=comment)


def _resolve(comment: str = ENDED) -> Step:
    return lambda ctx, people, alert_id: monitoring.resolve_alert(ctx, people["vera"], alert_id, comment=comment)


HOSTILE: dict[str, tuple[list[Step], type[Exception], str]] = {
    "no comment": ([_ack("")], ConfigError, r"the comment acknowledging alert \d+ must be at least a sentence"),
    "a word": ([_ack("ok")], ConfigError, "must be at least a sentence .*; got 'ok'"),
    "short": ([_ack("will look")], ConfigError, "must be at least a sentence"),
    "one long word": ([_ack("x" * 60)], ConfigError, "must be at least a sentence"),
    "resolve, short": ([_ack(SEEN), _resolve("fixed")], ConfigError, r"the comment resolving alert \d+ must be"),
    "resolve an open one": (
        [_resolve()],
        ConflictError,
        r"alert \d+ is open; only an acknowledged alert can be resolved",
    ),
    "acknowledge twice": (
        [_ack(SEEN), _ack(SEEN, "victor")],
        ConflictError,
        r"alert \d+ is acknowledged by vera; only an open alert can be acknowledged",
    ),
    "resolve twice": (
        [_ack(SEEN), _resolve(), _resolve()],
        ConflictError,
        r"alert \d+ is resolved by vera; only an acknowledged alert can be resolved",
    ),
    "acknowledge a resolved one": (
        [_ack(SEEN), _resolve(), _ack(SEEN)],
        ConflictError,
        "is resolved by vera; only an open alert",
    ),
    "a manager": ([_ack(SEEN, "max")], PermissionDenied, "max is a manager"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=sorted(HOSTILE))
def test_hostile_alert_steps_are_refused_naming_what(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, case: str
) -> None:
    steps, error, match = HOSTILE[case]
    alert_id = plant_alert(live_ctx, in_prod)
    *done, last = steps
    for step in done:
        step(live_ctx, people, alert_id)
    (before,) = [a for a in monitoring.list_alerts(live_ctx, people["max"], status=None) if a.id == alert_id]
    with pytest.raises(error, match=match):
        last(live_ctx, people, alert_id)
    (after,) = [a for a in monitoring.list_alerts(live_ctx, people["max"], status=None) if a.id == alert_id]
    assert after == before  # refused as a whole


@pytest.mark.parametrize("step", [_ack(SEEN), _resolve()], ids=["acknowledge", "resolve"])
def test_an_unknown_alert_is_not_found(live_ctx: ServiceContext, people: dict[str, Principal], step: Step) -> None:
    with pytest.raises(NotFoundError, match="alert 31337 does not exist"):
        step(live_ctx, people, 31337)
