"""``integrations pending`` and ``integrations sync``: what the external services do not have yet, and delivering it."""

from __future__ import annotations

import io

import pytest

from pipeline_core.cli import main
from pipeline_core.services import events
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.vocabulary import EventKind


def test_pending_lists_what_was_not_delivered_and_sync_delivers_it(
    cli_store: ServiceContext, people: dict[str, Principal], candidate: int, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert main(["integrations", "pending"], out) == 0
    assert out.getvalue() == "every update was delivered\n"
    with cli_store.db.write() as session:  # a decision whose deliveries nobody has tried yet
        events.record(session, kind=EventKind.DECISION_RECORDED, model_version_id=candidate, actor="vera", payload={})

    out = io.StringIO()
    assert main(["integrations", "pending"], out) == 1
    listed = out.getvalue().splitlines()
    assert len(listed) == 2 and all(f"(model version {candidate}) pending, 0 attempt(s)" in line for line in listed)
    assert len(set(listed)) == 2  # one line per external service

    assert main(["--user", "max", "integrations", "sync"]) == 5  # a manager may look, not push
    assert "max is a manager" in capsys.readouterr().err
    out = io.StringIO()
    assert main(["--user", "dora", "integrations", "sync"], out) == 0
    assert out.getvalue() == "every update was delivered\n"
    assert main(["integrations", "pending"], io.StringIO()) == 0
