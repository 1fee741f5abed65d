"""Settings: defaults, mlops.toml, environment precedence, clear errors."""

from __future__ import annotations

import os
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
        ({"MLOPS_SIGN_IN_SOURCE_MAX_FAILURES": "0"}, r"sign_in_source_max_failures must be >= 1 .* got 0 and 900"),
        ({"MLOPS_SIGN_IN_SOURCE_WINDOW_SECONDS": "-5"}, r"sign_in_source_window_seconds positive, got 20 and -5"),
        ({"MLOPS_DEPLOYMENT_BACKEND": "wml"}, r"setting deployment_backend 'wml' is not 'local' or 'ibm'"),
        ({"MLOPS_DEPLOYMENT_BACKEND": "ibm"}, r"deployment_backend 'ibm' needs ibm_url \(MLOPS_IBM_URL\)"),
        (
            {"MLOPS_MONITOR_BACKEND": "ibm", "MLOPS_IBM_URL": "https://cpd.example"},
            r"monitor_backend 'ibm' \(OpenScale\) works on watsonx.ai deployments: set deployment_backend 'ibm' too",
        ),
        (
            {"MLOPS_FACTSHEET_BACKEND": "ibm", "MLOPS_IBM_URL": "https://cpd.example"},
            r"factsheet_backend 'ibm' \(AI Factsheets\) works on watsonx.ai deployments",
        ),
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
    cfg.write_text('ibm_api_key = "in-a-file"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sets 'ibm_api_key'.*MLOPS_IBM_API_KEY"):
        Settings.load(env={}, config_file=cfg)
    assert "cpd-key-value" not in repr(Settings.load(env={"MLOPS_IBM_API_KEY": "cpd-key-value"}))


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({}, r"the IBM backends need ibm_url .* and the secret MLOPS_IBM_API_KEY"),
        ({"MLOPS_IBM_API_KEY": "k"}, "needs a space id for 'preprod' \\(MLOPS_IBM_SPACE_PREPROD\\)"),
        ({"MLOPS_IBM_API_KEY": "k", "MLOPS_IBM_SPACE_PREPROD": "a"}, "space id for 'prod'"),
    ],
)
def test_the_ibm_deployment_target_is_built_from_settings(env: dict[str, str], match: str, tmp_path: Path) -> None:
    from pipeline_core.backends.factory import make_deployment_target
    from pipeline_core.store.artifacts import LocalArtifactStore

    base = {"MLOPS_DEPLOYMENT_BACKEND": "ibm", "MLOPS_IBM_URL": "https://cpd.example", "MLOPS_IBM_USERNAME": "u"}
    settings = Settings.load(env={**base, **env})
    with pytest.raises(ConfigError, match=match):
        make_deployment_target(settings, LocalArtifactStore(tmp_path))


def test_bad_toml_and_unknown_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "mlops.toml"
    cfg.write_text("data_dir = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        Settings.load(env={}, config_file=cfg)
    cfg.write_text('colour = "blue"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        Settings.load(env={}, config_file=cfg)


def test_data_roots_default_to_the_data_folders_datasets_and_come_from_env_or_file(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).data_roots == (tmp_path / "datasets",)
    env = {"MLOPS_DATA_DIR": str(tmp_path), "MLOPS_DATA_ROOTS": os.pathsep.join(["/srv/credit", "relative", ""])}
    assert Settings.load(env=env).data_roots == (Path("/srv/credit"), Path("relative").resolve())
    assert Settings.load(env={"MLOPS_DATA_DIR": str(tmp_path), "MLOPS_DATA_ROOTS": ""}).data_roots == (
        tmp_path / "datasets",
    )
    cfg = tmp_path / "mlops.toml"
    cfg.write_text('data_roots = ["/srv/a", "/srv/b"]\n', encoding="utf-8")
    assert Settings.load(env={}, config_file=cfg).data_roots == (Path("/srv/a"), Path("/srv/b"))
    cfg.write_text("data_roots = [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"setting data_roots = \[1, 2\] is not a list of folders"):
        Settings.load(env={}, config_file=cfg)
