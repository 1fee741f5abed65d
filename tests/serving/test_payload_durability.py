"""Acknowledged means stored: the scoring service killed under load, stopped, its queue full, fed poison."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.datasets import count_payload, existing_scoring_ids, quarantined_payload
from pipeline_core.serving.server import BackgroundServer
from tests.credentials import CHEAP_HASHER
from tests.live import Live
from tests.processes import cli_env, free_port, wait_for


@contextmanager
def store_locked(ctx: ServiceContext) -> Iterator[None]:
    """Another writer holds the SQLite store: the payload writer waits (readers, the registry, go on)."""
    path = ctx.settings.database_url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def start_service(live: Live, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``python -m pipeline_core serve`` on the live store, healthy."""
    data_dir = live.ctx.settings.data_dir
    env = cli_env(data_dir) | {"MLOPS_SERVE_PORT": str(port)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline_core", "serve"], env=env, cwd=data_dir.parent, stdout=out, stderr=out
        )

    def healthy() -> bool:
        assert proc.poll() is None, f"the service exited with {proc.returncode}: {log.read_text()[-2000:]}"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, timeout=60, what=f"the scoring service on port {port}")
    return proc


class Load:
    """Clients posting one-record requests until told to stop or the service goes away; what was acknowledged."""

    def __init__(self, live: Live, url: str, bodies: list[bytes], clients: int = 4) -> None:
        self.acknowledged: list[str] = []  # scoring ids of 200 answers
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(live, url, bodies[k::clients])) for k in range(clients)
        ]
        for t in self._threads:
            t.start()

    def _client(self, live: Live, url: str, bodies: list[bytes]) -> None:
        headers = {"Authorization": f"Bearer {live.key}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                try:
                    r = client.post(live.path, content=bodies[i % len(bodies)], headers=headers)
                except httpx.HTTPError:
                    return  # killed, or shutting down: whatever was not answered was not acknowledged
                i += 1
                with self._lock:
                    self.statuses.append(r.status_code)
                    if r.status_code == 200:
                        self.acknowledged += r.json()["scoring_ids"]

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


def bodies(live: Live, applicants: pd.DataFrame, n: int = 64) -> list[bytes]:
    return [json.dumps(live.payload(applicants.iloc[[i]])).encode() for i in range(n)]


def own_logs(root: Path, pid: int) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(f"{pid}-")) if root.is_dir() else []


@pytest.mark.slow  # two service processes
def test_sigkill_under_load_loses_no_acknowledged_record(live: Live, applicants: pd.DataFrame, tmp_path: Path) -> None:
    wal_root = live.ctx.settings.data_dir / "payload" / "wal"
    port = free_port()
    proc = start_service(live, port, tmp_path / "service.log")
    load = Load(live, f"http://127.0.0.1:{port}", bodies(live, applicants))
    try:
        wait_for(lambda: load.count() >= 100, timeout=30, what="100 acknowledged records")
        # From here the store takes nothing: what is acknowledged next is only in memory and the log.
        with store_locked(live.ctx):
            stored_before = load.count()
            wait_for(lambda: load.count() >= stored_before + 200, timeout=30, what="200 more acknowledged")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            load.stop()
            # Left behind (nobody can replay it while the store is locked, the other service included).
            assert own_logs(wal_root, proc.pid)
    finally:
        load.stop()
        if proc.poll() is None:
            proc.kill()
    acknowledged = set(load.acknowledged)
    assert len(acknowledged) == len(load.acknowledged) >= 300
    assert set(load.statuses) == {200}
    restarted = start_service(live, free_port(), tmp_path / "service.log")
    try:
        wait_for(
            lambda: existing_scoring_ids(live.ctx, SYSTEM, live.deployment_id, sorted(acknowledged)) == acknowledged,
            timeout=30,
            what=f"all {len(acknowledged)} acknowledged records in the store",
        )
        wait_for(lambda: not own_logs(wal_root, proc.pid), timeout=30, what="the killed service's log to be removed")
    finally:
        restarted.terminate()
        restarted.wait(timeout=60)


