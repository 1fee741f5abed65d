"""Helpers for tests that drive ``python -m pipeline_core`` in real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline_core.config import Settings


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    env.update(
        MLOPS_DATA_DIR=str(data_dir),
        MLOPS_HEARTBEAT_INTERVAL="0.2",
        MLOPS_HEARTBEAT_TIMEOUT="2",
        MLOPS_POLL_INTERVAL="0.1",
        PYTHONUNBUFFERED="1",
    )
    return env


def cli_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, heartbeat_interval=0.2, heartbeat_timeout=2.0, poll_interval=0.1)


def run_cli(args: list[str], data_dir: Path, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline_core", *args],
        env=cli_env(data_dir),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
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
