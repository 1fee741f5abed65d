"""A failed run leaves nothing serving: its model version is failed, its pre-prod deployment put back.

The defect (issue 16, finding 13): the version is committed at *register*; after SIGKILL during
*evaluate* the run was failed, but its version stayed ``in_preprod`` and the pre-prod endpoint served
it. Now a run that fails (a stage raises), and a run the reaper fails (its worker stopped beating),
mark the version failed in the transaction that ends the run, and pre-prod serves the version it
served before again (or, with none, is deleted). A failed version is never reviewed nor approved.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sqlalchemy import select, text, update

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ConflictError
from pipeline_core.services import deployments, governance
from pipeline_core.services.audit import verify_chain
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.runs import (
    RunWorker,
    _service_stages,
    execute_run,
    get_run,
    launch_file_run,
    model_version_for_run,
    reap_stale_runs,
)
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import AuditEvent, ModelVersion, Run
from pipeline_core.vocabulary import ModelState, RevisionReason, Space
from tests.processes import wait_for
from tests.services.helpers import FAST, copy_version


def _launch(ctx: ServiceContext, dora: Principal, folder: Path, *, seed: int = 8) -> int:
    path = folder / f"credit_{seed}.csv"
    path.write_bytes(frame_to_csv_bytes(generate_german_credit(600, seed=seed)))
    return launch_file_run(ctx, dora, str(path), spec=german_credit_spec(), params=FAST).id


def _preprod(ctx: ServiceContext) -> deployments.DeploymentInfo | None:
    return next((d for d in deployments.list_deployments(ctx, SYSTEM) if d.space == Space.PREPROD), None)


def _version_of(ctx: ServiceContext, run_id: int) -> ModelVersion:
    with ctx.db.read() as session:
        mv = session.execute(select(ModelVersion).where(ModelVersion.run_id == run_id)).scalar_one()
        session.expunge(mv)
    return mv


def _scored_by(ctx: ServiceContext, deployment_id: int, key: str, applicants: pd.DataFrame, spec: DataSpec) -> Any:
    records = applicants.iloc[:2][spec.feature_names]
    body = {"input_data": [{"fields": spec.feature_names, "values": json.loads(records.to_json(orient="values"))}]}
    answer = httpx.post(
        ctx.settings.scoring_url + deployments.scoring_path(deployment_id),
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    return answer.json().get("model_version_id") if answer.status_code == 200 else answer.status_code


def _failing(stage: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        if stage == "deploy":
            original(*args, **kwargs)  # deployed to pre-prod, then the run dies
        raise RuntimeError(f"{stage} crashed")

    return run


STAGE_FUNCTIONS = {
    "model_tests": "_model_tests_stage",  # before the pre-prod deployment
    "deploy": "_deploy_and_smoke_test",  # deployed, then dies
    "evaluate": "_evaluate_in_preprod",
}


@pytest.mark.parametrize("stage", sorted(STAGE_FUNCTIONS))
def test_a_run_whose_stage_raises_fails_its_version_and_preprod_serves_the_previous_one(
    candidate: int,
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    applicants: pd.DataFrame,
    spec: DataSpec,
    stage: str,
) -> None:
    ctx, dora = live_ctx, people["dora"]
    preprod = _preprod(ctx)
    assert preprod is not None and preprod.model_version_id == candidate
    key = deployments.issue_key(ctx, dora, preprod.id, label="failed run test")
    name = STAGE_FUNCTIONS[stage]
    monkeypatch.setattr(_service_stages, name, _failing(stage, getattr(_service_stages, name)))

    run_id = _launch(ctx, dora, tmp_path)
    worker = RunWorker(ctx)
    assert worker.claim(run_id)
    assert worker.execute(run_id) == "failed"
    run = get_run(ctx, SYSTEM, run_id)
    assert run.failed_stage == stage and f"{stage} crashed" in (run.error or "")
    failed = _version_of(ctx, run_id)
    assert failed.state == ModelState.FAILED

    after = _preprod(ctx)
    assert after is not None and (after.id, after.model_version_id) == (preprod.id, candidate)
    reasons = [(r.model_version_id, r.reason) for r in deployments.revisions(ctx, SYSTEM, preprod.id)]
    expected = [(candidate, RevisionReason.PIPELINE)]
    if stage != "model_tests":
        expected += [(failed.id, RevisionReason.PIPELINE), (candidate, RevisionReason.RUN_FAILED)]
    assert reasons == expected
    wait_for(lambda: _scored_by(ctx, preprod.id, key, applicants, spec) == candidate, timeout=10, what="pre-prod")

    assert [c.model_version_id for c in governance.review_queue(ctx, people["vera"])] == [candidate]
    with pytest.raises(ConflictError, match=f"model version {failed.id} is failed: its run did not succeed"):
        governance.approve(ctx, people["vera"], failed.id, comment="looks fine", artifact_sha256=failed.artifact_sha256)
    with ctx.db.read() as session:
        [event] = session.execute(select(AuditEvent).where(AuditEvent.action == "model_version.failed")).scalars()
        assert event.object_id == str(failed.id) and event.details["run_id"] == run_id
        assert verify_chain(session).ok


def test_a_reaped_run_fails_its_version_and_preprod_serves_the_previous_one(
    candidate: int,
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    applicants: pd.DataFrame,
    spec: DataSpec,
) -> None:
    """The worker dies during *evaluate* (no heartbeat thread here: it stops beating), another one reaps it."""
    ctx, dora = live_ctx, people["dora"]
    preprod = _preprod(ctx)
    assert preprod is not None
    key = deployments.issue_key(ctx, dora, preprod.id, label="reaped run test")
    seen: dict[str, Any] = {}

    def dies(_ctx: ServiceContext, mv_id: int, *args: Any) -> Any:
        seen["served"] = _scored_by(ctx, preprod.id, key, applicants, spec)  # what SIGKILL left serving
        with ctx.db.write() as session:
            session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow() - timedelta(seconds=60)))
        seen["reaped"] = reap_stale_runs(ctx, SYSTEM)
        raise RuntimeError("killed")

    monkeypatch.setattr(_service_stages, "_evaluate_in_preprod", dies)
    run_id = _launch(ctx, dora, tmp_path)
    worker = RunWorker(ctx, worker_id="worker:doomed")
    assert worker.claim(run_id)
    assert execute_run(ctx, SYSTEM, run_id, worker_id=worker.id) == "lost"  # the run was no longer its own

    failed = _version_of(ctx, run_id)
    assert seen == {"reaped": [run_id], "served": failed.id}
    assert failed.state == ModelState.FAILED
    assert get_run(ctx, SYSTEM, run_id).status == "failed"
    after = _preprod(ctx)
    assert after is not None and after.model_version_id == candidate
    wait_for(lambda: _scored_by(ctx, preprod.id, key, applicants, spec) == candidate, timeout=10, what="pre-prod")
    assert [c.model_version_id for c in governance.review_queue(ctx, people["vera"])] == [candidate]
    mv = model_version_for_run(ctx, SYSTEM, run_id)
    assert mv is not None and mv.state == ModelState.FAILED


def test_a_failed_first_run_leaves_no_preprod_deployment(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx, dora = live_ctx, people["dora"]
    monkeypatch.setattr(_service_stages, "_evaluate_in_preprod", _failing("evaluate", lambda *a: None))
    run_id = _launch(ctx, dora, tmp_path)
    worker = RunWorker(ctx)
    assert worker.claim(run_id)
    assert worker.execute(run_id) == "failed"
    assert _version_of(ctx, run_id).state == ModelState.FAILED
    assert _preprod(ctx) is None
    [gone] = deployments.list_deployments(ctx, SYSTEM, include_deleted=True)
    assert gone.status == "deleted"
    with ctx.db.read() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "deployment.deleted")).scalar_one()
        assert event.details == {"reason": "run_failed", "model_version_id": gone.model_version_id}


def test_the_reaper_puts_back_what_a_process_that_died_half_way_left_serving(
    candidate: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    """A version failed, but its pre-prod deployment not yet put back: the next sweep does it."""
    ctx = live_ctx
    with ctx.db.write() as session:
        live = session.get(ModelVersion, candidate)
        assert live is not None
        planted = copy_version(session, live).id
    preprod = deployments.deploy(ctx, people["dora"], planted, space="preprod").deployment
    assert preprod.model_version_id == planted
    verdict = deployments.approval_of_served(ctx, SYSTEM, preprod.id)
    assert verdict.allowed
    with ctx.db.write() as session:
        session.execute(text("UPDATE model_versions SET state = 'failed' WHERE id = :id"), {"id": planted})
    verdict = deployments.approval_of_served(ctx, SYSTEM, preprod.id)  # the scoring service refuses it meanwhile
    assert verdict.refusal == f"model version {planted} failed: the run that trained it did not succeed"

    assert reap_stale_runs(ctx, SYSTEM) == []
    assert deployments.get_deployment(ctx, SYSTEM, preprod.id).model_version_id == candidate
    assert deployments.approval_of_served(ctx, SYSTEM, preprod.id).allowed
    assert reap_stale_runs(ctx, SYSTEM) == []  # nothing more to do: one revision put it back
    assert [r.reason for r in deployments.revisions(ctx, SYSTEM, preprod.id)][-1] == RevisionReason.RUN_FAILED
    assert len(deployments.revisions(ctx, SYSTEM, preprod.id)) == 3
