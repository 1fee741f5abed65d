"""Review: the candidates awaiting review, their evidence tab by tab, and the decision.

The Summary lists every check of every monitor and every model test, what stops an approval first
(failed, then not judged), with its value and threshold. Quality draws the stored curves (ROC,
precision-recall, calibration, scores per class) and Fairness the rates per protected group; an
evaluation from before the curves were stored says so in their place. Documentation shows the
model's documentation as it stands for this version, the sections its tier requires and not written
flagged; Earlier versions lists what was decided on the model's earlier versions.

A candidate whose artifact failed its integrity check (an approval refused, or the scoring service
refusing to serve it) says so above its evidence, with the service's own words, until its alert
is acknowledged: the bytes in the store are not the ones that were trained and evaluated.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import decision, review_shadow, ui
from dashboard.evidence import evidence_pack_button
from pipeline_core.monitors import figures
from pipeline_core.monitors.figures import Absent, confusion_figure
from pipeline_core.results import MonitorResult, tables
from pipeline_core.results.evaluation import MonitorName, RiskCounts
from pipeline_core.services import deployments, governance, monitoring, runs
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.vocabulary import ApprovalKind, CheckStatus, Space

ctx, who = ui.context(), ui.principal()
st.title("Review")
if decision.show_decided():
    st.stop()

queue = governance.review_queue(ctx, who)
if not queue:
    ui.empty("No candidate is awaiting review. A run that passes its gates ends here.")
    st.stop()

ids = [c.model_version_id for c in queue]
chosen_id = st.selectbox(
    "Candidate",
    ids,
    format_func=lambda i: next(
        f"{c.name} v{c.version} (model version {c.model_version_id}) by {c.created_by}"
        + (" · awaiting countersign" if c.pending is not None else "")
        + (" · integrity check failed" if c.integrity_alerts else "")
        for c in queue
        if c.model_version_id == i
    ),
)
candidate = next(c for c in queue if c.model_version_id == chosen_id)
# Filled at the end of the script: a refusal of the Approve below shows here on the same run.
integrity_box = st.container()
history = monitoring.list_evaluations(ctx, who, model_version_id=chosen_id)
preprod = [e for e in history if e.space == Space.PREPROD]
if not preprod:
    st.warning("This candidate has no pre-prod evaluation; it cannot be approved until one exists.")
    st.stop()
evaluation = preprod[0]
findings = evaluation.report


def metrics_table(result: MonitorResult | None) -> None:
    if result is None:
        ui.empty("This evaluation has no results for this monitor.")
        return
    if result.status == CheckStatus.INSUFFICIENT:
        st.warning(f"Too few records to judge {result.monitor} on this evaluation: {result.metrics[0].detail}.")
    ui.records(tables.metric_rows(result.metrics))


def evidence_view(evidence: dict[str, Any]) -> None:
    """Numbers as one table; each list of records (cases, flipped records, slices) as its own table."""
    scalars = {k: v for k, v in evidence.items() if not isinstance(v, list | dict)}
    if scalars:
        ui.records([{"fact": k, "value": str(round(v, 4) if isinstance(v, float) else v)} for k, v in scalars.items()])
    for key, value in evidence.items():
        if isinstance(value, dict):
            st.markdown(f"**{key.replace('_', ' ')}**")
            st.json(value, expanded=False)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            st.markdown(f"**{key.replace('_', ' ')}**")
            for row in value:
                nested = {k: v for k, v in row.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
                ui.records([{k: v for k, v in row.items() if k not in nested}])
                for k, rows in nested.items():
                    st.caption(f"{row.get('feature', '')} {k.replace('_', ' ')}")
                    ui.records(rows)
        elif isinstance(value, list) and value:
            st.markdown(f"**{key.replace('_', ' ')}**: {', '.join(str(v) for v in value)}")


def chart(figure: figures.Chart, key: str, *, height: int = 340) -> None:
    """A chart, or the note saying why it is not drawn (an evaluation from before the curves were stored)."""
    if isinstance(figure, Absent):
        st.info(figure.text)
    else:
        st.plotly_chart(ui.styled(figure, height=height), key=key)


def _value(result: MonitorResult | None, name: str) -> float | None:
    found = next((m for m in result.metrics if m.name == name), None) if result is not None else None
    return None if found is None else found.value


def _plain(text: str) -> str:
    """``text`` as markdown that shows it as written (a limitation may well mention ``*`` or ``$``)."""
    return re.sub(r"([\\`*_{}\[\]<>#$|~])", r"\\\1", text)


def documentation_view(name: str, version: int, model_version_id: int) -> None:
    """The model's documentation as it stands for this version; sections its tier requires and lacks flagged."""
    doc = ui.act(lambda: governance.documentation(ctx, who, name, model_version_id=model_version_id))
    required = ui.act(lambda: governance.required_documentation(ctx, who, name))
    if doc is None or required is None:
        return
    policy = f"tier {int(required.tier)} policy" if required.tier is not None else "tier 1 policy (it is untiered)"
    lacking = [s.heading for s in doc.missing(required.sections)]
    if lacking:
        st.error(
            f"Required by the model's {policy} and not written: {', '.join(lacking)}. "
            "A data scientist writes them on the Documentation page."
        )
    else:
        # Not st.success: the page's success boxes say what a decision did, nothing else.
        st.markdown(f":green[Every section the model's {policy} requires is written.]")
    for s in doc.sections:
        if s.text is None:  # one line, not a heading over nothing: the note above lists them too
            st.markdown(
                f"**{s.title}**: "
                + (":red[not written (required)]" if s.section in required.sections else "not written")
            )
            continue
        st.markdown(f"#### {s.title}")
        st.markdown(_plain(s.text))
        carried = f", carried forward from version {s.for_version}" if s.for_version != version else ""
        st.caption(f"Written by {s.written_by}, {ui.when(s.written_at)}, for version {s.for_version}{carried}.")


