"""Overview: the model inventory (tier, state, risk, findings, revalidation, waiting reviews, overdue first), its
tier and owner forms, production models' metrics over time, open alerts, recent decisions.

A model is its name; the inventory has one row per model, its state that of the newest version. What is
overdue (an approval expired or expiring within 30 days, a condition open past its due date) is listed
above the table and its rows come first, tinted, so a manager reads what needs chasing before the rest.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import ui
from dashboard.alerts import render_open_alerts, render_version_alerts
from pipeline_core.errors import PipelineError
from pipeline_core.results import tables
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.vocabulary import DeploymentStatus, RevalidationOutcome, Space, Tier

TRACKED = ("roc_auc", "estimated_roc_auc", "disparate_impact", "share_of_drifted_features", "multivariate_drift_auc")
EDITED = "overview-edited"  # what the last tier or owner form did: (succeeded?, message), shown once
MODEL_KEY = "overview-model"
NO_OWNER = "(no owner)"
OVERDUE_TINT = "background-color: #fdecea"  # a light red: the row still reads in black

ctx, who = ui.context(), ui.principal()
st.title("Overview")


def _tier(tier: Tier | None) -> str:
    return "untiered" if tier is None else f"{int(tier)} ({tier.name.lower()})"


def _age(age: timedelta | None) -> str:
    """How long a review has waited, as people say it: days and hours, or minutes under an hour."""
    if age is None:
        return ui.MISSING
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    days, hours = divmod(minutes // 60, 24)
    return f"{days} d {hours} h" if days else f"{hours} h"


def _row(m: governance.ModelInfo) -> dict[str, Any]:
    """The governance columns, short enough to fit the page's width together (owners: a table of their own)."""
    return {
        "model": m.name,
        "tier": _tier(m.tier),
        "state": f"v{m.newest_version} {m.state.replace('_', ' ')}",
        "in prod": ui.MISSING if m.production_version is None else f"v{m.production_version}",
        "risk": m.risk_level or ui.MISSING,
        "findings": m.open_findings,
        "revalidate by": ui.MISSING if m.next_revalidation is None else f"{m.next_revalidation:%Y-%m-%d}",
        "waiting": _age(m.oldest_pending_age),
        "overdue": len(m.overdue),
    }


def _inventory_table(models: list[governance.ModelInfo]) -> None:
    frame = pd.DataFrame([_row(m) for m in models])
    late = {i for i, m in enumerate(models) if m.overdue}
    styled = frame.style.apply(lambda row: [OVERDUE_TINT if row.name in late else ""] * len(row), axis=1)
    st.dataframe(styled, hide_index=True, width="stretch")


def _owners_table(models: list[governance.ModelInfo]) -> None:
    ui.records(
        [
            {
                "model": m.name,
                "owner": m.owner or ui.MISSING,
                "business use": m.business_use or ui.MISSING,
                "why this tier": m.tier_reason or ui.MISSING,  # last: the widest, it takes the room that is left
            }
            for m in models
        ]
    )


def _edited(ok: bool, message: str) -> None:
    st.session_state[EDITED] = (ok, message)


def save_tier(name: str) -> None:
    """The tier form's callback: it runs before the page does, so the table then shows the new tier."""
    tier, reason = st.session_state[f"tier-{name}"], st.session_state[f"tier-reason-{name}"]
    try:
        governance.set_tier(ctx, who, name, tier=int(tier), reason=reason)
    except PipelineError as exc:
        _edited(False, f"{type(exc).__name__}: {exc}")
        return
    _edited(True, f"{name} is tier {int(tier)} now.")


def save_info(name: str) -> None:
    """The owner form's callback (as ``save_tier``)."""
    owner, use = st.session_state[f"owner-{name}"], st.session_state[f"use-{name}"]
    try:
        governance.set_model_info(ctx, who, name, owner="" if owner == NO_OWNER else owner, business_use=use)
    except PipelineError as exc:
        _edited(False, f"{type(exc).__name__}: {exc}")
        return
    _edited(True, f"{name}'s owner and business use are saved.")


def _conditions_table() -> None:
    """The open conditions of approval, overdue first: what an approval obliges whom to do by when."""
    st.markdown("**Open conditions of approval**")
    conditions = governance.list_conditions(ctx, who, open_only=True)
    if not conditions:
        st.caption("No approval carries an open condition.")
        return
    ui.records(
        [
            {
                "model": c.model_name,
                "due": f"{c.due_date.isoformat()}{' (overdue)' if c.overdue else ''}",
                "owner": c.owner,
                "condition": c.text,
                "finding": c.finding_id or "–",
                "approval": c.approval_id,
            }
            for c in conditions
        ],
        every_row=True,
    )


