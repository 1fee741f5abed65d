"""``shadow``: start, list, compare and stop from the command line; refusals and clumsy input exit by the table."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.cli import main
from pipeline_core.errors import ExitCode
from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.states import State

REASON = "Compare the retrained candidate with production on identical live traffic."


def test_start_list_compare_stop(
    cli_store: ServiceContext, people: dict[str, Principal], challenger: int, starting_state: State
) -> None:
    prod = starting_state.deployment_id
    out = io.StringIO()
    argv = ["shadow", "start", "--deployment", str(prod), "--model-version", str(challenger), "--reason", REASON]
    assert main([*argv, "--json"], out) == ExitCode.OK
    started = json.loads(out.getvalue())
    assert (started["production_deployment_id"], started["model_version_id"], started["active"]) == (
        prod,
        challenger,
        True,
    )
    assert (started["started_by"], started["start_reason"]) == ("dora", REASON)
    out = io.StringIO()
    assert main(["--user", "max", "shadow", "list", "--active"], out) == ExitCode.OK
    assert out.getvalue().startswith(f"shadow {started['id']}: ") and "active" in out.getvalue()
    out = io.StringIO()
    assert main(["--user", "max", "shadow", "compare", str(started["id"])], out) == ExitCode.OK
    text = out.getvalue()
    assert "records compared: 0 of 0 production records in the period" in text
    assert "production: realised no labelled record; estimated no record compared yet" in text
    out = io.StringIO()
    assert main(["--user", "max", "shadow", "compare", str(started["id"]), "--json"], out) == ExitCode.OK
    document = json.loads(out.getvalue())
    assert document["report"]["records"] == 0 and document["shadow"]["id"] == started["id"]
    out = io.StringIO()
    stop = ["--user", "vera", "shadow", "stop", str(started["id"]), "--reason", "Enough traffic compared for now."]
    assert main(stop, out) == ExitCode.OK
    assert "stopped " in out.getvalue() and "by vera: Enough traffic compared for now." in out.getvalue()
    out = io.StringIO()
    assert main(["shadow", "list", "--active"], out) == ExitCode.OK
    assert out.getvalue() == "no shadow is active\n"
    assert not deployments.list_shadows(cli_store, people["max"], active_only=True)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            [
                "--user",
                "max",
                "shadow",
                "start",
                "--deployment",
                "{prod}",
                "--model-version",
                "{mv}",
                "--reason",
                REASON,
            ],
            ExitCode.NOT_ALLOWED,
            "max is a manager; shadow needs one of: data_scientist, validator",
        ),
        (
            ["--user", "ada", "shadow", "stop", "1", "--reason", REASON],
            ExitCode.NOT_ALLOWED,
            "ada is a admin; shadow needs one of",
        ),
        (
            ["shadow", "start", "--deployment", "999", "--model-version", "{mv}", "--reason", REASON],
            ExitCode.NOT_FOUND,
            "deployment 999 does not exist or was deleted",
        ),
        (
            ["shadow", "start", "--deployment", "{prod}", "--model-version", "{mv}", "--reason", "because"],
            ExitCode.BAD_INPUT,
            "must be at least a sentence",
        ),
        (
            ["shadow", "start", "--deployment", "{prod}", "--model-version", "{live}", "--reason", REASON],
            ExitCode.BAD_INPUT,
            "model version {live} is what prod deployment {prod} serves",
        ),
        (
            ["shadow", "start", "--deployment", "{prod}", "--model-version", "{mv}"],
            ExitCode.BAD_INPUT,
            "the following arguments are required: --reason",
        ),
        (["shadow", "stop", "first", "--reason", REASON], ExitCode.BAD_INPUT, "invalid int value: 'first'"),
        (["shadow", "stop", "12", "--reason", REASON], ExitCode.NOT_FOUND, "shadow 12 does not exist"),
        (["shadow", "compare", "12"], ExitCode.NOT_FOUND, "shadow 12 does not exist"),
    ],
    ids=[
        "manager",
        "admin",
        "no-deployment",
        "short-reason",
        "itself",
        "no-reason",
        "not-a-number",
        "no-shadow",
        "compare-none",
    ],
)
def test_refusals_exit_by_the_table(
    cli_store: ServiceContext,
    challenger: int,
    starting_state: State,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: ExitCode,
    message: str,
) -> None:
    names = {"prod": starting_state.deployment_id, "mv": challenger, "live": starting_state.model_version_id}
    filled = [a.format(**names) for a in argv]
    try:
        found = main(filled, io.StringIO())
    except SystemExit as exited:  # argparse's own usage errors
        found = int(exited.code or 0)
    assert found == code
    assert message.format(**names) in capsys.readouterr().err


@given(
    shadow_id=st.one_of(st.integers(), st.text(max_size=12)),
    reason=st.text(max_size=80),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_stop_input_is_refused_with_a_clear_exit_code(
    cli_store: ServiceContext, shadow_id: int | str, reason: str
) -> None:
    """No shadow exists here: whatever is typed, the answer is 2 (bad input) or 4 (no such shadow), never a crash."""
    argv = ["shadow", "stop", str(shadow_id), "--reason", reason]
    try:
        found = main(argv, io.StringIO())
    except SystemExit as exited:
        found = int(exited.code or 0)
    assert found in (ExitCode.BAD_INPUT, ExitCode.NOT_FOUND)
