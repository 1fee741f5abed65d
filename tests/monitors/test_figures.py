"""The Review page's charts from stored curve dicts: what each draws, and a note where nothing was stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.monitors import figures
from pipeline_core.monitors.quality import quality
from pipeline_core.results import MonitorResult
from pipeline_core.results.evidence import GroupComparison, GroupRates

CURVE_CHARTS: dict[str, Callable[[Any], figures.Chart]] = {
    "ROC curve": figures.roc_figure,
    "Precision-recall curve": figures.pr_figure,
    "Calibration (reliability) curve": figures.calibration_figure,
    "Score distribution per class": figures.score_figure,
}


@pytest.fixture
def curves(spec: DataSpec) -> dict[str, Any]:
    """What the quality monitor stores for twelve records, both classes."""
    tiny = replace(spec, thresholds=Thresholds(quality_min_records=4, min_roc_auc=0.6))
    labels = ["Risk", "No Risk"] * 6
    probability = [0.9, 0.1, 0.8, 0.3, 0.35, 0.2, 0.7, 0.6, 0.55, 0.05, 0.95, 0.4]
    frame = pd.DataFrame({"Risk": labels, "probability": probability})
    stored: dict[str, Any] = quality(frame, frame, spec=tiny).details["curves"]
    return stored


@pytest.mark.parametrize("absent", [None, {}], ids=["no-curves-key", "empty-curves"])
@pytest.mark.parametrize("title", sorted(CURVE_CHARTS))
def test_absent_curves_say_not_stored_for_this_evaluation(title: str, absent: dict[str, Any] | None) -> None:
    found = CURVE_CHARTS[title](absent)
    assert isinstance(found, figures.Absent)
    assert found.text == f"{title}: not stored for this evaluation."


@pytest.mark.parametrize(("chart", "title"), [(figures.roc_figure, "ROC curve"), (figures.pr_figure, "Precision")])
def test_curves_of_one_class_cannot_be_drawn(chart: Callable[[Any], figures.Chart], title: str) -> None:
    one_class: dict[str, Any] = {"roc": {"fpr": [], "tpr": [], "thresholds": []}, "pr": {"recall": [], "precision": []}}
    found = chart(one_class)
    assert isinstance(found, figures.Absent) and found.title.startswith(title)
    assert "one class only" in found.text


def test_roc_draws_the_stored_points_beside_the_chance_diagonal(curves: dict[str, Any]) -> None:
    figure = figures.roc_figure(curves, auc=0.8125)
    assert isinstance(figure, go.Figure)
    model, chance = figure.data
    assert list(model.x) == curves["roc"]["fpr"] and list(model.y) == curves["roc"]["tpr"]
    assert model.name == "model (AUC 0.812)"
    # The first threshold (+inf) is stored as None and hovers as a dash, never as "None".
    assert model.customdata[0] == "–" and "None" not in list(model.customdata)
    assert (list(chance.x), list(chance.y)) == ([0, 1], [0, 1])
    assert figure.layout.xaxis.title.text == "false positive rate"


def test_pr_draws_precision_against_recall(curves: dict[str, Any]) -> None:
    figure = figures.pr_figure(curves)
    assert isinstance(figure, go.Figure)
    (model,) = figure.data
    assert list(model.x) == curves["pr"]["recall"] and list(model.y) == curves["pr"]["precision"]
    with_auc = figures.pr_figure(curves, auc=0.7548)
    assert isinstance(with_auc, go.Figure)
    assert model.showlegend and with_auc.data[0].name == "model (PR AUC 0.755)"


def test_calibration_has_the_diagonal_and_the_bins_with_their_counts(curves: dict[str, Any]) -> None:
    figure = figures.calibration_figure(curves)
    assert isinstance(figure, go.Figure)
    diagonal, model = figure.data
    assert diagonal.name == "perfectly calibrated" and list(diagonal.y) == [0, 1]
    stored = curves["calibration"]
    assert list(model.x) == stored["mean_predicted"] and list(model.y) == stored["fraction_positive"]
    assert list(model.customdata) == stored["count"] and sum(stored["count"]) == 12
    assert list(model.text) == [f"n={c}" for c in stored["count"]]  # a sparse bin is seen as one


def test_scores_are_one_histogram_per_true_class_on_the_stored_bins(curves: dict[str, Any]) -> None:
    figure = figures.score_figure(curves)
    assert isinstance(figure, go.Figure)
    favourable, positive = figure.data
    assert (favourable.name, positive.name) == ("true favourable", "true unfavourable")
    assert list(favourable.y) == curves["scores"]["favourable"] and list(positive.y) == curves["scores"]["positive"]
    assert sum(favourable.y) == sum(positive.y) == 6
    assert len(favourable.x) == len(curves["scores"]["edges"]) - 1 and favourable.x[0] == pytest.approx(0.025)
    assert figure.layout.barmode == "overlay"


def _group(attribute: str, monitored: GroupRates, reference: GroupRates) -> GroupComparison:
    return GroupComparison(attribute, monitored, reference)


def test_groups_show_each_rate_with_the_groups_record_counts() -> None:
    groups = [
        _group("Sex", GroupRates("female", 50, 0.6, 0.7, 0.4), GroupRates("male", 70, 0.75, 0.8, 0.5)),
        _group("Age", GroupRates("Age < 26", 13, 0.5, None, None), GroupRates("Age >= 26", 107, 0.7, None, None)),
    ]
    figure = figures.group_figure(groups)
    assert isinstance(figure, go.Figure)
    assert [bar.name for bar in figure.data] == [
        "Sex: female (monitored, n=50)",
        "Sex: male (reference, n=70)",
        "Age: Age < 26 (monitored, n=13)",
        "Age: Age >= 26 (reference, n=107)",
    ]
    first = figure.data[0]
    assert list(first.x) == ["favourable rate", "true positive rate", "false positive rate"]
    assert list(first.y) == [0.6, 0.7, 0.4] and list(first.text) == ["n=50"] * 3
    # The groups compared share their attribute's colour; the reference is hatched; attributes differ.
    colours = [bar.marker.color for bar in figure.data]
    assert colours[0] == colours[1] != colours[2] == colours[3]
    assert [bar.marker.pattern.shape for bar in figure.data] == ["", "/", "", "/"]


def test_groups_without_true_labels_show_the_favourable_rate_only() -> None:
    figure = figures.group_figure([_group("Sex", GroupRates("female", 5, 0.6), GroupRates("male", 7, 0.7))])
    assert isinstance(figure, go.Figure)
    assert [list(bar.x) for bar in figure.data] == [["favourable rate"], ["favourable rate"]]


def test_no_protected_group_is_a_note() -> None:
    found = figures.group_figure([])
    assert isinstance(found, figures.Absent)
    assert found.text == "Metrics per protected group: no protected group was evaluated."


def test_stored_curves_are_read_from_the_quality_result(curves: dict[str, Any]) -> None:
    stored = MonitorResult("quality", [], 12, 4, {"curves": curves})
    assert figures.stored_curves(stored) == curves
    assert figures.stored_curves(MonitorResult("quality", [], 12, 4, {})) is None  # an evaluation from before
    assert figures.stored_curves(None) is None
