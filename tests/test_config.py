"""Settings: defaults, mlops.toml, environment precedence, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError


def test_defaults_put_everything_under_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'mlops.db'}"
    assert s.artifact_dir == tmp_path / "artifacts"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "mlops.toml"
    cfg.write_text('data_dir = "from-file"\nheartbeat_timeout = 45\n', encoding="utf-8")
    s = Settings.load(env={"MLOPS_HEARTBEAT_TIMEOUT": "12.5"}, config_file=cfg)
    assert s.data_dir == Path("from-file").resolve()
    assert s.heartbeat_timeout == 12.5


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"MLOPS_HEARTBEAT_TIMEOUT": "soon"}, r"setting heartbeat_timeout = 'soon' is not a valid float"),
        ({"MLOPS_HEARTBEAT_TIMEOUT": "-1"}, r"heartbeat_timeout must be positive"),
        ({"MLOPS_HEARTBEAT_TIMEOUT": "1", "MLOPS_HEARTBEAT_INTERVAL": "2"}, r"must exceed heartbeat_interval"),
        ({"MLOPS_CONFIG": "/nonexistent/mlops.toml"}, r"config file '/nonexistent/mlops.toml' does not exist"),
    ],
)
def test_bad_settings_are_named(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Settings.load(env=env)


def test_booleans_and_secrets(tmp_path: Path) -> None:
    assert Settings.load(env={"MLOPS_PAYLOAD_LOGGING": "off"}).payload_logging is False
    assert Settings.load(env={"MLOPS_PAYLOAD_LOGGING": "1"}).payload_logging is True
    with pytest.raises(ConfigError, match="payload_logging = 'maybe' is not a boolean"):
        Settings.load(env={"MLOPS_PAYLOAD_LOGGING": "maybe"})
    s = Settings.load(env={"MLOPS_PASSWORD": "hunter2-hunter2"})
    assert "hunter2" not in repr(s)
    cfg = tmp_path / "mlops.toml"
    cfg.write_text('password = "in-a-file"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="secrets come from the environment"):
        Settings.load(env={}, config_file=cfg)


def test_bad_toml_and_unknown_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "mlops.toml"
    cfg.write_text("data_dir = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        Settings.load(env={}, config_file=cfg)
    cfg.write_text('colour = "blue"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        Settings.load(env={}, config_file=cfg)
