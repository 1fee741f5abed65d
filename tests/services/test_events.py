"""Integrations as events: the outbox commits with its audit record, the dispatcher delivers, backs off, gives up.

The sinks are stand-ins injected into the ``ServiceContext`` (``ctx.factsheets``, ``ctx.monitors``) that
fail a chosen number of calls; the candidate's pre-prod deployment is made to look served by watsonx.ai
(with an OpenScale subscription) so the sinks have an asset to talk about. The IBM path itself (the
SDKs against the fake Cloud Pak for Data) is ``tests/services/test_ibm_deployments.py``'s.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from pipeline_core.backends.base import MonitorSubscription, ServedModel
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ExternalServiceError, PermissionDenied, StoreError
from pipeline_core.results import MonitorResult
from pipeline_core.services import audit, events, governance, integrations
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.integrations import _dispatch
from pipeline_core.services.runs import RunWorker
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, AuditEvent, Deployment, DomainEvent, EventDelivery, ModelVersion
from pipeline_core.vocabulary import DeliveryStatus, EventKind, ModelState, Sink, Space
from tests.processes import wait_for

DOWN = "AI Factsheets answered 503: the service is down"
FACTS = {"mlops_stage": "pre-prod evaluation", "mlops_evaluation_status": "pass"}


@dataclass
class Flaky:
    """Counts the calls; the first ``failures`` of them raise as a service that is down would."""

    failures: int = 0
    error: str = DOWN
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    hold: threading.Event | None = None  # given: each call waits for it (a slow service)
    entered: threading.Event = field(default_factory=threading.Event)  # set by the first call

    def call(self, *what: Any) -> None:
        self.entered.set()
        if self.hold is not None:
            self.hold.wait(30)
        self.calls.append(what)
        if self.failures > 0:
            self.failures -= 1
            raise ExternalServiceError(self.error)


@dataclass
class FakeFactsheets(Flaky):
    def track(self, served: ServedModel, *, comment: str) -> None:
        self.call("track", served.space, served.model_id, comment)

    def record(self, served: ServedModel, facts: Mapping[str, Any]) -> None:
        self.call("record", served.space, served.model_id, dict(facts))


@dataclass
class FakeMonitors(Flaky):
    def set_risk_status(self, sub: MonitorSubscription, *, approved: bool) -> None:
        self.call("set_risk_status", sub.subscription_id, approved)

    def subscribe(self, served: ServedModel, *, spec: DataSpec, model_name: str) -> MonitorSubscription:
        raise NotImplementedError  # the sinks only decide

    def log_payload(
        self,
        sub: MonitorSubscription,
        *,
        fields: Sequence[str],
        values: Sequence[Sequence[Any]],
        labels: Sequence[str],
        probabilities: Sequence[Sequence[float]],
    ) -> None:
        raise NotImplementedError

    def log_feedback(self, sub: MonitorSubscription, *, fields: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def evaluate(self, sub: MonitorSubscription, *, spec: DataSpec, records: Mapping[str, int]) -> list[MonitorResult]:
        raise NotImplementedError


SUBSCRIPTION = MonitorSubscription(
    data_mart_id="dm",
    service_provider_id="sp",
    subscription_id="sub-preprod",
    monitor_instances={},
    payload_data_set_id="pl",
    feedback_data_set_id="fb",
)


def _served_by_watsonx(ctx: ServiceContext, mv_id: int) -> None:
    """The candidate's pre-prod deployment as the IBM target records one: an asset, a subscription."""
    with ctx.db.write() as session:
        dep = session.execute(
            select(Deployment).where(Deployment.model_version_id == mv_id, Deployment.space == Space.PREPROD)
        ).scalar_one()
        served = ServedModel(
            backend="ibm",
            space=Space.PREPROD,
            space_id="space-preprod",
            model_id="asset-preprod",
            deployment_id="wml-preprod",
            artifact_sha256=session.get(ModelVersion, mv_id).artifact_sha256,  # type: ignore[union-attr]
        )
        dep.served = {**served.to_dict(), integrations.OPENSCALE_KEY: SUBSCRIPTION.to_dict()}


