"""The model tests as a pipeline stage (critical failures stop the run), on demand, through the CLI, stored."""

from __future__ import annotations

import html as html_text
import json
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline_core.data.expectations import MODEL_TESTS, Case
from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import PermissionDenied
from pipeline_core.services import governance, runs
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.runs import RunWorker, get_run, launch_file_run, model_version_for_run
from pipeline_core.store.models import AuditEvent, Deployment, Evaluation, ModelTestRun, ModelVersion
from tests.processes import run_cli
from tests.services.helpers import FAST, make_candidate

# A safe applicant declared "Risk": no sound model decides it so.
IMPOSSIBLE = Case(
    "safe applicant declared risky",
    {"CheckingStatus": "less_0", "LoanAmount": 250, "LoanDuration": 4, "CreditHistory": "all_credits_paid_back"},
    "Risk",
)


def _with_case(spec: DataSpec, *, critical: bool) -> DataSpec:
    exp = spec.expectations
    crit = (*exp.critical, "minimum_functionality") if critical else exp.critical
    return replace(spec, expectations=replace(exp, cases=(*exp.cases, IMPOSSIBLE), critical=crit))


def _run(ctx: ServiceContext, actor: Principal, spec: DataSpec, tmp_path: Path) -> int:
    path = tmp_path / "credit.csv"
    path.write_bytes(frame_to_csv_bytes(generate_german_credit(600, seed=7)))
    run = launch_file_run(ctx, actor, str(path), spec=spec, params=FAST)
    worker = RunWorker(ctx)
    assert worker.claim(run.id)
    worker.execute(run.id)
    worker.stop()
    return run.id


def test_a_failed_critical_model_test_stops_the_run_before_pre_prod(
    live_ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec, tmp_path: Path
) -> None:
    run_id = _run(live_ctx, people["dora"], _with_case(spec, critical=True), tmp_path)
    run = get_run(live_ctx, SYSTEM, run_id)
    assert run.status == "failed" and run.failed_stage == "model_tests"
    assert "critical model test(s) failed: minimum_functionality" in (run.error or "")
    assert "'safe applicant declared risky': expected 'Risk', got 'No Risk'" in (run.error or "")
    assert [(s.name, s.status) for s in run.stages][4:] == [
        ("model_tests", "failed"),
        ("deploy", "skipped"),
        ("evaluate", "skipped"),
    ]
    mv = model_version_for_run(live_ctx, SYSTEM, run_id)
    assert mv is not None and mv.state == "failed"  # with its run: never reaches pre-prod or the review queue
    with live_ctx.db.read() as session:
        assert session.execute(select(Deployment)).first() is None
        stored = session.execute(select(ModelTestRun)).scalar_one()
        assert stored.model_version_id == mv.id and stored.run_id == run_id and stored.status == "fail"
    latest = runs.latest_model_tests(live_ctx, people["vera"], mv.id)
    assert latest is not None
    case = latest.report.verdict("minimum_functionality").evidence["cases"][-1]
    assert case["case"] == IMPOSSIBLE.name and case["predicted"] == "No Risk" and not case["passed"]


def test_a_failed_non_critical_test_warns_and_reaches_the_risk_evaluation(
    live_ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec, tmp_path: Path
) -> None:
    run_id = _run(live_ctx, people["dora"], _with_case(spec, critical=False), tmp_path)
    run = get_run(live_ctx, SYSTEM, run_id)
    assert run.status == "succeeded"
    stage = next(s for s in run.stages if s.name == "model_tests")
    assert stage.gate_passed and "passed with warnings" in (stage.gate_reason or "")
    assert "minimum_functionality" in (stage.gate_reason or "")
    evaluation_id = run.stages[-1].outputs["evaluation_id"]
    with live_ctx.db.read() as session:
        evaluation = session.get(Evaluation, evaluation_id)
        assert evaluation is not None
        mrm = evaluation.results["monitors"]["mrm"]["details"]
    failed = [t for t in mrm["tests"] if t["source"] == "model_tests" and t["status"] == "fail"]
    assert "minimum_functionality" in [t["name"] for t in failed]
    assert mrm["risk_level"] in ("medium", "high")


