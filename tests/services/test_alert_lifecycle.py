"""One alert per (deployment, check): later failures count on it, a passing check resolves it (notified), another
version on the deployment resolves the last one's; evaluations without a deployment and integrity alerts as before."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from pipeline_core.monitors.mrm import risk_summary
from pipeline_core.results import Metric, MonitorResult, judged
from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Alert, ModelVersion
from pipeline_core.vocabulary import AlertChannel, AlertNotice, AlertStatus, CheckStatus, DeliveryStatus
from tests.services.helpers import copy_version
from tests.states import State

HOOK_SECRET = "shared-with-the-receiver"


def report(roc_auc: float, *, drift: float | None = None) -> EvaluationReport:
    """A production evaluation's report: ROC AUC critical at 0.60 (and the drift share critical at 0.10 if given)."""
    metrics = [judged("roc_auc", roc_auc, 0.6, higher=True, critical=True)]
    results = [MonitorResult("quality", metrics, 150, 100)]
    if drift is not None:
        shares = [judged("share_of_drifted_features", drift, 0.1, higher=False, critical=True)]
        results.append(MonitorResult("drift", shares, 150, 100))
    return EvaluationReport.judge(results, risk_summary(results))


def store(
    ctx: ServiceContext, actor: Principal, mv: int, dep: int | None, found: EvaluationReport, *, space: str = "prod"
) -> monitoring.EvaluationOutcome:
    return monitoring.store_evaluation(
        ctx,
        actor,
        model_version_id=mv,
        deployment_id=dep,
        space=space,
        data_window={"records": 150},
        report=found,
        retrain_on_failure=False,
    )


def with_webhook(ctx: ServiceContext, url: str = "http://127.0.0.1:9/hook") -> None:
    """Configure a webhook channel (nothing listens on port 9: queueing does not send)."""
    ctx.settings = replace(ctx.settings, alert_webhook_url=url, alert_webhook_secret=HOOK_SECRET)


