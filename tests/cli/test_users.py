"""``users disable`` and ``users enable``: an admin's, audited, and never the last enabled admin."""

from __future__ import annotations

import io

import pytest

from pipeline_core.cli import main
from pipeline_core.errors import ExitCode
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext


def test_an_admin_disables_and_enables_an_account(
    cli_store: ServiceContext, people: dict[str, Principal], capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert main(["--user", "ada", "users", "disable", "vera", "--reason", "left the bank"], out) == ExitCode.OK
    assert out.getvalue() == "user vera (validator) disabled\n"
    assert main(["--user", "vera", "runs", "list"], io.StringIO()) == ExitCode.NOT_ALLOWED
    assert "login refused for 'vera'" in capsys.readouterr().err
    listed = io.StringIO()
    assert main(["--user", "ada", "users", "list"], listed) == ExitCode.OK
    assert "vera" in listed.getvalue() and "validator       (disabled)" in listed.getvalue()
    out = io.StringIO()
    assert main(["--user", "ada", "users", "enable", "vera"], out) == ExitCode.OK
    assert out.getvalue() == "user vera (validator) enabled\n"
    assert main(["--user", "vera", "runs", "list"], io.StringIO()) == ExitCode.OK
    changes = governance.list_events(cli_store, people["admin"], action="user.", object_id="vera")
    assert [(e.action, e.details) for e in changes if e.action in ("user.disabled", "user.enabled")] == [
        ("user.enabled", {}),
        ("user.disabled", {"reason": "left the bank"}),
    ]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--user", "ada", "users", "disable", "ada"], ExitCode.BAD_INPUT, "'ada' is the last enabled admin"),
        (["--user", "dora", "users", "disable", "vera"], ExitCode.NOT_ALLOWED, "dora is a data_scientist"),
        (["--user", "ada", "users", "enable", "ghost"], ExitCode.NOT_FOUND, "user 'ghost' does not exist"),
        (["users", "disable", "vera"], ExitCode.NOT_ALLOWED, "dora is a data_scientist"),
    ],
    ids=["last-admin", "not-an-admin", "unknown", "signed-in-as-default-user"],
)
def test_refused_account_changes_exit_by_the_table(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    assert main(argv, io.StringIO()) == code
    assert message in capsys.readouterr().err
    assert not any(u.disabled for u in governance.list_users(cli_store, people["admin"]))
