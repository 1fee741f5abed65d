"""Findings: every validation finding, overdue first; validators raise, close and accept risk, owners remediate.

Everyone reads the table (filtered by model, severity, owner, open only) and a finding's history. A
validator raises a finding on a model version, closes one on a later version whose linked check passes,
or accepts the risk of one another validator raised; the finding's owner (or a data scientist) proposes
its remediation. The services decide; a refusal is shown naming its rule.
"""

from __future__ import annotations

import re
from datetime import timedelta

import streamlit as st

from dashboard import ui
from pipeline_core.services import governance
from pipeline_core.services.governance._findings import MAX_RISK_MONTHS, today
from pipeline_core.services.runs import list_model_versions
from pipeline_core.vocabulary import EvidenceKind, FindingSeverity

DONE = "findings-done"
ALL_MODELS, ANY_SEVERITY = "All models", "Any severity"
EVIDENCE_HELP = (
    "check: monitor:metric as the Summary names it (quality:roc_auc); model test: its name (invariance); "
    "report section: its title; free: nothing"
)


def _plain(text: str) -> str:
    """``text`` as markdown that shows it as written."""
    return re.sub(r"([\\`*_{}\[\]<>#$|~])", r"\\\1", text)


def _done(message: str) -> None:
    st.session_state[DONE] = message
    st.rerun()


ctx, who = ui.context(), ui.principal()
st.title("Findings")
if DONE in st.session_state:
    st.success(st.session_state.pop(DONE))

versions = list_model_versions(ctx, who, limit=500)
if not versions:
    step = ui.next_step(
        who,
        scientist="Launch a run on the Runs page; a validator raises findings on its model.",
        others="A data scientist's run registers a model; validators raise its findings here.",
    )
    ui.empty(f"No models yet. {step}")
    st.stop()

models = sorted({v.name for v in versions})
left, middle, right, last = st.columns([2, 2, 2, 1])
model = left.selectbox("Model", [ALL_MODELS, *models], key="filter-model")
severity = middle.selectbox("Severity", [ANY_SEVERITY, *(s.value for s in FindingSeverity)], key="filter-severity")
owner = right.text_input("Owner", help="an account name; empty: everyone's", key="filter-owner")
open_only = last.checkbox("Open only", value=True, key="filter-open")
findings = ui.act(
    lambda: governance.list_findings(
        ctx,
        who,
        model_name=None if model == ALL_MODELS else model,
        owner=owner.strip() or None,
        severity=None if severity == ANY_SEVERITY else severity,
        open_only=open_only,
    )
)
if findings is None:
    st.stop()

if findings:
    overdue = sum(f.overdue for f in findings)
    counted = f"{len(findings)} finding" + ("" if len(findings) == 1 else "s")
    st.caption(f"{counted}, {overdue} overdue; overdue first, then by due date.")
    ui.records(
        [
            {
                "Finding": f.id,
                "Due": f.due_date.isoformat() + (" (overdue)" if f.overdue else ""),
                "Severity": f.severity.value,
                "State": f.state.value.replace("_", " "),
                "Title": f.title,
                "Owner": f.owner,
                "Model": f"{f.model_name} v{f.raised_on_version}",
                "Evidence": f.evidence,
                "Raised by": f.raised_by,
            }
            for f in findings
        ]
    )
else:
    st.info("No findings match." + (" Raise one below." if ui.can(who, "raise_finding") else ""))

if ui.can(who, "raise_finding"):
    with st.expander("Raise a finding", expanded=not findings):
        by_id = {v.id: v for v in versions}
        with st.form("raise-finding"):
            target = st.selectbox(
                "Model version",
                list(by_id),
                format_func=lambda i: f"{by_id[i].name} v{by_id[i].version} ({by_id[i].state.value.replace('_', ' ')})",
            )
            title = st.text_input("Title", max_chars=200, key="raise-title")
            description = st.text_area("Description", help="what is wrong, and why it matters", key="raise-description")
            chosen = st.selectbox(
                "Severity", [s.value for s in FindingSeverity], help="an open high finding blocks", key="raise-severity"
            )
            kind = st.selectbox(
                "Evidence",
                [k.value for k in EvidenceKind],
                index=list(EvidenceKind).index(EvidenceKind.FREE),
                help=EVIDENCE_HELP,
                key="raise-kind",
            )
            ref = st.text_input("Evidence reference", help=EVIDENCE_HELP, key="raise-ref")
            owner_of = st.text_input("Owner", help="the account that remediates it", key="raise-owner")
            due = st.date_input("Due date", value=today() + timedelta(days=30), min_value=today(), key="raise-due")
            raised = st.form_submit_button("Raise finding")
        if raised:
            made = ui.act(
                lambda: governance.raise_finding(
                    ctx,
                    who,
                    target,
                    title=title,
                    description=description,
                    severity=chosen,
                    evidence_kind=kind,
                    evidence_ref=ref,
                    owner=owner_of,
                    due_date=due,
                )
            )
            if made is not None:
                _done(f"Finding {made.id} raised on {made.model_name} v{made.raised_on_version}.")

