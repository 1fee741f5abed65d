"""The Monitoring page's drift section: multivariate and per-feature drift, importance now and then, what to label."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import ui
from pipeline_core.results import tables
from pipeline_core.results.evaluation import EvaluationReport, MonitorName
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext

MULTIVARIATE = "multivariate_drift_auc"
# Of the list to label, the rows drawn; the whole list is in the evaluation (and the CLI's --json).
SHOWN = 50


def render_drift(ctx: ServiceContext, who: Principal, deployment_id: int) -> None:
    """The newest evaluation of ``deployment_id``: nothing when there is none (the history above says so)."""
    newest = monitoring.list_evaluations(ctx, who, deployment_id=deployment_id, limit=1)
    if not newest:
        return
    evaluation = newest[0]
    report = evaluation.report
    st.subheader("Drift")
    st.caption(
        f"Evaluation {evaluation.id} · {ui.when(evaluation.created_at)} · {evaluation.records} records of the window "
        "against the model's training data"
    )
    if report.monitor(MonitorName.DRIFT) is None:
        ui.empty("This evaluation has no drift results.")
        return
    _multivariate(report)
    st.markdown("**Per feature**: the most drifted first")
    ui.records(tables.drift_rows(report.drift_features))
    _importance(report)
    to_label = report.to_label
    sentence = to_label.describe()
    st.markdown(f"**Records to label.** {sentence[0].upper()}{sentence[1:]}.")
    if to_label.records:
        shown = f"the first {SHOWN} of {to_label.total}" if to_label.total > SHOWN else f"all {to_label.total}"
        with st.expander(f"The records to label ({shown})"):
            ui.records(tables.drifted_record_rows(to_label.records[:SHOWN]))


def _multivariate(report: EvaluationReport) -> None:
    found = report.multivariate_drift
    drift = report.monitor(MonitorName.DRIFT)
    metric = next((m for m in drift.metrics if m.name == MULTIVARIATE), None) if drift is not None else None
    if found is None or metric is None:
        st.caption("Multivariate drift was not measured in this evaluation.")
        return
    if found.auc is None:
        st.markdown(f"**Multivariate drift**: not judged ({found.reason}).")
        return
    interval = f" (95% interval {found.interval[0]:.3f} to {found.interval[1]:.3f})" if found.interval else ""
    verdict = metric.status.value
    colour = ui.COLOURS.get(verdict, ui.COLOURS["info"])
    st.markdown(
        f"**Multivariate drift**: a classifier tells the window from the training data with ROC AUC "
        f"**{found.auc:.3f}**{interval}; 0.5 means it cannot, the threshold is {metric.threshold:.2f}: "
        f"<span style='color:{colour}'>**{verdict}**</span>.",
        unsafe_allow_html=True,
    )
    sampled = "seeded samples of " if found.sampled else ""
    st.caption(
        f"Trained on {sampled}{found.reference_records} training and {found.current_records} window records, "
        f"{len(found.fold_auc)}-fold cross-validated. The features that tell them apart most, by "
        f"{found.importance_method}."
    )
    if found.features:
        ui.records(tables.multivariate_rows(found))


def _importance(report: EvaluationReport) -> None:
    window = report.production_importance
    st.markdown("**Importance on the window**, beside the same measure on held-out records")
    if window is None:
        st.caption("This evaluation did not measure importance on its records.")
        return
    if not window.features:
        st.caption(f"Not measured: {window.reason}.")
        return
    st.caption(
        f"{window.method[0].upper()}{window.method[1:]}: {window.records} window records, "
        f"{window.reference_records} held-out records."
    )
    rows = tables.importance_rows(window, report.global_importance)
    frame = pd.DataFrame(
        [
            {"feature": r["feature"], "records": side, "importance": r[column]}
            for r in rows[:10]
            for side, column in (("window", "on the window"), ("held-out", "on held-out"))
        ]
    )
    # Features down the side, the window's most important on top: their names are long.
    figure = px.bar(
        frame.iloc[::-1],
        x="importance",
        y="feature",
        color="records",
        barmode="group",
        orientation="h",
        color_discrete_map={"window": ui.COLOURS["warn"], "held-out": "#8ab4f8"},
    )
    st.plotly_chart(ui.styled(figure, height=max(340, 44 * min(len(rows), 10) + 120)), key="production-importance")
    ui.records(rows)
