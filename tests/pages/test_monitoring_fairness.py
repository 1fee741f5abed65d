"""The Monitoring page's fairness section on a populated store: intervals, sizes, whole window vs labelled, the scan."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline_core.data.spec import DataSpec
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow
from tests.pages.conftest import PageRunner
from tests.services.test_evaluation_windows import labelled_batches, store_scored_payload


@pytest.fixture
def judged_batch(live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, spec: DataSpec) -> int:
    """The prod deployment evaluated on its payload and one biased labelled batch (labelled DI 0.5)."""
    mv_id = store_scored_payload(live_ctx, in_prod, spec)
    _, biased = labelled_batches(live_ctx, mv_id, spec)
    batch = monitoring.upload_feedback(live_ctx, people["dora"], in_prod, biased, source="biased.csv")
    window = PayloadWindow(feedback_batch=batch.batch_id)
    return monitoring.evaluate_deployment(live_ctx, people["vera"], in_prod, window=window).evaluation_id


def _fairness_table(at: object) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe]  # type: ignore[attr-defined]
    return next(f for f in frames if "95% interval" in f.columns)


def test_the_section_shows_both_subsets_with_intervals_sizes_and_the_scan(
    page: PageRunner, judged_batch: int, in_prod: int
) -> None:
    at = page("monitoring", "vera", state={})
    assert not at.exception
    assert "Fairness" in [h.value for h in at.subheader]
    table = _fairness_table(at)
    sex = table[(table["attribute"] == "Sex") & (table["metric"] == "disparate impact")].set_index("on")
    assert list(sex.index) == ["whole window", "labelled records"]
    # A column mixing numbers and dashes (an unjudged Age check) is shown as text.
    on_labels = sex.loc["labelled records"]
    assert on_labels["verdict"] == "fail" and str(on_labels["value"]) == "0.5" and str(on_labels["records"]) == "60"
    assert " to " in str(on_labels["95% interval"]) and " to " in str(sex.loc["whole window", "95% interval"])
    labelled = set(table[table["on"] == "labelled records"]["metric"])
    assert {"equal opportunity difference", "average odds difference", "statistical parity difference"} <= labelled
    captions = " ".join(c.value for c in at.caption)
    assert f"evaluation {judged_batch} of" in captions and "120 labelled (feedback batch" in captions
    assert "groups tested (" in captions and "significant at a false discovery rate of 0.05" in captions
    scan = [d.value for d in at.dataframe if "q-value (BH)" in d.value.columns]
    assert scan and all(len(f) for f in scan)


def test_before_any_evaluation_the_section_says_how_to_get_one(page: PageRunner, in_prod: int) -> None:
    at = page("monitoring", "vera")
    assert not at.exception
    assert "No fairness results for this deployment yet: evaluate it to see them." in [i.value for i in at.info]


def test_the_overview_shows_the_newest_figures_with_their_intervals_and_the_charts_error_bars(
    page: PageRunner, judged_batch: int, in_prod: int
) -> None:
    at = page("overview", "max")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "95% interval" in d.value.columns)
    by_figure = table.set_index("figure")
    assert {"disparate_impact[Sex]", "disparate_impact[Sex|labelled]"} <= set(by_figure.index)
    labelled = by_figure.loc["disparate_impact[Sex|labelled]"]
    assert str(labelled["value"]) == "0.5" and str(labelled["records"]) == "60" and " to " in labelled["95% interval"]
    assert f"Evaluation {judged_batch} (" in " ".join(c.value for c in at.caption)
    figure = at.get("plotly_chart")[0].proto.spec
    assert '"error_y"' in figure and '"arrayminus"' in figure  # the intervals drawn as bars


def test_the_monitoring_charts_critical_checks_with_their_intervals(
    page: PageRunner, judged_batch: int, in_prod: int
) -> None:
    at = page("monitoring", "vera", state={})
    assert not at.exception
    assert [t.label for t in at.tabs][-3:] == ["Fairness", "Drift and importance", "Performance without labels"]
    history = at.get("plotly_chart")[0].proto.spec
    assert '"error_y"' in history and "disparate_impact[Sex|labelled]" in history
