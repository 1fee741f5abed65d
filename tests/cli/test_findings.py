"""``findings``: raise, remediate, close, accept risk and list from the command line; refusals exit by the table."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.cli import main
from pipeline_core.errors import ExitCode
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ModelVersion
from tests.services.helpers import copy_version

REASON = "The weakness is mitigated by a manual review of every young applicant."


def _due(days: int = 30) -> str:
    return (utcnow().date() + timedelta(days=days)).isoformat()


def _raise_argv(candidate: int, *extra: str) -> list[str]:
    return [
        "--user",
        "vera",
        "findings",
        "raise",
        str(candidate),
        "--title",
        "Thin data below age 25",
        "--description",
        "Few defaults among young applicants.",
        "--severity",
        "medium",
        "--owner",
        "dora",
        "--due",
        _due(),
        *extra,
    ]


def test_raise_remediate_close_and_list(
    cli_store: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    out = io.StringIO()
    assert main([*_raise_argv(candidate), "--json"], out) == 0
    raised = json.loads(out.getvalue())
    assert (raised["state"], raised["owner"], raised["evidence"]) == ("open", "dora", {"kind": "free", "ref": ""})
    fid = str(raised["id"])
    out = io.StringIO()
    assert main(["findings", "remediate", fid, "--note", "Added 2025 applications."], out) == 0  # dora, the owner
    assert "remediation_proposed" in out.getvalue()
    with cli_store.db.write() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        later = copy_version(session, mv).id
    out = io.StringIO()
    argv = ["--user", "victor", "findings", "close", fid, "--model-version", str(later), "--note", "Checked it."]
    assert main(argv, out) == 0
    assert out.getvalue().startswith(f"finding {fid}: ") and "] closed, owner dora" in out.getvalue()
    listed = io.StringIO()
    assert main(["--user", "max", "findings", "list", "--json"], listed) == 0
    (only,) = json.loads(listed.getvalue())
    assert only["closed"]["resolution"] == "verified on version 2: Checked it."
    actions = [e["action"] for e in only["history"]]
    assert actions == ["finding.raised", "finding.remediation_proposed", "finding.closed"]
    empty = io.StringIO()
    assert main(["--user", "max", "findings", "list", "--open"], empty) == 0
    assert empty.getvalue() == "no findings\n"
    shown = io.StringIO()
    assert main(["--user", "max", "findings", "show", fid], shown) == 0
    assert "vera: raised" in shown.getvalue() and "victor: closed" in shown.getvalue()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--due", "tomorrow"], ExitCode.BAD_INPUT, "--due 'tomorrow' is not a date"),
        (["--due", "2020-01-01"], ExitCode.BAD_INPUT, "finding due date 2020-01-01 is in the past"),
        (["--owner", "ghost"], ExitCode.BAD_INPUT, "finding owner 'ghost' is not an account"),
        (["--severity", "urgent"], ExitCode.BAD_INPUT, "severity 'urgent' is not one of: high, medium, low"),
        (["--evidence-kind", "check", "--evidence-ref", "x"], ExitCode.BAD_INPUT, "'x' of a check finding is not"),
        (["--title", " "], ExitCode.BAD_INPUT, "finding title is empty"),
        (["--user", "dora"], ExitCode.NOT_ALLOWED, "raise finding needs one of: validator"),
    ],
    ids=["not-a-date", "past", "owner", "severity", "ref", "title", "scientist"],
)
def test_refused_raises_exit_by_the_table(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    assert main([*_raise_argv(candidate), *argv], io.StringIO()) == code
    assert re.search(re.escape(message), capsys.readouterr().err)
    assert governance.list_findings(cli_store, people["max"]) == []


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--user", "vera", "--reason", REASON], ExitCode.NOT_ALLOWED, "its risk is accepted by a validator other"),
        (["--reason", "ok"], ExitCode.BAD_INPUT, "must be at least a sentence"),
        (["--expires", "2099-01-01"], ExitCode.BAD_INPUT, "expiry 2099-01-01 is more than 12 months ahead"),
        (["--expires", "soon"], ExitCode.BAD_INPUT, "--expires 'soon' is not a date"),
    ],
    ids=["raiser", "reason", "too-far", "not-a-date"],
)
def test_refused_risk_acceptances_exit_by_the_table(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    assert main(_raise_argv(candidate), io.StringIO()) == 0
    (finding,) = governance.list_findings(cli_store, people["max"])
    base = ["--user", "victor", "findings", "accept-risk", str(finding.id), "--reason", REASON, "--expires", _due(90)]
    assert main([*base, *argv], io.StringIO()) == code
    assert re.search(re.escape(message), capsys.readouterr().err)
    assert governance.get_finding(cli_store, people["max"], finding.id).state == "open"
    assert main(base, io.StringIO()) == 0
    assert governance.get_finding(cli_store, people["max"], finding.id).state == "risk_accepted"


def test_closing_on_the_same_version_exits_2_naming_the_rule(
    cli_store: ServiceContext, people: dict[str, Principal], candidate: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_raise_argv(candidate), io.StringIO()) == 0
    (finding,) = governance.list_findings(cli_store, people["max"])
    assert main(["findings", "remediate", str(finding.id), "--note", "Done."], io.StringIO()) == 0
    argv = ["--user", "victor", "findings", "close", str(finding.id), "--model-version", str(candidate)]
    assert main(argv, io.StringIO()) == ExitCode.BAD_INPUT
    assert "closes only on a later version of" in capsys.readouterr().err
    assert main(["--user", "victor", "findings", "close", "999", "--model-version", "1"], io.StringIO()) == 4


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    due=st.text(max_size=20).filter(lambda s: not s.startswith("-")),
    owner=st.text(min_size=1, max_size=20).filter(lambda s: not s.startswith("-")),
)
def test_any_due_date_or_owner_is_taken_or_refused_with_exit_2(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    capsys: pytest.CaptureFixture[str],
    due: str,
    owner: str,
) -> None:
    argv = _raise_argv(candidate)
    argv[argv.index("--due") + 1], argv[argv.index("--owner") + 1] = due, owner
    code = main(argv, io.StringIO())
    err = capsys.readouterr().err
    assert code in (ExitCode.OK, ExitCode.BAD_INPUT), err
    if code == ExitCode.BAD_INPUT:
        assert re.search(r"--due|finding due date|finding owner", err), err