@pytest.mark.slow  # a service process
def test_sigterm_under_load_loses_no_acknowledged_record(live: Live, applicants: pd.DataFrame, tmp_path: Path) -> None:
    wal_root = live.ctx.settings.data_dir / "payload" / "wal"
    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    port = free_port()
    proc = start_service(live, port, tmp_path / "service.log")
    load = Load(live, f"http://127.0.0.1:{port}", bodies(live, applicants))
    try:
        wait_for(lambda: load.count() >= 50, timeout=30, what="50 acknowledged records")
        with store_locked(live.ctx):  # a backlog for the shutdown to drain
            stored_before = load.count()
            wait_for(lambda: load.count() >= stored_before + 100, timeout=30, what="100 more acknowledged")
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        load.stop()
        if proc.poll() is None:
            proc.kill()
    # uvicorn shuts down gracefully, then lets the signal end the process as it would have.
    assert proc.returncode == -signal.SIGTERM, (tmp_path / "service.log").read_text()[-2000:]
    acknowledged = set(load.acknowledged)
    # Stored by the shutdown itself, nothing replayed: its log removed, the count exact.
    assert existing_scoring_ids(live.ctx, SYSTEM, live.deployment_id, sorted(acknowledged)) == acknowledged
    assert count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + len(acknowledged)
    assert own_logs(wal_root, proc.pid) == []


def test_a_full_queue_answers_503_with_retry_after_and_keeps_what_it_acknowledged(
    live: Live, applicants: pd.DataFrame
) -> None:
    settings = replace(live.ctx.settings, payload_queue_max_records=6, payload_retry_after=7)
    ctx = open_context(settings, password_hasher=CHEAP_HASHER)
    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    payload = live.payload(applicants.iloc[:2])
    acknowledged: list[str] = []
    try:
        with BackgroundServer(ctx) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            headers = {"Authorization": f"Bearer {live.key}"}
            with store_locked(live.ctx):
                answers = [client.post(live.path, json=payload, headers=headers) for _ in range(5)]
                assert [r.status_code for r in answers] == [200, 200, 200, 503, 503]
                acknowledged = [s for r in answers[:3] for s in r.json()["scoring_ids"]]
                refused = answers[3]
                assert refused.headers["retry-after"] == "7"
                [error] = refused.json()["errors"]
                assert error["code"] == "payload_log_full"
                assert "holds 6 records waiting for the store (its bound is 6); retry later" in error["message"]
                health = client.get("/health").json()
                assert health["payload_pending"] == 6
            wait_for(
                lambda: client.get("/health").json()["payload_pending"] == 0, timeout=60, what="the queue to drain"
            )
            assert client.post(live.path, json=payload, headers=headers).status_code == 200  # room again
    finally:
        ctx.close()
    assert existing_scoring_ids(live.ctx, SYSTEM, live.deployment_id, acknowledged) == set(acknowledged)
    assert count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + 8  # no refused record


POISONED: list[tuple[str, Any]] = [
    ("LoanDuration", 100000000000000000000),
    ("LoanPurpose", "\ud800"),
    ("LoanDuration", 2**63),
]


def test_poisoned_requests_over_http_never_stop_payload_logging(live: Live, applicants: pd.DataFrame) -> None:
    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    good: list[str] = []
    poisoned: list[str] = []
    for i, (field, value) in enumerate(POISONED):
        r = live.post(live.payload(applicants.iloc[i * 10 : i * 10 + 3]))
        assert r.status_code == 200
        good += r.json()["scoring_ids"]
        body = live.payload(applicants.iloc[100 + i : 101 + i])
        body["input_data"][0]["values"][0][live.spec.feature_names.index(field)] = value
        # Sent as the attacker did: JSON whose \ud800 escape decodes to a lone surrogate.
        bad = live.post(json.dumps(body).encode())
        assert bad.status_code in (200, 400), bad.text  # refused at parse time, or scored: never a 5xx
        if bad.status_code == 200:
            poisoned += bad.json()["scoring_ids"]
    for i in range(5):
        r = live.post(live.payload(applicants.iloc[200 + i * 5 : 205 + i * 5]))
        assert r.status_code == 200
        good += r.json()["scoring_ids"]
    wait_for(
        lambda: count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + len(good),
        timeout=20,
        what=f"all {len(good)} good records stored",
    )
    assert existing_scoring_ids(live.ctx, SYSTEM, live.deployment_id, good) == set(good)
    # Every acknowledged poisoned request is quarantined, none stored; health says so.
    wait_for(
        lambda: len(quarantined_payload(live.ctx, SYSTEM)) == len(poisoned),
        timeout=20,
        what=f"{len(poisoned)} quarantined request(s)",
    )
    assert {q.request_id for q in quarantined_payload(live.ctx, SYSTEM)} == {s.rpartition("-")[0] for s in poisoned}
    assert existing_scoring_ids(live.ctx, SYSTEM, live.deployment_id, poisoned) == set()
    health = live.client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == ("degraded" if poisoned else "ok")
    assert health.json()["payload_quarantined"] == len(poisoned) and health.json()["payload_pending"] == 0
    assert live.post(live.payload(applicants.iloc[:1])).status_code == 200
