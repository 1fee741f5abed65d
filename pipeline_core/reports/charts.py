"""The report's charts as PNG bytes (matplotlib, Agg): ROC, PR, calibration, scores per class, per-group metrics.

They read the curve data the quality monitor stores in ``MonitorResult.details["curves"]`` (issue 17's
contract); when it is absent (evaluations from before) each chart is a ``Note`` saying so. The same
data gives the same bytes: no timestamp or software tag is written into the PNG.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from pipeline_core.reports.document import Figure, Note

NOT_STORED = "not stored for this evaluation (it predates stored curves)"
NOT_DRAWN = "cannot be drawn: the evaluated records hold one class only, or none"


def _absent(what: str, data: Mapping[str, Any] | None) -> Note | None:
    """A note when the curve was not stored, or stored empty (the quality monitor's lists for an undrawable curve)."""
    if not data:
        return Note(f"{what}: {NOT_STORED}.")
    if not all(data.values()):
        return Note(f"{what}: {NOT_DRAWN}.")
    return None


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _axes(title: str, xlabel: str, ylabel: str) -> tuple[Any, Any]:
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def roc(curves: Mapping[str, Any] | None, auc: float | None = None) -> Figure | Note:
    data = (curves or {}).get("roc")
    if (note := _absent("ROC curve", data)) is not None:
        return note
    assert data is not None
    fig, ax = _axes("ROC curve", "false positive rate", "true positive rate")
    ax.plot(data["fpr"], data["tpr"], color="#1a73e8", label=f"model (AUC {auc:.3f})" if auc is not None else "model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="#5f6368", label="chance")
    ax.legend(loc="lower right")
    return Figure(_png(fig), "ROC curve", "ROC curve: true against false positive rate, with the chance diagonal")


def pr(curves: Mapping[str, Any] | None, auc: float | None = None) -> Figure | Note:
    data = (curves or {}).get("pr")
    if (note := _absent("Precision-recall curve", data)) is not None:
        return note
    assert data is not None
    fig, ax = _axes("Precision-recall curve", "recall", "precision")
    ax.plot(data["recall"], data["precision"], color="#1a73e8", label=f"AUC {auc:.3f}" if auc is not None else None)
    if auc is not None:
        ax.legend(loc="lower left")
    return Figure(_png(fig), "Precision-recall curve", "Precision against recall over every threshold")


def calibration(curves: Mapping[str, Any] | None) -> Figure | Note:
    data = (curves or {}).get("calibration")
    if (note := _absent("Calibration curve", data)) is not None:
        return note
    assert data is not None
    fig, ax = _axes("Calibration (reliability)", "mean predicted probability", "fraction positive")
    ax.plot([0, 1], [0, 1], linestyle="--", color="#5f6368", label="perfectly calibrated")
    ax.plot(data["mean_predicted"], data["fraction_positive"], marker="o", color="#1a73e8", label="model")
    ax.legend(loc="upper left")
    return Figure(_png(fig), "Calibration curve (10 bins)", "Observed fraction positive against mean predicted")


def score_distribution(curves: Mapping[str, Any] | None) -> Figure | Note:
    data = (curves or {}).get("scores")
    if (note := _absent("Score distribution per class", data)) is not None:
        return note
    assert data is not None
    edges: Sequence[float] = data["edges"]
    widths = [b - a for a, b in itertools.pairwise(edges)]
    fig, ax = _axes("Score distribution per class", "score", "records")
    for key, colour in (("favourable", "#1b7f3b"), ("positive", "#b3261e")):
        ax.bar(edges[:-1], data[key], width=widths, align="edge", alpha=0.5, color=colour, label=key)
    ax.legend()
    return Figure(_png(fig), "Score distribution per class", "Histogram of scores, one colour per true class")


def per_group(groups: Sequence[tuple[str, float, int]], metric: str) -> Figure | Note:
    """One bar per protected group (label, value, count); the count is written on its bar."""
    if not groups:
        return Note("Metrics per protected group: none computed for this evaluation.")
    fig, ax = _axes(f"{metric} per group", metric, "")
    labels = [g[0] for g in groups]
    bars = ax.barh(labels, [g[1] for g in groups], color="#1a73e8")
    for bar, (_, _, count) in zip(bars, groups, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" n={count}", va="center", fontsize=8)
    return Figure(_png(fig), f"{metric} per protected group (n = records)", f"{metric} per group with counts")
