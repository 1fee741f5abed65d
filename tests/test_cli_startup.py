"""The command line answers ``--help`` without importing what only its commands need (shap, sklearn, ...)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Together about 2 s of imports: a command that needs one imports it in its own function (the command-group
# modules of pipeline_core.cli are all imported to build the parser, so they import none of these).
HEAVY = ("shap", "plotly", "sklearn", "fastapi", "uvicorn", "streamlit", "pandas", "sqlalchemy")

pytestmark = pytest.mark.slow


def imported_modules(args: list[str], data_dir: Path) -> set[str]:
    """Every module ``python -X importtime -m pipeline_core ARGS`` imported (importtime reports them on stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    env["MLOPS_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pipeline_core", *args],
        env=env,
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: python -m pipeline_core" in result.stdout
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["users", "--help"],
        ["users", "list", "--help"],
        ["evaluate", "--help"],
        ["serve", "--help"],
        ["up", "--help"],
        ["worker", "--help"],
    ],
    ids=["help", "users-help", "users-list-help", "evaluate-help", "serve-help", "up-help", "worker-help"],
)
def test_help_imports_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    modules = imported_modules(args, tmp_path / "data")
    assert "pipeline_core.cli" in modules  # the import list was read, so an empty one cannot pass
    assert sorted({m.split(".")[0] for m in modules} & set(HEAVY)) == []
