"""Quality monitor: how well predicted probabilities match true labels.

``current`` and ``reference`` are frames with the spec's target (true label) and a
``probability`` column: the predicted probability of the spec's positive (unfavourable)
label. ROC AUC is the critical metric (threshold from the spec), with its 95% bootstrap interval
(``monitors.uncertainty``); the reference's value is reported beside each metric so a drop is visible.
The reference is the held-out test split (records the model never trained on): the training split's
value is in-sample and would make every drop look larger than it is.

Beside the metrics, ``details["curves"]`` holds what the charts draw (ROC, precision-recall,
calibration, score histogram per class) for the current frame, small enough to store with every
evaluation: at most ``MAX_POINTS`` points per curve, floats rounded to ``CURVE_DIGITS`` digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from pipeline_core.data.columns import PROBABILITY
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.uncertainty import UncertaintyConfig, roc_auc_interval
from pipeline_core.results import Metric, MonitorResult, insufficient, judged

MAX_POINTS = 200
CALIBRATION_BINS = 10
SCORE_BINS = 20
CURVE_DIGITS = 6


@dataclass(frozen=True, kw_only=True)
class QualityConfig:
    decision_threshold: float = 0.5
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)


def _keep(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` points spread evenly over ``n``, always keeping the first and the last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _floats(values: np.ndarray) -> list[float]:
    # roc_curve's first threshold is +inf, which JSON cannot carry: it is stored as None.
    return [round(float(v), CURVE_DIGITS) if np.isfinite(v) else None for v in values]  # type: ignore[misc]


def curves(frame: pd.DataFrame, spec: DataSpec) -> dict[str, Any]:
    """The chart data of ``frame``: empty lists for a curve that cannot be drawn (one class only, no records)."""
    y = (frame[spec.target].astype(str) == spec.positive_label).to_numpy()
    p = frame[PROBABILITY].to_numpy(dtype=float)
    out: dict[str, Any] = {
        "roc": {"fpr": [], "tpr": [], "thresholds": []},
        "pr": {"recall": [], "precision": []},
        "calibration": {"mean_predicted": [], "fraction_positive": [], "count": []},
    }
    if y.any() and not y.all():
        fpr, tpr, thresholds = roc_curve(y, p)
        keep = _keep(len(fpr))
        out["roc"] = {"fpr": _floats(fpr[keep]), "tpr": _floats(tpr[keep]), "thresholds": _floats(thresholds[keep])}
        precision, recall, _ = precision_recall_curve(y, p)
        keep = _keep(len(recall))
        out["pr"] = {"recall": _floats(recall[keep]), "precision": _floats(precision[keep])}
    if len(y):
        fraction, mean = calibration_curve(y, p, n_bins=CALIBRATION_BINS, strategy="uniform")
        # calibration_curve drops empty bins; the counts of the bins it kept, in its own binning.
        edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
        ids = np.searchsorted(edges[1:-1], p)
        counts = np.bincount(ids, minlength=CALIBRATION_BINS)
        out["calibration"] = {
            "mean_predicted": _floats(mean),
            "fraction_positive": _floats(fraction),
            "count": [int(c) for c in counts[counts > 0]],
        }
    edges = np.linspace(0.0, 1.0, SCORE_BINS + 1)
    out["scores"] = {
        "edges": _floats(edges),
        "favourable": [int(c) for c in np.histogram(p[~y], bins=edges)[0]],
        "positive": [int(c) for c in np.histogram(p[y], bins=edges)[0]],
    }
    return out


def _scores(frame: pd.DataFrame, spec: DataSpec, threshold: float) -> dict[str, float]:
    y = (frame[spec.target].astype(str) == spec.positive_label).to_numpy()
    p = frame[PROBABILITY].to_numpy(dtype=float)
    predicted = p >= threshold
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[False, True]).ravel()
    both = y.any() and not y.all()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "accuracy": float((tp + tn) / len(y)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0,
        "true_positive_rate": float(recall),
        "false_positive_rate": float(fp / (fp + tn)) if fp + tn else 0.0,
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[False, True])),
        "brier": float(brier_score_loss(y, p)),
        "tn": float(tn),
        "fp": float(fp),
        "fn": float(fn),
        "tp": float(tp),
    }


def quality(
    current: pd.DataFrame, reference: pd.DataFrame, *, spec: DataSpec, config: QualityConfig | None = None
) -> MonitorResult:
    """Quality of ``current`` (labelled feedback or test data) beside ``reference`` (the held-out test split)."""
    config = config or QualityConfig()
    minimum = spec.thresholds.quality_min_records
    n = len(current)
    if n < minimum:
        verdict = insufficient("roc_auc", n, minimum, threshold=spec.thresholds.min_roc_auc, critical=True)
        return MonitorResult("quality", [verdict], n, minimum)
    cur = _scores(current, spec, config.decision_threshold)
    ref = _scores(reference, spec, config.decision_threshold) if len(reference) else {}
    roc_auc = judged(
        "roc_auc",
        cur["roc_auc"],
        spec.thresholds.min_roc_auc,
        higher=True,
        critical=True,
        detail=f"held-out reference {ref.get('roc_auc', float('nan')):.4f}",
    )
    truth = (current[spec.target].astype(str) == spec.positive_label).to_numpy()
    interval = roc_auc_interval(truth, current[PROBABILITY].to_numpy(dtype=float), config=config.uncertainty)
    metrics: list[Metric] = [replace(roc_auc, interval=interval, records=n)]
    for name in (
        "pr_auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "true_positive_rate",
        "false_positive_rate",
        "log_loss",
        "brier",
    ):
        metrics.append(Metric(name, cur[name], detail=f"held-out reference {ref.get(name, float('nan')):.4f}"))
    confusion = {
        "labels": [spec.favourable_label, spec.positive_label],
        "matrix": [[int(cur["tn"]), int(cur["fp"])], [int(cur["fn"]), int(cur["tp"])]],
        "threshold": config.decision_threshold,
    }
    details = {"confusion_matrix": confusion, "curves": curves(current, spec)}
    return MonitorResult("quality", metrics, n, minimum, details)
