"""In Chromium: a validator approves a candidate whose artifact was altered on disk, and the Review page refuses.

The dashboard is started the way ``up`` starts it, over a copy of the ``candidate`` state. The
validator signs in, writes a comment and presses Approve: the page shows the refusal (the
version, the expected and the found hash) above the evidence, the candidate still in the queue,
and nothing approved. The page is saved as ``test-artifacts/screens/15d-review-integrity.png``.
Then the same browser is asked to frame the dashboard in another page, and does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from pipeline_core.cli import supervise
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.credentials import PASSWORD
from tests.e2e.test_dashboard_flow import CHROMIUM, VIEWPORT, _settled, _shot, unreadable
from tests.processes import free_port

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (requirements-dev.txt)")
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def dashboard(live_ctx: ServiceContext, candidate: int) -> Iterator[str]:
    """The dashboard over the candidate's store, on a free loopback port."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install chromium (make test installs it)")
    live_ctx.settings = replace(live_ctx.settings, serve_host="127.0.0.1", dashboard_port=free_port())
    proc, url = supervise.start_dashboard(live_ctx)
    yield url
    supervise.stop_dashboard(proc)


def _browser(pw: Any) -> Any:
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])


def test_the_review_page_refuses_an_altered_artifact_and_says_why(
    dashboard: str, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    artifact = live_ctx.settings.artifact_dir / queued.artifact_sha256[:2] / queued.artifact_sha256
    altered = artifact.read_bytes() + b"edited on disk"
    artifact.write_bytes(altered)
    found = hashlib.sha256(altered).hexdigest()
    with playwright.sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(60_000)
            page.goto(dashboard)
            page.get_by_label("User name").fill("vera")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Review", level=1).wait_for()  # a validator's home page
            _settled(page)
            page.get_by_label("Comment (required)").fill("Quality, fairness and drift reviewed.")
            page.get_by_role("button", name="Approve…").click()
            page.get_by_role("button", name="Confirm and deploy").click()
            page.get_by_text("Integrity check failed: this candidate cannot be approved.").wait_for()
            page.get_by_text(f"ModelIntegrityError: model version {candidate} failed its integrity check").wait_for()
            _settled(page)
            body = page.locator("body").inner_text()
            assert f"its stored bytes hash to {found}" in body
            assert "Approval " not in body and "Deployed to prod" not in body
            assert unreadable(page) is None
            page.locator('[data-testid="stAlertContainer"]').first.scroll_into_view_if_needed()
            _shot(page, "15d-review-integrity")

            # Framed by another page, the dashboard does not load: the browser obeys the headers.
            # (Without the headers the frame's URL is the dashboard's; refused, Chromium shows its error page.)
            framing = browser.new_context().new_page()
            framing.set_content(f'<iframe name="framed" src="{dashboard}" width="600" height="400"></iframe>')
            framed = next(f for f in framing.frames if f.name == "framed")
            for _ in range(100):  # until the frame's navigation has been answered one way or the other
                if framed.url not in ("", "about:blank"):
                    break
                framing.wait_for_timeout(200)
            assert framed.url.startswith("chrome-error://"), framed.url
        finally:
            browser.close()
    (still,) = governance.review_queue(live_ctx, people["vera"])
    assert still.model_version_id == candidate and still.integrity_alerts
    assert governance.decisions(live_ctx, people["vera"]) == []