REVIEW_KIND = {ApprovalKind.APPROVAL: "candidate review", ApprovalKind.REVALIDATION: "revalidation"}


def earlier_decisions(name: str, version: int) -> None:
    """What was decided on the model's earlier versions: a rejection there is worth reading before this one."""
    found = ui.act(lambda: governance.version_decisions(ctx, who, name, before_version=version))
    if found is None:
        return
    if not found:
        ui.empty(f"Version {version} is {name}'s first version: there is no earlier decision.")
        return
    ui.records(
        [
            {
                "version": f"v{d.version}",
                "outcome": "not decided" if d.outcome is None else str(d.outcome),
                "review": None if d.outcome is None else REVIEW_KIND[d.kind],
                "who": d.decided_by or None,
                "when": ui.when(d.decided_at),
                "countersign": f"{d.countersigned_by}, {ui.when(d.countersigned_at)}" if d.countersigned_by else None,
                "state now": str(d.state).replace("_", " "),
            }
            for d in found
        ],
        every_row=True,
    )
    # The comments in full below the table: a table cell cuts a sentence off at its width.
    for d in found:
        if d.outcome is None:
            continue
        said = f"**v{d.version} {d.outcome}** by {d.decided_by}, {ui.when(d.decided_at)}: {_plain(d.comment)}"
        if d.override:
            said += f"  \n*Override*: {_plain(d.override)}"
        st.markdown(said)


def _findings_and_conditions(ctx: ServiceContext, who: Principal, mv: governance.Candidate) -> None:
    """The model's findings this version carries (open first) and the conditions of its earlier approvals."""
    found = [f for f in governance.list_findings(ctx, who, model_name=mv.name) if f.raised_on_version <= mv.version]
    open_ = [f for f in found if f.is_open]
    st.markdown("#### Findings")
    if not found:
        st.caption(f"No finding has been raised on {mv.name} (raise one on the Findings page).")
    else:
        high = [f for f in open_ if f.severity == "high"]
        medium = [f for f in open_ if f.severity == "medium"]
        if high:
            st.error(
                "Open high-severity findings block approval (no override lifts them): "
                + "; ".join(f"finding {f.id} “{f.title}”" for f in high)
            )
        if medium:
            st.warning(
                "Open medium-severity findings must each be named by a condition of approval (its finding id): "
                + "; ".join(f"finding {f.id} “{f.title}” (owner {f.owner})" for f in medium)
            )
        rows = [
            {
                "finding": f.id,
                "severity": f.severity.value,
                "state": f.state.value.replace("_", " "),
                "due": f"{f.due_date.isoformat()}{' (overdue)' if f.overdue and f.is_open else ''}",
                "title": f.title,
                "owner": f.owner,
                "raised on": f"v{f.raised_on_version} by {f.raised_by}",
                "evidence": f.evidence,
            }
            for f in sorted(found, key=lambda f: (not f.is_open, not f.overdue, f.due_date, f.id))
        ]
        ui.records(rows, every_row=True)
        st.caption(f"{len(open_)} open, {len(found) - len(open_)} closed or risk accepted.")
    st.markdown("#### Conditions of earlier approvals")
    conditions = governance.list_conditions(ctx, who, model_name=mv.name)
    if not conditions:
        st.caption(f"No approval of {mv.name} carries a condition.")
        return
    ui.records(
        [
            {
                "condition": c.id,
                "state": f"{c.state.value}{' (overdue)' if c.overdue else ''}",
                "due": c.due_date.isoformat(),
                "owner": c.owner,
                "text": c.text,
                "finding": c.finding_id or "–",
                "approval": c.approval_id,
            }
            for c in conditions
        ],
        every_row=True,
    )


