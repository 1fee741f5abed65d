"""In Chromium: the Monitoring page's alerts (seen twice, the notifications' deliveries, the channel) and the
Overview's open alerts naming their version, over a copy of the ``candidate`` state with a webhook configured.

The pages are saved as ``test-artifacts/screens/18a-monitoring-alerts.png`` and ``18a-overview-alerts.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from pipeline_core.cli import supervise
from pipeline_core.services import monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from tests.credentials import PASSWORD
from tests.e2e.test_dashboard_flow import CHROMIUM, VIEWPORT, _settled, _shot, unreadable
from tests.notify.servers import Receiver, webhook_receiver
from tests.processes import free_port
from tests.services.test_alert_lifecycle import HOOK_SECRET, report, store
from tests.states import State

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (requirements-dev.txt)")
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver(HOOK_SECRET, fail_first=1) as found:
        yield found


@pytest.fixture
def dashboard(
    ctx: ServiceContext, candidate: int, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The dashboard over the candidate's store with the receiver's webhook configured, on a free loopback port."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install chromium (make test installs it)")
    monkeypatch.setenv("MLOPS_ALERT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("MLOPS_ALERT_WEBHOOK_SECRET", HOOK_SECRET)
    ctx.settings = replace(
        ctx.settings,
        serve_host="127.0.0.1",
        dashboard_port=free_port(),
        alert_webhook_url=receiver.url,
        alert_webhook_secret=HOOK_SECRET,
    )
    proc, url = supervise.start_dashboard(ctx)
    yield url
    supervise.stop_dashboard(proc)


def test_the_alerts_sections_in_a_browser(
    dashboard: str,
    ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    starting_state: State,
    receiver: Receiver,
) -> None:
    dep, vera = starting_state.deployment_id, people["vera"]
    assert dep is not None
    store(ctx, vera, candidate, dep, report(0.55, drift=0.3))
    store(ctx, vera, candidate, dep, report(0.52, drift=0.25))
    start = utcnow()
    first = monitoring.deliver_notifications(ctx, vera, now=start)  # the receiver fails its first request
    assert len(first.failures) == 1 and len(first.delivered) == 1
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(60_000)
            page.goto(dashboard)
            page.get_by_label("User name").fill("vera")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Review", level=1).wait_for()
            page.get_by_role("link", name="Monitoring").click()
            page.get_by_role("heading", name="Monitoring", level=1).wait_for()
            _settled(page)
            body = page.locator("body").inner_text()
            assert "seen 2 times" in body and "webhook raised: delivered after 1 attempt" in body
            assert "webhook raised: pending, attempt 1 failed: webhook http://127.0.0.1:" in body
            assert f"notified by json webhook to http://127.0.0.1:{receiver.url.split(':')[2].split('/')[0]}" in body
            assert unreadable(page) is None
            page.get_by_role("heading", name="Alerts").scroll_into_view_if_needed()
            _shot(page, "18a-monitoring-alerts")
            page.get_by_role("link", name="Overview").click()
            page.get_by_role("heading", name="Overview", level=1).wait_for()
            _settled(page)
            assert unreadable(page) is None
            _shot(page, "18a-overview-alerts")
        finally:
            browser.close()
    later = monitoring.deliver_notifications(ctx, vera, now=start + timedelta(seconds=30))
    assert later.failures == () and len(later.delivered) == 1 and len(receiver.accepted) == 2
