"""Alert notifications reach a local SMTP server and a webhook receiver that verifies signatures; failures are
recorded and retried with back-off (a receiver failing twice gets three attempts, one delivery), never block
an evaluation nor lose its alert; a process without a channel leaves that channel's deliveries alone."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline_core.errors import PermissionDenied
from pipeline_core.notify import channels, webhook
from pipeline_core.services import governance, monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.runs import RunWorker
from pipeline_core.store.db import utcnow
from pipeline_core.vocabulary import AlertChannel, AlertNotice, AlertStatus, DeliveryStatus
from tests.notify.servers import SMTP_PASSWORD, SMTP_USER, smtp_server, webhook_receiver
from tests.services.test_alert_lifecycle import HOOK_SECRET, report, store, with_webhook
from tests.states import State


def test_a_receiver_failing_twice_gets_three_attempts_with_back_off_and_one_delivery(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    with webhook_receiver(HOOK_SECRET, fail_first=2) as receiver:
        with_webhook(ctx, receiver.url)
        (alert_id,) = store(ctx, vera, candidate, dep, report(0.5)).alerts
        start = utcnow()
        first = monitoring.deliver_notifications(ctx, vera, now=start)
        (failure,) = first.failures
        assert (failure.alert_id, failure.attempts, failure.gave_up) == (alert_id, 1, False)
        assert failure.error == f"webhook {webhook.receiver(receiver.url)} answered HTTP 503 Service Unavailable"
        (pending,) = monitoring.list_deliveries(ctx, vera, alert_id=alert_id)
        assert (pending.status, pending.attempts, pending.last_error) == (DeliveryStatus.PENDING, 1, failure.error)
        assert pending.next_attempt_at == start + timedelta(
            seconds=30
        )  # the first wait: alert_delivery_backoff_seconds
        assert monitoring.deliver_notifications(ctx, vera, now=start + timedelta(seconds=29)) == (
            monitoring.DeliveryRound((), ())
        )  # still backing off
        second = monitoring.deliver_notifications(ctx, vera, now=start + timedelta(seconds=30))
        assert [f.attempts for f in second.failures] == [2]
        (pending,) = monitoring.list_deliveries(ctx, vera, alert_id=alert_id)
        assert pending.next_attempt_at == start + timedelta(seconds=30 + 60)  # doubled
        third = monitoring.deliver_notifications(ctx, vera, now=start + timedelta(seconds=90))
        assert third.failures == () and third.delivered == (pending.id,)
        assert monitoring.deliver_notifications(ctx, vera, now=start + timedelta(hours=2)).delivered == ()
    (done,) = monitoring.list_deliveries(ctx, vera, alert_id=alert_id)
    assert (done.status, done.attempts, done.last_error, done.next_attempt_at) == (
        DeliveryStatus.DELIVERED,
        3,
        None,
        None,
    )
    assert done.delivered_at == start + timedelta(seconds=90)
    assert done.describe() == "webhook raised: delivered after 3 attempts"
    assert len(receiver.received) == 3 and len(receiver.accepted) == 1
    sent = json.loads(receiver.accepted[0].body)
    assert (sent["alert_id"], sent["notice"], sent["metric"], sent["value"]) == (alert_id, "raised", "roc_auc", 0.5)


def test_email_and_webhook_both_say_raised_then_resolved(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State, tmp_path: Path
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    with smtp_server(tmp_path) as server, webhook_receiver(HOOK_SECRET) as receiver:
        ctx.settings = replace(
            ctx.settings,
            alert_smtp_host=server.host,
            alert_smtp_port=server.port,
            alert_smtp_username=SMTP_USER,
            alert_smtp_password=SMTP_PASSWORD,
            alert_smtp_from="mlops@bank.example",
            alert_smtp_to="risk@bank.example",
            alert_smtp_ca_bundle=str(server.ca_bundle),
            alert_webhook_url=receiver.url,
            alert_webhook_secret=HOOK_SECRET,
            alert_webhook_format="teams",
        )
        assert [c.kind for c in monitoring.alert_channels(ctx, vera)] == [AlertChannel.EMAIL, AlertChannel.WEBHOOK]
        (alert_id,) = store(ctx, vera, candidate, dep, report(0.5)).alerts
        store(ctx, vera, candidate, dep, report(0.5))
        store(ctx, vera, candidate, dep, report(0.75))
        sent = monitoring.deliver_notifications(ctx, vera)
    assert sent.failures == () and len(sent.delivered) == 4
    subjects = [m["Subject"].strip() for m in server.inbox.messages]
    assert [s.split("]")[0] for s in subjects] == [f"[alert {alert_id} raised", f"[alert {alert_id} resolved"]
    assert "Seen 2 times" in server.inbox.messages[1].get_content()
    assert server.inbox.logins == [(SMTP_USER, True), (SMTP_USER, True)]
    cards = [json.loads(r.body) for r in receiver.accepted]
    assert [c["@type"] for c in cards] == ["MessageCard", "MessageCard"]
    assert [c["themeColor"] for c in cards] == ["D93F0B", "2EA043"]
    rows = monitoring.list_deliveries(ctx, vera, alert_id=alert_id)
    assert monitoring.list_deliveries(ctx, vera, deployment_id=dep) == rows
    assert monitoring.list_deliveries(ctx, vera, deployment_id=dep + 100) == []
    assert {(d.notice, d.channel, d.status) for d in rows} == {
        (notice, channel, DeliveryStatus.DELIVERED) for notice in AlertNotice for channel in AlertChannel
    }


def test_a_channel_that_is_down_never_blocks_the_evaluation_and_gives_up_bounded(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    with_webhook(ctx)  # nothing listens there
    ctx.settings = replace(ctx.settings, alert_delivery_max_attempts=2)
    outcome = store(ctx, vera, candidate, dep, report(0.5))
    (alert_id,) = outcome.alerts
    start = utcnow()
    assert [f.gave_up for f in monitoring.deliver_notifications(ctx, vera, now=start).failures] == [False]
    (last,) = monitoring.deliver_notifications(ctx, vera, now=start + timedelta(minutes=5)).failures
    assert last.gave_up and last.attempts == 2 and "could not be reached" in last.error
    (failed,) = monitoring.list_deliveries(ctx, vera, status=DeliveryStatus.FAILED)
    assert (failed.next_attempt_at, failed.attempts) == (None, 2)
    assert failed.describe().startswith("webhook raised: failed after 2 attempts: webhook http://127.0.0.1:9 could")
    assert monitoring.deliver_notifications(ctx, vera, now=start + timedelta(days=1)).failures == ()  # no more
    (alert,) = monitoring.list_alerts(ctx, vera)
    assert alert.id == alert_id and alert.status == AlertStatus.OPEN  # the alert stands whatever the channel did
    events = governance.list_events(ctx, vera, object_type="alert", object_id=str(alert_id))
    assert events[0].action == "alert.notification_failed" and events[0].details["attempts"] == 2
    with webhook_receiver(HOOK_SECRET) as receiver:
        with_webhook(ctx, receiver.url)
        assert monitoring.deliver_notifications(ctx, vera, force=True).delivered == (failed.id,)  # deliver now
    assert len(receiver.accepted) == 1


def test_a_process_without_the_channel_leaves_its_deliveries_to_one_that_has_it(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    with webhook_receiver(HOOK_SECRET) as receiver:
        with_webhook(ctx, receiver.url)
        (alert_id,) = store(ctx, vera, candidate, dep, report(0.5)).alerts
        configured = ctx.settings
        ctx.settings = replace(configured, alert_webhook_url="", alert_webhook_secret="")  # the dashboard's process
        assert monitoring.deliver_notifications(ctx, vera, force=True) == monitoring.DeliveryRound((), ())
        (waiting,) = monitoring.list_deliveries(ctx, vera, alert_id=alert_id)
        assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
        assert waiting.describe() == "webhook raised: pending, not tried yet"
        ctx.settings = configured  # the worker's
        assert RunWorker(ctx).notify_due() == 0
    (done,) = monitoring.list_deliveries(ctx, vera, alert_id=alert_id)
    assert done.status == DeliveryStatus.DELIVERED and len(receiver.accepted) == 1


def test_a_stale_signature_is_refused_by_the_receiver_and_recorded_as_a_failed_attempt(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    with webhook_receiver(HOOK_SECRET) as receiver:
        with_webhook(ctx, receiver.url)
        (alert_id,) = store(ctx, vera, candidate, dep, report(0.5)).alerts
        replayed = channels.WebhookChannel(receiver.url, HOOK_SECRET, "json", 5, clock=lambda: receiver.clock() - 3600)
        (failure,) = monitoring.deliver_notifications(ctx, vera, channels={AlertChannel.WEBHOOK: replayed}).failures
    assert failure.error.endswith("answered HTTP 401 Unauthorized") and failure.alert_id == alert_id
    assert "more than 300 s" in str(receiver.received[0].refusal) and receiver.accepted == []


def test_only_those_who_may_evaluate_deliver(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    with pytest.raises(PermissionDenied, match="max is a manager; deliver alerts needs one of"):
        monitoring.deliver_notifications(ctx, people["max"])
