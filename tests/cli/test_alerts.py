"""``alerts list|deliveries|deliver`` in-process: occurrences and the model version, each notification's state,
sending what is due; the channel's secrets read from ``.streamlit/secrets.toml``'s ``[mlops]`` table."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from pipeline_core.cli import main
from pipeline_core.notify import webhook
from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.notify.servers import webhook_receiver
from tests.services.test_alert_lifecycle import HOOK_SECRET, report, store, with_webhook
from tests.states import State


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out)
    return code, out.getvalue(), capsys.readouterr().err


def _secrets(folder: Path, text: str) -> None:
    (folder / ".streamlit").mkdir(exist_ok=True)
    (folder / ".streamlit" / "secrets.toml").write_text(text, encoding="utf-8")


def test_alerts_list_deliver_and_deliveries(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    starting_state: State,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dep = starting_state.deployment_id
    assert dep is not None
    with webhook_receiver(HOOK_SECRET) as receiver:
        with_webhook(cli_store, receiver.url)
        (alert,) = store(cli_store, people["vera"], candidate, dep, report(0.5)).alerts
        store(cli_store, people["vera"], candidate, dep, report(0.45))
        _secrets(
            tmp_path,
            f'[auth]\nredirect_uri = "x"\n\n[mlops]\nalert_webhook_url = "{receiver.url}"\n'
            f'alert_webhook_secret = "{HOOK_SECRET}"\n',
        )
        model = deployments.get_deployment(cli_store, people["max"], dep).model_name
        code, out, _ = _run(["--user", "max", "alerts", "list"], capsys)
        assert code == 0
        assert f"alert {alert} [open] " in out and f" {model} v1 deployment {dep}, seen 2 times, last " in out
        assert "  notified: webhook raised: pending, not tried yet\n" in out
        assert _run(["--user", "max", "alerts", "deliver"], capsys)[0] == 5  # a manager does not send
        assert _run(["--user", "vera", "alerts", "deliver"], capsys)[:2] == (
            0,
            "1 notification(s) delivered, 0 failed\n",
        )
    assert len(receiver.accepted) == 1
    code, out, _ = _run(["--user", "max", "alerts", "deliveries", "--alert", str(alert)], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == f"channels: json webhook to {webhook.receiver(receiver.url)}"
    assert lines[1].startswith(f"delivery 1 alert {alert} webhook raised: delivered after 1 attempt, delivered 20")
    code, out, _ = _run(["--user", "vera", "alerts", "deliver"], capsys)
    assert (code, out) == (0, "0 notification(s) delivered, 0 failed\n")


def test_a_receiver_that_is_down_fails_the_command_naming_the_delivery(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    starting_state: State,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dep = starting_state.deployment_id
    assert dep is not None
    with_webhook(cli_store)
    (alert,) = store(cli_store, people["vera"], candidate, dep, report(0.5)).alerts
    _secrets(
        tmp_path, f'[mlops]\nalert_webhook_url = "http://127.0.0.1:9/hook"\nalert_webhook_secret = "{HOOK_SECRET}"\n'
    )
    code, out, _ = _run(["--user", "vera", "alerts", "deliver"], capsys)
    assert code == 1 and out.startswith("0 notification(s) delivered, 1 failed\n")
    assert f"  delivery 1 (alert {alert}, webhook) attempt 1: webhook http://127.0.0.1:9 could not be reached" in out
    assert out.endswith("; retried after back-off\n")


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ('[mlops]\nuser = "vera"\n', "sets 'user' in \\[mlops\\], which is not a secret: put it in mlops.toml"),
        (
            '[mlops]\nalert_webhook_url = "ftp://hooks.example/x"\nalert_webhook_secret = "k"\n',
            "must be an absolute https",
        ),
        ('[mlops]\nalert_webhook_url = "https://hooks.example/x"\n', "the secret alert_webhook_secret is empty"),
        ("[mlops\n", "is not valid TOML"),
    ],
    ids=["a setting", "a bad URL", "no secret", "not TOML"],
)
def test_hostile_secrets_files_exit_2_naming_the_setting(
    cli_store: ServiceContext, tmp_path: Path, capsys: pytest.CaptureFixture[str], secrets: str, message: str
) -> None:
    _secrets(tmp_path, secrets)
    code, _, err = _run(["alerts", "list"], capsys)
    assert code == 2
    assert re.search(message, err), err
