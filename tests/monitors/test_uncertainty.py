"""Bootstrap intervals: seeded and reproducible, around the value, narrower with more records, as a naive bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from pipeline_core.monitors.uncertainty import (
    UncertaintyConfig,
    auc_from_counts,
    bootstrap_interval,
    roc_auc_interval,
    score_levels,
)


def _scored(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.3
    scores = np.clip(rng.normal(0.4 + 0.2 * truth, 0.2), 0, 1).round(4)
    return truth, scores


def _share(counts: np.ndarray) -> np.ndarray:
    return counts[..., 1] / counts.sum(axis=-1)


def test_auc_from_counts_is_sklearns_roc_auc_with_ties() -> None:
    truth, scores = _scored(500, seed=1)
    scores = scores.round(1)  # many ties: each counts a half
    positives, negatives = score_levels(truth, scores)
    assert auc_from_counts(positives, negatives) == pytest.approx(roc_auc_score(truth, scores))


def test_same_seed_same_interval_another_seed_another() -> None:
    truth, scores = _scored(400, seed=2)
    first = roc_auc_interval(truth, scores, config=UncertaintyConfig(seed=7))
    assert first == roc_auc_interval(truth, scores, config=UncertaintyConfig(seed=7))
    assert first != roc_auc_interval(truth, scores, config=UncertaintyConfig(seed=8))


@pytest.mark.parametrize("n", [200, 5_000])
def test_roc_auc_interval_agrees_with_a_naive_record_bootstrap(n: int) -> None:
    truth, scores = _scored(n, seed=3)
    found = roc_auc_interval(truth, scores)
    assert found is not None
    rng = np.random.default_rng(0)
    naive = []
    for _ in range(400):  # the textbook bootstrap: resample records, recompute with scikit-learn
        i = rng.integers(0, n, n)
        naive.append(roc_auc_score(truth[i], scores[i]))
    lower, upper = np.percentile(naive, [2.5, 97.5])
    width = upper - lower
    assert found[0] == pytest.approx(lower, abs=0.15 * width)
    assert found[1] == pytest.approx(upper, abs=0.15 * width)


def test_interval_holds_the_value_and_shrinks_with_more_records() -> None:
    widths = []
    for n in (200, 2_000, 20_000):
        truth, scores = _scored(n, seed=4)
        found = roc_auc_interval(truth, scores)
        assert found is not None
        assert found[0] < roc_auc_score(truth, scores) < found[1]
        widths.append(found[1] - found[0])
    assert widths[0] > 2 * widths[1] > 4 * widths[2]  # about 1 / sqrt(n): sqrt(10) = 3.16 each step


def test_binned_auc_is_centred_on_the_exact_value() -> None:
    # 20,000 distinct scores, 1,000 bins: the interval is shifted by the binning's difference.
    rng = np.random.default_rng(5)
    truth = rng.random(20_000) < 0.3
    scores = rng.normal(0.4 + 0.2 * truth, 0.2)
    exact = roc_auc_interval(truth, scores, config=UncertaintyConfig(score_bins=100_000))
    binned = roc_auc_interval(truth, scores)
    assert exact is not None and binned is not None
    assert binned == pytest.approx(exact, abs=0.002)


def test_a_rate_interval_is_the_binomial_one() -> None:
    # 300 of 1,000 favourable: the normal interval 0.3 +- 1.96 sqrt(0.3 * 0.7 / 1000) = 0.3 +- 0.0284.
    found = bootstrap_interval(np.array([700, 300]), _share, key="rate")
    assert found is not None
    assert found[0] == pytest.approx(0.3 - 0.0284, abs=0.004)
    assert found[1] == pytest.approx(0.3 + 0.0284, abs=0.004)


@pytest.mark.parametrize(
    ("counts", "why"),
    [
        (np.array([0, 0]), "no records"),
        (np.array([3, 0]), "one class only"),
    ],
)
def test_no_interval_where_the_statistic_is_undefined(counts: np.ndarray, why: str) -> None:
    def odds(c: np.ndarray) -> np.ndarray:
        return c[..., 0] / c[..., 1]

    assert bootstrap_interval(counts, odds, key=why) is None
    assert roc_auc_interval(np.zeros(5, dtype=bool), np.arange(5.0)) is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=500), min_size=2, max_size=6).filter(lambda c: sum(c) > 0))
def test_any_counts_give_an_ordered_interval_within_the_statistics_range(counts: list[int]) -> None:
    def first_share(c: np.ndarray) -> np.ndarray:
        return c[..., 0] / c.sum(axis=-1)

    found = bootstrap_interval(np.array(counts), first_share, key="share", config=UncertaintyConfig(resamples=200))
    assert found is not None
    assert 0.0 <= found[0] <= found[1] <= 1.0
