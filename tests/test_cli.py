"""The command line in real processes: exit codes, demo, workers racing, a worker killed."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.params import RunParams
from pipeline_core.services import governance
from pipeline_core.services.audit import verify_chain
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import open_context
from pipeline_core.services.datasets import register_file
from pipeline_core.services.runs import get_run, launch_run, list_model_versions, live_workers, reap_stale_runs
from pipeline_core.store.models import AuditEvent
from tests.credentials import PASSWORD
from tests.processes import bootstrap_user, cli_settings, run_cli, start_worker, wait_for
from tests.states import DORA

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    bootstrap_user(path)
    return path


def _write(frame: pd.DataFrame, path: Path) -> Path:
    path.write_bytes(frame_to_csv_bytes(frame))
    return path


@pytest.mark.parametrize(
    ("mutate", "params", "code", "message"),
    [
        (None, ["max_iter=30"], 0, "run 1: succeeded"),
        (lambda f: f.drop(columns=["Sex"]), [], 1, "missing_column: column 'Sex'"),
        (lambda f: f.assign(Risk="Unknown"), [], 1, "label_outside_spec: column 'Risk'"),
        (None, ["max_iter=-3"], 2, "error: parameter max_iter: -3 is outside"),
        (None, ["model=hgb"], 2, "error: unknown parameter 'model'"),
    ],
    ids=["succeeds", "missing-column", "label-outside-spec", "bad-param-value", "unknown-param"],
)
def test_run_wait_exit_codes(data_dir: Path, frame: pd.DataFrame, mutate, params, code, message) -> None:  # type: ignore[no-untyped-def]
    path = _write(mutate(frame) if mutate else frame, data_dir.parent / "in.csv")
    result = run_cli(["run", "--data", str(path), "--wait", *[f"--param={p}" for p in params]], data_dir)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert message in output


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"", "is empty"), (b"\xef\xbb\xbf", "is empty")],
    ids=["missing-file", "empty-file", "bom-only"],
)
def test_unusable_files_exit_2_naming_the_file(data_dir: Path, content: bytes | None, message: str) -> None:
    path = data_dir.parent / "input.csv"
    if content is not None:
        path.write_bytes(content)
    result = run_cli(["run", "--data", str(path), "--wait"], data_dir)
    assert result.returncode == 2
    assert f"'{path}' {message}" in result.stderr


def test_demo_prints_its_metrics_and_lists_show_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"  # a fresh store: demo creates its users
    # The demo users get PASSWORD; the reads below sign in as the demo's data scientist.
    demo = {"MLOPS_DEMO_PASSWORD": PASSWORD, "MLOPS_USER": "demo_scientist"}
    result = run_cli(["demo", "--rows", "800"], data_dir, env=demo)
    assert result.returncode == 0, result.stderr
    assert "run 1: succeeded" in result.stdout and "roc_auc" in result.stdout
    assert "state: awaiting review" in result.stdout
    assert "demo_validator" in result.stdout and "validator" in result.stdout
    listed = run_cli(["runs", "list"], data_dir, env=demo)
    assert "succeeded" in listed.stdout
    shown = run_cli(["runs", "show", "1"], data_dir, env=demo)
    assert "train check: test ROC AUC" in shown.stdout
    models = run_cli(["models", "list"], data_dir, env=demo)
    assert "german_credit" in models.stdout and "hgb" in models.stdout
    assert run_cli(["audit", "verify"], data_dir, env=demo).stdout.startswith("audit chain: intact")
    missing = run_cli(["runs", "show", "42"], data_dir, env=demo)
    assert missing.returncode == 4 and "run 42 does not exist" in missing.stderr
    # Finding 15: no one reads without signing in, whoever can open the store's files.
    for read in (["runs", "list"], ["models", "list"], ["audit", "verify"]):
        anonymous = run_cli(read, data_dir, env={"MLOPS_USER": ""})
        assert anonymous.returncode == 5 and "name the acting user" in anonymous.stderr, read
        assert anonymous.stdout == "", read


def test_two_workers_race_for_runs_and_none_runs_twice(data_dir: Path, spec: DataSpec, tmp_path: Path) -> None:
    ctx = open_context(cli_settings(data_dir))
    path = _write(generate_german_credit(400, seed=3), tmp_path / "small.csv")
    dataset = register_file(ctx, DORA, path, spec=spec)
    actor = governance.get_principal(ctx, "dora")
    ids = [launch_run(ctx, actor, dataset=dataset, params=RunParams(max_iter=20, cv_folds=2)).id for _ in range(8)]
    workers = [start_worker(data_dir, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        wait_for(
            lambda: all(get_run(ctx, SYSTEM, i).status == "succeeded" for i in ids),
            timeout=240,
            what="8 runs to succeed",
        )
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        codes = [w.wait(timeout=60) for w in workers]
        logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
        assert codes == [0, 0], logs
    with ctx.db.read() as session:
        claims = Counter(
            int(e.object_id)
            for e in session.execute(select(AuditEvent).where(AuditEvent.action == "run.claimed")).scalars()
        )
        assert verify_chain(session).ok
    assert claims == Counter(ids)  # each run claimed exactly once
    versions = list_model_versions(ctx, SYSTEM, limit=100)
    assert sorted(v.run_id for v in versions) == sorted(ids)
    assert sorted(v.version for v in versions) == list(range(1, 9))
    ctx.close()


def test_a_worker_killed_mid_run_leaves_it_failed_and_no_model(data_dir: Path, spec: DataSpec, tmp_path: Path) -> None:
    ctx = open_context(cli_settings(data_dir))
    path = _write(generate_german_credit(20000, seed=5), tmp_path / "big.csv")
    dataset = register_file(ctx, DORA, path, spec=spec)
    actor = governance.get_principal(ctx, "dora")
    run_id = launch_run(ctx, actor, dataset=dataset, params=RunParams(max_iter=1500, max_leaf_nodes=63, cv_folds=10)).id
    worker = start_worker(data_dir, tmp_path / "worker.log")
    try:
        wait_for(
            lambda: any(s.name == "train" and s.status == "running" for s in get_run(ctx, SYSTEM, run_id).stages),
            timeout=120,
            what="the train stage to start",
        )
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert get_run(ctx, SYSTEM, run_id).status == "running"  # nobody has noticed yet
    wait_for(lambda: reap_stale_runs(ctx, SYSTEM) == [run_id], timeout=30, what="the heartbeat timeout")
    run = get_run(ctx, SYSTEM, run_id)
    assert run.status == "failed" and "stopped sending heartbeats" in (run.error or "")
    assert run.failed_stage == "train"
    assert {s.name: s.status for s in run.stages}["register"] == "pending"
    assert {s.name: s.status for s in run.stages}["deploy"] == "pending"
    assert list_model_versions(ctx, SYSTEM) == []
    ctx.close()


def test_run_wait_follows_a_live_worker_and_exits_with_the_result(
    data_dir: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    good = _write(frame, tmp_path / "good.csv")
    bad = _write(frame.drop(columns=["Housing"]), tmp_path / "bad.csv")
    assert run_cli(["runs", "list"], data_dir).returncode == 0  # migrate before the worker starts
    worker = start_worker(data_dir, tmp_path / "worker.log")
    try:
        ctx = open_context(cli_settings(data_dir))
        wait_for(lambda: bool(live_workers(ctx, SYSTEM)), timeout=60, what="the worker to register")
        ok = run_cli(["run", "--data", str(good), "--wait", "--param", "max_iter=20"], data_dir)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "queued" in ok.stdout and "executing it in this process" not in ok.stdout
        assert "[succeeded] Train and evaluate" in ok.stdout
        failed = run_cli(["run", "--data", str(bad), "--wait"], data_dir)
        assert failed.returncode == 1
        assert "missing_column: column 'Housing'" in failed.stdout
        queued_only = run_cli(["run", "--data", str(good), "--param", "max_iter=20"], data_dir)
        assert queued_only.returncode == 0 and "follow it with: runs show 3" in queued_only.stdout
        ctx.close()
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
