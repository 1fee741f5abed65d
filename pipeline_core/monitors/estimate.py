"""Performance estimate monitor: ROC AUC, accuracy and the confusion matrix expected without labels (CBPE).

Confidence-based performance estimation (NannyML's CBPE): where the model's probability
``p`` of the positive label is calibrated, record ``i`` is positive with probability ``p_i``,
so the confusion matrix at the decision threshold is expected to be: TP = sum of ``p`` over
the records predicted positive, FP = sum of ``1 - p`` over them, FN and TN likewise over the
records predicted negative. Accuracy, precision and recall follow from those sums.

The expected ROC AUC is exact, not drawn: with the scores' mid-ranks ``r`` fixed, the
Mann-Whitney count of a labelling ``y`` is ``U = sum(y * r) - N(N + 1) / 2`` with ``N = sum(y)``,
and the AUC is ``U / (N (n - N))``. Both the numerator and the denominator have exact
expectations under independent Bernoulli(``p``) labels (they need only ``sum(p * r)``,
``sum(p)`` and ``sum(p (1 - p))``); the estimate is their ratio, as NannyML's expected ROC
curve is (one sort of the scores, no Monte Carlo).

Uncertainty: the 95% intervals are the sampling variation of the window's labels given its
scores, labels drawn as Bernoulli(``p``): the exact Bernoulli variance for accuracy, the delta
method on ``(sum(y * r), N)`` for the AUC, plus the recalibration map's own error (below). They do
not cover a miscalibration the check lets through, nor a change in how outcomes follow from the
features (concept drift): CBPE assumes covariate shift, and only labels reveal the rest.

Calibration is checked first on the held-out reference (labelled, never trained on): the
expected calibration error over equal-mass bins, and the Hosmer-Lemeshow test (chi-squared
with as many degrees of freedom as bins, the records being external to the fit). A model
whose error exceeds the tolerance *and* whose test rejects is not estimated: its metrics carry
no value and ``details["refused"]`` says why, with the numbers. Requiring both keeps a
calibrated model's noisy error on a small held-out (about 0.1 on 120 records) from being
refused. A model the test finds off but within the tolerance is recalibrated: a map fitted on
the held-out (Platt's logistic map of the score's logit by default, or isotonic) turns scores
into the probabilities the sums use (the ranking stays the model's), the details say so, and
the intervals add the map's own error, the spread of the estimate when the map is refitted on
seeded resamples of the held-out. Measured on IBM's file (``bench/monitors.py --estimate-table``)
the default model is over-confident (calibration error 0.075, test p ~ 1e-6): uncorrected the
estimate is 0.05-0.08 too high; Platt's map brings the error to about 0.01, isotonic to 0.02-0.04.

No metric has a threshold or is critical: an estimate informs, it never blocks an approval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2, rankdata
from sklearn.isotonic import IsotonicRegression

from pipeline_core.data.columns import PROBABILITY
from pipeline_core.data.spec import DataSpec
from pipeline_core.results import Metric, MonitorResult

MONITOR = "estimate"
Z95 = 1.959963984540054
DIGITS = 6
METHOD = "CBPE: expected confusion matrix and ROC AUC from the model's probabilities"
INTERVAL_METHOD = (
    "95% interval of labels drawn as Bernoulli(p): exact variance (accuracy), delta method (AUC); "
    "plus, when recalibrated, the spread of refitting the map on resamples of the held-out"
)
Recalibration = Literal["platt", "isotonic", "none"]
Map = Callable[[np.ndarray], np.ndarray]
METRICS = ("estimated_roc_auc", "estimated_accuracy", "estimated_precision", "estimated_recall")


@dataclass(frozen=True, kw_only=True)
class EstimateConfig:
    decision_threshold: float = 0.5
    # Tolerated expected calibration error on the held-out reference (refused beyond it, if the test rejects too).
    max_calibration_error: float = 0.10
    calibration_bins: int = 10
    # The Hosmer-Lemeshow test's level: below it the miscalibration is not noise.
    calibration_alpha: float = 0.01
    # How a model miscalibrated within the tolerance is corrected: "platt" (a logistic map of the score's logit,
    # two parameters), "isotonic" (a monotone step map) or "none" (its probabilities used as they are).
    recalibration: Recalibration = "platt"
    # Resamples of the held-out refitting the map, for the part of the interval the map's own error adds.
    bootstrap: int = 50
    bootstrap_records: int = 20_000  # window records each resample re-estimates on (seeded subsample)
    seed: int = 0


@dataclass(frozen=True)
class Calibration:
    """How well the held-out reference's probabilities match its labels."""

    records: int
    error: float  # expected calibration error over equal-mass bins
    statistic: float  # Hosmer-Lemeshow
    p_value: float
    bins: tuple[tuple[float, float, int], ...]  # (mean predicted, fraction positive, records) per bin