if not findings:
    st.stop()

st.divider()
picked = {f.id: f for f in findings}
fid = st.selectbox("Finding", list(picked), format_func=lambda i: f"{i}: {picked[i].title}", key="finding")
f = picked[fid]
st.subheader(f"Finding {f.id}: {f.title}")
st.markdown(_plain(f.description))
st.caption(
    f"{f.severity.value} · {f.state.value.replace('_', ' ')} · raised by {f.raised_by} on {f.model_name} "
    f"v{f.raised_on_version}, {ui.when(f.raised_at)} · owner {f.owner}, due {f.due_date.isoformat()}"
    + (" (overdue)" if f.overdue else "")
)
if f.remediation_note:
    st.markdown(f"**Remediation** ({f.remediation_by}): {_plain(f.remediation_note)}")
if f.closed_on_version is not None:
    st.markdown(f"**Closed** by {f.closed_by} on version {f.closed_on_version}: {_plain(f.resolution_note or '')}")
if f.risk_acceptance is not None:
    a = f.risk_acceptance
    status = "expired" if a.expired else "until"
    st.markdown(f"**Risk accepted** by {a.by}, {status} {a.expires_on.isoformat()}: {_plain(a.reason)}")
st.markdown("**History**")
ui.records(
    [
        {"When": ui.when(e.at), "Who": e.actor, "What": e.action.removeprefix("finding.").replace("_", " ")}
        for e in f.history
    ]
)

remediates = ui.can(who, "remediate_finding") and governance.may_remediate(who, f)
if f.is_open and remediates:
    with st.form(f"remediate-{f.id}"):
        note = st.text_area(
            "Remediation", help="what was done about it; a validator verifies it on a later version", key="remediation"
        )
        if st.form_submit_button("Propose remediation"):
            done = ui.act(lambda: governance.propose_remediation(ctx, who, f.id, note=note))
            if done is not None:
                _done(f"Remediation of finding {f.id} proposed.")

if f.is_open and ui.can(who, "close_finding"):
    later = sorted(
        (v for v in versions if v.name == f.model_name and v.version > f.raised_on_version), key=lambda v: v.version
    )
    close_tab, accept_tab = st.tabs(["Verify and close", "Accept the risk"])
    with close_tab:
        if not later:
            st.caption(
                f"No later version of {f.model_name} yet: a finding closes on a later version whose check passes."
            )
        else:
            with st.form(f"close-{f.id}"):
                numbers = {v.id: v.version for v in later}
                on = st.selectbox(
                    "Verified on", list(numbers), format_func=lambda i: f"version {numbers[i]}", key="verified-on"
                )
                verified = st.text_area(
                    "Verification note", help="required for free and report-section evidence", key="verification"
                )
                if st.form_submit_button("Close finding"):
                    closed = ui.act(
                        lambda: governance.close_finding(ctx, who, f.id, model_version_id=on, note=verified or None)
                    )
                    if closed is not None:
                        _done(f"Finding {f.id} closed on version {closed.closed_on_version}.")
    with accept_tab, st.form(f"accept-{f.id}"):
        reason = st.text_area("Reason", help="why the risk is acceptable, at least a sentence", key="accept-reason")
        until = st.date_input(
            "Expires on",
            value=today() + timedelta(days=90),
            min_value=today() + timedelta(days=1),
            max_value=today() + timedelta(days=365),
            help=f"at most {MAX_RISK_MONTHS} months ahead; the finding is open again after it",
        )
        if st.form_submit_button("Accept the risk"):
            accepted = ui.act(lambda: governance.accept_risk(ctx, who, f.id, reason=reason, expires_on=until))
            if accepted is not None:
                _done(f"Risk of finding {f.id} accepted until {until}.")
