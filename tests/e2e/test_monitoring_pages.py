"""In Chromium: the Monitoring and Overview pages of a production model with traffic, labels and an alert.

The dashboard runs over a copy of the ``in_prod`` state, with scored payload and one biased
labelled batch evaluated on its own (its labelled disparate impact fails, so an alert is open).
Each role that sees the pages signs in; each page, and each tab of the newest evaluation's
detail on Monitoring, is saved as ``test-artifacts/screens/18-<role>-<page>.png`` and read for what
a person should never see (Python's text, a traceback, a lone None).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from pipeline_core.cli import supervise
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow
from tests.credentials import PASSWORD
from tests.e2e.test_dashboard_flow import CHROMIUM, VIEWPORT, _settled, _shot, unreadable
from tests.processes import free_port
from tests.services.test_evaluation_windows import labelled_batches, store_scored_payload

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (requirements-dev.txt)")
pytestmark = [pytest.mark.slow, pytest.mark.browser]

USERS = {"validator": "vera", "data_scientist": "dora", "manager": "max", "admin": "ada"}
TABS = ("Fairness", "Drift and importance", "Performance without labels")


@pytest.fixture
def dashboard(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, spec: DataSpec
) -> Iterator[tuple[str, int]]:
    """The dashboard over the evaluated production deployment, on a free loopback port; and the evaluation."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install chromium (make test installs it)")
    mv_id = store_scored_payload(live_ctx, in_prod, spec)
    _, biased = labelled_batches(live_ctx, mv_id, spec)
    batch = monitoring.upload_feedback(live_ctx, people["dora"], in_prod, biased, source="biased.csv")
    outcome = monitoring.evaluate_deployment(
        live_ctx, people["vera"], in_prod, window=PayloadWindow(feedback_batch=batch.batch_id)
    )
    assert outcome.alerts, "the biased batch's labelled disparate impact fails: an alert is open"
    live_ctx.settings = replace(live_ctx.settings, serve_host="127.0.0.1", dashboard_port=free_port())
    proc, url = supervise.start_dashboard(live_ctx)
    yield url, outcome.evaluation_id
    supervise.stop_dashboard(proc)


def _signed_in(browser: Any, url: str, user: str) -> Any:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_label("User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(user, exact=False).first.wait_for(timeout=30_000)
    _settled(page)
    return page


def _open(page: Any, title: str) -> None:
    page.get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for(timeout=30_000)
    _settled(page)


def test_every_role_reads_the_monitoring_and_overview_pages(dashboard: tuple[str, int]) -> None:
    url, evaluation_id = dashboard
    problems: list[str] = []
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            for role, user in USERS.items():
                page = _signed_in(browser, url, user)
                _open(page, "Overview")
                _shot(page, f"18-{role}-overview")
                body = page.locator("body").inner_text()
                assert f"Evaluation {evaluation_id} (" in body and "95% interval" in body, role
                problems += [f"{role} / overview: {p}" for p in [unreadable(page)] if p]
                if role == "manager":
                    continue  # the Monitoring page is the data scientist's, the validator's and the admin's
                _open(page, "Monitoring")
                _shot(page, f"18-{role}-monitoring")
                body = page.locator("body").inner_text()
                assert "The newest evaluation in detail" in body and "Alerts" in body, role
                problems += [f"{role} / monitoring: {p}" for p in [unreadable(page)] if p]
                for tab in TABS:
                    page.get_by_role("tab", name=tab).click()
                    _settled(page)
                    _shot(page, f"18-{role}-monitoring-{tab.split()[0].lower()}")
                    problems += [f"{role} / monitoring / {tab}: {p}" for p in [unreadable(page)] if p]
                page.context.close()
        finally:
            browser.close()
    assert problems == []
