"""The governance flow through the CLI, in real processes: users, review, approve, score, feedback, audit."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from pipeline_core.data.load import frame_to_csv_bytes
from tests.processes import PASSWORD, cli_env, run_cli

pytestmark = pytest.mark.slow


def _as(user: str, args: list[str], data_dir: Path, **kw: object) -> str:
    env_user = ["--user", user]
    result = run_cli([*env_user, *args], data_dir, **kw)  # type: ignore[arg-type]
    assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
    return result.stdout


def test_the_whole_flow_through_the_cli(tmp_path: Path, frame: pd.DataFrame) -> None:
    data_dir = tmp_path / "data"
    # Bootstrap: the first user needs no login; later ones need an admin.
    assert (
        "user ada added as admin"
        in run_cli(
            ["users", "add", "ada", "--role", "admin", "--password-stdin"], data_dir, stdin=PASSWORD + "\n"
        ).stdout
    )
    refused = run_cli(
        ["--user", "nobody", "users", "add", "eve", "--role", "admin", "--password-stdin"],
        data_dir,
        stdin=PASSWORD + "\n",
    )
    assert refused.returncode == 5 and "login refused for 'nobody'" in refused.stderr
    for name, role in [("dora", "data_scientist"), ("vera", "validator"), ("victor", "validator")]:
        _as("ada", ["users", "add", name, "--role", role, "--password-stdin"], data_dir, stdin=PASSWORD + "\n")

    data = tmp_path / "credit.csv"
    data.write_bytes(frame_to_csv_bytes(frame))
    out = _as("dora", ["run", "--data", str(data), "--wait", "--param", "max_iter=30"], data_dir)
    assert "state: awaiting review" in out
    queue = _as("vera", ["review", "list"], data_dir)
    mv, sha = re.search(r"model version (\d+): .* artifact ([0-9a-f]{64})", queue).groups()  # type: ignore[union-attr]

    denied = run_cli(["--user", "dora", "approve", mv, "--comment", "mine", "--artifact", sha], data_dir)
    assert denied.returncode == 5 and "dora is a data_scientist" in denied.stderr
    no_comment = run_cli(["--user", "vera", "approve", mv, "--comment", " ", "--artifact", sha], data_dir)
    assert no_comment.returncode == 2 and "needs a comment" in no_comment.stderr
    # 600 rows: the fairness checks on the 120-record test split cannot be judged, and unjudged blocks.
    blocked = run_cli(["--user", "vera", "approve", mv, "--comment", "AUC fine", "--artifact", sha], data_dir)
    assert blocked.returncode == 1 and "could not be judged (insufficient data" in blocked.stderr
    checks = re.search(r"override naming each of (.+) with a reason", blocked.stderr).group(1).split(", ")  # type: ignore[union-attr]
    reason = "Fairness cannot be judged on a 120-record split; the 2025 backtest on 40,000 records is attached"
    override = ["--override", reason, *(a for c in checks for a in ("--override-check", c))]
    short = run_cli(
        ["--user", "vera", "approve", mv, "--comment", "ok", "--artifact", sha, "--override", "x"], data_dir
    )
    assert short.returncode == 2 and "must be at least a sentence" in short.stderr
    pending = _as(
        "vera", ["approve", mv, "--comment", "AUC and smoke test fine", "--artifact", sha, *override], data_dir
    )
    approval = re.search(r"approval (\d+) recorded", pending).group(1)  # type: ignore[union-attr]
    assert "awaits a second validator" in pending and "nothing is deployed until then" in pending
    assert "awaits a second validator" in _as("vera", ["review", "list"], data_dir)
    countersign = ["countersign", mv, "--approval", approval, "--comment", "backtest read", "--artifact", sha]
    own = run_cli(["--user", "vera", *countersign], data_dir)
    assert own.returncode == 5 and "the countersign must be a second validator's" in own.stderr
    approved = _as("victor", countersign, data_dir)
    assert "production deployment check: passed" in approved and " prod " in approved

    deps = _as("vera", ["deployments", "list"], data_dir)
    prod_id = re.search(r"^\s*(\d+)\s+prod\s", deps, re.M).group(1)  # type: ignore[union-attr]
    key_line = _as("ada", ["keys", "issue", "--deployment", prod_id], data_dir)
    key = key_line.rsplit(" ", 1)[-1].strip()

    # Score through the CLI against a scoring service started for the purpose.
    env = cli_env(data_dir) | {"MLOPS_API_KEY": key}
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline_core", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{env['MLOPS_SERVE_PORT']}/health"
        for _ in range(100):
            try:
                if httpx.get(url).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        sample = tmp_path / "sample.csv"
        sample.write_bytes(frame_to_csv_bytes(frame.iloc[:4].drop(columns=["Risk"])))
        command = [sys.executable, "-m", "pipeline_core", "score", "--deployment", prod_id, "--data", str(sample)]
        scored = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert scored.returncode == 0, scored.stderr
        ids = [line.split()[0] for line in scored.stdout.splitlines() if not line.startswith("warning")]
        assert len(ids) == 4
        labelled = frame.iloc[:4].assign(scoring_id=ids)
        fb = tmp_path / "feedback.json"
        fb.write_text(json.dumps(json.loads(labelled.to_json(orient="records"))))
        time.sleep(0.3)  # the payload logger writes every 50 ms
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = _as("vera", ["feedback", "upload", "--deployment", prod_id, "--file", str(fb)], data_dir)
    assert "stored 4 feedback record(s)" in stored and "4 linked to scoring ids" in stored
    again = _as("vera", ["feedback", "upload", "--deployment", prod_id, "--file", str(fb)], data_dir)
    assert "stored 0 feedback record(s)" in again and "4 already stored and not stored again" in again

    # Monitoring: four scored records are too few to judge, and the evaluation says so.
    evaluated = _as("vera", ["evaluate", "--deployment", prod_id], data_dir)
    assert re.search(r"evaluation \d+ of deployment \d+: warn, risk level medium", evaluated)
    assert "roc_auc insufficient data insufficient (critical)" in evaluated
    refused = run_cli(["--user", "ada", "evaluate", "--deployment", prod_id, "--since", "yesterday"], data_dir)
    assert refused.returncode == 2 and "--since 'yesterday' is not an ISO timestamp" in refused.stderr
    assert " prod model version " in _as("vera", ["evaluations", "list", "--deployment", prod_id], data_dir)
    assert _as("vera", ["alerts", "list"], data_dir) == "no open alerts\n"
    report = tmp_path / "report.html"
    assert "written to" in _as("vera", ["report", mv, "--out", str(report)], data_dir)
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # The format follows --out's suffix unless --format names it; both binary formats are written as bytes.
    assert "validation report (pdf)" in _as("vera", ["report", mv, "--out", str(tmp_path / "report.pdf")], data_dir)
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")
    written = _as("vera", ["report", mv, "--out", str(tmp_path / "report.bin"), "--format", "docx"], data_dir)
    assert "validation report (docx)" in written and (tmp_path / "report.bin").read_bytes().startswith(b"PK")
    refused = run_cli(["--user", "vera", "report", mv, "--out", str(tmp_path / "r.x"), "--format", "xlsx"], data_dir)
    assert refused.returncode == 2 and "invalid choice: 'xlsx'" in refused.stderr
    retrained = _as("dora", ["retrain", "--deployment", prod_id, "--wait"], data_dir)
    assert "+ 4 feedback records" in retrained and "state: awaiting review" in retrained

    nothing = run_cli(["--user", "vera", "rollback", "--reason", "prod answers badly since this morning"], data_dir)
    assert nothing.returncode == 2 and "nothing to roll back to" in nothing.stderr

    assert run_cli(["audit", "verify"], data_dir).stdout.startswith("audit chain: intact")
    db = sqlite3.connect(data_dir / "mlops.db")
    with pytest.raises(sqlite3.IntegrityError, match="audit events are append-only"), db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE action = 'model_version.approved'")
    with db:  # someone with file access removes the guard, then edits: the chain still tells
        db.execute("DROP TRIGGER audit_events_no_update")
        db.execute("DROP TRIGGER audit_events_no_delete")
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE action = 'model_version.approved'")
    edited = run_cli(["audit", "verify"], data_dir)
    assert edited.returncode == 1 and "BROKEN" in edited.stdout and "was altered" in edited.stdout
    with db:
        db.execute("UPDATE audit_events SET actor = 'vera' WHERE action = 'model_version.approved'")
    assert run_cli(["audit", "verify"], data_dir).returncode == 0
    with db:
        db.execute("DELETE FROM audit_events WHERE seq = 3")
    deleted = run_cli(["audit", "verify"], data_dir)
    assert deleted.returncode == 1 and "\n  event 3 is missing\n" in deleted.stdout  # named by its seq
    db.close()
