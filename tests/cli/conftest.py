"""In-process command-line fixtures: ``main`` against the test's store, and logging restored after each test."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.credentials import PASSWORD


@pytest.fixture
def cli_store(
    ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ServiceContext:
    """The environment ``main`` reads, pointing at the test's store; the working folder holds no mlops.toml.

    Every command signs in, reads too: as dora (the data scientist) unless a test names another with --user.
    """
    for key in [k for k in os.environ if k.startswith("MLOPS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("MLOPS_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("MLOPS_USER", people["dora"].username)
    monkeypatch.setenv("MLOPS_PASSWORD", PASSWORD)
    monkeypatch.chdir(tmp_path)
    return ctx


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``main`` configures logging for the process; put the test runner's setup back afterwards."""
    root = logging.getLogger()
    package = logging.getLogger("pipeline_core")
    handlers, root_level, package_level = list(root.handlers), root.level, package.level
    yield
    root.handlers[:] = handlers
    root.setLevel(root_level)
    package.setLevel(package_level)