@pytest.fixture
def factsheets(live_ctx: ServiceContext, candidate: int) -> FakeFactsheets:
    fake = FakeFactsheets()
    _served_by_watsonx(live_ctx, candidate)
    live_ctx.factsheets = fake
    return fake


def _record(ctx: ServiceContext, mv_id: int, kind: EventKind = EventKind.CANDIDATE_EVALUATED) -> int:
    payload: dict[str, Any] = (
        {"evaluation_id": 1, "facts": FACTS}
        if kind == EventKind.CANDIDATE_EVALUATED
        else {"outcome": "approved", "comment": "holds", "decided_at": "2026-11-28T10:00:00", "approval_id": 1}
    )
    with ctx.db.write() as session:
        return events.record(session, kind=kind, model_version_id=mv_id, actor="pipeline", payload=payload)


def _delivery(ctx: ServiceContext, event_id: int, sink: Sink = Sink.FACTSHEETS) -> EventDelivery:
    with ctx.db.read() as session:
        return session.execute(
            select(EventDelivery).where(EventDelivery.event_id == event_id, EventDelivery.sink == sink)
        ).scalar_one()


def _actions(ctx: ServiceContext, action: str) -> list[AuditEvent]:
    with ctx.db.read() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def _count(ctx: ServiceContext, model: type[Any]) -> int:
    with ctx.db.read() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


# -- the outbox ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "sinks"), [(k, s) for k, s in events.SINKS.items()])
def test_an_event_gets_one_pending_delivery_per_sink_of_its_kind(
    live_ctx: ServiceContext, candidate: int, kind: EventKind, sinks: tuple[Sink, ...]
) -> None:
    event_id = _record(live_ctx, candidate, kind)
    with live_ctx.db.read() as session:
        event = session.get(DomainEvent, event_id)
        rows = list(
            session.execute(
                select(EventDelivery).where(EventDelivery.event_id == event_id).order_by(EventDelivery.id)
            ).scalars()
        )
    assert event is not None and (event.kind, event.model_version_id, event.actor) == (kind, candidate, "pipeline")
    assert [(r.sink, r.status, r.attempts) for r in rows] == [(s, DeliveryStatus.PENDING, 0) for s in sinks]


@pytest.mark.parametrize("fails", [False, True], ids=["commits", "fails inside the transaction"])
def test_an_event_and_its_audit_record_commit_together_or_not_at_all(
    live_ctx: ServiceContext, candidate: int, fails: bool
) -> None:
    before = (_count(live_ctx, DomainEvent), _count(live_ctx, EventDelivery), _count(live_ctx, AuditEvent))
    with pytest.raises(RuntimeError) if fails else nullcontext(), live_ctx.db.write() as session:
        audit.record(session, actor="vera", action="model_version.approved", object_type="model_version", object_id=1)
        events.record(session, kind=EventKind.DECISION_RECORDED, model_version_id=candidate, actor="vera", payload={})
        if fails:
            raise RuntimeError("the store failed after both were added")
    after = (_count(live_ctx, DomainEvent), _count(live_ctx, EventDelivery), _count(live_ctx, AuditEvent))
    assert after == before if fails else after == (before[0] + 1, before[1] + 2, before[2] + 1)


