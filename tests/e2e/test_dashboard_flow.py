"""End to end in a real browser: `python -m pipeline_core up`, then Chromium driven by Playwright.

A data scientist launches a run and waits until it awaits review; a validator opens it,
looks at every tab and approves it with a comment; the model answers a scoring request
through the prod endpoint; a manager sees it in production on the overview. Screenshots of
every page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline_core.config import Settings
from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.services import deployments, users
from pipeline_core.services.context import open_context
from tests.conftest import REPO
from tests.processes import free_port

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (requirements-dev.txt)")

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "screenshots"
DEMO_PASSWORD = "e2e-only demo password"  # throwaway store made by this test
pytestmark = pytest.mark.slow


class Product:
    """``up`` in its own process; its output collected by a thread so the pipe never fills."""

    def __init__(self, data_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
        self.serve_port = free_port()
        env |= {
            "MLOPS_DATA_DIR": str(data_dir),
            "MLOPS_SERVE_PORT": str(self.serve_port),
            "MLOPS_DASHBOARD_PORT": str(free_port()),
            "MLOPS_DEMO_PASSWORD": DEMO_PASSWORD,
            "MLOPS_POLL_INTERVAL": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline_core", "up", "--rows", "1000"],
            env=env,
            cwd=data_dir.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"`up` never printed {pattern!r}; it printed:\n{''.join(self.lines)}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def product(tmp_path: Path) -> Iterator[Product]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install chromium (.ci/run installs it)")
    running = Product(tmp_path / "data")
    yield running
    running.stop()


def _shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _sign_in(page: object, url: str, user: str) -> None:
    p = page  # the Playwright page
    p.goto(url)  # type: ignore[attr-defined]
    p.get_by_label("User name").fill(user)  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)  # type: ignore[attr-defined]
    p.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    p.get_by_text(user, exact=False).first.wait_for(timeout=30_000)  # type: ignore[attr-defined]


def _sign_out(page: object) -> None:
    page.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)  # type: ignore[attr-defined]


def _visit_every_page(page: object, role: str, titles: list[str]) -> None:
    """Through the sidebar: a full reload would start a new session (signed out)."""
    for title in titles:
        page.get_by_role("link", name=title).click()  # type: ignore[attr-defined]
        page.get_by_role("heading", name=title, level=1).wait_for(timeout=30_000)  # type: ignore[attr-defined]
        page.wait_for_timeout(1500)  # type: ignore[attr-defined]  # let charts draw
        _shot(page, f"{role}-{title.lower()}")


def test_launch_review_approve_score_and_watch(product: Product) -> None:
    url = product.wait_for(r"dashboard: (http://\S+)").group(1)
    product.wait_for(r"state: awaiting review")  # the demo run
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)

        # A data scientist launches a run on the demo data and follows it to review.
        _sign_in(page, url, "demo_scientist")
        page.get_by_text("Launch a run").click()
        page.get_by_role("button", name="Launch").click()
        queued = page.get_by_text(re.compile(r"Run \d+ queued\."))
        queued.wait_for()
        run_id = re.search(r"Run (\d+)", queued.inner_text()).group(1)  # type: ignore[union-attr]
        done = page.get_by_text(re.compile(rf"Run {run_id} succeeded: .* is awaiting review"))
        done.wait_for(timeout=240_000)
        mv_id = re.search(r"model version (\d+)", done.inner_text()).group(1)  # type: ignore[union-attr]
        done.scroll_into_view_if_needed()
        _shot(page, "scientist-run-awaiting-review")
        _visit_every_page(page, "scientist", ["Runs", "Overview", "Deployments", "Monitoring", "Factsheets", "Audit"])
        _sign_out(page)

        # A validator opens the candidate, reads every tab, approves with a comment.
        _sign_in(page, url, "demo_validator")
        page.get_by_role("heading", name="Review").wait_for()
        # Two candidates wait (the demo run's and this one): open the one the data scientist launched.
        page.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name=re.compile(rf"\(model version {mv_id}\)")).click()
        page.wait_for_timeout(1500)
        for tab in [
            "Summary",
            "Quality",
            "Fairness",
            "Drift",
            "Explainability",
            "Model tests",
            "Factsheet",
            "Compare with production",
        ]:
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(800)
            if tab == "Model tests":
                # Each verdict's evidence sits in an expander named by the test and its verdict.
                page.get_by_text("artifact: pass (critical)").wait_for()
            _shot(page, f"validator-review-{tab.lower().replace(' ', '-')}")
        page.get_by_label("Comment (required)").fill("Quality, fairness and drift reviewed; bias scan noted.")
        page.get_by_role("button", name="Approve").click()
        page.get_by_text(re.compile(r"Deployed to prod: deployment \d+")).wait_for(timeout=120_000)
        _shot(page, "validator-approved")
        _visit_every_page(page, "validator", ["Overview", "Deployments", "Monitoring", "Factsheets", "Audit"])
        _sign_out(page)

        # The model answers through the prod endpoint.
        ctx = open_context(Settings(data_dir=product.data_dir, serve_port=product.serve_port))
        try:
            admin = users.get_principal(ctx, "demo_admin")
            prod = next(d for d in deployments.list_deployments(ctx, admin) if d.space == "prod")
            key = deployments.issue_key(ctx, admin, prod.id, label="e2e")
            spec = german_credit_spec()
            record = generate_german_credit(1, seed=3)[spec.feature_names]
            body = {"input_data": [{"fields": spec.feature_names, "values": record.values.tolist()}]}
            answer = httpx.post(
                ctx.settings.scoring_url + prod.scoring_path,
                json=body,
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"][0]["values"][0][0] in ("Risk", "No Risk")
            assert answer.json()["model_version_id"] == prod.model_version_id == int(mv_id)
        finally:
            ctx.close()

        # A manager sees it in production.
        _sign_in(page, url, "demo_manager")
        page.get_by_role("heading", name="Overview").wait_for()
        page.get_by_text(f"deployment {prod.id}").first.wait_for()
        _shot(page, "manager-overview")
        _visit_every_page(page, "manager", ["Overview", "Deployments", "Factsheets", "Audit"])
        # A page the role may not open is not there at all.
        page.goto(f"{url}/review")
        page.wait_for_timeout(2000)
        assert page.get_by_role("button", name="Approve").count() == 0
        _shot(page, "manager-review-refused")
        browser.close()
