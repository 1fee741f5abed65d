"""Monitoring page, fairness section: group metrics with intervals and sizes, whole window vs labelled; the scan."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard import ui
from pipeline_core.results import tables
from pipeline_core.results.evaluation import EvaluationReport, MonitorName
from pipeline_core.results.evidence import FairnessMetric
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext

DI = "disparate_impact"


def _window(e: monitoring.EvaluationInfo) -> str:
    batch = e.data_window.get("feedback_batch")
    labelled = f"{e.feedback_records} labelled" + (f" (feedback batch {batch})" if batch else "")
    return f"evaluation {e.id} of {ui.when(e.created_at)}: {e.records} records in the window, {labelled}"


def di_figure(report: EvaluationReport, threshold: float | None) -> go.Figure | None:
    """Each attribute's disparate impact with its 95% interval, whole window beside labelled records."""
    fairness = report.monitor(MonitorName.FAIRNESS)
    points = []
    for m in fairness.metrics if fairness is not None else ():
        read = FairnessMetric.parse(m.name)
        if read is not None and read.kind == DI and m.value is not None:
            points.append((read, m))
    if not points:
        return None
    figure = go.Figure()
    for labelled, name in ((False, "whole window"), (True, "labelled records")):
        chosen = [(r, m) for r, m in points if r.labelled == labelled]
        if not chosen:
            continue
        values = [float(m.value) for _, m in chosen if m.value is not None]
        upper = [(m.interval[1] - float(m.value)) if m.interval and m.value is not None else 0 for _, m in chosen]
        lower = [(float(m.value) - m.interval[0]) if m.interval and m.value is not None else 0 for _, m in chosen]
        figure.add_trace(
            go.Scatter(
                x=[r.attribute for r, _ in chosen],
                y=values,
                name=name,
                mode="markers",
                marker={"size": 11},
                error_y={"type": "data", "symmetric": False, "array": upper, "arrayminus": lower},
                text=[f"{m.records} records in the smaller group" for _, m in chosen],
            )
        )
    if threshold is not None:
        figure.add_hline(y=threshold, line_dash="dash", annotation_text=f"threshold {threshold:g}")
    figure.update_layout(scattermode="group", yaxis_title="disparate impact (95% interval)")
    return ui.styled(figure, height=320)


def render_fairness(ctx: ServiceContext, who: Principal, deployment_id: int) -> None:
    """The newest evaluation's fairness of ``deployment_id``; nothing to show says how to get one."""
    st.subheader("Fairness")
    newest = monitoring.list_evaluations(ctx, who, deployment_id=deployment_id, limit=1)
    report = newest[0].report if newest else None
    fairness = report.monitor(MonitorName.FAIRNESS) if report is not None else None
    if not newest or report is None or fairness is None:
        ui.empty("No fairness results for this deployment yet: evaluate it to see them.")
        return
    st.caption(
        f"{_window(newest[0])}. Disparate impact and statistical parity on the whole window and on the labelled "
        "records alone; equal opportunity and average odds need the truth, so labelled records only. Each with its "
        "95% bootstrap interval and the smaller group's size; too few records leave a check unjudged."
    )
    threshold = next((m.threshold for m in fairness.metrics if m.name.startswith(DI) and m.threshold), None)
    figure = di_figure(report, threshold)
    if figure is not None:
        st.plotly_chart(figure, key=f"fairness-di-{deployment_id}")
    ui.records(tables.fairness_metric_rows(report), every_row=True)
    summary = report.bias_scan_summary
    st.markdown("**Bias scan**")
    if summary is None:
        st.caption("This evaluation predates the scan's significance test: its groups are listed without it.")
    else:
        st.caption(
            f"{summary.describe()}. Test: {summary.test}. A group is significant when its adjusted (q) value "
            "is within that rate."
        )
    if report.bias_scan:
        ui.records(tables.scan_test_rows(report.bias_scan))
    if report.bias_scan_intersections:
        st.markdown("**Intersections** (a protected attribute's group with another feature's)")
        ui.records(tables.scan_test_rows(report.bias_scan_intersections))