def _positive(frame: pd.DataFrame, spec: DataSpec) -> np.ndarray:
    return (frame[spec.target].astype(str) == spec.positive_label).to_numpy()


def calibration(p: np.ndarray, y: np.ndarray, *, bins: int) -> Calibration:
    """Expected calibration error and the Hosmer-Lemeshow test over ``bins`` equal-mass bins of ``p``."""
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(p))) if len(g)]
    rows, error, statistic = [], 0.0, 0.0
    for g in groups:
        mean_p, observed, count = float(p[g].mean()), float(y[g].mean()), len(g)
        rows.append((round(mean_p, DIGITS), round(observed, DIGITS), count))
        error += count * abs(observed - mean_p)
        expected = count * mean_p
        spread = expected * (1.0 - mean_p)
        # A bin predicted all 0 or all 1 has no variance: the test is undefined there, and it adds nothing.
        if spread > 1e-12:
            statistic += (count * observed - expected) ** 2 / spread
    return Calibration(len(p), error / len(p), float(statistic), float(chi2.sf(statistic, df=len(groups))), tuple(rows))


def expected_confusion(p: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Expected TP, FP, TN, FN: each record counts ``p`` as positive and ``1 - p`` as negative."""
    return {
        "tp": float(p[predicted].sum()),
        "fp": float((1.0 - p[predicted]).sum()),
        "fn": float(p[~predicted].sum()),
        "tn": float((1.0 - p[~predicted]).sum()),
    }


def expected_accuracy(p: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """The expected accuracy and its standard deviation: record ``i`` is right with probability ``q_i``."""
    q = np.where(predicted, p, 1.0 - p)
    n = len(q)
    return float(q.mean()), float(np.sqrt((q * (1.0 - q)).sum()) / n)


def expected_roc_auc(scores: np.ndarray, p: np.ndarray, *, ranks: np.ndarray | None = None) -> tuple[float, float]:
    """The expected ROC AUC of ``scores`` against Bernoulli(``p``) labels, and its standard deviation.

    The ratio of the exact expectations of the Mann-Whitney count and of the pair count (see the
    module); the deviation by the delta method on ``(S, N) = (sum(y * r), sum(y))``. NaN where no
    labelling could have both classes.
    """
    n = len(scores)
    r = rankdata(scores, method="average") if ranks is None else ranks
    v = p * (1.0 - p)
    mu_n, var_n = float(p.sum()), float(v.sum())
    mu_s = float((p * r).sum())
    pairs = n * mu_n - mu_n**2 - var_n  # E[N (n - N)]
    if pairs <= 1e-12:
        return float("nan"), float("nan")
    # Clipped: the exact ratio lies in [0, 1]; its floating-point sums may not, by an ulp.
    estimate = min(1.0, max(0.0, (mu_s - (mu_n**2 + var_n + mu_n) / 2.0) / pairs))
    var_s, cov = float((v * r * r).sum()), float((v * r).sum())
    denominator = mu_n * (n - mu_n)
    if denominator <= 1e-12:
        return estimate, float("nan")
    numerator = mu_s - mu_n * (mu_n + 1.0) / 2.0
    d_s = 1.0 / denominator
    d_n = (-(mu_n + 0.5) * denominator - numerator * (n - 2.0 * mu_n)) / denominator**2
    variance = d_s * d_s * var_s + 2.0 * d_s * d_n * cov + d_n * d_n * var_n
    return float(estimate), float(np.sqrt(max(variance, 0.0)))


def logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.asarray(np.log(clipped / (1.0 - clipped)))


def _platt(x: np.ndarray, y: np.ndarray, *, iterations: int = 50) -> tuple[float, float]:
    """Slope and intercept of the logistic regression of ``y`` on ``x`` by Newton's method.

    Two parameters in closed-form steps: the bootstrap refits it fifty times per evaluation, where
    scikit-learn's solver costs milliseconds each. A resample of one class (or separable) has no
    finite fit: its rate, as a constant map.
    """
    if y.all() or not y.any():
        rate = float(np.clip(y.mean(), 1e-6, 1.0 - 1e-6))
        return 0.0, float(np.log(rate / (1.0 - rate)))
    design = np.column_stack([x, np.ones_like(x)])
    beta = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        w = p * (1.0 - p)
        hessian = design.T @ (design * w[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, design.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return float(beta[0]), float(beta[1])


def fit_map(scores: np.ndarray, y: np.ndarray, method: Recalibration) -> Map:
    """The map from the model's scores to calibrated probabilities, fitted on labelled ``scores``."""
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y.astype(float))
        return lambda s: np.asarray(iso.predict(s), dtype=float)
    if method == "platt":
        slope, intercept = _platt(logit(scores), y.astype(float))
        return lambda s: np.asarray(1.0 / (1.0 + np.exp(-(slope * logit(s) + intercept))))
    return lambda s: s


