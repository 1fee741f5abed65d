"""Factsheets: a model version's facts and lineage timeline; export as JSON or HTML."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from pipeline_core.services import governance
from pipeline_core.services.runs import list_model_versions

ctx, who = ui.context(), ui.principal()
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
model = facts["model"]
# Two by two: a state or a user name in a quarter of the page is cut off ("in product…").
c1, c2 = st.columns(2)
c3, c4 = st.columns(2)
c1.metric("State", model["state"].replace("_", " "))
auc = model["metrics"].get("roc_auc")
c2.metric("ROC AUC (test split)", ui.MISSING if auc is None else f"{auc:.4f}")
c3.metric("Trained by", model["created_by"])
c4.metric("Evaluations", len(facts["evaluations"]))
st.caption(
    f"Artifact sha256 {model['artifact_sha256']} · training data {facts['training_data']['name']} "
    f"(sha256 {facts['training_data']['sha256'][:12]}…, {facts['training_data']['rows']} rows)"
)
st.subheader("Lineage")
ui.timeline(facts["timeline"])
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
        for s in facts["run"]["stages"]
    ]
)
st.markdown("**Deployments**")
if facts["deployments"]:
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
            for d in facts["deployments"]
        ]
    )
else:
    st.caption("Never deployed.")
st.markdown("**Evaluations**")
if facts["evaluations"]:
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
            for e in facts["evaluations"]
        ]
    )
else:
    st.caption("Not evaluated yet.")
st.markdown("**Decisions**")
if facts["approvals"]:
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
            for a in facts["approvals"]
        ]
    )
else:
    st.caption("No decision yet: the candidate awaits a validator's review.")
name = f"factsheet-{model['name']}-v{model['version']}"
a, b = st.columns(2)
a.download_button("Export JSON", governance.factsheet_json(facts), file_name=f"{name}.json", mime="application/json")
b.download_button("Export HTML", governance.factsheet_html(facts), file_name=f"{name}.html", mime="text/html")