def _policy_rows(mv: governance.Candidate) -> list[tuple[str, str, str, str]]:
    """What the tier's policy holds against the candidate beyond its evaluation, as summary rows: each required
    documentation section not written (an unjudged item, as an unjudged critical check) and each open high
    finding."""
    rows = []
    for b in mv.blocking:
        source, _, what = b.key.partition(":")
        if source == "documentation":
            rows.append((source, what, tables.NOT_JUDGED, f"{b.text}; required by the tier's policy"))
        elif source == "finding":
            rows.append((source, what, "open", b.text))
    return rows


tabs = st.tabs(
    [
        "Summary",
        "Quality",
        "Fairness",
        "Drift",
        "Explainability",
        "Model tests",
        "Documentation",
        "Findings",
        "Earlier versions",
        "Factsheet",
        "Compare with production",
    ]
)
with tabs[0]:
    risk = findings.risk
    # Every test is in exactly one count, so Passed + Warn + Failed + Unjudged is Tests run.
    counts = risk.counts if risk else RiskCounts(0, 0, 0, 0, 0)
    shown: tuple[tuple[str, str | int], ...] = (
        ("Risk level", str(risk.level) if risk else "unknown"),
        ("Tests run", counts.run),
        ("Passed", counts.passed),
        ("Warn", counts.warned),
        ("Failed", counts.failed),
        ("Unjudged", counts.unjudged),
    )
    # The risk level's word needs room: six equal columns cut it to "medi…".
    for column, (label, value) in zip(st.columns([2, 1, 1, 1, 1, 1]), shown, strict=True):
        column.metric(label, value)
    st.caption(
        f"Evaluation {evaluation.id} · {evaluation.created_at:%Y-%m-%d %H:%M} · "
        f"{evaluation.records} test records scored through the pre-prod endpoint"
    )
    st.markdown(
        "**Every check**, failed and not judged first, then warnings, then passes "
        "(each monitor's tab has its reported figures too)"
    )
    # Every row in view: a validator reads the whole list, and what scrolls inside a table is easily missed.
    ui.records(tables.summary_rows(findings, policy=_policy_rows(candidate)), every_row=True)
with tabs[1]:
    quality = findings.monitor(MonitorName.QUALITY)
    metrics_table(quality)
    cm = findings.confusion_matrix
    if cm is not None:
        figure = confusion_figure(cm)
        st.plotly_chart(ui.styled(figure, height=300), key="confusion")
    if quality is not None:
        stored = figures.stored_curves(quality)
        drawn = (
            ("roc", figures.roc_figure(stored, auc=_value(quality, "roc_auc"))),
            ("pr", figures.pr_figure(stored, auc=_value(quality, "pr_auc"))),
            ("calibration", figures.calibration_figure(stored)),
            ("scores", figures.score_figure(stored)),
        )
        for row in (drawn[:2], drawn[2:]):
            for column, (key, figure) in zip(st.columns(2), row, strict=True):
                with column:
                    chart(figure, key)
with tabs[2]:
    fairness = findings.monitor(MonitorName.FAIRNESS)
    metrics_table(fairness)
    if fairness:
        chart(figures.group_figure(findings.fairness_groups), "groups", height=380)
        st.markdown("**Bias scan**: the groups with the lowest disparate impact against everyone else")
        if findings.bias_scan:
            ui.records(tables.bias_scan_rows(findings.bias_scan))
        else:
            ui.empty("Too few records in every group for the scan (each side needs the spec's minimum).")