REVALIDATED = "overview-revalidated"


def _revalidation(served: list[governance.ModelInfo]) -> None:
    """A validator revalidates a production model on its production evidence: renew (with conditions) or retire."""
    st.subheader("Revalidate a production model")
    told = st.session_state.pop(REVALIDATED, None)
    if told is not None:
        st.success(told)
    if not served:
        st.caption("No model is in production: there is nothing to revalidate.")
        return
    by_name = {m.name: m for m in served}
    name = st.selectbox("Production model", list(by_name), key="revalidate-model")
    mv_id = by_name[name].production_version_id
    assert mv_id is not None
    case = ui.act(lambda: governance.revalidation_case(ctx, who, mv_id))
    if case is None:
        return
    expiry = "no expiry on record" if case.expires_at is None else f"expires on {case.expires_at.date().isoformat()}"
    (st.error if case.expired else st.caption)(
        f"{case.model_name} v{case.version} (model version {case.model_version_id}) serves on approval "
        f"{case.standing_approval_id}, which {'EXPIRED' if case.expired else expiry}"
        + (f" on {case.expires_at.date().isoformat()}" if case.expired and case.expires_at else "")
        + f". A renewal stands {case.revalidation_months} months."
    )
    ui.records(
        [
            {"evaluation": e.id, "space": e.space, "when": ui.when(e.created_at), "status": e.status}
            for e in case.evaluations
        ]
    )
    if case.open_conditions:
        st.markdown(
            "Open conditions: "
            + "; ".join(f"{c.text} (owner {c.owner}, due {c.due_date.isoformat()})" for c in case.open_conditions)
        )
    with st.form(f"revalidate-{mv_id}"):
        outcome = st.radio(
            "Outcome",
            [o.value for o in RevalidationOutcome],
            format_func=lambda v: v.replace("_", " "),
            horizontal=True,
        )
        comment = st.text_area("Why (at least a sentence; audited)")
        text = st.text_input("Condition (renew with conditions)")
        owner = st.text_input("Condition owner (account)")
        due = st.date_input("Condition due date", value=date.today() + timedelta(days=90))
        decided = st.form_submit_button("Decide the revalidation")
    if decided:
        conditions = (
            [governance.ConditionInput(text=text, owner=owner, due_date=due)]
            if outcome == RevalidationOutcome.RENEW_WITH_CONDITIONS
            else []
        )
        result = ui.act(
            lambda: governance.revalidate(
                ctx,
                who,
                mv_id,
                outcome=outcome,
                comment=comment,
                evidence=[e.id for e in case.evaluations],
                conditions=conditions,
            )
        )
        if result is not None:
            st.session_state[REVALIDATED] = (
                f"Revalidation {result.revalidation_id} of {name}: {result.outcome.value.replace('_', ' ')}"
                + (
                    f"; the approval now expires on {result.expires_at.date().isoformat()}."
                    if result.expires_at
                    else f"; prod deployment {result.retired_deployment_id} taken down."
                )
            )
            st.rerun()


def _forms(models: list[governance.ModelInfo]) -> None:
    """Set a model's tier (validator, admin) and owner and business use (those who build or govern models)."""
    tiers, info = ui.can(who, "set_tier"), ui.can(who, "set_model_info")
    if not (tiers or info):
        st.caption(
            "A validator or an administrator sets a model's tier; they or a data scientist set its owner and "
            "business use."
        )
        return
    st.subheader("Tier, owner and business use")
    edited = st.session_state.pop(EDITED, None)
    if edited is not None:
        (st.success if edited[0] else st.error)(edited[1])
    by_name = {m.name: m for m in models}
    name = st.selectbox("Model", list(by_name), key=MODEL_KEY)
    chosen = by_name[name]
    if tiers:
        # Keyed by the model: choosing another one shows its own values, not the last model's.
        with st.form(f"tier-form-{name}"):
            st.markdown(f"**Materiality tier of {name}** (now {_tier(chosen.tier)})")
            st.selectbox(
                "Tier",
                [t.value for t in Tier],
                index=int(chosen.effective_tier) - 1,
                format_func=lambda t: _tier(Tier(t)),
                key=f"tier-{name}",
            )
            # Empty, not the last reason: a new tier is set for a reason of its own, and the audit keeps both.
            st.text_area("Reason (at least a sentence; audited)", key=f"tier-reason-{name}")
            st.form_submit_button("Set tier", on_click=save_tier, args=(name,))
    else:
        st.caption("A validator or an administrator sets a model's tier, with a reason.")
    if info:
        accounts = [u.username for u in ui.act(lambda: governance.list_users(ctx, who)) or [] if not u.disabled]
        owners = [NO_OWNER, *accounts]
        with st.form(f"info-form-{name}"):
            st.markdown(f"**Owner and business use of {name}**")
            st.selectbox(
                "Owner",
                owners,
                index=owners.index(chosen.owner) if chosen.owner in owners else 0,
                key=f"owner-{name}",
            )
            st.text_area("Business use", value=chosen.business_use or "", key=f"use-{name}")
            st.form_submit_button("Save owner and business use", on_click=save_info, args=(name,))


