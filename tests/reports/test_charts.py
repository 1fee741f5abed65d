"""The report's charts: PNG bytes from stored curves, deterministic, a note when nothing was stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pipeline_core.reports import charts
from pipeline_core.reports.document import Figure, Note

CURVES: dict[str, dict[str, list[float]]] = {
    "roc": {"fpr": [0.0, 0.2, 1.0], "tpr": [0.0, 0.7, 1.0], "thresholds": [1.0, 0.5, 0.0]},
    "pr": {"recall": [0.0, 0.7, 1.0], "precision": [1.0, 0.8, 0.3]},
    "calibration": {"mean_predicted": [0.1, 0.5, 0.9], "fraction_positive": [0.15, 0.45, 0.85], "count": [5, 5, 5]},
    "scores": {"edges": [0.0, 0.5, 1.0], "favourable": [8, 2], "positive": [3, 7]},
}
CHARTS: list[Callable[[Any], Figure | Note]] = [charts.roc, charts.pr, charts.calibration, charts.score_distribution]


@pytest.mark.parametrize("chart", CHARTS)
def test_chart_is_a_deterministic_png(chart: Callable[[Any], Figure | Note]) -> None:
    first, second = chart(CURVES), chart(CURVES)
    assert isinstance(first, Figure) and isinstance(second, Figure)
    assert first.png.startswith(b"\x89PNG") and first.png == second.png


@pytest.mark.parametrize("chart", CHARTS)
def test_absent_curves_say_not_stored(chart: Callable[[Any], Figure | Note]) -> None:
    note = chart(None)
    assert isinstance(note, Note) and "not stored" in note.text


def test_per_group_chart_and_none_computed() -> None:
    assert isinstance(charts.per_group([("sex=F", 0.8, 120), ("sex=M", 0.9, 300)], "approval rate"), Figure)
    assert "none computed" in charts.per_group([], "approval rate").text  # type: ignore[union-attr]


@pytest.mark.parametrize("chart", CHARTS)
def test_curves_stored_empty_say_they_cannot_be_drawn(chart: Callable[[Any], Figure | Note]) -> None:
    empty: dict[str, dict[str, list[float]]] = {key: {name: [] for name in data} for key, data in CURVES.items()}
    note = chart(empty)
    assert isinstance(note, Note) and "cannot be drawn" in note.text
