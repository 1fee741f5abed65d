"""``evaluate --since/--until/--feedback-batch``: a window the command cannot read exits 2 naming the value."""

from __future__ import annotations

import pytest

from pipeline_core.cli import main
from pipeline_core.services.context import ServiceContext


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--until", "yesterday"], "error: --until 'yesterday' is not an ISO timestamp"),
        (["--since", "2026-13-01"], "error: --since '2026-13-01' is not an ISO timestamp"),
        (["--feedback-batch", "no-such-batch"], "error: feedback batch 'no-such-batch' does not exist for deployment"),
        (
            ["--since", "2026-03-02", "--until", "2026-03-01"],
            "error: window since 2026-03-02T00:00:00 is after until 2026-03-01T00:00:00",
        ),
    ],
    ids=["until-unparsable", "since-unparsable", "unknown-batch", "since-after-until"],
)
def test_a_bad_window_exits_2_with_its_value_and_no_traceback(
    cli_store: ServiceContext, in_prod: int, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    assert main(["evaluate", "--deployment", str(in_prod), *options]) == 2
    captured = capsys.readouterr()
    assert message in captured.err, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
