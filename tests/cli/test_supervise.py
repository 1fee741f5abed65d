"""The dashboard child: the installed ``dashboard/launch.py``, with .streamlit/config.toml's settings as flags."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, ClassVar

import pytest

import dashboard
from pipeline_core.cli import supervise
from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError
from pipeline_core.services.context import ServiceContext

ROOT = Path(__file__).resolve().parents[2]


def _checkout_streamlit_settings() -> dict[str, str]:
    """``section.key`` -> value of the checkout's .streamlit/config.toml, spelled as Streamlit's flags spell them."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    return {
        f"{section}.{key}": (str(value).lower() if isinstance(value, bool) else str(value))
        for section, values in config.items()
        for key, value in values.items()
    }


def test_the_dashboard_is_found_where_the_dashboard_package_is() -> None:
    assert supervise.dashboard_launcher() == Path(dashboard.__file__).parent / "launch.py"


def test_the_command_carries_every_config_setting_as_a_flag(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", serve_host="127.0.0.1", dashboard_port=8765)
    command = supervise.dashboard_command(settings, supervise.dashboard_launcher())
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(Path(dashboard.__file__).parent / "launch.py")]
    assert "--server.address=127.0.0.1" in command and "--server.port=8765" in command
    wanted = _checkout_streamlit_settings()
    assert {"server.enableXsrfProtection", "runner.magicEnabled", "client.toolbarMode"} <= set(wanted)
    for name, value in wanted.items():
        assert f"--{name}={value}" in command, f"{name} = {value} of .streamlit/config.toml is not passed"


class _ExitsAtOnce:
    """Stands in for the Streamlit child: records how it was started, then has exited with 1."""

    started: ClassVar[dict[str, Any]] = {}

    def __init__(self, command: list[str], **kwargs: Any) -> None:
        _ExitsAtOnce.started = {"command": command, **kwargs}
        self.returncode = 1

    def poll(self) -> int:
        return self.returncode


def test_start_dashboard_runs_it_in_this_folder_over_this_store(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(subprocess, "Popen", _ExitsAtOnce)
    monkeypatch.chdir(tmp_path)  # no .streamlit folder here: the flags are what holds
    with pytest.raises(ConfigError, match=r"the dashboard exited with 1 on http://127\.0\.0\.1:\d+"):
        supervise.start_dashboard(ctx)
    started = _ExitsAtOnce.started
    assert started["command"] == supervise.dashboard_command(ctx.settings, supervise.dashboard_launcher())
    assert started.get("cwd") is None  # this process's working folder: its mlops.toml, its .streamlit/secrets.toml
    assert started["env"]["MLOPS_DATA_DIR"] == str(ctx.settings.data_dir)
    assert started["env"]["MLOPS_DATABASE_URL"] == ctx.settings.database_url


def test_no_dashboard_package_is_a_setup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervise.importlib.util, "find_spec", lambda _name: None)
    with pytest.raises(ConfigError, match="the dashboard is not installed here"):
        supervise.dashboard_launcher()