def _map_spread(
    scores: np.ndarray, predicted: np.ndarray, ref: tuple[np.ndarray, np.ndarray], config: EstimateConfig
) -> tuple[float, float]:
    """How much the AUC and accuracy estimates move when the map is refitted on resamples of the held-out."""
    rng = np.random.default_rng(config.seed)
    if len(scores) > config.bootstrap_records:
        keep = rng.choice(len(scores), config.bootstrap_records, replace=False)
        scores, predicted = scores[keep], predicted[keep]
    ranks = rankdata(scores, method="average")
    p_ref, y_ref = ref
    aucs, accuracies = [], []
    for _ in range(config.bootstrap):
        pick = rng.integers(0, len(p_ref), len(p_ref))
        p = fit_map(p_ref[pick], y_ref[pick], config.recalibration)(scores)
        aucs.append(expected_roc_auc(scores, p, ranks=ranks)[0])
        accuracies.append(expected_accuracy(p, predicted)[0])
    return float(np.nanstd(aucs)), float(np.std(accuracies))


def _interval(value: float, sd: float) -> tuple[float, float] | None:
    if not np.isfinite(value) or not np.isfinite(sd):
        return None
    return (round(max(0.0, value - Z95 * sd), DIGITS), round(min(1.0, value + Z95 * sd), DIGITS))


def _refused(reason: str, n: int, minimum: int, details: dict[str, Any]) -> MonitorResult:
    metrics = [Metric(name, None, detail=f"not estimated: {reason}") for name in METRICS]
    return MonitorResult(MONITOR, metrics, n, minimum, {**details, "confusion": {}, "refused": reason})