def test_two_failing_evaluations_make_one_alert_seen_twice_and_a_passing_one_resolves_it_notified(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera, max_ = starting_state.deployment_id, people["vera"], people["max"]
    assert dep is not None
    with_webhook(ctx)
    first = store(ctx, vera, candidate, dep, report(0.55))
    second = store(ctx, vera, candidate, dep, report(0.52))
    (alert,) = monitoring.list_alerts(ctx, max_, status=None)
    assert first.alerts == second.alerts == [alert.id]
    assert (alert.status, alert.occurrences, alert.evaluation_id, alert.last_evaluation_id) == (
        AlertStatus.OPEN,
        2,
        first.evaluation_id,
        second.evaluation_id,
    )
    assert (alert.value, alert.last_value, alert.threshold) == (0.55, 0.52, 0.6)
    name = deployments.get_deployment(ctx, max_, dep).model_name
    assert (alert.model, alert.model_version_id) == (f"{name} v1", candidate)
    assert alert.message == (
        f"{name} v1: roc_auc = 0.5500, threshold 0.6000 fails its critical threshold "
        f"(prod, evaluation {first.evaluation_id})"
    )
    assert alert.last_seen_at >= alert.created_at
    # the second failure counts; it is not notified again
    assert [(d.notice, d.channel) for d in monitoring.list_deliveries(ctx, max_, alert_id=alert.id)] == [
        (AlertNotice.RAISED, AlertChannel.WEBHOOK)
    ]

    passed = store(ctx, vera, candidate, dep, report(0.71))
    assert passed.alerts == []
    (resolved,) = monitoring.list_alerts(ctx, max_, status=None)
    assert (resolved.status, resolved.resolved_by) == (AlertStatus.RESOLVED, "system")
    assert resolved.resolve_comment == (
        f"the check passed again in evaluation {passed.evaluation_id}: roc_auc = 0.7100, threshold 0.6000"
    )
    resolved_notice, _raised = monitoring.list_deliveries(ctx, max_, alert_id=alert.id)
    assert (resolved_notice.notice, resolved_notice.status, resolved_notice.attempts) == (
        AlertNotice.RESOLVED,
        DeliveryStatus.PENDING,
        0,
    )
    assert (
        resolved_notice.subject == f"[alert {alert.id} resolved] {name} v1: quality roc_auc (preprod deployment {dep})"
    )
    events = governance.list_events(ctx, max_, object_type="alert", object_id=str(alert.id))
    assert [(e.action, e.actor) for e in events] == [
        ("alert.resolved", "system"),
        ("alert.seen_again", "vera"),
        ("alert.raised", "vera"),
    ]

    again = store(ctx, vera, candidate, dep, report(0.4))
    (reopened,) = monitoring.list_alerts(ctx, max_)
    assert again.alerts == [reopened.id] and reopened.id != alert.id and reopened.occurrences == 1


def test_an_acknowledged_alert_still_counts_and_resolves_itself(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    (alert_id,) = store(ctx, vera, candidate, dep, report(0.5)).alerts
    monitoring.acknowledge_alert(ctx, vera, alert_id, comment="looking into the drop with the data team now")
    assert store(ctx, vera, candidate, dep, report(0.5)).alerts == [alert_id]
    (seen,) = monitoring.list_alerts(ctx, vera, status=AlertStatus.ACKNOWLEDGED)
    assert seen.occurrences == 2
    store(ctx, vera, candidate, dep, report(0.8))
    (done,) = monitoring.list_alerts(ctx, vera, status=None)
    assert done.status == AlertStatus.RESOLVED and done.acknowledged_by == "vera" and done.resolved_by == "system"


def test_a_check_only_resolves_when_judged_passed_and_checks_count_apart(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    both = store(ctx, vera, candidate, dep, report(0.5, drift=0.4)).alerts
    assert len(both) == 2
    too_few = Metric("roc_auc", None, 0.6, "higher_is_better", CheckStatus.INSUFFICIENT, True)
    unjudged = MonitorResult("quality", [too_few], 10, 10)
    store(ctx, vera, candidate, dep, EvaluationReport.judge([unjudged], risk_summary([unjudged])))
    store(ctx, vera, candidate, dep, report(0.5, drift=0.05))  # ROC AUC fails again; drift passes
    by_metric = {a.metric: a for a in monitoring.list_alerts(ctx, vera, status=None)}
    assert (by_metric["roc_auc"].status, by_metric["roc_auc"].occurrences) == (AlertStatus.OPEN, 2)
    assert by_metric["share_of_drifted_features"].status == AlertStatus.RESOLVED


def test_another_version_on_the_deployment_resolves_the_last_ones_alerts(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    (old,) = store(ctx, vera, candidate, dep, report(0.5)).alerts
    with ctx.db.write() as session:
        live = session.get(ModelVersion, candidate)
        assert live is not None
        newer = copy_version(session, live)
        newer_id, name, version = newer.id, newer.name, newer.version
    outcome = store(ctx, vera, newer_id, dep, report(0.5))
    alerts = {a.id: a for a in monitoring.list_alerts(ctx, vera, status=None)}
    assert alerts[old].status == AlertStatus.RESOLVED and alerts[old].model_version_id == candidate
    assert alerts[old].resolve_comment == (
        f"deployment {dep} now serves {name} v{version}; evaluation {outcome.evaluation_id} judges its checks anew"
    )
    (new,) = outcome.alerts
    assert (alerts[new].model_version_id, alerts[new].model, alerts[new].occurrences) == (
        newer_id,
        f"{name} v{version}",
        1,
    )
    assert monitoring.list_alerts(ctx, vera, model_version_id=newer_id) == [alerts[new]]
    assert monitoring.list_alerts(ctx, vera, deployment_id=dep, model_version_id=candidate, status=None) == [
        alerts[old]
    ]


def test_evaluations_without_a_deployment_raise_an_alert_each_as_before(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    vera = people["vera"]
    first = store(ctx, vera, candidate, None, report(0.5), space="preprod")
    second = store(ctx, vera, candidate, None, report(0.5), space="preprod")
    assert len({*first.alerts, *second.alerts}) == 2
    store(ctx, vera, candidate, None, report(0.9), space="preprod")
    assert {a.status for a in monitoring.list_alerts(ctx, vera, status=None)} == {AlertStatus.OPEN}


def test_integrity_alerts_are_left_to_their_area(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    with ctx.db.write() as session:
        integrity = deployments.raise_alert_once(
            session,
            monitor="integrity",
            metric="artifact_sha256",
            message="model version failed its integrity check",
            deployment_id=dep,
            model_version_id=candidate,
            per="model_version",
        )
    store(ctx, vera, candidate, dep, report(0.9))
    with ctx.db.read() as session:
        row = session.execute(select(Alert).where(Alert.id == integrity)).scalar_one()
        assert (row.status, row.occurrences) == (AlertStatus.OPEN, 1)
    assert [a.alert_id for a in deployments.open_integrity_alerts(ctx, vera, candidate)] == [integrity]


def test_a_person_resolving_is_notified_too_and_the_comment_is_still_required(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    with_webhook(ctx)
    (alert_id,) = store(ctx, vera, candidate, dep, report(0.5)).alerts
    monitoring.acknowledge_alert(ctx, vera, alert_id, comment="looking into the drop with the data team now")
    with pytest.raises(Exception, match="must be at least a sentence"):
        monitoring.resolve_alert(ctx, vera, alert_id, comment="done")
    monitoring.resolve_alert(ctx, vera, alert_id, comment="the upstream feed was fixed and the score recovered")
    notices = [(d.notice, d.channel) for d in monitoring.list_deliveries(ctx, vera, alert_id=alert_id)]
    assert notices == [(AlertNotice.RESOLVED, AlertChannel.WEBHOOK), (AlertNotice.RAISED, AlertChannel.WEBHOOK)]
