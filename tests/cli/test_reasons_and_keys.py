"""``rollback --reason``, ``alerts ack|resolve --comment`` and ``keys list|revoke`` on the command line, in-process.

A reason or comment short of a sentence exits 2 naming the rule; an unknown key, alert or deployment
exits 4 naming it; someone else's prod key exits 5 naming its issuer.
"""

from __future__ import annotations

import io

import pytest

from pipeline_core.cli import main
from pipeline_core.services import deployments
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.vocabulary import ModelState
from tests.services.helpers import plant_in_prod_history
from tests.services.test_alerts import plant_alert

REASON = "prod refuses young applicants since this morning's release"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out)
    return code, out.getvalue(), capsys.readouterr().err


def test_keys_are_listed_and_revoked_by_id(
    cli_store: ServiceContext, people: dict[str, Principal], in_prod: int, capsys: pytest.CaptureFixture[str]
) -> None:
    token = deployments.issue_key(cli_store, people["dora"], in_prod, label="the loan desk")
    (key,) = [k for k in deployments.list_keys(cli_store, SYSTEM, in_prod) if k.label == "the loan desk"]
    code, out, _ = _run(["--user", "dora", "keys", "list", "--deployment", str(in_prod)], capsys)
    assert code == 0 and token not in out
    (line,) = [x for x in out.splitlines() if x.startswith(f"key {key.id:>4}")]
    assert f"{key.prefix}..." in line and "active" in line and line.endswith("by dora: the loan desk")
    code, out, _ = _run(["--user", "dora", "keys", "revoke", str(key.id)], capsys)
    assert (code, out) == (0, f"API key {key.id} of deployment {in_prod} revoked\n")
    code, out, _ = _run(["--user", "dora", "keys", "list", "--deployment", str(in_prod)], capsys)
    assert "revoked " in next(x for x in out.splitlines() if x.startswith(f"key {key.id:>4}"))


def test_alerts_are_acknowledged_and_resolved_with_a_comment(
    cli_store: ServiceContext, people: dict[str, Principal], in_prod: int, capsys: pytest.CaptureFixture[str]
) -> None:
    alert = plant_alert(cli_store, in_prod)
    seen, ended = "the data team is checking the feed", "the feed was repaired; quality is back up"
    assert _run(["--user", "vera", "alerts", "ack", str(alert), "--comment", seen], capsys)[:2] == (
        0,
        f"alert {alert} acknowledged\n",
    )
    assert _run(["--user", "dora", "alerts", "resolve", str(alert), "--comment", ended], capsys)[:2] == (
        0,
        f"alert {alert} resolved\n",
    )
    code, out, _ = _run(["--user", "max", "alerts", "list", "--all"], capsys)
    assert code == 0 and f"alert {alert} [resolved]" in out
    assert f"  acknowledged by vera: {seen}\n  resolved by dora: {ended}\n" in out


def test_rollback_takes_its_reason(
    cli_store: ServiceContext, people: dict[str, Principal], in_prod: int, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = plant_in_prod_history(
        cli_store, in_prod, state=ModelState.APPROVED, artifact_sha256=None, actor="victor", approved=True
    )
    code, out, _ = _run(["--user", "vera", "rollback", "--reason", REASON], capsys)
    assert code == 0 and out.startswith("rolled back: ") and f"(model version {earlier})" in out
    assert deployments.revisions(cli_store, SYSTEM, in_prod)[-1].comment == REASON


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--user", "vera", "rollback", "--reason", "bad model"], 2, "the reason for a rollback must be at least"),
        (["--user", "vera", "rollback", "--reason", REASON], 2, "has nothing to roll back to: it has served only"),
        (["--user", "vera", "rollback", "--deployment", "999", "--reason", REASON], 2, "no active prod deployment 999"),
        (["--user", "dora", "keys", "revoke", "999"], 4, "error: API key 999 does not exist"),
        (["--user", "dora", "keys", "list", "--deployment", "999"], 4, "error: deployment 999 does not exist"),
        (["--user", "max", "keys", "list", "--deployment", "1"], 5, "error: max is a manager"),
        (["--user", "vera", "alerts", "ack", "999", "--comment", REASON], 4, "error: alert 999 does not exist"),
        (["--user", "vera", "alerts", "ack", "999", "--comment", "ok"], 2, "must be at least a sentence"),
        (["--user", "vera", "alerts", "resolve", "999", "--comment", REASON], 4, "error: alert 999 does not exist"),
    ],
    ids=[
        "short-reason",
        "nothing-to-roll-back-to",
        "unknown-deployment",
        "unknown-key",
        "keys-of-nothing",
        "manager-lists-keys",
        "unknown-alert",
        "short-comment",
        "resolve-unknown",
    ],
)
def test_hostile_commands_exit_by_the_table(
    cli_store: ServiceContext,
    in_prod: int,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    got, _, err = _run(argv, capsys)
    assert (got, message in err) == (code, True), err


def test_someone_elses_prod_key_exits_5_naming_its_issuer(
    cli_store: ServiceContext, people: dict[str, Principal], in_prod: int, capsys: pytest.CaptureFixture[str]
) -> None:
    deployments.issue_key(cli_store, people["dora"], in_prod, label="dora's")
    (key,) = [k for k in deployments.list_keys(cli_store, SYSTEM, in_prod) if k.label == "dora's"]
    code, _, err = _run(["--user", "dan", "keys", "revoke", str(key.id)], capsys)
    assert code == 5 and f"API key {key.id} of prod deployment {in_prod} was issued by dora" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["rollback"],
        ["alerts", "ack", "1"],
        ["alerts", "resolve", "1"],
        ["keys", "revoke", "mlk_abc"],
        ["keys", "list"],
    ],
    ids=["rollback-without-reason", "ack-without-comment", "resolve-without-comment", "revoke-by-token", "list-no-dep"],
)
def test_missing_or_malformed_arguments_exit_2_before_signing_in(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and "error:" in capsys.readouterr().err
