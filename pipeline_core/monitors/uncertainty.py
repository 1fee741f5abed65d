"""Uncertainty: seeded, vectorised bootstrap intervals for group metrics and ROC AUC.

Every statistic here is a function of a few counts: a group rate of how many records fall in each
(group, prediction, truth) cell, ROC AUC of how many positives and negatives sit at each score level.
Resampling n records with replacement and counting them into k cells is exactly a multinomial draw
of n over the cells' shares, so the bootstrap draws ``resamples`` count vectors at once as a
(resamples, k) matrix (``Generator.multinomial``) and evaluates the statistic on the whole matrix:
the cost is resamples x cells, whatever the number of records, and no Python loop runs per resample.

ROC AUC at many distinct scores would need as many cells as records; there the scores are grouped
into ``score_bins`` bins of about equal counts, the bootstrap runs on the binned AUC, and its percentiles are
shifted by the difference between the exact and the binned AUC of the sample (within-bin pairs count
a half, at most 1 / (2 x bins) of the pairs). Up to ``score_bins`` distinct scores it is exact.

Intervals are percentile intervals at ``level`` (95%). A generator is seeded from the config's seed
and the metric's name, so an evaluation is reproducible and one metric's interval does not move
when another metric is added. A statistic undefined in more than ``1 - level`` of the resamples
(a reference group without a favourable outcome) gets no interval rather than a misleading one.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Interval = tuple[float, float]
Statistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, kw_only=True)
class UncertaintyConfig:
    resamples: int = 1000
    seed: int = 0
    level: float = 0.95
    score_bins: int = 1000


def generator(config: UncertaintyConfig, key: str) -> np.random.Generator:
    """The generator of metric ``key``: reproducible, and independent of the other metrics'."""
    return np.random.default_rng([config.seed, zlib.crc32(key.encode("utf-8"))])


def resample_counts(counts: np.ndarray, *, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """``resamples`` bootstrap replicates of cell ``counts`` (any shape), as (resamples, *counts.shape)."""
    flat = np.asarray(counts, dtype=np.int64).ravel()
    total = int(flat.sum())
    if total == 0:
        return np.zeros((resamples, *np.shape(counts)), dtype=np.int64)
    drawn = rng.multinomial(total, flat / total, size=resamples)
    return drawn.reshape(resamples, *np.shape(counts))


def percentile_interval(values: np.ndarray, *, level: float) -> Interval | None:
    """The central ``level`` interval of bootstrap ``values``; None when too many of them are undefined."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.size < level * values.size:
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    lower, upper = np.percentile(finite, [tail, 100.0 - tail])
    return float(lower), float(upper)


def bootstrap_interval(
    counts: np.ndarray, statistic: Statistic, *, key: str, config: UncertaintyConfig | None = None
) -> Interval | None:
    """The bootstrap interval of ``statistic`` over records counted into cells.

    ``counts`` holds how many records fall in each cell (any shape); ``statistic`` takes a
    (resamples, *counts.shape) array of resampled counts and returns one value per resample,
    vectorised (NaN or inf where undefined). ``key`` names the metric (it seeds the draw).
    """
    config = config or UncertaintyConfig()
    replicates = resample_counts(counts, rng=generator(config, key), resamples=config.resamples)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.asarray(statistic(replicates), dtype=float)
    return percentile_interval(values, level=config.level)


def auc_from_counts(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """ROC AUC from positives and negatives per score level (last axis, ascending scores); ties count a half."""
    below = np.cumsum(negatives, axis=-1) - negatives  # negatives scored strictly lower than each level
    pairs = positives.sum(axis=-1) * negatives.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (positives * (below + 0.5 * negatives)).sum(axis=-1) / pairs


def score_levels(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives at each distinct score, ascending."""
    distinct, level = np.unique(scores, return_inverse=True)
    positives = np.bincount(level[truth], minlength=distinct.size)
    negatives = np.bincount(level[~truth], minlength=distinct.size)
    return positives, negatives


def binned(positives: np.ndarray, negatives: np.ndarray, *, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The score levels merged into at most ``bins`` bins of about equal record counts, ascending."""
    if positives.size <= bins:
        return positives, negatives
    records = positives + negatives
    before = np.cumsum(records) - records
    bin_of = np.minimum(before * bins // int(records.sum()), bins - 1)
    return np.bincount(bin_of, weights=positives, minlength=bins), np.bincount(
        bin_of, weights=negatives, minlength=bins
    )


def roc_auc_interval(
    truth: np.ndarray, scores: np.ndarray, *, key: str = "roc_auc", config: UncertaintyConfig | None = None
) -> Interval | None:
    """The bootstrap interval of ROC AUC of ``scores`` for boolean ``truth`` (True: the positive class)."""
    config = config or UncertaintyConfig()
    truth = np.asarray(truth, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    if not truth.any() or truth.all():
        return None
    positives, negatives = score_levels(truth, scores)
    pos_bins, neg_bins = binned(positives, negatives, bins=config.score_bins)
    counts = np.stack([pos_bins, neg_bins]).astype(np.int64)
    replicates = resample_counts(counts, rng=generator(config, key), resamples=config.resamples)
    found = percentile_interval(auc_from_counts(replicates[:, 0, :], replicates[:, 1, :]), level=config.level)
    if found is None or pos_bins.size == positives.size:
        return found
    # Within-bin pairs count a half in the binned AUC: centre the interval on the exact value.
    shift = float(auc_from_counts(positives, negatives) - auc_from_counts(pos_bins, neg_bins))
    return found[0] + shift, found[1] + shift
