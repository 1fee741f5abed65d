"""The Monitoring page's drift section: the newest evaluation's multivariate score, per-feature drift, importance on
the window beside held-out, and the records to label in the words the retraining request uses."""

from __future__ import annotations

from pipeline_core.results import tables
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.services.helpers import evaluate_drifted_traffic
from tests.states import State


def test_the_drift_section_shows_the_newest_evaluation(
    page: PageRunner, dash_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State
) -> None:
    dep_id = starting_state.deployment_id
    assert dep_id is not None
    evaluation_id = evaluate_drifted_traffic(dash_ctx, people["vera"], dep_id)
    evaluation = monitoring.get_evaluation(dash_ctx, people["max"], evaluation_id)
    report = evaluation.report
    multivariate = report.multivariate_drift
    window = report.production_importance
    assert multivariate is not None and multivariate.auc is not None and multivariate.interval is not None
    assert window is not None and window.features

    at = page("monitoring", "dora")
    assert_readable(at, "monitoring with a drift section")
    assert "Drift" in [h.value for h in at.subheader]
    assert (
        f"Evaluation {evaluation_id} · {evaluation.created_at:%Y-%m-%d %H:%M} · {evaluation.records} records"
        in " ".join(c.value for c in at.caption)
    )
    text = " ".join(m.value for m in at.markdown)
    lower, upper = multivariate.interval
    assert (
        f"with ROC AUC **{multivariate.auc:.3f}** (95% interval {lower:.3f} to {upper:.3f}); 0.5 means it cannot, "
        "the threshold is 0.75" in text
    )
    # The inflated loan amounts and the renters tell the window apart: the classifier names them.
    frames = [d.value for d in at.dataframe]
    telling = next(f for f in frames if "AUC drop when shuffled" in f.columns)
    assert telling.to_dict(orient="records") == tables.multivariate_rows(multivariate)
    assert set(telling["feature"].iloc[:2]) == {"LoanAmount", "Housing"}
    per_feature = next(f for f in frames if list(f.columns) == ["feature", "statistic", "value", "drifted"])
    assert list(per_feature["feature"]) == [r["feature"] for r in tables.drift_rows(report.drift_features)]
    importance = next(f for f in frames if "rank on held-out" in f.columns)
    assert list(importance["feature"]) == [f.feature for f in window.features]
    assert importance["on the window"].iloc[0] == round(window.features[0].importance, 4)
    assert at.get("plotly_chart")
    # The records to label: the evaluation's sentence, and the retraining request's warning says the same.
    sentence = report.to_label.describe()
    assert f"**Records to label.** {sentence[0].upper()}{sentence[1:]}." in text
    (request,) = monitoring.list_retraining_requests(dash_ctx, people["max"], status="open")
    assert f"; from evaluation {evaluation_id}, {sentence}." in " ".join(w.value for w in at.warning)
    listed = next(f for f in frames[::-1] if "why" in f.columns)  # the section's own table comes last
    assert list(listed["record"]) == [r.record for r in report.to_label.records[:50]]
    assert request.to_label == report.to_label


def test_without_an_evaluation_the_section_is_not_drawn(
    page: PageRunner, in_prod: int, people: dict[str, Principal]
) -> None:
    at = page("monitoring", "vera")
    assert not at.exception and "Drift" not in [h.value for h in at.subheader]
