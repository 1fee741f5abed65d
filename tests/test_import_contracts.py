"""The import contracts have no holes: every subpackage has a layer, and each contract catches what it forbids.

Each case plants one forbidden import into a copy of the source tree and runs ``lint-imports`` there: the
copy must break exactly the contract named, while the untouched tree keeps every contract.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _contract(prefix: str) -> str:
    names = [c["name"] for c in CONTRACTS if c["name"].startswith(prefix)]
    assert len(names) == 1, f"expected one contract starting {prefix!r}, found {names}"
    return names[0]


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # import-linter puts the working directory first on sys.path, so the copy is analysed, not the checkout.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=300, check=False
    )


def test_every_module_of_the_package_has_a_layer() -> None:
    layers = next(c for c in CONTRACTS if c["type"] == "layers")["layers"]
    listed = {name.strip() for layer in layers for name in layer.split("|")}
    children = {
        f"pipeline_core.{p.stem if p.is_file() else p.name}"
        for p in (ROOT / "pipeline_core").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists())
        or (p.suffix == ".py" and p.stem not in {"__init__", "__main__"})
    }
    assert children - listed == set(), "subpackages or modules outside the layers contract"
    assert {"pages", "dashboard"} <= listed


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pipeline_core", "dashboard", "pages"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


@pytest.mark.slow  # each case builds the import graph of the whole tree in a subprocess
def test_the_checkout_keeps_every_contract(source_copy: Path) -> None:
    result = _lint(source_copy)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


PLANTS = [
    # (file, line planted at its end, the contract that must break)
    ("pipeline_core/backends/local.py", "from pipeline_core.services import governance", "Layers:"),
    ("pages/admin.py", "from pipeline_core.store.models import User", "Pages and the dashboard talk to services"),
    ("dashboard/ui.py", "import sqlalchemy", "Pages and the dashboard talk to services"),
    ("pipeline_core/store/db.py", "from pipeline_core.services import context", "Layers:"),
    ("pipeline_core/config.py", "from pipeline_core.data import spec", "Layers:"),
    ("pipeline_core/monitors/drift.py", "from pipeline_core import config", "Stages, monitors and data never touch"),
    ("pipeline_core/services/datasets/_payloads.py", "from pipeline_core.services import runs", "Service areas"),
    (
        "pipeline_core/services/governance/_users.py",
        "from pipeline_core.services.deployments import _endpoints",
        "Service areas",
    ),
    ("pipeline_core/services/authz.py", "from pipeline_core.services import governance", "The service kernel"),
    ("pipeline_core/serving/registry.py", "from pipeline_core.store import models", "The scoring service reaches"),
    ("pipeline_core/scoring.py", "import streamlit", "Everything but the UI"),
    ("pipeline_core/services/context.py", "import ibm_watsonx_ai", "Only backends/ibm"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "line", "contract"), PLANTS, ids=[f"{p}:{line}" for p, line, _ in PLANTS])
def test_a_planted_import_breaks_its_contract(source_copy: Path, path: str, line: str, contract: str) -> None:
    target = source_copy / path
    original = target.read_text()
    target.write_text(f"{original}\n{line}  # noqa\n")
    try:
        result = _lint(source_copy)
    finally:
        target.write_text(original)
    name = _contract(contract)
    assert result.returncode != 0, f"planting {line!r} in {path} kept every contract"
    assert "Broken contracts" in result.stdout, result.stdout[-3000:]
    broken = result.stdout.split("Broken contracts")[1]
    assert name in broken, broken[:3000]
