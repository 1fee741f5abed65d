"""The Monitoring page's performance estimate: estimated ROC AUC (with its band) beside the realised one, over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import ui
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.monitoring import EstimateVsRealised

ESTIMATE = "#1f5fa8"
REALISED = "#b3261e"
CAPTION = (
    "Estimated from the model's probabilities on each evaluation's window, without labels (confidence-based "
    "performance estimation), after checking on the held-out test split that the probabilities are calibrated. "
    "The band is the 95% range the window's labels could give if the probabilities hold. Realised: the ROC AUC of "
    "the feedback that labels records of that window (linked by scoring id), once it arrives; fewer labelled records "
    "than the window spread wider, so it is compared with the band widened for their number."
)


def _interval(bounds: tuple[float, float] | None) -> str | None:
    return None if bounds is None else f"{bounds[0]:.3f} – {bounds[1]:.3f}"


def _with_interval(value: float | None, bounds: tuple[float, float] | None) -> str | None:
    """A value and its interval in one cell, so that the table stays narrow enough to read without scrolling."""
    if value is None:
        return None
    return f"{value:.4f}" + (f" [{bounds[0]:.3f}, {bounds[1]:.3f}]" if bounds is not None else "")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _covered(row: EstimateVsRealised) -> str | None:
    covered = row.roc_auc_covered
    return None if covered is None else ("yes" if covered else "no")


def estimate_rows(history: Sequence[EstimateVsRealised]) -> list[dict[str, Any]]:
    """One table row per evaluation, newest first."""
    return [
        {
            "evaluation": h.evaluation_id,
            "when": ui.when(h.evaluated_at),
            "records": h.records,
            "estimated ROC AUC [95%]": _with_interval(h.estimated_roc_auc, h.estimated_roc_auc_interval),
            "labelled": h.labelled,
            "realised ROC AUC": _rounded(h.realised_roc_auc),
            "expected on the labelled": _interval(h.realised_interval),
            "within it": _covered(h),
            "estimated accuracy [95%]": _with_interval(h.estimated_accuracy, h.estimated_accuracy_interval),
            "realised accuracy": _rounded(h.realised_accuracy),
            "not estimated because": h.refused,
        }
        for h in reversed(history)
    ]


def estimate_figure(history: Sequence[EstimateVsRealised]) -> go.Figure:
    """The estimated ROC AUC with its band, and the realised ROC AUC where labels arrived, over evaluation time."""
    estimated = [h for h in history if h.estimated_roc_auc is not None and h.estimated_roc_auc_interval is not None]
    figure = go.Figure()
    if estimated:
        times = [h.evaluated_at for h in estimated]
        upper = [h.estimated_roc_auc_interval[1] for h in estimated if h.estimated_roc_auc_interval]
        lower = [h.estimated_roc_auc_interval[0] for h in estimated if h.estimated_roc_auc_interval]
        figure.add_trace(
            go.Scatter(
                x=times + times[::-1],
                y=upper + lower[::-1],
                fill="toself",
                mode="lines",
                fillcolor="rgba(31, 95, 168, 0.15)",
                line={"width": 0},
                hoverinfo="skip",
                name="estimate, 95% interval",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=times,
                y=[h.estimated_roc_auc for h in estimated],
                mode="lines+markers",
                line={"color": ESTIMATE},
                name="estimated ROC AUC",
            )
        )
    realised = [h for h in history if h.realised_roc_auc is not None]
    if realised:
        figure.add_trace(
            go.Scatter(
                x=[h.evaluated_at for h in realised],
                y=[h.realised_roc_auc for h in realised],
                mode="markers",
                marker={"color": REALISED, "size": 10, "symbol": "diamond"},
                text=[f"{h.labelled} labelled records" for h in realised],
                name="realised ROC AUC (feedback)",
            )
        )
    figure.update_yaxes(title="ROC AUC")
    moments = pd.to_datetime(pd.Series([h.evaluated_at for h in history]))
    if len(moments) and moments.nunique() == 1:
        # One evaluation: left to plotly, the time axis of one point spans a millisecond.
        moment = moments.iloc[0]
        figure.update_xaxes(range=[moment - pd.Timedelta(minutes=30), moment + pd.Timedelta(minutes=30)])
    return ui.styled(figure)


def render_estimate(ctx: ServiceContext, who: Principal, deployment_id: int) -> None:
    """The section: chart and table of every estimated evaluation of the deployment, and why one was refused."""
    st.subheader("Performance without labels")
    st.caption(CAPTION)
    history = ui.act(lambda: monitoring.estimate_history(ctx, who, deployment_id))
    if history is None:
        return
    if not history:
        ui.empty("No evaluation of this deployment has estimated its performance yet: press Evaluate now.")
        return
    newest = history[-1]
    if newest.refused:
        st.warning(f"Evaluation {newest.evaluation_id} did not estimate performance: {newest.refused}.")
    st.plotly_chart(estimate_figure(history), key=f"estimate-history-{deployment_id}")
    ui.records(estimate_rows(history))
