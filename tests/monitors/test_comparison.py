"""The paired comparison: point values as sklearn computes them, seeded paired bootstrap intervals, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from pipeline_core.monitors import comparison
from pipeline_core.monitors.comparison import paired_differences


def _scores(n: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a good model's probabilities (rounded: many ties) and a noisier model's."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.35
    good = np.round(np.clip(0.3 + 0.35 * y + rng.normal(0, 0.15, n), 0, 1), 2)
    noisy = np.round(np.clip(good + rng.normal(0, 0.35, n), 0, 1), 2)
    return y, good, noisy


def test_point_values_are_sklearns_on_every_record() -> None:
    y, good, noisy = _scores()
    auc, accuracy = paired_differences(y, good, noisy, resamples=50)
    assert auc.metric == "roc_auc" and accuracy.metric == "accuracy"
    assert auc.candidate == pytest.approx(roc_auc_score(y, good))
    assert auc.production == pytest.approx(roc_auc_score(y, noisy))
    assert auc.difference == pytest.approx(roc_auc_score(y, good) - roc_auc_score(y, noisy))
    assert accuracy.candidate == pytest.approx(accuracy_score(y, good >= 0.5))
    assert accuracy.difference == pytest.approx(accuracy_score(y, good >= 0.5) - accuracy_score(y, noisy >= 0.5))
    assert auc.records == accuracy.records == len(y) and auc.resamples == 50


def test_a_resample_weighs_records_as_sklearn_counts_a_drawn_sample() -> None:
    y, good, _ = _scores()
    drawn = np.random.default_rng(9).integers(0, len(y), len(y))
    weights = np.bincount(drawn, minlength=len(y)).astype(float)[None, :]
    assert comparison._weighted_auc(weights, y, good)[0] == pytest.approx(roc_auc_score(y[drawn], good[drawn]))


def test_a_better_model_has_an_interval_above_zero_and_the_seed_fixes_it() -> None:
    y, good, noisy = _scores()
    auc, accuracy = paired_differences(y, good, noisy, seed=1)
    assert auc.low is not None and auc.high is not None and auc.difference is not None
    assert 0 < auc.low < auc.difference < auc.high and auc.significant
    assert paired_differences(y, good, noisy, seed=1) == (auc, accuracy)
    other = paired_differences(y, good, noisy, seed=2)[0]
    assert (other.low, other.high) != (auc.low, auc.high) and other.difference == auc.difference
    # Reversed, the difference and its interval change sign.
    reverse = paired_differences(y, noisy, good, seed=1)[0]
    assert reverse.difference == pytest.approx(-auc.difference) and reverse.high == pytest.approx(-auc.low)


def test_the_same_scores_differ_by_exactly_nothing() -> None:
    y, good, _ = _scores()
    for found in paired_differences(y, good, good):
        assert (found.difference, found.low, found.high) == (0.0, 0.0, 0.0) and not found.significant


def test_many_records_are_resampled_in_blocks_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    y, good, noisy = _scores(n=300)
    whole = paired_differences(y, good, noisy, resamples=40, seed=5)
    monkeypatch.setattr(comparison, "_CELLS", 300 * 7)  # 7 resamples a block: 6 blocks, the last short
    assert paired_differences(y, good, noisy, resamples=40, seed=5) == whole


def test_one_class_only_has_no_roc_auc_but_an_accuracy() -> None:
    auc, accuracy = paired_differences([True] * 20, [0.9] * 20, [0.2] * 20, resamples=20)
    assert (auc.candidate, auc.difference, auc.low, auc.high) == (None, None, None, None)
    assert (accuracy.candidate, accuracy.production, accuracy.difference) == (1.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("labels", "candidate", "production", "options", "message"),
    [
        ([True, False], [0.1], [0.2, 0.3], {}, "one probability per record: 2 labels, 1 and 2 scores"),
        ([], [], [], {}, "at least one labelled record"),
        ([True], [0.1], [0.2], {"resamples": 0}, "need resamples >= 1 and 0 < confidence < 1, not 0 and 0.95"),
        ([True], [0.1], [0.2], {"confidence": 1.0}, "not 1000 and 1.0"),
    ],
    ids=["lengths", "empty", "resamples", "confidence"],
)
def test_refusals_name_what_is_wrong(
    labels: list[bool], candidate: list[float], production: list[float], options: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        paired_differences(labels, candidate, production, **options)  # type: ignore[arg-type]
