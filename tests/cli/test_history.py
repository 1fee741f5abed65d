"""``history MODEL [--on DATE] [--json]``: what served prod, approved by whom on which evidence; bad input exits 2."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from pipeline_core.cli import main
from pipeline_core.errors import ExitCode
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext


def _model(ctx: ServiceContext, people: dict[str, Principal], in_prod: int) -> tuple[str, int]:
    dep = deployments.get_deployment(ctx, people["max"], in_prod)
    return dep.model_name, dep.model_version_id


def test_history_as_text_and_json_and_on_a_day(
    cli_store: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    model, mv_id = _model(cli_store, people, in_prod)
    (period,) = governance.production_history(cli_store, people["max"], model)
    out = io.StringIO()
    assert main(["--user", "max", "history", model], out) == ExitCode.OK
    text = out.getvalue()
    assert text.startswith(f"production history of {model}\nv1 (model version {mv_id}) ")
    assert "→ still serving, approval by vera; " in text
    assert f"approval {period.approval_id} by vera on {period.approved_at:%Y-%m-%d}" in text
    assert "evidence: " + ", ".join(f"evaluation {i}" for i in period.evaluation_ids) in text

    shown = io.StringIO()
    day = period.started_at.date().isoformat()
    assert main(["history", model, "--on", day, "--json"], shown) == ExitCode.OK
    (document,) = json.loads(shown.getvalue())
    assert document["model_version_id"] == mv_id and document["approved_by"] == "vera"
    assert document["deployment_id"] == in_prod and document["ended_at"] is None
    assert document["evaluation_ids"] == list(period.evaluation_ids) and document["conditions"] == []

    before = (period.started_at - timedelta(days=1)).date().isoformat()
    empty = io.StringIO()
    assert main(["history", model, "--on", before], empty) == ExitCode.OK
    assert empty.getvalue() == f"{model}: nothing served production on {before}\n"
    moment = io.StringIO()
    assert (
        main(["history", model, "--on", (period.started_at + timedelta(seconds=1)).isoformat(), "--json"], moment) == 0
    )
    assert [d["model_version_id"] for d in json.loads(moment.getvalue())] == [mv_id]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--on", "2026-13-01"], ExitCode.BAD_INPUT, "--on '2026-13-01' is not a date"),
        (["--on", "yesterday"], ExitCode.BAD_INPUT, "--on 'yesterday' is not a date"),
        (["--on", "2026-12-02T25:00"], ExitCode.BAD_INPUT, "--on '2026-12-02T25:00' is not a date"),
    ],
    ids=["month-13", "a-word", "hour-25"],
)
def test_a_bad_date_exits_2_naming_it(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    in_prod: int,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    model, _ = _model(cli_store, people, in_prod)
    assert main(["history", model, *argv], io.StringIO()) == code
    assert message in capsys.readouterr().err


def test_an_unknown_model_exits_not_found(
    cli_store: ServiceContext, people: dict[str, Principal], in_prod: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "no_such_model"], io.StringIO()) == ExitCode.NOT_FOUND
    assert "model 'no_such_model' has no version" in capsys.readouterr().err
