"""Signing in on the command line: every read needs a user, and failures from one OS account are throttled."""

from __future__ import annotations

import getpass
import io

import pytest

from pipeline_core.cli import main
from pipeline_core.cli.identity import cli_source
from pipeline_core.errors import ExitCode
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext

READS = [["models", "list"], ["runs", "list"], ["runs", "show", "1"], ["audit", "verify"], ["integrations", "pending"]]
IDS = [" ".join(argv) for argv in READS]


@pytest.mark.parametrize("argv", READS, ids=IDS)
def test_a_read_without_a_user_is_refused(
    cli_store: ServiceContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Finding 15: models list, runs list|show and audit verify answered anyone who could run the CLI."""
    monkeypatch.delenv("MLOPS_USER")
    out = io.StringIO()
    assert main(argv, out) == ExitCode.NOT_ALLOWED
    assert capsys.readouterr().err == "error: name the acting user with --user or MLOPS_USER\n"
    assert out.getvalue() == ""  # not even a table header


@pytest.mark.parametrize("argv", READS, ids=IDS)
def test_a_read_with_a_wrong_password_is_refused(
    cli_store: ServiceContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    monkeypatch.setenv("MLOPS_PASSWORD", "not the password")
    assert main(argv, io.StringIO()) == ExitCode.NOT_ALLOWED
    assert "error: login refused for 'dora'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "code", "shown"),
    [
        (["models", "list"], ExitCode.OK, "sha256"),
        (["runs", "list"], ExitCode.OK, "status"),
        (["runs", "show", "1"], ExitCode.NOT_FOUND, ""),  # signed in, then told there is no run 1
        (["audit", "verify"], ExitCode.OK, "audit chain: intact"),
        (["integrations", "pending"], ExitCode.OK, "every update was delivered"),
    ],
    ids=IDS,
)
def test_a_read_by_a_signed_in_user_works(
    cli_store: ServiceContext, people: dict[str, Principal], argv: list[str], code: int, shown: str
) -> None:
    for user in ("dora", "max"):
        out = io.StringIO()
        assert main(["--user", user, *argv], out) == code
        assert shown in out.getvalue()


def test_failures_from_one_os_account_throttle_its_sign_ins(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding 7: wrong passwords met no throttling. Different names from one OS account count together."""
    monkeypatch.setenv("MLOPS_SIGN_IN_SOURCE_MAX_FAILURES", "2")
    monkeypatch.setenv("MLOPS_PASSWORD", "not the password")
    for user in ("vera", "max"):
        assert main(["--user", user, "runs", "list"], io.StringIO()) == ExitCode.NOT_ALLOWED
    capsys.readouterr()
    from tests.credentials import PASSWORD

    monkeypatch.setenv("MLOPS_PASSWORD", PASSWORD)
    assert main(["--user", "dora", "runs", "list"], io.StringIO()) == ExitCode.NOT_ALLOWED
    assert "error: login refused for 'dora': unknown user or wrong password" in capsys.readouterr().err
    assert cli_source() == f"cli:{getpass.getuser()}"
    (throttled,) = governance.list_events(cli_store, people["admin"], action="user.sign_in_throttled")
    assert throttled.details["source"] == cli_source() and throttled.details["username"] == "dora"
    failed = governance.list_events(cli_store, people["admin"], action="user.sign_in_failed")
    assert {e.details["source"] for e in failed} == {cli_source()}
