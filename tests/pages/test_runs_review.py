"""Runs and Review pages: launching, the live stages, the evidence tabs and the decision, by role."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from pipeline_core.data.expectations import MODEL_TESTS
from pipeline_core.services import deployments, governance, runs
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.monitoring import list_evaluations
from pipeline_core.services.runs import get_run, list_runs, run_summary
from pipeline_core.store.models import ModelTestRun, ModelVersion
from tests.e2e.page_text import REVIEW_TABS, assert_readable
from tests.pages.conftest import PageRunner
from tests.services.helpers import make_candidate


def test_a_data_scientist_launches_a_demo_run(page: PageRunner, dash_ctx: ServiceContext) -> None:
    at = page("runs", "dora")
    assert not at.exception and "No runs yet" in at.info[0].value
    assert [i.value for i in at.info] == ["No runs yet: launch one above (the demo data needs nothing else)."]
    at.number_input[0].set_value(300)
    at.button[0].click().run()  # the form's Launch button
    assert not at.exception
    (run,) = list_runs(dash_ctx, SYSTEM)
    assert run.created_by == "dora" and run.status == "queued" and run.dataset.n_rows == 300
    assert any(f"Run {run.id} queued" in s.value for s in at.success)
    assert any("no worker is running" in w.value for w in at.warning)
    # The run, selected and drawn as its stages (all pending), and in the history.
    assert next(s for s in at.selectbox if s.label == "Run").value == run.id
    assert f"Run {run.id} is queued…" in [i.value for i in at.info]
    stages = [m.value for m in at.markdown if m.value.startswith(":gray[:material/schedule:]")]
    names = [s["name"].replace("_", " ") for s in run_summary(get_run(dash_ctx, SYSTEM, run.id))["stages"]]
    assert [line.split("**")[1] for line in stages] == names
    assert all(line.endswith("  \npending") for line in stages)
    assert at.dataframe[0].value.to_dict(orient="records") == [
        {
            "run": run.id,
            "status": "queued",
            "by": "dora",
            "model": run.params["model_type"],
            "created": run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "failed stage": "",
        }
    ]
    assert [i.value for i in at.info][-1] == "Two succeeded runs are needed to compare."
    assert_readable(at, "runs")


def test_a_bad_path_is_named_and_nothing_is_queued(page: PageRunner, dash_ctx: ServiceContext) -> None:
    at = page("runs", "dora")
    at.radio[0].set_value("A path on the server or a bucket")
    at.text_input[0].set_value("/nowhere/credit.csv")
    at.button[0].click().run()
    assert not at.exception and "/nowhere/credit.csv" in at.error[0].value and list_runs(dash_ctx, SYSTEM) == []


def test_a_manager_cannot_launch_even_if_the_page_is_opened(page: PageRunner, dash_ctx: ServiceContext) -> None:
    at = page("runs", "max")
    at.button[0].click().run()
    assert "PermissionDenied" in at.error[0].value and "max is a manager" in at.error[0].value
    assert list_runs(dash_ctx, SYSTEM) == []


def test_review_tabs_and_an_approval(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    mv_id = candidate
    at = page("review", "vera")
    assert not at.exception
    assert_readable(at, "review")
    assert [t.label for t in at.tabs] == list(REVIEW_TABS)
    assert at.metric[0].label == "Risk level" and at.metric[0].value in ("low", "medium", "high")
    # The summary: the pre-prod evaluation's risk level and the model-risk counts, as stored.
    (evaluation,) = list_evaluations(live_ctx, people["vera"], model_version_id=mv_id)
    mrm = {m["name"]: int(m["value"]) for m in evaluation.results["monitors"]["mrm"]["metrics"]}
    risk = evaluation.report.risk
    assert risk is not None
    assert [(m.label, m.value) for m in at.metric] == [
        ("Risk level", evaluation.results["risk_level"]),
        ("Tests run", str(mrm["tests_run"])),
        ("Passed", str(mrm["tests_passed"])),
        ("Warn", str(risk.counts.warned)),
        ("Failed", str(mrm["tests_failed"])),
        ("Unjudged", str(risk.counts.unjudged)),
    ]
    assert risk.counts.passed + risk.counts.warned + risk.counts.failed + risk.counts.unjudged == mrm["tests_run"]
    summary = next(t for t in at.tabs if t.label == "Summary")
    assert summary.caption[0].value == (
        f"Evaluation {evaluation.id} · {evaluation.created_at:%Y-%m-%d %H:%M} · "
        f"{evaluation.data_window['records']} test records scored through the pre-prod endpoint"
    )
    assert len(summary.dataframe[0].value) == mrm["tests_run"]
    # Each monitor's tab lists its metrics with the stored values and verdicts; no value is shown as None.
    for tab_label, monitor in (("Quality", "quality"), ("Fairness", "fairness"), ("Drift", "drift")):
        tab = next(t for t in at.tabs if t.label == tab_label)
        table = tab.dataframe[0].value
        stored = evaluation.results["monitors"][monitor]["metrics"]
        assert list(table["metric"]) == [m["name"] for m in stored], tab_label
        assert list(table["verdict"]) == [m["status"] for m in stored], tab_label
        assert [str(v) for v in table["value"]] == [
            "–" if m["value"] is None else str(round(m["value"], 4)) for m in stored
        ], tab_label
    assert "No version of german_credit is in production yet" in " ".join(i.value for i in at.info)
    approve = next(b for b in at.button if b.key == "approve")
    assert not approve.disabled and approve.label == "Approve…"
    approve.click().run()  # asks to confirm first, naming what production serves now
    (confirm,) = [m.value for m in at.markdown if m.value.startswith("**Confirm: approve")]
    assert f"(model version {mv_id}, artifact `{evaluation_sha(live_ctx, mv_id)}`)" in confirm
    assert "Production serves no version of german_credit yet. After this it is deployed to production." in confirm
    next(b for b in at.button if b.key == "confirm").click().run()  # without a comment: refused by the service
    assert "needs a comment" in at.error[0].value
    next(t for t in at.text_area if t.label == "Comment (required)").set_value("quality and fairness reviewed")
    next(b for b in at.button if b.key == "approve").click().run()
    next(b for b in at.button if b.key == "confirm").click().run()
    assert not at.exception
    with live_ctx.db.read() as session:
        assert session.get(ModelVersion, mv_id).state == "in_production"  # type: ignore[union-attr]
    (decision,) = governance.decisions(live_ctx, people["vera"])
    prod = next(d for d in deployments.list_deployments(live_ctx, people["vera"]) if d.space == "prod")
    assert decision.comment == "quality and fairness reviewed" and decision.evidence == (evaluation.id,)
    (headline,) = [s.value for s in at.success]
    assert headline == (
        f"german_credit v1 (model version {mv_id}) approved (approval {decision.approval_id}). "
        "Production deployment check: passed."
    )
    assert f"- Deployed to prod: deployment {prod.id} at {prod.scoring_path}" in [m.value for m in at.markdown]
    # The form is gone: nothing to click twice; only the way back to the queue.
    assert [b.key for b in at.button] == ["review-back"]
    next(b for b in at.button if b.key == "review-back").click().run()
    assert "No candidate is awaiting review" in at.info[0].value


def evaluation_sha(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.artifact_sha256


def test_a_decision_never_moves_on_to_the_next_candidate(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, tmp_path: Path
) -> None:
    """Finding 1: after a decision the selector moved on and a second click approved the next candidate."""
    following = make_candidate(live_ctx, people["dan"], tmp_path, seed=3)
    at = page("review", "vera")
    next(t for t in at.text_area if t.label == "Comment (required)").set_value("v1 reviewed")
    next(b for b in at.button if b.key == "approve").click().run()
    next(b for b in at.button if b.key == "confirm").click().run()
    assert [b.key for b in at.button] == ["review-back"]  # a second click finds no button to press
    at.run()  # a rerun (the second click's) decides nothing more
    assert [d.model_version_id for d in governance.decisions(live_ctx, people["vera"])] == [candidate]
    next(b for b in at.button if b.key == "review-back").click().run()
    assert at.selectbox[0].value == following
    assert next(t for t in at.text_area if t.label == "Comment (required)").value == ""  # not v1's comment
    next(b for b in at.button if b.key == "reject").click().run()  # no comment: refused, nothing decided
    assert "a rejection needs a comment" in at.error[0].value
    with live_ctx.db.read() as session:
        assert session.get(ModelVersion, following).state == "awaiting_review"  # type: ignore[union-attr]


def test_review_buttons_are_disabled_on_ones_own_model(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    from pipeline_core.services import governance

    dans = make_candidate(live_ctx, people["dan"], tmp_path)
    governance.set_role(live_ctx, people["admin"], username="dan", role="validator")  # after training it
    at = page("review", "vera")
    assert not next(b for b in at.button if b.key == "approve").disabled
    dan = Principal("dan", "validator")
    at = page("review", "vera", state={"principal": dan})
    assert next(b for b in at.button if b.key == "approve").disabled
    assert next(b for b in at.button if b.key == "reject").disabled
    assert (
        f"Approve and Reject are disabled: dan is the account of dan, who launched, trained, uploaded the data of "
        f"or retrained model version {dans}; a validator may not approve or reject their own model"
    ) in [i.value for i in at.info]


def test_the_model_tests_tab_shows_each_verdict_with_its_evidence(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    mv_id = make_candidate(live_ctx, people["dora"], tmp_path)
    stored = runs.latest_model_tests(live_ctx, people["vera"], mv_id)
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
    # The adversarial test's evidence: its figures as facts, what the attack may change, the smallest flips.
    verdict = stored.report.verdict("adversarial")
    attack = next(e for label, e in expanders.items() if label.startswith("adversarial"))
    assert attack.markdown[0].value == verdict.summary and "'Risk' decisions made with risk >= 0.70" in verdict.summary
    facts = attack.dataframe[0].value
    assert dict(zip(facts["fact"], facts["value"], strict=True))["flip_rate"] == str(
        round(verdict.evidence["flip_rate"], 4)
    )
    said = [m.value for m in attack.markdown]
    assert "**mutable**: LoanAmount, LoanDuration, Telephone" in said
    assert "**cannot move within budget**: InstallmentPercent" in said
    assert any(m.startswith("**held fixed**: ") and "Age" in m and "Sex" in m and "ForeignWorker" in m for m in said)
    flips = verdict.evidence["smallest_flips"]
    assert flips and "**smallest flips**" in said
    first = next(d.value for d in attack.dataframe if "decision_before" in d.value.columns)
    assert first["record"][0] == flips[0]["record"] and first["decision_after"][0] == "No Risk"

    next(b for b in tab.button if b.key == "rerun-model-tests").click().run()
    assert not at.exception
    with live_ctx.db.read() as session:
        test_runs = session.execute(select(ModelTestRun).where(ModelTestRun.model_version_id == mv_id)).scalars().all()
    assert len(test_runs) == 2 and test_runs[1].created_by == "vera"
    assert any(f"Model test run {test_runs[1].id}" in s.value for s in at.success)
    tab = next(t for t in at.tabs if t.label == "Model tests")
    assert f"Model test run {test_runs[1].id} (on demand by vera)" in tab.caption[0].value


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
    assert list_runs(dash_ctx, SYSTEM) == []
    at.text_input[0].set_value("s3://training-data/credit/german.csv")
    at.button[0].click().run()
    assert not at.exception
    (run,) = list_runs(dash_ctx, SYSTEM)
    assert run.dataset.source == "s3://training-data/credit/german.csv" and run.dataset.n_rows == 600