def test_an_approval_whose_event_cannot_be_recorded_is_not_taken(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event is written, then the store fails: the approval, its audit record and the event all go."""
    record = events.record

    def record_then_fail(session: Any, **kwargs: Any) -> int:
        record(session, **kwargs)
        raise StoreError("the store failed while recording the decision's event")

    monkeypatch.setattr(events, "record", record_then_fail)
    sha = _sha(live_ctx, candidate)
    before = (_count(live_ctx, DomainEvent), _count(live_ctx, EventDelivery))
    with pytest.raises(StoreError, match="decision's event"):
        governance.approve(live_ctx, people["vera"], candidate, comment="holds", artifact_sha256=sha)
    assert (_count(live_ctx, DomainEvent), _count(live_ctx, EventDelivery)) == before
    assert _count(live_ctx, Approval) == 0 and not _actions(live_ctx, "model_version.approved")
    with live_ctx.db.read() as session:
        assert session.get(ModelVersion, candidate).state == ModelState.AWAITING_REVIEW  # type: ignore[union-attr]


def _sha(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.artifact_sha256


# -- delivery --------------------------------------------------------------------------------------------


def test_a_sink_this_install_does_not_configure_is_marked_delivered_not_configured(
    live_ctx: ServiceContext, candidate: int, people: dict[str, Principal]
) -> None:
    # the candidate's own pipeline run already delivered its evaluation's event so
    with live_ctx.db.read() as session:
        (pipeline,) = session.execute(select(EventDelivery)).scalars()
    assert (pipeline.sink, pipeline.status, pipeline.detail) == (
        Sink.FACTSHEETS,
        DeliveryStatus.DELIVERED,
        "not configured",
    )
    event_id = _record(live_ctx, candidate, EventKind.DECISION_RECORDED)
    assert integrations.deliver(live_ctx, SYSTEM, event_ids=[event_id]) == ()
    for sink in (Sink.OPENSCALE, Sink.FACTSHEETS):
        row = _delivery(live_ctx, event_id, sink)
        assert (row.status, row.attempts, row.detail) == (DeliveryStatus.DELIVERED, 0, "not configured")
    assert (
        integrations.not_in_sync(live_ctx, people["max"]) == []
        and integrations.configured_sinks(live_ctx, SYSTEM) == ()
    )


def test_a_process_without_the_sink_leaves_a_delivery_that_one_with_it_tried(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets, people: dict[str, Principal]
) -> None:
    """A dashboard started without the IBM settings must not mark "not configured" what the worker owes."""
    factsheets.failures = 1
    event_id = _record(live_ctx, candidate)
    assert len(integrations.deliver(live_ctx, SYSTEM)) == 1
    live_ctx.factsheets = None
    assert integrations.sync_now(live_ctx, people["vera"]) == ()
    row = _delivery(live_ctx, event_id)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.PENDING, 1, DOWN)
    assert [u.event_id for u in integrations.not_in_sync(live_ctx, people["vera"])] == [event_id]


def test_a_delivery_hands_the_candidate_s_facts_to_the_sink(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets, people: dict[str, Principal]
) -> None:
    event_id = _record(live_ctx, candidate)
    assert integrations.deliver(live_ctx, SYSTEM, event_ids=[event_id]) == ()
    (track, record) = factsheets.calls
    assert track[:3] == ("track", "preprod", "asset-preprod") and "candidate from run" in track[3]
    assert record[:3] == ("record", "preprod", "asset-preprod")
    assert (
        record[3]["mlops_artifact_sha256"] == _sha(live_ctx, candidate)
        and record[3]["mlops_stage"] == FACTS["mlops_stage"]
    )
    row = _delivery(live_ctx, event_id)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.DELIVERED, 1, None)
    assert row.delivered_at is not None and row.next_attempt_at is None and "asset-preprod" in (row.detail or "")
    assert (
        integrations.deliver(live_ctx, SYSTEM, event_ids=[event_id]) == () and len(factsheets.calls) == 2
    )  # once only
    assert integrations.not_in_sync(live_ctx, people["max"]) == []


def test_a_sink_that_fails_twice_is_retried_after_its_back_off_then_delivered(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets, people: dict[str, Principal]
) -> None:
    factsheets.failures = 2
    event_id = _record(live_ctx, candidate)
    t0 = utcnow()
    policy = integrations.RETRY
    first_retry = t0 + policy.delay(1)
    second_retry = first_retry + policy.delay(2)
    steps: list[tuple[datetime, int, DeliveryStatus, int]] = [  # (when, calls made by then, status, attempts)
        (t0, 1, DeliveryStatus.PENDING, 1),  # fails
        (first_retry - timedelta(seconds=1), 1, DeliveryStatus.PENDING, 1),  # backing off: not tried
        (first_retry, 2, DeliveryStatus.PENDING, 2),  # fails again
        (second_retry - timedelta(seconds=1), 2, DeliveryStatus.PENDING, 2),  # backing off longer
        (second_retry, 4, DeliveryStatus.DELIVERED, 3),  # track and record
    ]
    for when, calls, status, attempts in steps:
        failures = integrations.deliver(live_ctx, SYSTEM, now=when)
        assert len(factsheets.calls) == calls, when
        row = _delivery(live_ctx, event_id)
        assert (row.status, row.attempts) == (status, attempts), when
        if failures:
            (failure,) = failures
            assert (failure.sink, failure.kind, failure.model_version_id) == (
                Sink.FACTSHEETS,
                EventKind.CANDIDATE_EVALUATED,
                candidate,
            )
            assert failure.attempts == attempts and not failure.gave_up
            assert failure.summary == f"AI Factsheets was not updated: {DOWN}"
            assert row.next_attempt_at == when + policy.delay(attempts) and row.last_error == DOWN
    audited = _actions(live_ctx, "factsheet.not_published")
    assert [(a.details["attempt"], a.details["error"], a.object_id) for a in audited] == [
        (1, DOWN, str(candidate)),
        (2, DOWN, str(candidate)),
    ]
    assert integrations.not_in_sync(live_ctx, people["max"]) == []


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (20, 3600)],
)
def test_the_back_off_doubles_and_is_capped(attempts: int, delay: int) -> None:
    assert integrations.RETRY.delay(attempts) == timedelta(seconds=delay)


def test_after_max_attempts_a_delivery_failed_is_listed_and_retried_on_demand(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets, people: dict[str, Principal]
) -> None:
    factsheets.failures = 99
    policy = integrations.RetryPolicy(base_seconds=0, max_attempts=3)
    event_id = _record(live_ctx, candidate)
    gave_up = [f.gave_up for _ in range(3) for f in integrations.deliver(live_ctx, SYSTEM, policy=policy)]
    assert gave_up == [False, False, True]
    assert integrations.deliver(live_ctx, SYSTEM, policy=policy) == ()  # no more automatic attempts
    row = _delivery(live_ctx, event_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.FAILED, 3, None)
    for who in ("dora", "vera", "max", "admin"):
        (listed,) = integrations.not_in_sync(live_ctx, people[who])
        assert (listed.sink, listed.sink_label, listed.status, listed.attempts, listed.last_error) == (
            Sink.FACTSHEETS,
            "AI Factsheets",
            DeliveryStatus.FAILED,
            3,
            DOWN,
        )
        assert listed.model_version_id == candidate and listed.next_attempt_at is None
        assert listed.what == "facts of evaluation 1" and listed.model.endswith(" v1")
    with pytest.raises(PermissionDenied, match="max is a manager"):
        integrations.sync_now(live_ctx, people["max"])
    factsheets.failures = 0
    assert integrations.sync_now(live_ctx, people["vera"]) == ()
    assert _delivery(live_ctx, event_id).status == DeliveryStatus.DELIVERED
    assert integrations.not_in_sync(live_ctx, people["max"]) == []


def test_a_retry_on_demand_that_fails_again_is_audited_as_who_asked(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets, people: dict[str, Principal]
) -> None:
    factsheets.failures = 2
    event_id = _record(live_ctx, candidate)
    integrations.deliver(live_ctx, SYSTEM)  # backing off now
    (failure,) = integrations.sync_now(live_ctx, people["admin"])  # not waiting for it
    assert failure.attempts == 2 and _delivery(live_ctx, event_id).attempts == 2
    assert [a.actor for a in _actions(live_ctx, "factsheet.not_published")] == ["pipeline", "ada"]


def test_two_dispatchers_at_once_deliver_once(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets
) -> None:
    event_id = _record(live_ctx, candidate)
    factsheets.hold = threading.Event()
    results: list[tuple[_dispatch.SyncFailure, ...]] = []
    threads = [
        threading.Thread(target=lambda: results.append(integrations.deliver(live_ctx, SYSTEM))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    # one dispatcher is in the sink's call, holding the delivery; the other finds nothing it may take
    assert factsheets.entered.wait(30)
    wait_for(lambda: len(results) == 1, timeout=30, what="the second dispatcher to give up on the held delivery")
    factsheets.hold.set()
    for t in threads:
        t.join(30)
    assert results == [(), ()] and [c[0] for c in factsheets.calls] == ["track", "record"]
    row = _delivery(live_ctx, event_id)
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 1)


def test_a_claim_read_by_two_dispatchers_is_won_by_one(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets
) -> None:
    """Both read the delivery as pending with no attempt; the guarded UPDATE lets only the first claim it."""
    event_id = _record(live_ctx, candidate)
    row = _delivery(live_ctx, event_id)
    seen = _dispatch._Delivery(row.id, Sink.FACTSHEETS, row.status, row.attempts)
    with live_ctx.db.read() as session:
        stored = session.get(DomainEvent, event_id)
        assert stored is not None
        event = _dispatch._event(stored)
    for _ in range(2):
        _dispatch._deliver_one(live_ctx, seen, event, clock=utcnow, actor=None, policy=integrations.RETRY)
    assert [c[0] for c in factsheets.calls] == ["track", "record"] and _delivery(live_ctx, event_id).attempts == 1


def test_a_dispatcher_that_died_holding_a_delivery_leaves_it_to_another_after_the_lease(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets
) -> None:
    event_id = _record(live_ctx, candidate)
    t0 = utcnow()
    with live_ctx.db.write() as session:  # what a claim leaves behind when its process is killed mid-call
        session.execute(
            update(EventDelivery)
            .where(EventDelivery.event_id == event_id)
            .values(attempts=1, claimed_at=t0, next_attempt_at=t0 + timedelta(seconds=integrations.RETRY.lease_seconds))
        )
    assert integrations.deliver(live_ctx, SYSTEM, now=t0 + timedelta(seconds=60)) == () and not factsheets.calls
    integrations.deliver(live_ctx, SYSTEM, force=True, now=t0 + timedelta(seconds=60))  # nor taken from a live claim
    assert not factsheets.calls
    integrations.deliver(live_ctx, SYSTEM, now=t0 + timedelta(seconds=integrations.RETRY.lease_seconds))
    row = _delivery(live_ctx, event_id)
    assert len(factsheets.calls) == 2 and (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 2)


def test_the_worker_delivers_what_is_due_between_runs(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets
) -> None:
    factsheets.failures = 1
    event_id = _record(live_ctx, candidate)
    assert len(integrations.deliver(live_ctx, SYSTEM)) == 1
    worker = RunWorker(live_ctx)
    assert worker.deliver_due() == 0 and len(factsheets.calls) == 1  # backing off
    with live_ctx.db.write() as session:  # the back-off is over
        session.execute(update(EventDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    stop = threading.Event()
    worker.serve(stop, on_idle=stop.set)  # one idle turn: no run is queued
    assert _delivery(live_ctx, event_id).status == DeliveryStatus.DELIVERED and len(factsheets.calls) == 3


# -- the callers -----------------------------------------------------------------------------------------

OPENSCALE_DOWN = "OpenScale answered 502: bad gateway"


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        ((), None),
        (("factsheets",), f"approved and deployed, but AI Factsheets was not updated: {DOWN}"),
        (
            ("openscale",),
            f"approved and deployed, but OpenScale's risk evaluation status was not set: {OPENSCALE_DOWN}",
        ),
        (
            ("openscale", "factsheets"),
            "approved and deployed, but OpenScale's risk evaluation status was not set: "
            f"{OPENSCALE_DOWN}; AI Factsheets was not updated: {DOWN}",
        ),
    ],
)
def test_approve_with_a_failing_sink_still_approves_and_deploys_and_says_why(
    live_ctx: ServiceContext,
    candidate: int,
    factsheets: FakeFactsheets,
    people: dict[str, Principal],
    failing: tuple[str, ...],
    expected: str | None,
) -> None:
    monitors = FakeMonitors(failures=1 if "openscale" in failing else 0, error=OPENSCALE_DOWN)
    live_ctx.monitors = monitors
    factsheets.failures = 1 if "factsheets" in failing else 0
    outcome = governance.approve(
        live_ctx, people["vera"], candidate, comment="holds", artifact_sha256=_sha(live_ctx, candidate)
    )
    assert outcome.deployment is not None and outcome.deployment.space == Space.PROD
    assert outcome.error == expected
    with live_ctx.db.read() as session:
        assert session.get(ModelVersion, candidate).state == ModelState.IN_PRODUCTION  # type: ignore[union-attr]
        event = session.execute(select(DomainEvent).where(DomainEvent.kind == EventKind.DECISION_RECORDED)).scalar_one()
    assert event.actor == "vera" and event.payload["outcome"] == "approved" and event.payload["comment"] == "holds"
    assert monitors.calls == [("set_risk_status", "sub-preprod", True)]
    assert factsheets.calls[0][:3] == ("record", "preprod", "asset-preprod")
    assert (
        factsheets.calls[0][3]["mlops_decision"] == "approved" and factsheets.calls[0][3]["mlops_decided_by"] == "vera"
    )
    unsynced = integrations.not_in_sync(live_ctx, people["max"])
    assert sorted(u.sink for u in unsynced) == sorted(Sink(s) for s in failing)
    assert all(u.what == "decision: approved by vera" and u.attempts == 1 for u in unsynced)
    actions = {"openscale": "model_version.risk_status_not_synced", "factsheets": "factsheet.not_published"}
    for sink, action in actions.items():
        assert len(_actions(live_ctx, action)) == (sink in failing), action


def test_reject_with_a_failing_sink_still_rejects_and_the_delivery_waits(
    live_ctx: ServiceContext, candidate: int, factsheets: FakeFactsheets, people: dict[str, Principal]
) -> None:
    factsheets.failures = 1
    governance.reject(live_ctx, people["vera"], candidate, comment="fairness on Age is too close")
    with live_ctx.db.read() as session:
        assert session.get(ModelVersion, candidate).state == ModelState.REJECTED  # type: ignore[union-attr]
    (waiting,) = integrations.not_in_sync(live_ctx, people["dora"])
    assert waiting.what == "decision: rejected by vera" and waiting.last_error == DOWN
    assert waiting.status == DeliveryStatus.PENDING and waiting.next_attempt_at is not None
    assert integrations.deliver(live_ctx, SYSTEM, now=waiting.next_attempt_at) == ()
    assert factsheets.calls[-1][3]["mlops_decision"] == "rejected"
    assert integrations.not_in_sync(live_ctx, people["dora"]) == []


@pytest.mark.slow  # the IBM pipeline, against the fake Cloud Pak for Data
def test_the_preprod_evaluation_keeps_its_factsheet_error_when_the_delivery_fails(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from pipeline_core.services.runs import get_run, list_runs
    from tests.ibm_fake import FakeCloudPak
    from tests.services.helpers import make_candidate

    fake: FakeCloudPak = request.getfixturevalue("fake_cpd")
    fake.state.fact_definitions["modelfacts_user"] = {}  # nobody loaded the product's fact definitions
    mv_id = make_candidate(ibm_ctx, crew["dora"], tmp_path)
    evaluate = next(
        s for s in get_run(ibm_ctx, SYSTEM, list_runs(ibm_ctx, SYSTEM)[0].id).stages if s.name == "evaluate"
    )
    assert "docs/factsheets_facts.csv" in evaluate.outputs["factsheet_error"]
    assert any(line.startswith("AI Factsheets: not published: ") for line in evaluate.log)
    (waiting,) = integrations.not_in_sync(ibm_ctx, crew["vera"])
    assert (waiting.sink, waiting.kind, waiting.model_version_id) == (
        Sink.FACTSHEETS,
        EventKind.CANDIDATE_EVALUATED,
        mv_id,
    )
