"""Factsheets: a model version's facts and lineage timeline; export as JSON or HTML; the model's production
history; what the external services lack.

The production history is the model's (every version's periods in prod, with the approval each rests
on), and a date picker answers "what served production on that day" (days in UTC, as the store keeps
its times). The last section lists every decision and pre-prod evaluation an external service
(OpenScale, AI Factsheets) does not have yet: the integrations' deliveries still pending or failed, for
every role.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import streamlit as st

from dashboard import ui
from pipeline_core.errors import PipelineError
from pipeline_core.services import governance, integrations
from pipeline_core.services.runs import list_model_versions
from pipeline_core.vocabulary import DeliveryStatus

ctx, who = ui.context(), ui.principal()
RETRIED = "factsheets-retried"  # what "Retry now" did: (all delivered?, message), shown once


def retry_now() -> None:
    """The button's callback: it runs before the page does, so the table then shows what is still not in sync."""
    try:
        failures = integrations.sync_now(ctx, who)
    except PipelineError as exc:
        st.session_state[RETRIED] = (False, f"{type(exc).__name__}: {exc}")
        return
    left = integrations.not_in_sync(ctx, who)
    if failures:
        st.session_state[RETRIED] = (False, "Still not in sync: " + "; ".join(f.summary for f in failures))
    elif left:  # tried before by a process that has the service; this one's settings do not name it
        services = " and ".join(sorted({u.sink_label for u in left}))
        st.session_state[RETRIED] = (
            False,
            f"Not retried: {services} is not configured in this dashboard's settings; retry from a dashboard "
            "that has them (the worker retries the pending ones).",
        )
    else:
        st.session_state[RETRIED] = (True, "Every update was delivered.")


def _approval(p: governance.ProductionPeriod) -> str:
    """Who approved a period's version, when, and who countersigned, in words."""
    if p.approval_id is None:
        return "no approval of this artifact on record"
    signed = f", countersigned by {p.countersigned_by} on {p.countersigned_at:%Y-%m-%d}" if p.countersigned_by else ""
    return f"approval {p.approval_id} by {p.approved_by} on {p.approved_at:%Y-%m-%d}{signed}"


def _signers(p: governance.ProductionPeriod) -> str:
    if p.approved_by is None:
        return ui.MISSING
    return p.approved_by + (f" + {p.countersigned_by}" if p.countersigned_by else "")


def _evidence(p: governance.ProductionPeriod) -> str:
    return ", ".join(f"evaluation {i}" for i in p.evaluation_ids) or "no evaluation cited"


def production_history(model_name: str) -> None:
    """The model's periods in production, and what served on the day the picker names."""
    st.subheader("Production history")
    periods = ui.act(lambda: governance.production_history(ctx, who, model_name))
    if periods is None:
        return
    if not periods:
        # A caption, not an info box: the page's boxes are the external services' state (said once, at the end).
        st.caption(f"No version of {model_name} has served production yet.")
        return
    # Seven short columns fit the page's width; the day picker's answer below has the rest (artifact, expiry, text).
    ui.records(
        [
            {
                "version": f"v{p.version}",
                "from": ui.when(p.started_at),
                "until": ui.when(p.ended_at) if p.ended_at else "still serving",
                "how": f"{p.reason} by {p.started_by}",
                "approved by": _signers(p),
                "evidence": _evidence(p),
                "conditions": len(p.conditions),
            }
            for p in reversed(periods)  # newest first: what serves now is on top
        ]
    )
    today = datetime.now(UTC).date()  # the store's days are UTC days
    day = st.date_input(
        "What served production on",
        value=today,
        max_value=today,
        key=f"served-on-{model_name}",
    )
    if not isinstance(day, date):  # a range picker would hand a tuple; this one is a single day
        return
    asked = ui.act(lambda: (governance.served_on(ctx, who, model_name, day),))  # a 1-tuple: None is an answer
    if asked is None:
        return
    (served,) = asked
    if served is None:
        st.markdown(f"Nothing of {model_name} served production on {day:%Y-%m-%d}.")
        return
    until = "still serving" if served.ended_at is None else f"until {ui.when(served.ended_at)}"
    lines = [
        f"On {day:%Y-%m-%d}, **{model_name} v{served.version}** (model version {served.model_version_id}, artifact "
        f"`{served.artifact_sha256[:12]}…`) served production: from {ui.when(served.started_at)} ({served.reason} by "
        f"{served.started_by}), {until}.",
        f"- Approved: {_approval(served)}.",
        f"- Evidence: {_evidence(served)}.",
        "- Approval expires: "
        + ("no expiry on record" if served.expires_at is None else f"{served.expires_at:%Y-%m-%d}")
        + ".",
    ]
    lines += [
        f"- Condition {c.id} ({'overdue' if c.overdue(today) else c.state}, {c.owner}, "
        f"due {c.due_date:%Y-%m-%d}): {_plain(c.text)}"
        for c in served.conditions
    ]
    st.container(border=True).markdown("\n".join(lines))


def _plain(text: str) -> str:
    """``text`` as markdown that shows it as is: a service's message may hold ``$``, ``*`` or ``_``."""
    return re.sub(r"([\\`*_{}\[\]<>#$|~])", r"\\\1", text)


st.title("Factsheets")

versions = list_model_versions(ctx, who, limit=500)
if not versions:
    step = ui.next_step(
        who,
        scientist="Launch a run on the Runs page: each model it registers gets a factsheet here.",
        others="Each model version a data scientist's run registers gets a factsheet here.",
    )
    ui.empty(f"No model versions yet. {step}")
    st.stop()