deps = [d for d in deployments.list_deployments(ctx, who) if d.status == DeploymentStatus.ACTIVE]
models = ui.act(lambda: governance.inventory(ctx, who)) or []
if not models:
    first = ui.next_step(
        who,
        scientist="Launch a run on the Runs page (the demo data needs nothing else)",
        others="A data scientist launches a run on the Runs page",
    )
    ui.empty(f"No model versions yet. {first}; its model appears here.")
else:
    late = [m for m in models if m.overdue]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("models", len(models))
    c2.metric("in production", sum(m.production_version is not None for m in models))
    c3.metric("awaiting a decision", sum(m.pending_reviews for m in models))
    c4.metric("overdue", len(late))
    st.subheader("Inventory")
    if late:
        st.error(
            "Overdue or due soon:\n"
            + "\n".join(f"- **{m.name}** (tier {int(m.effective_tier)}): {item}" for m in late for item in m.overdue)
        )
    _inventory_table(models)
    st.caption(
        "State: the newest version's; risk: of its newest evaluation. Revalidate by: when the approval of the "
        "version in production expires. Waiting: how long the oldest review of the model has waited for a "
        "decision. An untiered model is governed as tier 1."
    )
    st.markdown("**Owners and business use**")
    _owners_table(models)
    _conditions_table()
    _forms(models)

st.subheader("Production models over time")
prod = [d for d in deps if d.space == Space.PROD]
if not prod:
    step = "approve" if ui.can(who, "approve") else "a validator approves"
    ui.empty(f"Nothing is in production yet: {step} a candidate on the Review page.")
for d in prod:
    # Only the charted version's evaluations: a deployment replaced in place keeps its id across versions.
    charted = monitoring.list_evaluations(ctx, who, deployment_id=d.id, model_version_id=d.model_version_id, limit=200)
    rows = [
        tables.tracked_row(ev.created_at, c.monitor, c.metric)
        for ev in charted
        for c in ev.report.checks
        if c.metric.name.startswith(TRACKED) and c.metric.value is not None
    ]
    st.markdown(f"**{d.model_name} v{d.model_version}** · deployment {d.id}")
    if rows:
        figure = ui.over_time(pd.DataFrame(rows), x="evaluated", y="value", color="metric", band=("lower", "upper"))
        st.plotly_chart(figure, key=f"history-{d.id}")
        newest = charted[0]
        st.caption(
            f"Evaluation {newest.id} ({ui.when(newest.created_at)}): each figure with its 95% interval (a seeded "
            "bootstrap, or the estimate's own) and the records it rests on; the bars in the chart are the same."
        )
        ui.records(tables.newest_figure_rows(newest.report, TRACKED), every_row=True)
    else:
        ui.empty("No production evaluation yet: run one on the Monitoring page, or wait for the worker's schedule.")
    render_version_alerts(ctx, who, d)

# Stacked, not side by side: at 1280 px two columns would cut the decisions' reasons off.
st.subheader("Open alerts")
render_open_alerts(ctx, who)
st.subheader("Recent decisions")
recent = governance.decisions(ctx, who, limit=10)
if recent:
    ui.records(
        [
            {
                "model": r.model,
                "outcome": r.outcome,
                "by": r.decided_by,
                "countersigned by": r.countersigned_by or "–",
                "when": ui.when(r.decided_at),
                "why": r.comment,
            }
            for r in recent
        ]
    )
else:
    ui.empty("No approvals or rejections yet.")

# Last on the page: a validator's act on the production models shown above.
if models and ui.can(who, "revalidate"):
    _revalidation([m for m in models if m.production_version_id is not None])