@pytest.mark.slow  # runs the CLI in a subprocess
def test_a_stored_version_is_tested_against_production_through_the_cli(
    live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    ctx = live_ctx
    prod_id = make_candidate(ctx, people["dora"], tmp_path, seed=7)
    with ctx.db.read() as session:
        prod = session.get(ModelVersion, prod_id)
        assert prod is not None
        sha = prod.artifact_sha256
    assert governance.approve(ctx, people["vera"], prod_id, comment="fine", artifact_sha256=sha).deployment
    candidate = make_candidate(ctx, people["dan"], tmp_path, seed=8)

    with pytest.raises(PermissionDenied, match="max is a manager; run model tests needs one of"):
        runs.run_model_tests(ctx, people["max"], candidate)

    stored = runs.run_model_tests(ctx, people["vera"], candidate)
    report = stored.report
    assert [v.name for v in report.verdicts] == list(MODEL_TESTS) and stored.created_by == "vera"
    slices = report.verdict("slice_regression")
    assert slices.status in ("pass", "fail") and f"(model version {prod_id})" in slices.evidence["compared_with"]
    assert report.verdict("convergence").status == "pass"  # the curve its run's train stage recorded
    assert report.verdict("artifact").evidence["sha256"] != sha
    html = governance.validation_report(ctx, people["max"], candidate)
    section = html[html.index('<section id="model-tests">') :]
    section = section[: section.index("</section>")]
    assert all(f"<td>{name}</td>" in section for name in MODEL_TESTS)
    assert report.verdict("slice_regression").summary.split(";")[0] in html_text.unescape(section)
    compared = html[html.index('<section id="comparison-with-the-production-model">') :]
    assert f"(model version {prod_id})</td>" in compared[: compared.index("</section>")]

    # The CLI, in a real process, against the same store: a CI server gates on its exit code.
    out = tmp_path / "tests.json"
    result = run_cli(["--user", "vera", "test-model", str(candidate), "--json", str(out)], ctx.settings.data_dir)
    lines = [line.split() for line in result.stdout.splitlines()[1:] if line.startswith("  ")]
    assert [words[1].rstrip(":") for words in lines[: len(MODEL_TESTS)]] == list(MODEL_TESTS), (
        result.stdout + result.stderr
    )
    any_failed = any(words[0] == "FAIL" for words in lines)
    assert result.returncode == (1 if any_failed else 0), result.stdout + result.stderr
    written = json.loads(out.read_text(encoding="utf-8"))
    assert [v["name"] for v in written["verdicts"]] == list(MODEL_TESTS)
    assert all(v["evidence"] for v in written["verdicts"] if v["status"] != "skip")
    with ctx.db.read() as session:
        test_runs = (
            session.execute(select(ModelTestRun).where(ModelTestRun.model_version_id == candidate)).scalars().all()
        )
        actions = session.execute(select(AuditEvent.action).where(AuditEvent.object_id == str(candidate))).scalars()
        assert len(test_runs) == 3 and [r.run_id is None for r in test_runs] == [
            False,
            True,
            True,
        ]  # pipeline, service, CLI
        assert list(actions).count("model_version.tested") == 3


@pytest.mark.slow  # runs the CLI in a subprocess
def test_the_cli_exits_non_zero_when_a_test_fails(
    live_ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec, tmp_path: Path
) -> None:
    run_id = _run(live_ctx, people["dora"], _with_case(spec, critical=False), tmp_path)
    mv = model_version_for_run(live_ctx, SYSTEM, run_id)
    assert mv is not None
    result = run_cli(["--user", "vera", "test-model", str(mv.id)], live_ctx.settings.data_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  FAIL minimum_functionality: 1 of 3 cases wrong: 'safe applicant declared risky'" in result.stdout
    missing = run_cli(["--user", "vera", "test-model", "999"], live_ctx.settings.data_dir)
    assert missing.returncode == 4 and "model version 999 does not exist" in missing.stderr