def estimate_performance(
    current: pd.DataFrame, held_out: pd.DataFrame, *, spec: DataSpec, config: EstimateConfig | None = None
) -> MonitorResult:
    """The performance ``current`` (scored, unlabelled) is expected to have, once ``held_out`` shows calibration.

    ``current`` needs the ``probability`` column; ``held_out`` the probability and the spec's target.
    """
    config = config or EstimateConfig()
    minimum = spec.thresholds.quality_min_records
    n = len(current)
    details: dict[str, Any] = {
        "method": METHOD,
        "interval_method": INTERVAL_METHOD,
        "calibration": {},
        "refused": None,
    }
    if PROBABILITY not in current.columns or PROBABILITY not in held_out.columns:
        return _refused("the records carry no probability of the positive label", n, minimum, details)
    if len(held_out) < minimum:
        reason = f"calibration cannot be checked on {len(held_out)} held-out records (at least {minimum} are needed)"
        return _refused(reason, n, minimum, details)
    if n < minimum:
        return _refused(f"{n} records in the window, at least {minimum} are needed", n, minimum, details)
    p_ref = held_out[PROBABILITY].to_numpy(dtype=float)
    y_ref = _positive(held_out, spec)
    checked = calibration(p_ref, y_ref, bins=config.calibration_bins)
    details["calibration"] = {
        "records": checked.records,
        "expected_calibration_error": round(checked.error, DIGITS),
        "max_calibration_error": config.max_calibration_error,
        "hosmer_lemeshow": round(checked.statistic, DIGITS),
        "p_value": round(checked.p_value, DIGITS),
        "alpha": config.calibration_alpha,
        "bins": [{"mean_predicted": m, "fraction_positive": f, "count": c} for m, f, c in checked.bins],
        "recalibrated": False,
    }
    if checked.error > config.max_calibration_error and checked.p_value < config.calibration_alpha:
        reason = (
            f"the model is badly calibrated on {checked.records} held-out records: expected calibration error "
            f"{checked.error:.3f} > {config.max_calibration_error:.3f} (Hosmer-Lemeshow p = {checked.p_value:.2g})"
        )
        return _refused(reason, n, minimum, details)
    scores = current[PROBABILITY].to_numpy(dtype=float)
    predicted = scores >= config.decision_threshold
    p, how = scores, f"held-out calibration error {checked.error:.3f}"
    map_sd = (0.0, 0.0)
    if checked.p_value < config.calibration_alpha and config.recalibration != "none":
        # Off, but within the tolerance: corrected on the held-out, and the correction's own error is in the interval.
        fitted = fit_map(p_ref, y_ref, config.recalibration)
        p = fitted(scores)
        after = calibration(fitted(p_ref), y_ref, bins=config.calibration_bins)
        map_sd = _map_spread(scores, predicted, (p_ref, y_ref), config)
        details["calibration"] |= {
            "recalibrated": True,
            "recalibration": config.recalibration,
            "error_after": round(after.error, DIGITS),
            "bootstrap": config.bootstrap,
        }
        how += f", recalibrated ({config.recalibration}: error {after.error:.3f} on the held-out after)"
    confusion = expected_confusion(p, predicted)
    accuracy, accuracy_sd = expected_accuracy(p, predicted)
    auc, auc_sd = expected_roc_auc(scores, p)
    auc_sd, accuracy_sd = float(np.hypot(auc_sd, map_sd[0])), float(np.hypot(accuracy_sd, map_sd[1]))
    tp, fp, fn = confusion["tp"], confusion["fp"], confusion["fn"]
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    calibrated = how
    metrics = [
        Metric(
            "estimated_roc_auc",
            None if not np.isfinite(auc) else float(auc),
            detail=f"expected from the probabilities of {n:,} unlabelled records; {calibrated}",
            interval=_interval(auc, auc_sd),
            records=n,
        ),
        Metric(
            "estimated_accuracy",
            accuracy,
            detail=f"expected at threshold {config.decision_threshold:g}; {calibrated}",
            interval=_interval(accuracy, accuracy_sd),
            records=n,
        ),
        Metric("estimated_precision", float(precision), detail="expected TP / (TP + FP)", records=n),
        Metric("estimated_recall", float(recall), detail="expected TP / (TP + FN)", records=n),
    ]
    details["confusion"] = {
        "labels": [spec.favourable_label, spec.positive_label],
        "threshold": config.decision_threshold,
        **{k: round(v, DIGITS) for k, v in confusion.items()},
    }
    return MonitorResult(MONITOR, metrics, n, minimum, details)
