"""Paired comparison of two models scored on the same labelled records: differences with bootstrap intervals.

Both models' probabilities are for the same records, in the same order, so each bootstrap
resample draws the same records for both (a *paired* bootstrap): the interval is that of the
difference itself, far narrower than two separate intervals would suggest. The resamples are
multinomial record weights, one row per resample, so ROC AUC and accuracy of every resample are
computed at once with array operations (no loop over resamples), from a seeded generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

METRICS: tuple[str, ...] = ("roc_auc", "accuracy")
_CELLS = 4_000_000  # record weights held at once: resamples x records, about 32 MB of floats


@dataclass(frozen=True)
class PairedDifference:
    """One metric of both models on the same records, and candidate − production with its interval."""

    metric: str
    candidate: float | None
    production: float | None
    difference: float | None
    low: float | None
    high: float | None
    confidence: float
    resamples: int
    records: int

    @property
    def significant(self) -> bool:
        """The interval excludes zero: the difference is not resampling noise."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def _weighted_auc(weights: NDArray[np.float64], y: NDArray[np.bool_], p: NDArray[np.float64]) -> NDArray[np.float64]:
    """ROC AUC of ``p`` against ``y`` for each row of record ``weights`` (ties count half); nan lacking a class.

    Records are sorted by score once; for each record the weight of negatives scored strictly lower,
    and of those tied with it, are read from a cumulative sum at its tie group's bounds.
    """
    order = np.argsort(p, kind="mergesort")
    ps, ys, ws = p[order], y[order], weights[:, order]
    pos, neg = ws * ys, ws * ~ys
    cneg = np.cumsum(neg, axis=1)
    values = np.r_[True, ps[1:] != ps[:-1]]
    group = np.cumsum(values) - 1
    starts = np.flatnonzero(values)
    ends = np.r_[starts[1:], len(ps)] - 1
    padded = np.concatenate([np.zeros((len(ws), 1)), cneg], axis=1)
    below = padded[:, starts[group]]  # negatives before the tie group
    tied = cneg[:, ends[group]] - below
    total = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (pos * (below + 0.5 * tied)).sum(axis=1) / total, np.nan)


def _weighted_accuracy(weights: NDArray[np.float64], correct: NDArray[np.bool_]) -> NDArray[np.float64]:
    return np.asarray((weights * correct).sum(axis=1) / weights.sum(axis=1), dtype=np.float64)


def _value(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def paired_differences(
    positive: Sequence[bool] | NDArray[np.bool_],
    candidate: Sequence[float] | NDArray[np.float64],
    production: Sequence[float] | NDArray[np.float64],
    *,
    decision_threshold: float = 0.5,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[PairedDifference, ...]:
    """ROC AUC and accuracy of both models on the same records, candidate − production, with a paired bootstrap CI.

    ``positive`` says which records have the positive (unfavourable) label; ``candidate`` and
    ``production`` are each model's probability of that label for the same records, in order.
    A metric that cannot be computed (one class only) is None, as is its interval.
    """
    y = np.asarray(positive, dtype=bool)
    pc, pp = np.asarray(candidate, dtype=float), np.asarray(production, dtype=float)
    n = len(y)
    if not (len(pc) == len(pp) == n):
        raise ValueError(f"paired scores need one probability per record: {n} labels, {len(pc)} and {len(pp)} scores")
    if n == 0:
        raise ValueError("paired scores need at least one labelled record")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(f"need resamples >= 1 and 0 < confidence < 1, not {resamples} and {confidence}")
    rng = np.random.default_rng(seed)
    right_c, right_p = (pc >= decision_threshold) == y, (pp >= decision_threshold) == y
    parts: dict[str, list[tuple[NDArray[np.float64], NDArray[np.float64]]]] = {m: [] for m in METRICS}
    # Row 0 weighs every record once (the point estimate); the rest are the resamples, drawn in blocks
    # so that a large feedback window never needs more than about _CELLS weights in memory at once.
    block = max(1, _CELLS // n)
    rows = [np.ones((1, n))]
    left = resamples
    while left > 0:
        size = min(block, left)
        rows.append(rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float))
        left -= size
    for weights in rows:
        parts["roc_auc"].append((_weighted_auc(weights, y, pc), _weighted_auc(weights, y, pp)))
        parts["accuracy"].append((_weighted_accuracy(weights, right_c), _weighted_accuracy(weights, right_p)))
    measured = {
        m: (np.concatenate([c for c, _ in parts[m]]), np.concatenate([q for _, q in parts[m]])) for m in METRICS
    }
    tail = 100 * (1 - confidence) / 2
    out = []
    for metric in METRICS:
        cand, prod = measured[metric]
        diff = cand - prod
        spread = diff[1:][~np.isnan(diff[1:])]
        low, high = np.percentile(spread, [tail, 100 - tail]) if len(spread) else (np.nan, np.nan)
        out.append(
            PairedDifference(
                metric,
                _value(cand[0]),
                _value(prod[0]),
                _value(diff[0]),
                None if np.isnan(diff[0]) else _value(low),
                None if np.isnan(diff[0]) else _value(high),
                confidence,
                resamples,
                n,
            )
        )
    return tuple(out)
