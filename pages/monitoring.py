"""Monitoring: production evaluations over time, alerts, feedback upload, evaluate now, retraining."""

from __future__ import annotations

from functools import partial

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import ui
from pipeline_core.services import deployments, evaluations, feedback, retraining
from pipeline_core.services.payloads import PayloadWindow

ctx, who = ui.context(), ui.principal()
st.title("Monitoring")

deps = [d for d in deployments.list_deployments(ctx, who) if d.status == "active"]
if not deps:
    ui.empty("No deployments to monitor yet.")
    st.stop()
dep = ui.pick_deployment(deps)

history = evaluations.list_evaluations(ctx, who, deployment_id=dep.id, limit=200)
st.subheader("Evaluations over time")
if not history:
    ui.empty("No evaluation of this deployment yet: send it traffic, then press Evaluate now.")
else:
    rows = [
        {"evaluated": e.created_at, "metric": c["name"], "value": c["value"]}
        for e in history
        for c in e.results.get("checks", [])
        if c.get("critical") and c.get("value") is not None
    ]
    if rows:
        figure = px.line(pd.DataFrame(rows), x="evaluated", y="value", color="metric", markers=True)
        st.plotly_chart(ui.styled(figure), key="monitoring-history")
    ui.records(
        [
            {
                "evaluation": e.id,
                "when": e.created_at.strftime("%Y-%m-%d %H:%M"),
                "status": e.status,
                "risk": e.results.get("risk_level"),
                "records": e.data_window.get("records"),
                "by": e.created_by or "",
            }
            for e in history
        ]
    )

st.subheader("Evaluate now")
max_records = st.number_input(
    "Newest payload records to read",
    min_value=100,
    max_value=5_000_000,
    value=ctx.settings.evaluation_max_records,
    step=1000,
)
if st.button("Evaluate now", type="primary"):
    with st.spinner("Running quality, fairness, drift, explainability and the risk evaluation…"):
        outcome = ui.act(
            lambda: evaluations.evaluate_deployment(
                ctx, who, dep.id, window=PayloadWindow(max_records=int(max_records))
            )
        )
    if outcome is not None:
        message = f"Evaluation {outcome.evaluation_id}: {outcome.status}, risk level {outcome.risk_level}."
        (st.error if outcome.status == "fail" else st.success)(message)
        if outcome.alerts:
            st.warning(f"{len(outcome.alerts)} alert(s) raised.")
        if outcome.retraining_request_id:
            st.warning(f"Retraining request {outcome.retraining_request_id} created.")

st.subheader("Alerts")
alerts = [a for a in evaluations.list_alerts(ctx, who, status=None) if a.deployment_id == dep.id]
if not alerts:
    st.success("No alerts for this deployment.")
for a in alerts:
    cols = st.columns([6, 1])
    cols[0].markdown(
        f"{'🔴' if a.status == 'open' else '⚪'} alert {a.id} · {a.created_at:%Y-%m-%d %H:%M} · {a.message}"
    )
    if a.status == "open" and cols[1].button("Acknowledge", key=f"ack-{a.id}"):
        ui.act(partial(evaluations.acknowledge_alert, ctx, who, a.id), success=f"Alert {a.id} acknowledged.")

st.subheader("Feedback")
st.caption(f"{feedback.count_feedback(ctx, deployment_id=dep.id)} labelled records stored for this deployment.")
upload = st.file_uploader(
    "Labelled records: CSV, JSON records or WML fields/values (scoring_id links them)", type=["csv", "json"]
)
if upload is not None and st.button("Upload feedback"):
    content, name = upload.getvalue(), upload.name
    batch = ui.act(
        lambda: feedback.upload_feedback(ctx, who, dep.id, feedback.parse_feedback(content, name=name), source=name)
    )
    if batch is not None:
        st.success(f"Stored {batch.records} records ({batch.linked} linked to scoring ids).")

st.subheader("Retraining")
requests = [r for r in evaluations.list_retraining_requests(ctx, who) if r.deployment_id == dep.id]
open_requests = [r for r in requests if r.status == "open"]
if open_requests:
    request = open_requests[0]
    st.warning(
        f"Retraining request {request.id}: {request.reason}; {len(request.drifted_records)} drifted "
        "records listed for labelling."
    )
    ui.records(request.drifted_records[:50])
else:
    st.caption("No open retraining request. You can still retrain on the training data plus the feedback.")
if st.button("Start retraining"):
    retrained = ui.act(lambda: retraining.retrain(ctx, who, deployment_id=dep.id))
    if retrained is not None:
        st.success(
            f"Retraining run {retrained.run_id} queued: {retrained.training_records} training + "
            f"{retrained.feedback_records} feedback records. It ends in review like any run."
        )