with tabs[3]:
    metrics_table(findings.monitor(MonitorName.DRIFT))
    features = tables.most_drifted_first(findings.drift_features)
    if features:
        p_values = any(f.is_p_value for f in features)
        label = "p-value (drift below the threshold)" if p_values else "distance (drift at or above the threshold)"
        frame = pd.DataFrame(
            [{"feature": f.feature, label: f.value, "drift": "drifted" if f.drifted else "no drift"} for f in features]
        )
        # Features down the side: their names are long, and 20 of them side by side overlap.
        figure = px.bar(
            frame,
            x=label,
            y="feature",
            orientation="h",
            color="drift",
            color_discrete_map={"drifted": ui.COLOURS["fail"], "no drift": "#8ab4f8"},
        )
        st.plotly_chart(ui.styled(figure, height=max(340, 22 * len(frame) + 120)), key="drift")
with tabs[4]:
    explain = findings.monitor(MonitorName.EXPLAINABILITY)
    if explain is None or explain.status == CheckStatus.INSUFFICIENT:
        metrics_table(explain)
    else:
        importance = pd.DataFrame(
            [{"feature": r.feature, "importance": r.importance} for r in findings.global_importance]
        )
        st.markdown("**Global importance**: how much ROC AUC drops when a feature's values are shuffled")
        figure = px.bar(importance.iloc[::-1], x="importance", y="feature", orientation="h")
        st.plotly_chart(ui.styled(figure, height=480), key="importance")
        explained = findings.explanations
        if explained:
            pick = st.selectbox("Record", range(len(explained)), format_func=lambda i: f"test record {i}")
            local, contrast = explained[pick].local, explained[pick].contrastive
            st.markdown(
                f"Predicted probability of the unfavourable outcome **{local.probability:.3f}** "
                f"(average {local.base_value:.3f}); SHAP contributions:"
            )
            top = pd.DataFrame([{"feature": c.feature, "shap": c.shap} for c in local.contributions[:10]])
            st.plotly_chart(ui.styled(px.bar(top.iloc[::-1], x="shap", y="feature", orientation="h")), key="shap")
            verb = "flips" if contrast.flipped else "does not flip"
            st.markdown(
                f"**Contrastive**: this change {verb} the decision {contrast.decision} → "
                f"{contrast.new_decision} (probability {contrast.new_probability:.3f})"
            )
            ui.records(tables.change_rows(contrast))
with tabs[5]:
    tested = runs.latest_model_tests(ctx, who, chosen_id)
    if st.button("Run the model tests again", key="rerun-model-tests"):
        with st.spinner("Running the model test suite on the stored artifact…"):
            rerun = ui.act(lambda: runs.run_model_tests(ctx, who, chosen_id))
        if rerun is not None:
            tested = rerun
            st.success(f"Model test run {rerun.id}: {rerun.report.status}")
    if tested is None:
        ui.empty("This model version has no model test results.")
    else:
        report = tested.report
        origin = f"run {tested.run_id}" if tested.run_id is not None else f"on demand by {tested.created_by}"
        st.caption(
            f"Model test run {tested.id} ({origin}) at {ui.when(tested.created_at, seconds=True)} · "
            f"{report.seconds:.2f} s · "
            f"overall: {report.status}"
        )
        ui.records(
            [
                {
                    "test": v.name,
                    "verdict": v.status,
                    "critical": "yes" if v.critical else "",
                    "summary": v.summary,
                    "seconds": round(v.seconds, 3),
                }
                for v in report.verdicts
            ]
        )
        for v in report.verdicts:
            with st.expander(f"{v.name}: {v.status}" + (" (critical)" if v.critical else "")):
                st.markdown(v.summary)
                evidence_view(v.evidence)
with tabs[6]:
    documentation_view(candidate.name, candidate.version, chosen_id)
with tabs[7]:
    _findings_and_conditions(ctx, who, candidate)
with tabs[8]:
    earlier_decisions(candidate.name, candidate.version)
with tabs[9]:
    facts = governance.factsheet(ctx, who, chosen_id)
    data = facts.training_data
    st.markdown(
        f"**{candidate.name} v{candidate.version}** ({facts.model['model_type']}), trained by "
        f"{facts.model['created_by']} on {data['name']} ({data['rows']} rows, sha256 {data['sha256'][:12]}…); "
        f"artifact sha256 `{candidate.artifact_sha256}`"
    )
    with st.expander("Every fact of the model version (JSON)"):
        st.json(facts.model)
    ui.timeline(facts.timeline)


