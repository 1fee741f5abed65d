"""AppTest fixtures: the dashboard's store in a temp folder, signed-in users, a page runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import ui
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext

REPO = Path(__file__).resolve().parents[2]
PageRunner = Callable[..., AppTest]


@pytest.fixture
def dash_ctx(ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch) -> ServiceContext:
    """The store the dashboard's pages use: the test's own, through ``ui.context``."""
    ui.context.clear()
    monkeypatch.setattr(ui, "context", lambda: ctx)
    return ctx


@pytest.fixture
def page(dash_ctx: ServiceContext, people: dict[str, Principal]) -> PageRunner:
    def run(name: str, who: str, *, timeout: float = 60, state: dict[str, object] | None = None) -> AppTest:
        at = AppTest.from_file(str(REPO / "pages" / f"{name}.py"), default_timeout=timeout)
        at.session_state[ui.PRINCIPAL] = people[who]
        for key, value in (state or {}).items():
            at.session_state[key] = value
        return at.run()

    return run
