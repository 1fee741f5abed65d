"""Alert channel settings: a channel that is set is usable, or the settings refuse to load naming the setting;
secrets come from the environment or ``.streamlit/secrets.toml``'s ``[mlops]`` table, never ``mlops.toml``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError

SMTP = {
    "alert_smtp_host": "smtp.bank.example",
    "alert_smtp_from": "mlops@bank.example",
    "alert_smtp_to": "r@bank.example",
}
HOOK = {"alert_webhook_url": "https://hooks.bank.example/alerts", "alert_webhook_secret": "k"}

HOSTILE: dict[str, tuple[dict[str, object], str]] = {
    "webhook without its secret": (
        {"alert_webhook_url": "https://hooks.bank.example/a"},
        "setting alert_webhook_url is set but the secret alert_webhook_secret is empty",
    ),
    "a secret without a webhook": ({"alert_webhook_secret": "k"}, "alert_webhook_secret is set but alert_webhook_url"),
    "not a URL": ({**HOOK, "alert_webhook_url": "hooks.bank.example"}, "must be an absolute https:// URL"),
    "another scheme": ({**HOOK, "alert_webhook_url": "file:///etc/passwd"}, r"scheme 'file'"),
    "http to another machine": (
        {**HOOK, "alert_webhook_url": "http://hooks.bank.example/a"},
        "must use https to reach 'hooks.bank.example'",
    ),
    "a port out of range": ({**HOOK, "alert_webhook_url": "https://h:70000/a"}, "alert_webhook_url is not a URL"),
    "credentials in the URL": (
        {**HOOK, "alert_webhook_url": "https://me:pw@hooks.bank.example/a"},
        "must not carry a user name or password",
    ),
    "an unknown format": ({**HOOK, "alert_webhook_format": "xml"}, "alert_webhook_format 'xml' is not one of json"),
    "no sender": ({**SMTP, "alert_smtp_from": ""}, "setting alert_smtp_from '' is not an e-mail address"),
    "no recipient": ({**SMTP, "alert_smtp_to": " , "}, "setting alert_smtp_to is empty"),
    "a bad recipient": ({**SMTP, "alert_smtp_to": "r@bank.example, someone"}, "alert_smtp_to: 'someone' is not"),
    "a user without password": (
        {**SMTP, "alert_smtp_username": "u"},
        "alert_smtp_username is set but the secret alert_smtp_password",
    ),
    "a password without user": ({**SMTP, "alert_smtp_password": "p"}, "alert_smtp_password is set but alert_smtp_user"),
    "recipients without a server": ({"alert_smtp_to": "r@bank.example"}, "alert_smtp_to is set but alert_smtp_host"),
    "a port out of range for SMTP": ({**SMTP, "alert_smtp_port": 0}, "alert_smtp_port must be in 1-65535"),
    "a CA bundle that is not there": ({**SMTP, "alert_smtp_ca_bundle": "/nowhere/ca.pem"}, "is not a file"),
    "no attempt": ({"alert_delivery_max_attempts": 0}, "alert_delivery_max_attempts must be >= 1"),
    "no timeout": ({"alert_delivery_timeout": 0}, "alert_delivery_timeout must be positive"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=sorted(HOSTILE))
def test_hostile_channel_settings_name_the_setting(tmp_path: Path, case: str) -> None:
    values, match = HOSTILE[case]
    with pytest.raises(ConfigError, match=match):
        Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_a_bad_webhook_url_is_never_repeated_in_the_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings(data_dir=tmp_path, alert_webhook_url="http://hooks.example/T0/B0/token-xyz", alert_webhook_secret="k")
    assert "token-xyz" not in str(refused.value)


def test_secrets_come_from_the_environment_or_the_secrets_file_never_mlops_toml(tmp_path: Path) -> None:
    config = tmp_path / "mlops.toml"
    config.write_text('alert_webhook_secret = "k"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="sets 'alert_webhook_secret': secrets come from the environment"):
        Settings.load(env={}, config_file=config)
    config.write_text(f'data_dir = "{tmp_path}"\nalert_webhook_format = "slack"\n', encoding="utf-8")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[mlops]\nalert_webhook_url = "https://hooks.example/a"\nalert_webhook_secret = "s3cr3t-from-file"\n'
    )
    loaded = Settings.load(env={}, config_file=config, secrets_file=secrets)
    assert (loaded.alert_webhook_url, loaded.alert_webhook_secret, loaded.alert_webhook_format) == (
        "https://hooks.example/a",
        "s3cr3t-from-file",
        "slack",
    )
    assert "s3cr3t-from-file" not in repr(loaded) and "hooks.example" not in repr(loaded)
    overridden = Settings.load(env={"MLOPS_ALERT_WEBHOOK_SECRET": "env"}, config_file=config, secrets_file=secrets)
    assert overridden.alert_webhook_secret == "env"  # the environment wins
    with pytest.raises(ConfigError, match=r"secrets file '.*nowhere\.toml' does not exist"):
        Settings.load(env={"MLOPS_SECRETS_FILE": str(tmp_path / "nowhere.toml")}, config_file=config)
    secrets.write_text("[mlops]\nalert_webhook_secret = 3\n")
    with pytest.raises(ConfigError, match="secret alert_webhook_secret must be a string"):
        Settings.load(env={}, config_file=config, secrets_file=secrets)


@given(url=st.text(max_size=80), to=st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_any_text_as_a_channel_setting_loads_or_is_a_config_error(tmp_path_factory: Any, url: str, to: str) -> None:
    folder = tmp_path_factory.getbasetemp()
    for values in (
        {"alert_webhook_url": url, "alert_webhook_secret": "k"},
        {**SMTP, "alert_smtp_to": to},
        {**SMTP, "alert_smtp_from": to},
    ):
        said = ""
        try:
            Settings(data_dir=folder, **values)  # type: ignore[arg-type]
        except ConfigError as exc:
            said = str(exc)
        assert not said or re.search(r"alert_(webhook|smtp)_\w+", said), said  # a refusal names the setting
