"""Monitoring: production evaluations over time, alerts, feedback upload, evaluate now, retraining."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import ui
from dashboard.alerts import render_deployment_alerts
from dashboard.monitoring_drift import render_drift
from dashboard.monitoring_estimate import render_estimate
from dashboard.monitoring_fairness import render_fairness
from pipeline_core.results import tables
from pipeline_core.services import deployments, monitoring, runs
from pipeline_core.services.datasets import PayloadWindow, count_payload
from pipeline_core.vocabulary import CheckStatus, DeploymentStatus, RetrainingStatus

ctx, who = ui.context(), ui.principal()
st.title("Monitoring")

deps = [d for d in deployments.list_deployments(ctx, who) if d.status == DeploymentStatus.ACTIVE]
if not deps:
    step = ui.next_step(
        who,
        scientist="Launch a run on the Runs page: its pre-prod deployment is evaluated here, and prod once approved.",
        validator="A data scientist's run deploys its model to pre-prod; approve it on the Review page to monitor it "
        "in prod.",
        others="A data scientist's run deploys its model to pre-prod, and a validator's approval to prod.",
    )
    ui.empty(f"No deployments to monitor yet. {step}")
    st.stop()
dep = ui.pick_deployment(deps)

st.subheader("Evaluations over time")
history_box = st.container()  # drawn after "Evaluate now", so that an evaluation made now is in it

st.subheader("Evaluate now")
st.caption(
    f"{count_payload(ctx, who, deployment_id=dep.id)} scored records stored for this deployment; an evaluation reads "
    "the newest of them and all its labelled feedback."
)
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
            lambda: monitoring.evaluate_deployment(ctx, who, dep.id, window=PayloadWindow(max_records=int(max_records)))
        )
    if outcome is not None:
        message = f"Evaluation {outcome.evaluation_id}: {outcome.status}, risk level {outcome.risk_level}."
        if outcome.status == CheckStatus.FAIL:
            st.error(message)
        elif outcome.status == CheckStatus.WARN:
            st.warning(message)
        else:
            st.success(message)
        if outcome.alerts:
            st.warning(f"{len(outcome.alerts)} alert(s) raised.")
        if outcome.retraining_request_id:
            st.warning(f"Retraining request {outcome.retraining_request_id} created.")

with history_box:
    history = monitoring.list_evaluations(ctx, who, deployment_id=dep.id, limit=200)
    if not history:
        ui.empty("No evaluation of this deployment yet: send it traffic, then press Evaluate now.")
    else:
        rows = [
            tables.tracked_row(e.created_at, c.monitor, c.metric)
            for e in history
            for c in e.report.checks
            if c.metric.critical and c.metric.value is not None
        ]
        if rows:
            # Error bars: each critical check's 95% interval, where the evaluation estimated one.
            figure = ui.over_time(pd.DataFrame(rows), x="evaluated", y="value", color="metric", band=("lower", "upper"))
            st.plotly_chart(figure, key="monitoring-history")
        ui.records(
            [
                {
                    "evaluation": e.id,
                    "when": ui.when(e.created_at),
                    "status": e.status.value,
                    "risk": e.report.risk_level,
                    "records": e.records,
                    "feedback": e.feedback_records,
                    "by": e.created_by,
                }
                for e in history
            ]
        )

st.subheader("Alerts")
render_deployment_alerts(ctx, who, dep)

st.subheader("Feedback")
stored = st.empty()  # filled after an upload, so that the count includes it
upload = st.file_uploader(
    "Labelled records: CSV, JSON records or WML fields/values (scoring_id links them)", type=["csv", "json"]
)
if upload is not None and st.button("Upload feedback"):
    content, name = upload.getvalue(), upload.name
    batch = ui.act(
        lambda: monitoring.upload_feedback(ctx, who, dep.id, monitoring.parse_feedback(content, name=name), source=name)
    )
    if batch is not None:
        again = f" {batch.already_stored} already stored, not stored again." if batch.already_stored else ""
        st.success(f"Stored {batch.records} records ({batch.linked} linked to scoring ids).{again}")
stored.caption(
    f"{monitoring.count_feedback(ctx, who, deployment_id=dep.id)} labelled records stored for this deployment."
)

st.subheader("Retraining")
requests = [r for r in monitoring.list_retraining_requests(ctx, who) if r.deployment_id == dep.id]
open_requests = [r for r in requests if r.status == RetrainingStatus.OPEN]
if open_requests:
    request = open_requests[0]
    # The evaluation's own list and words: the same numbers as its drift section, the CLI and the retraining run.
    st.warning(
        f"Retraining request {request.id}: {request.reason}; from evaluation {request.evaluation_id}, "
        f"{request.to_label.describe()}."
    )
    ui.records(tables.drifted_record_rows(request.to_label.records[:50]))
else:
    st.caption("No open retraining request. You can still retrain on the training data plus the feedback.")
if not ui.can(who, "launch_run"):
    st.caption("A data scientist starts the retraining run: it ends in review like any run.")
elif st.button("Start retraining"):
    retrained = ui.act(lambda: runs.retrain(ctx, who, deployment_id=dep.id))
    if retrained is not None:
        st.success(
            f"Retraining run {retrained.run_id} queued: {retrained.training_records} training + "
            f"{retrained.feedback_records} feedback records. It ends in review like any run."
        )

# The newest evaluation in detail, last: the sections above keep their places on the page.
st.subheader("The newest evaluation in detail")
fairness_tab, drift_tab, estimate_tab = st.tabs(["Fairness", "Drift and importance", "Performance without labels"])
with fairness_tab:
    render_fairness(ctx, who, dep.id)
with drift_tab:
    render_drift(ctx, who, dep.id)
with estimate_tab:
    render_estimate(ctx, who, dep.id)
