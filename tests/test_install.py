"""The installed package works without the checkout: the CLI answers and the dashboard signs in and shows a page.

The wheel is built from this checkout and installed, with ``--no-deps``, into a fresh venv whose only other
packages are this venv's dependencies (a ``.pth`` line; the editable install of the checkout is not among
them, since a ``.pth`` file's own ``.pth`` files are never read). Everything then runs from a temporary folder
that holds no source, so any import of a file from the checkout would fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.credentials import PASSWORD

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds a wheel and runs three interpreters


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel installed; returns its python."""
    base = tmp_path_factory.mktemp("install")
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = base / "source"
    for name in ("pipeline_core", "dashboard", "pages"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = base / "wheels"
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(source)]
    subprocess.run(
        [sys.executable, "-m", "pip", *build],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = wheels.glob("mlops_governance-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return python


def _run(python: Path, cwd: Path, *args: str, stdin: str = "", env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300, env=env, check=False
    )


def _env(data: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "PYTHON"))}
    return keep | {"MLOPS_DATA_DIR": str(data), "MLOPS_CONFIG": str(data / "none.toml"), "HOME": str(data)}


def test_the_installed_cli_and_dashboard_run_from_anywhere(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "none.toml").write_text("")
    env = _env(tmp_path)

    imports = (
        "import pipeline_core, dashboard, pages; print(pipeline_core.__file__, dashboard.__file__, pages.__file__)"
    )
    where = _run(installed, elsewhere, "-c", imports, env=env)
    assert where.returncode == 0, where.stderr
    assert str(ROOT) not in where.stdout and where.stdout.count(str(installed.parents[1])) == 3

    helped = _run(installed, elsewhere, "-m", "pipeline_core", "--help", env=env)
    assert helped.returncode == 0, helped.stderr
    assert "approve" in helped.stdout and "worker" in helped.stdout

    added = _run(
        installed,
        elsewhere,
        "-m",
        "pipeline_core",
        "users",
        "add",
        "ada",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert "user ada added as admin" in added.stdout

    signed_in = _run(
        installed,
        elsewhere,
        "-c",
        textwrap.dedent(
            f"""
            from pathlib import Path
            import dashboard
            from streamlit.testing.v1 import AppTest
            app = Path(dashboard.__file__).parent / "app.py"
            at = AppTest.from_file(str(app), default_timeout=120).run()
            assert not at.exception, at.exception
            at.text_input[0].input("ada")
            at.text_input[1].input({PASSWORD!r})
            at.button[0].click().run()
            assert not at.exception, at.exception
            print("APP", app)
            print("TITLES", [t.value for t in at.title])
            print("HEADERS", [h.value for h in at.header])
            print("TEXT", [m.value for m in at.markdown][:3])
            """
        ),
        env=env,
    )
    assert signed_in.returncode == 0, signed_in.stderr[-3000:]
    assert f"APP {installed.parents[1]}" in signed_in.stdout
    assert "ada" in signed_in.stdout and "Overview" in signed_in.stdout, signed_in.stdout


def test_the_wheel_lists_pages_and_migrations(installed: Path) -> None:
    (wheel,) = installed.parents[2].joinpath("wheels").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "pages/review.py",
        "pages/__init__.py",
        "dashboard/app.py",
        "pipeline_core/__main__.py",
        "pipeline_core/store/migrations/env.py",
        "pipeline_core/store/migrations/versions/0001_initial_schema.py",
    ):
        assert expected in names, f"{expected} missing from {wheel.name}"