def compare_with_production(candidate_id: int) -> None:
    """The candidate and production scored on the same records (``monitoring.compare_with_production``)."""
    # Boxed: ui.act's None means the comparison failed (its error is shown), the service's None no prod model.
    answer = ui.act(lambda: (monitoring.compare_with_production(ctx, who, candidate_id),))
    if answer is None:
        return
    (found,) = answer
    if found is None:
        ui.empty(f"No version of {candidate.name} is in production yet: nothing to compare with.")
        return
    st.markdown(f"**{found.candidate.heading}** against **{found.production.heading}**")
    if found.identical:
        st.info(
            f"Identical artifacts: the candidate is the artifact production serves (sha256 "
            f"`{found.candidate.artifact_sha256}`); there is nothing to compare."
        )
        return
    for title, compared, absent in (
        ("On the candidate's held-out test split", found.held_out, ""),
        ("On production's labelled feedback", found.feedback, found.no_feedback),
    ):
        st.markdown(f"**{title}**")
        if compared is None:
            ui.empty(f"No comparison: {absent}.")
            continue
        st.caption(
            f"Data: {compared.data} · window: {compared.window} · {compared.records} records, the same for "
            f"both columns · evaluation: {compared.evaluation}"
        )
        if compared.production_trained_on:
            st.warning(
                f"Production trained on {compared.production_trained_on} of these {compared.records} records: "
                "its numbers here are partly in-sample and flatter it."
            )
        ui.records(
            [
                {
                    "metric": d.metric,
                    f"{found.candidate.heading}": _rounded(d.candidate),
                    f"{found.production.heading}": _rounded(d.production),
                    "difference (candidate − production)": _rounded(d.difference),
                    f"{d.confidence:.0%} interval (paired bootstrap, {d.resamples} resamples)": None
                    if d.low is None or d.high is None
                    else f"{d.low:+.4f} to {d.high:+.4f}",
                    "records": d.records,
                }
                for d in compared.differences
            ]
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


with tabs[10]:
    compare_with_production(chosen_id)
    review_shadow.render_shadow(ctx, who, candidate)

st.divider()
evaluation_id = evaluation.id
# Built when a button is pressed: a report renders every chart, and is not needed on every view.
report_name = f"validation-report-{candidate.name}-v{candidate.version}"
st.markdown("**Download** the validation report of this evaluation, or the version's signed evidence pack")
html_col, pdf_col, docx_col, pack_col = st.columns(4)
html_col.download_button(
    "Report (HTML)",
    lambda: governance.validation_report(ctx, who, chosen_id, evaluation_id=evaluation_id),
    file_name=f"{report_name}.html",
    mime="text/html",
)
pdf_col.download_button(
    "Report (PDF)",
    lambda: governance.validation_report(ctx, who, chosen_id, evaluation_id=evaluation_id, fmt="pdf"),
    file_name=f"{report_name}.pdf",
    mime="application/pdf",
)
docx_col.download_button(
    "Report (DOCX)",
    lambda: governance.validation_report(ctx, who, chosen_id, evaluation_id=evaluation_id, fmt="docx"),
    file_name=f"{report_name}.docx",
    mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)
with pack_col:
    evidence_pack_button(ctx, who, chosen_id, model_name=candidate.name, version=candidate.version)

st.subheader("Decision")
decision.form(ctx, who, candidate, evaluation_ids=[e.id for e in sorted(preprod, key=lambda e: e.id)])

# Read after the decision buttons ran, so a refusal they just recorded is shown at once.
refusals = deployments.open_integrity_alerts(ctx, who, chosen_id)
if refusals:
    seen = "\n".join(f"- alert {r.alert_id}, {ui.when(r.raised_at, seconds=True)}: {r.message}" for r in refusals)
    integrity_box.error(
        "**Integrity check failed: this candidate cannot be approved.** Its stored artifact failed the check "
        "every approval, deployment and start of the scoring service makes (the bytes are there, hash to the "
        f"sha256 that was reviewed, and load as a model):\n\n{seen}"
    )
    integrity_box.caption(
        "Approving stays refused until the artifact passes again (restore it from a backup), or reject the "
        "candidate. Each refusal is in the audit log (model_version.integrity_failed) and among the open alerts."
    )
