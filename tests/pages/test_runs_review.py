"""Runs and Review pages: launching, the live stages, the evidence tabs and the decision, by role."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from pipeline_core.data.expectations import MODEL_TESTS
from pipeline_core.services import model_tests
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.runs import list_runs
from pipeline_core.store.models import ModelTestRun, ModelVersion
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
    at.radio[0].set_value("A path on the server or a bucket")
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
        "Model tests",
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


def test_the_model_tests_tab_shows_each_verdict_with_its_evidence(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    mv_id = make_candidate(live_ctx, people["dora"], tmp_path)
    stored = model_tests.latest(live_ctx, people["vera"], mv_id)
    assert stored is not None and stored.run_id is not None
    at = page("review", "vera")
    assert not at.exception
    tab = next(t for t in at.tabs if t.label == "Model tests")
    assert f"Model test run {stored.id} (run {stored.run_id})" in tab.caption[0].value
    table = next(d.value for d in tab.dataframe if "test" in d.value.columns)
    assert list(table["test"]) == list(MODEL_TESTS)
    assert list(table["verdict"]) == [v.status for v in stored.report.verdicts]
    assert list(table["critical"]) == ["yes" if v.critical else "" for v in stored.report.verdicts]
    expanders = {e.label: e for e in tab.expander}
    assert list(expanders) == [
        f"{v.name}: {v.status}" + (" (critical)" if v.critical else "") for v in stored.report.verdicts
    ]
    # The evidence behind a verdict: the artifact's hash, the invariance flip rates and flipped records.
    artifact = expanders["artifact: pass (critical)"]
    assert artifact.markdown[0].value == stored.report.verdict("artifact").summary
    facts = artifact.dataframe[0].value
    assert stored.report.verdict("artifact").evidence["sha256"] in list(facts["value"])
    invariance = next(e for label, e in expanders.items() if label.startswith("invariance"))
    shown = [d.value for d in invariance.dataframe]
    rates = stored.report.verdict("invariance").evidence["features"]
    assert [round(float(df["flip_rate"][0]), 6) for df in shown if "flip_rate" in df.columns] == [
        round(f["flip_rate"], 6) for f in rates
    ]

    next(b for b in tab.button if b.key == "rerun-model-tests").click().run()
    assert not at.exception
    with live_ctx.db.read() as session:
        runs = session.execute(select(ModelTestRun).where(ModelTestRun.model_version_id == mv_id)).scalars().all()
    assert len(runs) == 2 and runs[1].created_by == "vera"
    assert any(f"Model test run {runs[1].id}" in s.value for s in at.success)
    tab = next(t for t in at.tabs if t.label == "Model tests")
    assert f"Model test run {runs[1].id} (on demand by vera)" in tab.caption[0].value


def test_a_run_launched_on_a_bucket_object(
    page: PageRunner, dash_ctx: ServiceContext, s3_endpoint: str, csv_path: Path
) -> None:
    from dataclasses import replace

    from pipeline_core.backends.s3 import s3_client

    client = s3_client(endpoint=s3_endpoint, region="us-east-1", access_key_id="test", secret_access_key="test")
    client.create_bucket(Bucket="training-data")
    client.put_object(Bucket="training-data", Key="credit/german.csv", Body=csv_path.read_bytes())
    dash_ctx.settings = replace(
        dash_ctx.settings, s3_endpoint=s3_endpoint, s3_access_key_id="test", s3_secret_access_key="test"
    )
    at = page("runs", "dora")
    at.radio[0].set_value("A path on the server or a bucket")
    at.text_input[0].set_value("s3://training-data/credit/nowhere.csv")
    at.button[0].click().run()
    assert "object s3://training-data/credit/nowhere.csv does not exist" in at.error[0].value
    assert list_runs(dash_ctx) == []
    at.text_input[0].set_value("s3://training-data/credit/german.csv")
    at.button[0].click().run()
    assert not at.exception
    (run,) = list_runs(dash_ctx)
    assert run.dataset.source == "s3://training-data/credit/german.csv" and run.dataset.n_rows == 600
