"""Audit: the append-only audit log, filterable, with the hash chain's verification status."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from pipeline_core.services import governance

ctx, who = ui.context(), ui.principal()
st.title("Audit")

status = governance.chain_status(ctx, who)
if status.ok:
    st.success(
        f"Hash chain intact: {status.events} events verified against the audit key and {status.anchors} "
        "anchors kept outside the database; the approvals, deployments, roles and thresholds agree with them."
    )
else:
    st.error(
        f"Hash chain BROKEN ({len(status.problems)} problem(s)): "
        + "; ".join(status.problems[:10])
        + ("; …" if len(status.problems) > 10 else "")
    )

c1, c2, c3, c4 = st.columns(4)
actor = c1.text_input("Actor")
action = c2.text_input("Action starts with", placeholder="model_version.")
object_type = c3.selectbox(
    "Object",
    ["", "run", "model_version", "deployment", "evaluation", "alert", "user", "dataset", "retraining_request"],
    format_func=lambda kind: kind.replace("_", " ") or "any",
)
limit = c4.number_input("Show at most", min_value=10, max_value=5000, value=200, step=50)
events = governance.list_events(
    ctx,
    who,
    who=actor.strip() or None,
    action=action.strip() or None,
    object_type=object_type or None,
    limit=int(limit),
)
if not events:
    ui.empty("No event matches these filters.")
else:
    ui.records(
        [
            {
                "seq": e.seq,
                "at": ui.when(e.at, seconds=True),
                "actor": e.actor,
                "action": e.action,
                "object": e.object,
                "details": ui.cell(e.details),
                "hash": e.hash,
            }
            for e in events
        ]
    )
