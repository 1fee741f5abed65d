"""The alert sections (dashboard/alerts.py): on Monitoring each alert with its occurrences and how its notifications
went, beside the channels; on the Overview a version's chart shows only its own alerts and the table names versions."""

from __future__ import annotations

from datetime import timedelta

from pipeline_core.services import deployments, monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ModelVersion
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.pages.test_overview import _section
from tests.services.helpers import copy_version, point_revision_at
from tests.services.test_alert_lifecycle import report, store, with_webhook
from tests.states import State


def test_monitoring_shows_each_alert_seen_twice_with_its_notifications(
    page: PageRunner, ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    dep = starting_state.deployment_id
    assert dep is not None
    at = page("monitoring", "vera")
    alerts_section = _section(at, "Alerts")
    assert alerts_section[0] == (
        "markdown: :gray[No alert channel is configured: alerts are shown here only (README, Alerts).]"
    )
    with_webhook(ctx)  # nothing listens there: the first attempt fails
    first = store(ctx, people["vera"], candidate, dep, report(0.5))
    store(ctx, people["vera"], candidate, dep, report(0.45))
    (failure,) = monitoring.deliver_notifications(ctx, people["vera"]).failures
    (alert,) = monitoring.list_alerts(ctx, people["vera"])
    at = page("monitoring", "vera")
    assert not at.exception
    lines = _section(at, "Alerts")
    assert lines[0] == "markdown: :gray[Raised and resolved alerts are notified by json webhook to http://127.0.0.1:9.]"
    (line,) = [x for x in lines if "**alert " in x]
    name = deployments.get_deployment(ctx, people["max"], dep).model_name
    assert f"**alert {alert.id}** · " in line and " · open · " in line
    assert f"{name} v1: roc_auc = 0.5000, threshold 0.6000 fails its critical threshold" in line
    assert f"(prod, evaluation {first.evaluation_id}) · seen 2 times, last " in line
    tried = f"webhook raised: pending, attempt 1 failed: {failure.error}"
    assert line.endswith(f"  \n:gray[:material/outgoing_mail: notified: {tried}]")  # beside the alert
    assert [b.key for b in at.button if b.label == "Acknowledge"] == [f"ack-{alert.id}"]
    assert_readable(at, "monitoring alerts")

    store(ctx, people["vera"], candidate, dep, report(0.8))  # the check passes again: resolved by the system
    at = page("monitoring", "max")
    (line,) = [x for x in _section(at, "Alerts") if "**alert " in x]
    assert " · resolved by system · " in line and ":gray[system resolved: the check passed again in evaluation" in line
    (notified,) = [x for x in _section(at, "Alerts") if "notified:" in x]
    assert (
        "webhook raised: pending, attempt 1 failed" in notified
        and "webhook resolved: pending, not tried yet" in notified
    )
    assert not [b for b in at.button if b.label in ("Acknowledge", "Resolve")]


def test_the_overview_charts_the_version_served_without_the_last_versions_alert(
    page: PageRunner, ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State
) -> None:
    assert starting_state.model_version_id is not None
    first = starting_state.model_version_id
    store(ctx, people["vera"], first, in_prod, report(0.5))
    (old,) = monitoring.list_alerts(ctx, people["max"])
    at = page("overview", "max")
    history = _section(at, "Production models over time")
    assert history[0] == f"markdown: **german_credit v1** · deployment {in_prod}" and at.get("plotly_chart")
    assert f"markdown: :red[:material/error:] {old.message}" in history
    with ctx.db.write() as session:
        served = session.get(ModelVersion, first)
        assert served is not None
        newer = copy_version(session, served)
        newer_id = newer.id
    point_revision_at(ctx, in_prod, newer_id)  # the deployment now serves v2, replaced in place
    assert deployments.get_deployment(ctx, people["max"], in_prod).model_version_id == newer_id
    at = page("overview", "max")
    assert not at.exception
    history = _section(at, "Production models over time")
    assert history[0] == f"markdown: **german_credit v2** · deployment {in_prod}"
    assert not at.get("plotly_chart")  # v1's evaluations are not drawn as v2's
    assert not [x for x in history if old.message in x]  # nor its alert pinned on v2's chart
    assert (
        "markdown: :gray[Open alerts of german_credit v1, which this deployment served before, are listed below.]"
        in history
    )
    # v2 serves without an approval (planted): the approval gate's own alert is v2's, named so
    rows = {r["alert"]: r for r in at.dataframe[2].value.to_dict(orient="records")}
    row = rows[old.id]
    assert {r["model"] for r in rows.values() if r["alert"] != old.id} <= {"german_credit v2"}
    assert (row["alert"], row["model"], row["deployment"], row["seen"]) == (old.id, "german_credit v1", in_prod, 1)
    assert old.created_at > utcnow() - timedelta(hours=1)
