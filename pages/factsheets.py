"""Factsheets: a model version's facts and lineage timeline; export as JSON or HTML."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from pipeline_core.services import factsheets
from pipeline_core.services.runs import list_model_versions

ctx, who = ui.context(), ui.principal()
st.title("Factsheets")

versions = list_model_versions(ctx, limit=500)
if not versions:
    ui.empty("No model versions yet: a factsheet appears for every model a run registers.")
    st.stop()
chosen = st.selectbox(
    "Model version",
    [v.id for v in versions],
    format_func=lambda i: next(
        f"{v.name} v{v.version} (model version {v.id}, {v.state.replace('_', ' ')})" for v in versions if v.id == i
    ),
)
facts = ui.act(lambda: factsheets.factsheet(ctx, who, chosen))
if facts is None:
    st.stop()
model = facts["model"]
c1, c2, c3, c4 = st.columns(4)
c1.metric("State", model["state"].replace("_", " "))
c2.metric("ROC AUC (test split)", f"{model['metrics'].get('roc_auc', float('nan')):.4f}")
c3.metric("Trained by", model["created_by"])
c4.metric("Evaluations", len(facts["evaluations"]))
st.caption(
    f"Artifact sha256 {model['artifact_sha256']} · training data {facts['training_data']['name']} "
    f"(sha256 {facts['training_data']['sha256'][:12]}…, {facts['training_data']['rows']} rows)"
)
st.subheader("Lineage")
ui.records(facts["timeline"])
left, right = st.columns(2)
with left:
    st.markdown("**Run stages**")
    ui.records(facts["run"]["stages"])
    st.markdown("**Deployments**")
    ui.records(facts["deployments"]) if facts["deployments"] else st.caption("never deployed")
with right:
    st.markdown("**Evaluations**")
    ui.records(facts["evaluations"]) if facts["evaluations"] else st.caption("none yet")
    st.markdown("**Decisions**")
    ui.records(facts["approvals"]) if facts["approvals"] else st.caption("none yet")
name = f"factsheet-{model['name']}-v{model['version']}"
a, b = st.columns(2)
a.download_button("Export JSON", factsheets.factsheet_json(facts), file_name=f"{name}.json", mime="application/json")
b.download_button("Export HTML", factsheets.factsheet_html(facts), file_name=f"{name}.html", mime="text/html")