unsynced = ui.act(lambda: integrations.not_in_sync(ctx, who)) or []
if unsynced:  # said at the top: the external inventory may show an older state than this page
    services = " and ".join(sorted({u.sink_label for u in unsynced}))
    st.warning(f"{len(unsynced)} update(s) not yet in {services}: see **External services** at the end of the page.")
chosen = st.selectbox(
    "Model version",
    [v.id for v in versions],
    format_func=lambda i: next(
        f"{v.name} v{v.version} (model version {v.id}, {v.state.replace('_', ' ')})" for v in versions if v.id == i
    ),
)
facts = ui.act(lambda: governance.factsheet(ctx, who, chosen))
if facts is None:
    st.stop()
model = facts.model
# Two by two: a state or a user name in a quarter of the page is cut off ("in product…").
c1, c2 = st.columns(2)
c3, c4 = st.columns(2)
c1.metric("State", model["state"].replace("_", " "))
auc = model["metrics"].get("roc_auc")
c2.metric("ROC AUC (test split)", ui.MISSING if auc is None else f"{auc:.4f}")
c3.metric("Trained by", model["created_by"])
c4.metric("Evaluations", len(facts.evaluations))
st.caption(
    f"Artifact sha256 {model['artifact_sha256']} · training data {facts.training_data['name']} "
    f"(sha256 {facts.training_data['sha256'][:12]}…, {facts.training_data['rows']} rows)"
)
st.subheader("Lineage")
ui.timeline(facts.timeline)
# One table under the other: side by side, half the page cuts their columns off.
st.markdown("**Run stages**")
ui.records(
    [
        {
            "stage": s["name"],
            "status": s["status"],
            "seconds": ui.MISSING if s["seconds"] is None else f"{s['seconds']:.2f}",
            "gate": s["gate"] or ui.MISSING,
        }
        for s in facts.run["stages"]
    ]
)
st.markdown("**Deployments**")
if facts.deployments:
    ui.records(
        [
            {
                "deployment": d["deployment_id"],
                "space": d["space"],
                "why": d["reason"],
                "by": d["actor"],
                "from": ui.when(d["from"]),
                "until": ui.when(d["until"]) if d["until"] else "still serving",
            }
            for d in facts.deployments
        ]
    )
else:
    st.caption("Never deployed.")
st.markdown("**Evaluations**")
if facts.evaluations:
    ui.records(
        [
            {
                "evaluation": e["id"],
                "space": e["space"],
                "status": e["status"],
                "risk": e["risk_level"] or ui.MISSING,
                "records": e["records"],
                "when": ui.when(e["created_at"]),
            }
            for e in facts.evaluations
        ]
    )
else:
    st.caption("Not evaluated yet.")
st.markdown("**Decisions**")
if facts.approvals:
    ui.records(
        [
            {
                "decision": a["id"],
                "outcome": a["outcome"],
                "by": a["decided_by"],
                "when": ui.when(a["decided_at"]),
                "evidence": ", ".join(f"evaluation {i}" for i in a["evidence"].get("evaluation_ids", [])) or ui.MISSING,
                "override": a["override"] or "none",
                "why": a["comment"],  # last: the widest, it takes the room that is left
            }
            for a in facts.approvals
        ]
    )
else:
    st.caption("No decision yet: the candidate awaits a validator's review.")
name = f"factsheet-{model['name']}-v{model['version']}"
a, b = st.columns(2)
a.download_button("Export JSON", governance.factsheet_json(facts), file_name=f"{name}.json", mime="application/json")
b.download_button("Export HTML", governance.factsheet_html(facts), file_name=f"{name}.html", mime="text/html")
production_history(model["name"])

st.subheader("External services")
retried = st.session_state.pop(RETRIED, None)
if retried is not None:
    delivered, message = retried
    (st.success if delivered else st.warning)(message)
if unsynced:
    st.markdown(
        "What the store recorded that an external service does not have yet. A pending update is retried "
        "by the worker after its back-off; a failed one only on demand."
    )
    ui.records(
        [
            {
                "service": u.sink_label,
                "model version": u.model,
                "what": u.what,
                "attempts": u.attempts,
                "next attempt": "on demand only" if u.status == DeliveryStatus.FAILED else ui.when(u.next_attempt_at),
                "last error": u.last_error or ui.MISSING,  # last: the widest, it takes the room that is left
            }
            for u in unsynced
        ]
    )
    # In full: a table cell cuts an error off, and the error says what to do (e.g. load the fact definitions).
    errors: dict[tuple[str, str], int] = {}
    for u in unsynced:
        if u.last_error:
            errors[(u.sink_label, u.last_error)] = errors.get((u.sink_label, u.last_error), 0) + 1
    for (service, error), count in errors.items():
        st.markdown(f"**{service}**, last error of {count} update(s): {_plain(error)}")
    if ui.can(who, "evaluate_now"):
        st.button("Retry now", key="sync-now", on_click=retry_now)
    else:
        st.markdown("A data scientist, validator or administrator can retry them now.")
elif configured := integrations.configured_sinks(ctx, who):
    services = " and ".join(integrations.SINK_LABELS[s] for s in configured)
    has = "has" if len(configured) == 1 else "have"
    st.success(f"In sync: {services} {has} every decision and pre-prod evaluation the store recorded.")
else:
    ui.empty(
        "Nothing to keep in sync: no external service (OpenScale, AI Factsheets) is configured, "
        "so the store's own factsheet above is the only one."
    )
