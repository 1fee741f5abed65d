"""Overview: the model inventory, production models' metrics over time, open alerts, recent decisions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import ui
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.runs import list_model_versions
from pipeline_core.vocabulary import DeploymentStatus, Space

TRACKED = ("roc_auc", "disparate_impact", "share_of_drifted_features")

ctx, who = ui.context(), ui.principal()
st.title("Overview")

versions = list_model_versions(ctx, who, limit=500)
deps = [d for d in deployments.list_deployments(ctx, who) if d.status == DeploymentStatus.ACTIVE]
if not versions:
    first = ui.next_step(
        who,
        scientist="Launch a run on the Runs page (the demo data needs nothing else)",
        others="A data scientist launches a run on the Runs page",
    )
    ui.empty(f"No model versions yet. {first}; its model appears here.")
else:
    where: dict[int, list[str]] = {}
    for d in deps:
        where.setdefault(d.model_version_id, []).append(d.space)
    counts = pd.Series([v.state for v in versions]).value_counts()
    for col, (state, n) in zip(st.columns(max(1, min(len(counts), 6))), counts.items(), strict=False):
        col.metric(str(state).replace("_", " "), int(n))
    st.subheader("Inventory")
    ui.records(
        [
            {
                "model": f"{v.name} v{v.version}",
                "id": v.id,
                "state": v.state.replace("_", " "),
                "spaces": ", ".join(sorted(where.get(v.id, []))) or "–",
                "type": v.model_type,
                "ROC AUC": round(float(v.metrics["roc_auc"]), 4) if "roc_auc" in v.metrics else None,
                "by": v.created_by,
                "created": ui.when(v.created_at),
            }
            for v in versions
        ]
    )

st.subheader("Production models over time")
prod = [d for d in deps if d.space == Space.PROD]
if not prod:
    step = "approve" if ui.can(who, "approve") else "a validator approves"
    ui.empty(f"Nothing is in production yet: {step} a candidate on the Review page.")
for d in prod:
    rows = [
        {"evaluated": ev.created_at, "metric": c.metric.name, "value": c.metric.value}
        for ev in monitoring.list_evaluations(ctx, who, deployment_id=d.id, limit=200)
        for c in ev.report.checks
        if c.metric.name.startswith(TRACKED) and c.metric.value is not None
    ]
    st.markdown(f"**{d.model_name} v{d.model_version}** · deployment {d.id}")
    if rows:
        figure = ui.over_time(pd.DataFrame(rows), x="evaluated", y="value", color="metric")
        st.plotly_chart(figure, key=f"history-{d.id}")
    else:
        ui.empty("No production evaluation yet: run one on the Monitoring page, or wait for the worker's schedule.")

# Stacked, not side by side: at 1280 px two columns would cut the decisions' reasons off.
st.subheader("Open alerts")
alerts = monitoring.list_alerts(ctx, who)
if alerts:
    ui.records(
        [
            {
                "alert": a.id,
                "raised": ui.when(a.created_at),
                "deployment": a.deployment_id,
                "message": a.message,
            }
            for a in alerts
        ]
    )
else:
    st.success("No open alerts.")
st.subheader("Recent decisions")
recent = governance.decisions(ctx, who, limit=10)
if recent:
    ui.records(
        [
            {
                "model": r.model,
                "outcome": r.outcome,
                "by": r.decided_by,
                "when": ui.when(r.decided_at),
                "why": r.comment,
            }
            for r in recent
        ]
    )
else:
    ui.empty("No approvals or rejections yet.")
