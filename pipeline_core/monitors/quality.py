"""Quality monitor: how well predicted probabilities match true labels.

``current`` and ``reference`` are frames with the spec's target (true label) and a
``probability`` column: the predicted probability of the spec's positive (unfavourable)
label. ROC AUC is the critical metric (threshold from the spec); the reference's value is
reported beside each metric so a drop is visible. The reference is the held-out test split (records
the model never trained on): the training split's value is in-sample and would make every drop look
larger than it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    roc_auc_score,
)

from pipeline_core.data.columns import PROBABILITY
from pipeline_core.data.spec import DataSpec
from pipeline_core.results import Metric, MonitorResult, insufficient, judged


@dataclass(frozen=True, kw_only=True)
class QualityConfig:
    decision_threshold: float = 0.5


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
    metrics: list[Metric] = [
        judged(
            "roc_auc",
            cur["roc_auc"],
            spec.thresholds.min_roc_auc,
            higher=True,
            critical=True,
            detail=f"held-out reference {ref.get('roc_auc', float('nan')):.4f}",
        )
    ]
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
    return MonitorResult("quality", metrics, n, minimum, {"confusion_matrix": confusion})
