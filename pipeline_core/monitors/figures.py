"""Charts of a monitor's evidence that the Review page and the validation report draw alike."""

from __future__ import annotations

import plotly.graph_objects as go

from pipeline_core.results.evidence import ConfusionMatrix


def confusion_figure(cm: ConfusionMatrix, *, title: str | None = None) -> go.Figure:
    """Counts as a heatmap: true labels down the side, predicted labels across."""
    return go.Figure(
        go.Heatmap(
            z=cm.matrix,
            x=[f"predicted {x}" for x in cm.labels],
            y=[f"true {x}" for x in cm.labels],
            text=cm.matrix,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
        ),
        layout={"title": title} if title else None,
    )
