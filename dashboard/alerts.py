"""The alert sections of the Monitoring and Overview pages: each alert with its model version and occurrences, the
steps a person takes (acknowledge, then resolve, each with a comment), and how its notifications went."""

from __future__ import annotations

from collections import defaultdict
from functools import partial

import streamlit as st

from dashboard import ui
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import DeploymentInfo
from pipeline_core.vocabulary import AlertStatus

# Each alert moves one way, one step at a time, and each step says why in at least a sentence.
STEPS = {
    AlertStatus.OPEN: ("Acknowledge", "ack", "What you are doing about it", monitoring.acknowledge_alert),
    AlertStatus.ACKNOWLEDGED: ("Resolve", "resolve", "How it ended", monitoring.resolve_alert),
}


def alert_line(a: monitoring.AlertInfo, deliveries: list[monitoring.DeliveryInfo] | None = None) -> str:
    """An alert as one line: its state, what it says, how often it was seen, what those who handled it said,
    and how its notifications went (``deliveries``, newest first)."""
    is_open = a.status == AlertStatus.OPEN
    icon = ":red[:material/error:]" if is_open else ":gray[:material/check_circle:]"
    state = {
        AlertStatus.OPEN: "open",
        AlertStatus.ACKNOWLEDGED: f"acknowledged by {a.acknowledged_by or 'someone'}",
        AlertStatus.RESOLVED: f"resolved by {a.resolved_by or 'someone'}",
    }[a.status]
    seen = f" · seen {a.occurrences} times, last {ui.when(a.last_seen_at)}" if a.occurrences > 1 else ""
    said = [f"{a.acknowledged_by} acknowledged: {a.acknowledge_comment}"] if a.acknowledge_comment else []
    said += [f"{a.resolved_by} resolved: {a.resolve_comment}"] if a.resolve_comment else []
    notes = "".join(f"  \n:gray[{note}]" for note in said)
    if deliveries:
        notes += "  \n" + _notified(deliveries)
    return f"{icon} **alert {a.id}** · {ui.when(a.created_at)} · {state} · {a.message}{seen}{notes}"


def _channels_line(ctx: ServiceContext, who: Principal) -> str:
    found = monitoring.alert_channels(ctx, who)
    if not found:
        return ":gray[No alert channel is configured: alerts are shown here only (README, Alerts).]"
    return ":gray[Raised and resolved alerts are notified by " + "; ".join(c.description for c in found) + ".]"


def _notified(deliveries: list[monitoring.DeliveryInfo]) -> str:
    """How an alert's notifications went, oldest first: ":gray[notified: webhook raised: delivered after 1 attempt]"."""
    shown = " · ".join(d.describe() for d in reversed(deliveries))
    return f":gray[:material/outgoing_mail: notified: {shown}]"


def render_deployment_alerts(ctx: ServiceContext, who: Principal, dep: DeploymentInfo) -> None:
    """The Monitoring page's alerts of ``dep``: each one, its step with a comment box, and its notifications."""
    alerts = monitoring.list_alerts(ctx, who, status=None, deployment_id=dep.id)
    st.markdown(_channels_line(ctx, who))
    if not alerts:
        st.success("No alerts for this deployment.")
        return
    by_alert: dict[int, list[monitoring.DeliveryInfo]] = defaultdict(list)
    for d in monitoring.list_deliveries(ctx, who, deployment_id=dep.id, limit=None):
        by_alert[d.alert_id].append(d)
    for a in alerts:
        line = st.empty()  # filled after the step below, so that it shows the alert as it now stands
        shown = a
        if a.status in STEPS and ui.can(who, "evaluate_now"):
            label, key, prompt, move = STEPS[a.status]
            said, press = st.columns([6, 1], vertical_alignment="bottom")
            comment = said.text_input(f"{prompt} (alert {a.id}, at least a sentence)", key=f"{key}-comment-{a.id}")
            if press.button(label, key=f"{key}-{a.id}"):
                moved = ui.act(partial(move, ctx, who, a.id, comment=comment))
                if moved is not None:
                    shown = moved
                    st.success(f"Alert {a.id} {moved.status}.")
        line.markdown(alert_line(shown, by_alert.get(a.id)))


def render_version_alerts(ctx: ServiceContext, who: Principal, dep: DeploymentInfo) -> None:
    """Under a production chart: the open alerts of the version it charts, and a word on older versions' ones."""
    open_here = monitoring.list_alerts(ctx, who, deployment_id=dep.id)
    mine = [a for a in open_here if a.model_version_id == dep.model_version_id]
    for a in mine:
        st.markdown(
            f":red[:material/error:] {a.message}" + (f" · seen {a.occurrences} times" if a.occurrences > 1 else "")
        )
    older = sorted({a.model for a in open_here if a.model_version_id != dep.model_version_id})
    if older:
        st.markdown(f":gray[Open alerts of {', '.join(older)}, which this deployment served before, are listed below.]")


def render_open_alerts(ctx: ServiceContext, who: Principal) -> None:
    """The Overview's open alerts, newest first, each naming the model version it is about."""
    alerts = monitoring.list_alerts(ctx, who)
    if not alerts:
        st.success("No open alerts.")
        return
    ui.records(
        [
            {
                "alert": a.id,
                "raised": ui.when(a.created_at),
                "model": a.model,
                "deployment": a.deployment_id,
                "seen": a.occurrences,
                "message": a.message,
            }
            for a in alerts
        ]
    )
