"""Runs and Review pages: launching, the live stages, the evidence tabs and the decision, by role."""

from __future__ import annotations

from pathlib import Path

from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.runs import list_runs
from pipeline_core.store.models import ModelVersion
from tests.pages.conftest import PageRunner
from tests.services.helpers import make_candidate


def test_a_data_scientist_launches_a_demo_run(page: PageRunner, dash_ctx: ServiceContext) -> None:
    at = page("runs", "dora")
    assert not at.exception and "No runs yet" in at.info[0].value
    at.number_input[0].set_value(300)
    at.button[0].click().run()  # the form's Launch button
    assert not at.exception
    (run,) = list_runs(dash_ctx)
    assert run.created_by == "dora" and run.status == "queued" and run.dataset.n_rows == 300
    assert any(f"Run {run.id} queued" in s.value for s in at.success)
    assert any("no worker is running" in w.value for w in at.warning)


def test_a_bad_path_is_named_and_nothing_is_queued(page: PageRunner, dash_ctx: ServiceContext) -> None:
    at = page("runs", "dora")
    at.radio[0].set_value("A path on the server")
    at.text_input[0].set_value("/nowhere/credit.csv")
    at.button[0].click().run()
    assert not at.exception and "/nowhere/credit.csv" in at.error[0].value and list_runs(dash_ctx) == []


def test_a_manager_cannot_launch_even_if_the_page_is_opened(page: PageRunner, dash_ctx: ServiceContext) -> None:
    at = page("runs", "max")
    at.button[0].click().run()
    assert "PermissionDenied" in at.error[0].value and "max is a manager" in at.error[0].value
    assert list_runs(dash_ctx) == []


def test_review_tabs_and_an_approval(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    mv_id = make_candidate(live_ctx, people["dora"], tmp_path)
    at = page("review", "vera")
    assert not at.exception
    assert [t.label for t in at.tabs] == [
        "Summary",
        "Quality",
        "Fairness",
        "Drift",
        "Explainability",
        "Factsheet",
        "Compare with production",
    ]
    assert at.metric[0].label == "Risk level" and at.metric[0].value in ("low", "medium", "high")
    assert "No version of german_credit is in production yet" in " ".join(i.value for i in at.info)
    approve = next(b for b in at.button if b.key == "approve")
    assert not approve.disabled
    approve.click().run()  # without a comment: refused by the service, shown as a message
    assert "needs a comment" in at.error[0].value
    at.text_area(key="decision-comment").set_value("quality and fairness reviewed")
    next(b for b in at.button if b.key == "approve").click().run()
    assert not at.exception
    assert any("Deployed to prod" in s.value for s in at.success)
    with live_ctx.db.read() as session:
        assert session.get(ModelVersion, mv_id).state == "in_production"  # type: ignore[union-attr]


def test_review_buttons_are_disabled_on_ones_own_model(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    from pipeline_core.services import users

    users.set_role(live_ctx, people["admin"], username="dan", role="validator")
    make_candidate(live_ctx, people["dan"], tmp_path)  # trained while dan was a data scientist
    at = page("review", "vera")
    assert not next(b for b in at.button if b.key == "approve").disabled
    dan = Principal("dan", "validator")
    at = page("review", "vera", state={"principal": dan})
    assert next(b for b in at.button if b.key == "approve").disabled
    assert next(b for b in at.button if b.key == "reject").disabled
    assert "trained or launched model version" in " ".join(i.value for i in at.info)
