"""The Review page a validator decides from: every check failed-first, the stored charts, documentation, history."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Evaluation, ModelVersion
from pipeline_core.vocabulary import DocSection, ModelState
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.results.stored import STORED
from tests.services.helpers import copy_version
from tests.services.test_review_history import REJECTED, rejected_then_next_version

# The summary's groups: what stops an approval (failed or not judged), then warnings, then passes.
ORDER = {"fail": 0, "insufficient": 0, "not run": 0, "not judged": 0, "warn": 1, "pass": 2}


def _tab(at: AppTest, label: str) -> Any:
    return next(t for t in at.tabs if t.label == label)


def _plotly_titles(tab: Any) -> list[str]:
    """The titles of the plotly charts in ``tab``, from the figures the page sent."""
    import json

    charts = [e for e in tab if getattr(e, "type", "") == "plotly_chart"]
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in charts]


def test_the_summary_lists_every_check_with_value_and_threshold_worst_first(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    at = page("review", "vera")
    assert not at.exception
    assert_readable(at, "review")
    summary = _tab(at, "Summary").dataframe[0].value
    assert list(summary.columns) == ["monitor", "check", "value", "threshold", "status", "critical", "detail"]
    ranks = [ORDER[s] for s in summary["status"]]
    assert ranks == sorted(ranks), list(summary["status"])
    assert {"quality", "fairness", "drift", "model_tests"} <= set(summary["monitor"])
    auc = summary[summary["check"] == "roc_auc"].iloc[0]
    assert auc["critical"] == "yes" and auc["threshold"] not in ("–", None)


def test_a_failed_check_heads_the_summary(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    # STORED: a passing roc_auc and a critical check with too few records; failing its roc_auc puts it first.
    failing: dict[str, Any] = {**STORED, "checks": [dict(c) for c in STORED["checks"]]}
    for check in failing["checks"]:
        if check["name"] == "roc_auc":
            check.update(value=0.52, status="fail")
    with live_ctx.db.write() as session:
        session.add(
            Evaluation(
                model_version_id=candidate,
                deployment_id=None,
                space="preprod",
                data_window={"source": "test split", "records": 120},
                results=failing,
                status="fail",
                created_at=utcnow(),
                created_by="pipeline",
            )
        )
    at = page("review", "vera")
    assert not at.exception
    summary = _tab(at, "Summary").dataframe[0].value
    rows = list(zip(summary["monitor"], summary["check"], summary["status"], strict=True))
    assert rows[0] == ("quality", "roc_auc", "fail")
    assert rows[1] == ("fairness", "disparate_impact[Sex]", "insufficient")
    assert rows[-1][2] == "pass"
    assert float(summary["value"].iloc[0]) == 0.52 and float(summary["threshold"].iloc[0]) == 0.6


def test_quality_and_fairness_draw_the_stored_charts(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    at = page("review", "vera")
    assert not at.exception
    assert _plotly_titles(_tab(at, "Quality")) == [
        "",  # the confusion matrix
        "ROC curve",
        "Precision-recall curve",
        "Calibration (reliability) curve",
        "Score distribution per class",
    ]
    assert not [i.value for i in _tab(at, "Quality").info if "not stored" in i.value]
    assert _plotly_titles(_tab(at, "Fairness")) == ["Metrics per protected group"]


def test_an_evaluation_from_before_the_curves_says_they_are_not_stored(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with live_ctx.db.write() as session:
        session.add(
            Evaluation(
                model_version_id=candidate,
                deployment_id=None,
                space="preprod",
                data_window={"source": "test split", "records": 120},
                results=STORED,
                status=STORED["status"],
                created_at=utcnow(),
                created_by="pipeline",
            )
        )
    at = page("review", "vera")
    assert not at.exception
    assert [i.value for i in _tab(at, "Quality").info if "not stored" in i.value] == [
        "ROC curve: not stored for this evaluation.",
        "Precision-recall curve: not stored for this evaluation.",
        "Calibration (reliability) curve: not stored for this evaluation.",
        "Score distribution per class: not stored for this evaluation.",
    ]


def test_the_documentation_of_this_version_with_who_and_when(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    at = page("review", "vera")
    tab = _tab(at, "Documentation")
    assert [m.value for m in tab.markdown if m.value.startswith(":green[")] == [
        ":green[Every section the model's tier 3 policy requires is written.]"
    ]
    headings = [m.value for m in tab.markdown if m.value.startswith("#### ")]
    assert headings == [f"#### {s.heading}" for s in DocSection]  # every section written (the state's)
    assert all(c.value.startswith("Written by dora, ") for c in tab.caption)
    assert "as the test suite documents it." in " ".join(m.value for m in tab.markdown)


def test_earlier_decisions_show_the_rejected_version(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    v2 = rejected_then_next_version(live_ctx, people, candidate)
    at = page("review", "victor")
    assert not at.exception
    assert_readable(at, "review of a second version")
    assert at.selectbox[0].value == v2
    earlier = _tab(at, "Earlier versions")
    (row,) = earlier.dataframe[0].value.to_dict(orient="records")
    assert (row["version"], row["outcome"], row["review"], row["who"]) == ("v1", "rejected", "candidate review", "vera")
    assert row["state now"] == "rejected" and row["countersign"] == "–"
    (said,) = [m.value for m in earlier.markdown if m.value.startswith("**v1 rejected** by vera, ")]
    assert said.endswith(f": {REJECTED}")
    # v2 carries v1's documentation forward and says so.
    captions = [c.value for c in _tab(at, "Documentation").caption]
    assert captions and all("carried forward from version 1" in c for c in captions)


def test_a_first_version_has_no_earlier_decision_and_no_finding(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    at = page("review", "vera")
    assert [i.value for i in _tab(at, "Earlier versions").info] == [
        "Version 1 is german_credit's first version: there is no earlier decision."
    ]
    captions = [c.value for c in _tab(at, "Findings").caption]
    assert "No finding has been raised on german_credit (raise one on the Findings page)." in captions
    assert "No approval of german_credit carries a condition." in captions


def test_open_findings_are_shown_with_what_policy_asks_of_them(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    due = date.today() + timedelta(days=20)
    common: dict[str, Any] = {"description": "Seen in review.", "owner": "dora", "due_date": due}
    high = governance.raise_finding(
        live_ctx,
        people["vera"],
        candidate,
        title="Thin data below age 25",
        severity="high",
        evidence_kind="free",
        evidence_ref="",
        **common,
    )
    medium = governance.raise_finding(
        live_ctx,
        people["vera"],
        candidate,
        title="Calibration drifts at high scores",
        severity="medium",
        evidence_kind="free",
        evidence_ref="",
        **common,
    )
    at = page("review", "victor")
    tab = _tab(at, "Findings")
    assert f"finding {high.id} “Thin data below age 25”" in tab.error[0].value
    assert f"finding {medium.id} “Calibration drifts at high scores” (owner dora)" in tab.warning[0].value
    assert list(tab.dataframe[0].value["finding"]) == sorted([high.id, medium.id])
    approve = next(b for b in at.button if b.key == "approve")
    assert approve.disabled  # an open high finding: no override lifts it


def test_a_model_without_documentation_has_every_required_section_flagged(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with live_ctx.db.write() as session:  # another model, never documented, with the candidate's evidence
        v1 = session.get(ModelVersion, candidate)
        assert v1 is not None
        other = copy_version(session, v1, state=ModelState.AWAITING_REVIEW)
        other.name, other.version = "scorecard_b", 1
        (e,) = session.execute(select(Evaluation).where(Evaluation.model_version_id == candidate)).scalars()
        session.add(
            Evaluation(
                model_version_id=other.id,
                deployment_id=e.deployment_id,
                space=e.space,
                data_window=e.data_window,
                results=e.results,
                status=e.status,
                created_at=e.created_at,
                created_by=e.created_by,
            )
        )
        other_id = other.id
    at = page("review", "vera")
    at.selectbox[0].set_value(other_id).run()
    assert not at.exception
    tab = _tab(at, "Documentation")
    headings = ", ".join(s.heading for s in DocSection)
    assert [e.value for e in tab.error] == [
        f"Required by the model's tier 1 policy (it is untiered) and not written: {headings}. "
        "A data scientist writes them on the Documentation page."
    ]
    assert [m.value for m in tab.markdown if m.value.endswith(":red[not written (required)]")] == [
        f"**{s.heading}**: :red[not written (required)]" for s in DocSection
    ]
    # In the summary too, first: each missing section is an unjudged item, as an unjudged critical check is.
    summary = _tab(at, "Summary").dataframe[0].value
    first = summary.head(len(DocSection))
    assert list(first["monitor"]) == ["documentation"] * len(DocSection)
    assert list(first["check"]) == [s.value for s in DocSection] and set(first["status"]) == {"not judged"}
