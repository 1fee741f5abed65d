"""Runs through the store: execution, gates, cancel, reaping, concurrent claims."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select, update

from pipeline_core.data.expectations import MODEL_TESTS
from pipeline_core.data.load import frame_to_csv_bytes, read_csv_file
from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.errors import ConflictError, DataError, NotFoundError
from pipeline_core.model_io import load_model
from pipeline_core.monitors.suite import MONITORS
from pipeline_core.params import RunParams
from pipeline_core.services.audit import verify_chain
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import register_dataset, register_file
from pipeline_core.services.runs import (
    RunControl,
    RunWorker,
    cancel_run,
    execute_run,
    get_run,
    launch_file_run,
    launch_run,
    model_version_for_run,
    reap_stale_runs,
)
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import AuditEvent, Evaluation, ModelTestRun, ModelVersion, Run
from tests.states import DORA

FAST = RunParams(max_iter=30, cv_folds=3)


def mv_state(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.state


def _run_here(ctx: ServiceContext, run_id: int) -> str:
    worker = RunWorker(ctx)
    assert worker.claim(run_id)
    return worker.execute(run_id)


def test_a_run_registers_a_model_version_with_its_lineage(
    live_ctx: ServiceContext, ctx: ServiceContext, people: dict[str, Principal], csv_path: Path, spec: DataSpec
) -> None:
    run = launch_file_run(ctx, people["dora"], str(csv_path), spec=spec, params=FAST)
    assert run.status == "queued" and [s.status for s in run.stages] == ["pending"] * 7
    assert _run_here(ctx, run.id) == "succeeded"

    run = get_run(ctx, SYSTEM, run.id)
    assert run.status == "succeeded" and run.error is None
    for stage in run.stages:
        assert stage.status == "succeeded" and stage.duration_seconds is not None and stage.duration_seconds >= 0
        assert stage.log and stage.gate_passed is True
        assert stage.started_at is not None and stage.finished_at is not None
        assert stage.finished_at >= stage.started_at
    assert run.stages[0].outputs["n_train"] + run.stages[0].outputs["n_test"] == 600

    mv = model_version_for_run(ctx, SYSTEM, run.id)
    assert mv is not None and mv.version == 1 and mv.created_by == "dora"
    assert mv.training_data_sha256 == read_csv_file(csv_path, roots=[csv_path.parent]).sha256
    assert mv.lineage["training_data"]["sha256"] == mv.training_data_sha256
    # The training split's numeric ranges, which the scorer warns outside of: within the whole file's.
    data = read_csv_file(csv_path, roots=[csv_path.parent]).frame
    assert set(mv.lineage["training_ranges"]) == set(spec.numeric)
    for name, (low, high) in mv.lineage["training_ranges"].items():
        assert data[name].min() <= low <= high <= data[name].max(), name
    model = load_model(ctx.artifacts.get(mv.artifact_sha256))
    assert mv.metrics["roc_auc"] > 0.7 and list(model.classes_) == ["No Risk", "Risk"]
    assert run.stages[3].outputs["model_version_id"] == mv.id
    tested, deploy, evaluate = run.stages[4].outputs, run.stages[5].outputs, run.stages[6].outputs
    assert [v["name"] for v in tested["verdicts"]] == list(MODEL_TESTS) and tested["status"] in ("pass", "warn")
    assert {v["name"]: v["status"] for v in tested["verdicts"]}["artifact"] == "pass"
    assert deploy["smoke_status"] == 200 and deploy["smoke_max_abs_difference"] <= 1e-9
    assert evaluate["status"] in ("pass", "warn") and evaluate["risk_level"] in ("low", "medium")
    with ctx.db.read() as session:
        stored = session.get(Evaluation, evaluate["evaluation_id"])
        assert stored is not None and stored.space == "preprod" and stored.data_window["records"] == 120  # 20% of 600
        assert set(stored.results["monitors"]) == set(MONITORS)
        assert stored.results["checks"][0]["name"] == "roc_auc" and stored.results["checks"][0]["critical"]
        mrm_tests = stored.results["monitors"]["mrm"]["details"]["tests"]
        assert [t["name"] for t in mrm_tests if t["source"] == "model_tests"] == [e["name"] for e in tested["mrm"]]
        row = session.get(ModelTestRun, tested["model_test_run_id"])
        assert row is not None and row.model_version_id == mv.id and row.run_id == run.id

    with ctx.db.read() as session:
        actions = list(session.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())
        assert verify_chain(session).ok
    assert [a for a in actions if not a.startswith(("user.", "thresholds."))] == [
        "dataset.registered",
        "run.queued",
        "run.claimed",
        "model_version.registered",
        "model_version.tested",
        "deployment.created",
        "deployment.key_issued",
        "deployment.key_revoked",  # the smoke test's key
        "deployment.key_issued",
        "deployment.key_revoked",  # the evaluation's key
        "evaluation.recorded",
        "model_version.awaiting_review",
        "run.succeeded",
    ]
    assert mv_state(ctx, mv.id) == "awaiting_review"


def test_bad_data_fails_the_run_naming_the_problem(
    ctx: ServiceContext, people: dict[str, Principal], frame: pd.DataFrame, spec: DataSpec, tmp_path: Path
) -> None:
    frame.loc[4, "Risk"] = "Perhaps"
    path = tmp_path / "bad.csv"
    path.write_bytes(frame_to_csv_bytes(frame))
    run = launch_file_run(ctx, people["dora"], str(path), spec=spec, params=FAST)
    assert _run_here(ctx, run.id) == "failed"
    run = get_run(ctx, SYSTEM, run.id)
    assert run.failed_stage == "validate"
    assert "label_outside_spec: column 'Risk'" in (run.error or "") and "'Perhaps'" in (run.error or "")
    assert [s.status for s in run.stages] == ["failed"] + ["skipped"] * 6
    assert run.stages[0].outputs["anomalies"][0]["example_lines"] == [6]
    assert model_version_for_run(ctx, SYSTEM, run.id) is None


def test_train_gate_failure_names_the_threshold(
    ctx: ServiceContext, people: dict[str, Principal], csv_path: Path, spec: DataSpec
) -> None:
    strict = replace(spec, name="strict_credit", thresholds=Thresholds(min_roc_auc=0.995))
    dataset = register_file(ctx, DORA, csv_path, spec=strict)
    run = launch_run(ctx, people["dora"], dataset=dataset, params=FAST)
    assert _run_here(ctx, run.id) == "failed"
    run = get_run(ctx, SYSTEM, run.id)
    assert run.failed_stage == "train" and "< minimum 0.99" in (run.error or "")
    assert [s.status for s in run.stages] == ["succeeded", "succeeded", "failed"] + ["skipped"] * 4
    with ctx.db.read() as session:
        assert session.execute(select(func.count()).select_from(ModelVersion)).scalar() == 0


def test_cancel_a_queued_run_and_a_running_one(
    ctx: ServiceContext, people: dict[str, Principal], csv_path: Path, spec: DataSpec
) -> None:
    queued = launch_file_run(ctx, people["dora"], str(csv_path), spec=spec, params=FAST)
    assert cancel_run(ctx, people["dora"], queued.id).status == "cancelled"
    with pytest.raises(ConflictError, match=f"run {queued.id} is already cancelled"):
        cancel_run(ctx, people["dora"], queued.id)
    with pytest.raises(NotFoundError, match="run 999 does not exist"):
        cancel_run(ctx, people["dora"], 999)

    running = launch_file_run(ctx, people["dora"], str(csv_path), spec=spec, params=FAST)
    worker = RunWorker(ctx)
    assert worker.claim(running.id)
    control = RunControl()

    def cancel_during_prepare(stage: str, event: str, seconds: float) -> None:
        if stage == "prepare" and event == "done":
            cancel_run(ctx, people["dan"], running.id)
            worker.beat(running.id, control)  # the heartbeat is what carries the request

    status = execute_run(ctx, SYSTEM, running.id, worker_id=worker.id, control=control, progress=cancel_during_prepare)
    assert status == "cancelled"
    run = get_run(ctx, SYSTEM, running.id)
    assert [s.status for s in run.stages] == ["succeeded", "succeeded"] + ["cancelled"] * 5
    assert model_version_for_run(ctx, SYSTEM, running.id) is None


def test_reaper_fails_runs_whose_worker_stopped_beating(
    ctx: ServiceContext, people: dict[str, Principal], csv_path: Path, spec: DataSpec
) -> None:
    run = launch_file_run(ctx, people["dora"], str(csv_path), spec=spec, params=FAST)
    worker = RunWorker(ctx, worker_id="worker:gone")
    assert worker.claim(run.id)
    assert reap_stale_runs(ctx, SYSTEM) == []  # fresh heartbeat
    with ctx.db.write() as session:
        session.execute(update(Run).where(Run.id == run.id).values(heartbeat_at=utcnow() - timedelta(seconds=60)))
    assert reap_stale_runs(ctx, SYSTEM) == [run.id]
    reaped = get_run(ctx, SYSTEM, run.id)
    assert reaped.status == "failed" and "worker:gone stopped sending heartbeats" in (reaped.error or "")
    # The worker, if it comes back, no longer owns the run and registers nothing.
    assert execute_run(ctx, SYSTEM, run.id, worker_id="worker:gone") == "lost"
    assert model_version_for_run(ctx, SYSTEM, run.id) is None


def test_a_table_whose_hash_does_not_match_its_bytes_is_refused(
    ctx: ServiceContext, people: dict[str, Principal], csv_path: Path, spec: DataSpec
) -> None:
    forged = replace(read_csv_file(csv_path, roots=[csv_path.parent]), sha256="0" * 64)
    with pytest.raises(DataError, match="does not match its bytes"):
        register_dataset(ctx, DORA, forged, spec=spec)


def test_concurrent_claims_never_share_a_run(
    ctx: ServiceContext, people: dict[str, Principal], csv_path: Path, spec: DataSpec
) -> None:
    dataset = register_file(ctx, DORA, csv_path, spec=spec)
    ids = {launch_run(ctx, people["dora"], dataset=dataset, params=FAST).id for _ in range(24)}
    claims: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def claimer() -> None:
        worker = RunWorker(ctx)
        start.wait()
        while (run_id := worker.claim_next()) is not None:
            with lock:
                claims.append((worker.id, run_id))

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [run_id for _, run_id in claims]
    assert sorted(claimed) == sorted(ids)  # every run once, none twice
    with ctx.db.read() as session:
        assert verify_chain(session).ok


def test_reference_schema_comes_from_the_last_model(
    live_ctx: ServiceContext,
    ctx: ServiceContext,
    people: dict[str, Principal],
    csv_path: Path,
    spec: DataSpec,
    frame: pd.DataFrame,
    tmp_path: Path,
) -> None:
    first = launch_file_run(ctx, people["dora"], str(csv_path), spec=spec, params=FAST)
    assert _run_here(ctx, first.id) == "succeeded"
    frame.loc[0, "LoanAmount"] = 99_999
    newer = tmp_path / "newer.csv"
    newer.write_bytes(frame_to_csv_bytes(frame))
    second = launch_file_run(ctx, people["dora"], str(newer), spec=spec, params=FAST)
    assert _run_here(ctx, second.id) == "succeeded"
    anomalies = get_run(ctx, SYSTEM, second.id).stages[0].outputs["anomalies"]
    assert any(a["kind"] == "out_of_range" and a["column"] == "LoanAmount" for a in anomalies)
    with ctx.db.read() as session:
        versions = list(session.execute(select(ModelVersion.version).order_by(ModelVersion.id)).scalars())
    assert versions == [1, 2]
