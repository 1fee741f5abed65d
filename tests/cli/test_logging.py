"""Logging is configured once, from ``--log-level`` or ``MLOPS_LOG_LEVEL``: stderr, timestamp, level, logger name."""

from __future__ import annotations

import io
import logging
import re

import pytest

from pipeline_core import logs
from pipeline_core.cli import main
from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError
from pipeline_core.services.context import ServiceContext

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: .+$")


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if type(h).__module__ == logs.__name__]


def test_a_line_carries_timestamp_level_and_logger_name() -> None:
    stream = io.StringIO()
    logs.configure("info", stream=stream)
    logging.getLogger("pipeline_core.services.runs").info("run %d claimed", 7)
    logging.getLogger("pipeline_core.services.runs").debug("not shown at info")
    (line,) = stream.getvalue().splitlines()
    assert LINE.match(line), line
    assert line.endswith(" INFO pipeline_core.services.runs: run 7 claimed")


def test_configuring_again_replaces_the_handler_and_other_libraries_stay_at_warning() -> None:
    logs.configure("debug")
    logs.configure("debug")
    assert len(_ours()) == 1
    assert logging.getLogger("pipeline_core").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("another_library.client").getEffectiveLevel() == logging.WARNING
    logs.configure("error")
    assert logging.getLogger("another_library.client").getEffectiveLevel() == logging.ERROR


def test_verbose_only_ever_makes_it_louder() -> None:
    logs.configure("warning")
    logs.at_least("info")
    assert logging.getLogger("pipeline_core").level == logging.INFO
    logs.configure("debug")
    logs.at_least("info")
    assert logging.getLogger("pipeline_core").level == logging.DEBUG


@pytest.mark.parametrize(
    ("argv", "env", "level"),
    [
        (["--log-level", "debug", "runs", "list"], None, logging.DEBUG),
        (["runs", "list", "--log-level", "error"], None, logging.ERROR),
        (["runs", "list"], "INFO", logging.INFO),
        (["--log-level", "debug", "runs", "list"], "error", logging.DEBUG),
        (["runs", "list"], None, logging.WARNING),
    ],
    ids=["flag", "flag-after-command", "environment", "flag-beats-environment", "default"],
)
def test_the_command_line_configures_the_package_logger(
    cli_store: ServiceContext, monkeypatch: pytest.MonkeyPatch, argv: list[str], env: str | None, level: int
) -> None:
    if env is not None:
        monkeypatch.setenv("MLOPS_LOG_LEVEL", env)
    assert main(argv, out=io.StringIO()) == 0
    assert logging.getLogger("pipeline_core").level == level
    (handler,) = _ours()
    assert getattr(handler, "stream", None) is not None and handler.formatter is not None
    assert handler.formatter._fmt == logs.FORMAT


def test_a_bad_level_in_the_environment_is_bad_input(
    cli_store: ServiceContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLOPS_LOG_LEVEL", "loud")
    assert main(["runs", "list"]) == 2
    assert "setting log_level 'loud' is not one of debug, info, warning, error" in capsys.readouterr().err


def test_the_setting_reads_the_environment_like_the_others() -> None:
    assert Settings().log_level == "warning"
    assert Settings.load(env={"MLOPS_LOG_LEVEL": " Debug "}).log_level == "debug"
    with pytest.raises(ConfigError, match="log_level 'verbose' is not one of"):
        Settings.load(env={"MLOPS_LOG_LEVEL": "verbose"})
