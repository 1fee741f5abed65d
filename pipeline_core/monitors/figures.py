"""Charts of a monitor's evidence that the Review page draws (plotly): confusion, curves, scores, groups.

The curves read what the quality monitor stores in ``details["curves"]`` (ROC, precision-recall,
calibration, score histogram per class); the group chart reads the fairness monitor's per-group rates.
A chart that cannot be drawn is an ``Absent`` saying why: an evaluation from before the curves were
stored has none (``NOT_STORED``), and one whose records hold a single class has no ROC or PR curve.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import plotly.graph_objects as go

from pipeline_core.results import MonitorResult
from pipeline_core.results.evidence import ConfusionMatrix, GroupComparison

NOT_STORED = "not stored for this evaluation"
ONE_CLASS = "cannot be drawn: the evaluated records hold one class only"
MODEL, CHANCE = "#1a73e8", "#5f6368"
FAVOURABLE, POSITIVE = "#1b7f3b", "#b3261e"
GROUP_COLOURS = ("#1a73e8", "#e37400", "#8e24aa", "#00897b", "#c2185b")


@dataclass(frozen=True)
class Absent:
    """A chart not drawn, and why (shown in its place)."""

    title: str
    reason: str

    @property
    def text(self) -> str:
        return f"{self.title}: {self.reason}."


Chart: TypeAlias = "go.Figure | Absent"


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


def stored_curves(quality: MonitorResult | None) -> Mapping[str, Any] | None:
    """The curve data the quality monitor stored with its result; None for an evaluation from before."""
    found = quality.details.get("curves") if quality is not None else None
    return found if isinstance(found, Mapping) else None


def _part(curves: Mapping[str, Any] | None, key: str, title: str, first: str) -> Mapping[str, Any] | Absent:
    """``curves[key]``, or why it cannot be drawn: not stored at all, or stored empty (one class only)."""
    data = (curves or {}).get(key)
    if not data:
        return Absent(title, NOT_STORED)
    if not data.get(first):
        return Absent(title, ONE_CLASS)
    return data


def _axes(figure: go.Figure, title: str, x: str, y: str, *, unit: bool = True) -> go.Figure:
    figure.update_layout(title=title, xaxis_title=x, yaxis_title=y)
    if unit:  # rates and probabilities: the whole square, so two charts compare at a glance
        figure.update_xaxes(range=[0, 1])
        figure.update_yaxes(range=[0, 1.02])
    return figure


def _diagonal(name: str) -> go.Scatter:
    return go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=name, line={"dash": "dash", "color": CHANCE})


def roc_figure(curves: Mapping[str, Any] | None, *, auc: float | None = None) -> Chart:
    """True against false positive rate over every threshold, with the chance diagonal."""
    title = "ROC curve"
    data = _part(curves, "roc", title, "fpr")
    if isinstance(data, Absent):
        return data
    thresholds = ["–" if t is None else f"{t:.3f}" for t in data.get("thresholds", [])]
    model = go.Scatter(
        x=data["fpr"],
        y=data["tpr"],
        mode="lines",
        name="model" if auc is None else f"model (AUC {auc:.3f})",
        line={"color": MODEL},
        customdata=thresholds or None,
        hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}"
        + (", threshold %{customdata}" if thresholds else "")
        + "<extra></extra>",
    )
    return _axes(go.Figure([model, _diagonal("chance")]), title, "false positive rate", "true positive rate")


def pr_figure(curves: Mapping[str, Any] | None, *, auc: float | None = None) -> Chart:
    """Precision against recall over every threshold."""
    title = "Precision-recall curve"
    data = _part(curves, "pr", title, "recall")
    if isinstance(data, Absent):
        return data
    model = go.Scatter(
        x=data["recall"],
        y=data["precision"],
        mode="lines",
        name="model" if auc is None else f"model (PR AUC {auc:.3f})",
        line={"color": MODEL},
        showlegend=True,  # plotly hides the legend of a lone trace, and with it the AUC
    )
    return _axes(go.Figure([model]), title, "recall", "precision")


def calibration_figure(curves: Mapping[str, Any] | None) -> Chart:
    """Observed fraction positive against mean predicted probability per bin, with the diagonal of perfection."""
    title = "Calibration (reliability) curve"
    data = _part(curves, "calibration", title, "mean_predicted")
    if isinstance(data, Absent):
        return data
    counts = data.get("count") or []
    model = go.Scatter(
        x=data["mean_predicted"],
        y=data["fraction_positive"],
        # Each bin's records on its point: a bin of a handful of records swings far from the diagonal by chance.
        mode="lines+markers+text" if counts else "lines+markers",
        name="model (n = records in the bin)" if counts else "model",
        line={"color": MODEL},
        text=[f"n={c}" for c in counts] or None,
        textposition="top center",
        textfont={"size": 9},
        customdata=counts or None,
        hovertemplate="predicted %{x:.3f}, observed %{y:.3f}"
        + (", %{customdata} records" if counts else "")
        + "<extra></extra>",
    )
    figure = go.Figure([_diagonal("perfectly calibrated"), model])
    _axes(figure, title, "mean predicted probability (unfavourable)", "fraction unfavourable")
    # Room around the square for the counts written above the points at its edges.
    return figure.update_xaxes(range=[-0.04, 1.04]).update_yaxes(range=[-0.04, 1.1])


def score_figure(curves: Mapping[str, Any] | None) -> Chart:
    """How the scores of each true class spread: one histogram per class, overlaid."""
    title = "Score distribution per class"
    data = _part(curves, "scores", title, "edges")
    if isinstance(data, Absent):
        return data
    edges: Sequence[float] = data["edges"]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    bars = [
        go.Bar(x=centres, y=data[key], width=widths, name=name, marker={"color": colour}, opacity=0.55)
        for key, name, colour in (
            ("favourable", "true favourable", FAVOURABLE),
            ("positive", "true unfavourable", POSITIVE),
        )
    ]
    figure = go.Figure(bars)
    figure.update_layout(barmode="overlay")
    figure.update_xaxes(range=[0, 1])
    return _axes(figure, title, "predicted probability (unfavourable)", "records", unit=False)


def group_figure(groups: Sequence[GroupComparison]) -> Chart:
    """Each protected attribute's monitored and reference group: favourable rate (and TPR, FPR when the true
    labels are known), the group's record count on its bars and in its name."""
    title = "Metrics per protected group"
    if not groups:
        return Absent(title, "no protected group was evaluated")
    labelled = any(g.monitored.tpr is not None or g.reference.tpr is not None for g in groups)
    metrics = ("favourable_rate", "tpr", "fpr") if labelled else ("favourable_rate",)
    names = {"favourable_rate": "favourable rate", "tpr": "true positive rate", "fpr": "false positive rate"}
    bars = []
    # One colour per attribute, its reference group hatched: the two bars compared sit side by side and match.
    for g, colour in zip(groups, itertools.cycle(GROUP_COLOURS), strict=False):
        for role, rates in (("monitored", g.monitored), ("reference", g.reference)):
            values = [getattr(rates, m) for m in metrics]
            bars.append(
                go.Bar(
                    x=[names[m] for m in metrics],
                    y=values,
                    name=f"{g.attribute}: {rates.group} ({role}, n={rates.n})",
                    text=[f"n={rates.n}" for _ in metrics],
                    textposition="outside",
                    marker={"color": colour, "pattern": {"shape": "/" if role == "reference" else ""}},
                )
            )
    figure = go.Figure(bars)
    figure.update_layout(barmode="group")
    return _axes(figure, title, "", "rate", unit=False).update_yaxes(range=[0, 1.1])
