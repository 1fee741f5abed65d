"""Helpers for tests that drive ``python -m pipeline_core`` in real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline_core.config import Settings
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import open_context
from tests.credentials import CHEAP_HASHER, PASSWORD

USER = "dora"  # the CLI's acting user, created per test store with PASSWORD
_PORTS: dict[Path, int] = {}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    port = _PORTS.setdefault(data_dir, free_port())
    env.update(
        MLOPS_USER=USER,
        MLOPS_PASSWORD=PASSWORD,
        MLOPS_SERVE_PORT=str(port),
        MLOPS_DATA_DIR=str(data_dir),
        MLOPS_DATA_ROOTS=str(data_dir.parent),  # the test's folder, where it writes its CSV files
        MLOPS_HEARTBEAT_INTERVAL="0.2",
        MLOPS_HEARTBEAT_TIMEOUT="2",
        MLOPS_POLL_INTERVAL="0.1",
        PYTHONUNBUFFERED="1",
    )
    return env


def cli_settings(data_dir: Path) -> Settings:
    port = _PORTS.setdefault(data_dir, free_port())
    return Settings(
        data_dir=data_dir,
        heartbeat_interval=0.2,
        heartbeat_timeout=2.0,
        poll_interval=0.1,
        serve_port=port,
        data_roots=(data_dir.parent,),
    )


def bootstrap_user(data_dir: Path) -> Principal:
    """The data scientist the CLI acts as (MLOPS_USER / MLOPS_PASSWORD in ``cli_env``)."""
    ctx = open_context(cli_settings(data_dir), password_hasher=CHEAP_HASHER)
    try:
        admin = governance.add_first_admin(ctx, username="cli_admin", password=PASSWORD)
        return governance.add_user(ctx, admin, username=USER, role="data_scientist", password=PASSWORD)
    finally:
        ctx.close()


def run_cli(
    args: list[str],
    data_dir: Path,
    *,
    timeout: float = 300,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline_core ARGS`` on ``data_dir``, signed in as ``USER`` unless ``env`` says otherwise."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline_core", *args],
        env=cli_env(data_dir) | (env or {}),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        check=False,
    )


def start_worker(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline_core", "worker", "--verbose"],
        env=cli_env(data_dir),
        cwd=data_dir.parent,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
