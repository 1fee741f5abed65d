"""The convergence test on learning curves written by hand: noise-tolerant, and strict where it matters."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from pipeline_core.data.expectations import Expectations
from pipeline_core.model_tests.engineering import convergence

N = 60
ITERATIONS = list(range(1, N + 1))
FALLING = [0.6 * math.exp(-i / 15) + 0.2 for i in ITERATIONS]
NOISE = np.random.default_rng(3).normal(0, 0.004, N)


def curve(validation: list[float], train: list[float] | None = None) -> dict[str, list[float]]:
    return {
        "iteration": [float(i) for i in ITERATIONS[: len(validation)]],
        "validation_loss": validation,
        "train_loss": train if train is not None else FALLING[: len(validation)],
    }


def test_a_noisy_flattening_curve_passes_where_a_strict_rule_would_fail() -> None:
    noisy = [v + n for v, n in zip(FALLING, NOISE, strict=True)]
    verdict = convergence(curve(noisy), expectations=Expectations())
    assert verdict.status == "pass", verdict.summary
    assert verdict.evidence["window_steps_that_rise"] >= 5  # "every step decreases" would have failed it


@pytest.mark.parametrize(
    ("validation", "train", "message"),
    [
        (
            [*FALLING[:40], *(FALLING[39] * (1 + 0.01 * k) for k in range(1, 21))],
            None,
            r"validation loss rose \d+\.\d% over the last 20 points",
        ),
        ([0.5, *(0.5 + 0.01 * k for k in range(1, 40)), *([0.9] * 20)], None, r"ends 80% above its best"),
        (FALLING, [0.6] * N, r"training loss did not fall overall \(0\.6000 -> 0\.6000\)"),
        ([*FALLING[:30], math.inf, *FALLING[31:]], None, r"not finite at iteration 31: training diverged"),
    ],
    ids=["rising-tail", "climbed-then-flat", "flat-training", "infinite-loss"],
)
def test_curves_that_do_not_converge_fail(validation: list[float], train: list[float] | None, message: str) -> None:
    verdict = convergence(curve(validation, train), expectations=Expectations())
    assert verdict.status == "fail"
    assert re.search(message, verdict.summary), verdict.summary


def test_the_tolerance_comes_from_the_expectations() -> None:
    rising = [*FALLING[:40], *(FALLING[39] * (1 + 0.003 * k) for k in range(1, 21))]  # about +4% over the window
    assert convergence(curve(rising), expectations=Expectations()).status == "fail"
    loose = Expectations(convergence_tolerance=0.05)
    assert convergence(curve(rising), expectations=loose).status == "pass"


@pytest.mark.parametrize("validation", [None, [0.5, 0.4, 0.3]])
def test_without_a_curve_the_test_is_skipped(validation: list[float] | None) -> None:
    verdict = convergence(None if validation is None else curve(validation), expectations=Expectations())
    assert verdict.status == "skip" and "no learning curve" in verdict.summary
