"""``model tier``, ``conditions``, ``revalidation`` and ``due``: what they print, and bad input exit 2 naming it."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from pipeline_core.cli import main
from pipeline_core.errors import ExitCode
from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ModelVersion


def _name(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.name


def test_tier_is_set_by_a_validator_and_refused_to_a_data_scientist(
    cli_store: ServiceContext, people: dict[str, Principal], candidate: int, capsys: pytest.CaptureFixture[str]
) -> None:
    name, reason = _name(cli_store, candidate), "It decides consumer credit for every applicant."
    out = io.StringIO()
    assert main(["--user", "vera", "model", "tier", name, "--tier", "1", "--reason", reason], out) == ExitCode.OK
    assert out.getvalue() == f"model {name} is tier 1\n"
    listed = io.StringIO()
    assert main(["--user", "vera", "review", "list"], listed) == ExitCode.OK
    assert "tier 1, 2 validator(s)" in listed.getvalue()
    refused = io.StringIO()
    assert main(["model", "tier", name, "--tier", "2", "--reason", reason], refused) == ExitCode.NOT_ALLOWED
    assert "set tier needs one of: admin, validator" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("only text", "is not TEXT|OWNER|YYYY-MM-DD"),
        ("retest|dora|next week", "'next week' is not a date"),
        ("retest|dora|2099-01-01|seven", "'seven' is not a finding id"),
    ],
)
def test_a_malformed_condition_is_bad_input(
    cli_store: ServiceContext,
    candidate: int,
    value: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--user", "vera", "approve", str(candidate), "--comment", "ok", "--artifact", "x", "--condition", value]
    with pytest.raises(SystemExit) as exited:
        main(argv, io.StringIO())
    assert exited.value.code == ExitCode.BAD_INPUT
    assert message in capsys.readouterr().err


def test_approve_with_a_condition_then_list_and_mark_it_met(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLOPS_SCORING_URL", cli_store.settings.scoring_url)
    with cli_store.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        sha = mv.artifact_sha256
    due = (utcnow().date() + timedelta(days=14)).isoformat()
    argv = ["--user", "vera", "approve", str(candidate), "--comment", "holds", "--artifact", sha]
    approved = io.StringIO()
    assert main([*argv, "--condition", f"Re-run fairness on Q1|DORA|{due}"], approved) == ExitCode.OK, (
        approved.getvalue()
    )
    listed = io.StringIO()
    assert main(["--user", "max", "conditions", "list", "--json"], listed) == ExitCode.OK
    [condition] = json.loads(listed.getvalue())
    assert (condition["text"], condition["owner"], condition["due_date"], condition["state"]) == (
        "Re-run fairness on Q1",
        "dora",
        due,
        "open",
    )
    met = io.StringIO()
    note = "Seen done in the quarterly pack, page 4."
    assert main(["--user", "victor", "conditions", "met", str(condition["id"]), "--note", note], met) == ExitCode.OK
    assert met.getvalue() == f"condition {condition['id']} met (victor)\n"
    again = io.StringIO()
    assert main(["--user", "victor", "conditions", "met", str(condition["id"]), "--note", note], again) != ExitCode.OK
    assert "cannot be marked met again" in capsys.readouterr().err
    missing = io.StringIO()
    assert main(["--user", "vera", "conditions", "met", "999", "--note", note], missing) == ExitCode.NOT_FOUND
    assert "condition 999 does not exist" in capsys.readouterr().err


def test_revalidation_show_and_due_sweep(
    cli_store: ServiceContext, people: dict[str, Principal], in_prod: int, capsys: pytest.CaptureFixture[str]
) -> None:
    mv = deployments.get_deployment(cli_store, people["max"], in_prod).model_version_id
    shown = io.StringIO()
    assert main(["--user", "vera", "revalidation", "show", str(mv)], shown) == ExitCode.OK
    assert "standing approval" in shown.getvalue() and "evidence to cite: --evidence" in shown.getvalue()
    refused = io.StringIO()
    argv = ["--user", "vera", "revalidation", "decide", str(mv), "--outcome", "renew", "--comment"]
    assert main([*argv, "Renewed without any production evidence at all."], refused) != ExitCode.OK
    assert "the evidence of model version" in capsys.readouterr().err
    swept = io.StringIO()
    assert main(["--user", "max", "due", "sweep"], swept) == ExitCode.OK
    assert swept.getvalue() == "nothing is due\n"
