"""End to end in a real browser: `python -m pipeline_core up`, then Chromium driven by Playwright.

A data scientist launches a run, waits until it awaits review and documents the model; a validator
opens it, looks at every tab, raises a high finding on its ROC AUC and rejects it (no override lifts
an open high finding); the data scientist proposes the remediation and retrains; the validator verifies
the finding closed on the new version and approves it with a condition, and, the model being untiered
and so judged as tier 1, a second validator countersigns before it deploys; the model answers scoring requests
through the prod endpoint; the validator uploads labelled feedback that contradicts it and
evaluates prod now, which raises alerts and a retraining request. Then every role opens
every page it has (``ROLE_PAGES``) on that populated store: each page must read as the
product, never as Python (a repr, a traceback, a lone None), and each is saved as a
full-page screenshot in ``test-artifacts/screens/<role>-<page>.png``.
One browser; one context (a signed-in session) per role.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboard.navigation import CATALOGUE, ROLE_PAGES
from pipeline_core.config import Settings
from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.services import deployments, governance, runs
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import open_context
from pipeline_core.services.datasets import count_payload
from pipeline_core.services.deployments import score_over_http
from pipeline_core.vocabulary import DOC_SECTION_TITLES
from tests.conftest import REPO
from tests.e2e.page_text import REVIEW_TABS, first_problem
from tests.processes import free_port, wait_for

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (requirements-dev.txt)")

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = REPO / "test-artifacts" / "screens"
DEMO_PASSWORD = "e2e-only demo password"  # throwaway store made by this test
DEMO_USERS = {
    "data_scientist": "demo_scientist",
    "validator": "demo_validator",
    "validator_2": "demo_validator_2",
    "manager": "demo_manager",
    "admin": "demo_admin",
}
pytestmark = [pytest.mark.slow, pytest.mark.browser]
VIEWPORT = {"width": 1280, "height": 900}
# Streamlit scrolls inside its own containers, not the document: a full-page screenshot of the window
# would stop at the viewport. The viewport grows to the content's height for the screenshot instead.
CONTENT_HEIGHT = """() => Math.max(document.body.scrollHeight, ...Array.from(
    document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"], section'),
    (e) => e.scrollHeight))"""


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
        pytest.fail("Debian's Chromium is missing: apt-get install chromium (make test installs it)")
    running = Product(tmp_path / "data")
    yield running
    running.stop()


def _shot(page: Any, name: str) -> None:
    """The whole page, as tall as its content, in ``test-artifacts/screens/<name>.png``."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    _settled(page)  # the whole page, not the part drawn so far
    height = int(page.evaluate(CONTENT_HEIGHT))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], min(height, 20_000))})
    page.wait_for_timeout(400)  # the layout and the charts follow the new size
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)
    page.set_viewport_size(VIEWPORT)


def _settled(page: Any) -> None:
    """The script has finished this run (fragments may start another later), and charts had time to draw."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=60_000)
    page.wait_for_timeout(800)


def _sign_in(browser: Any, url: str, role: str) -> Any:
    """A new browser context (its own session) signed in as the demo user of ``role``."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(60_000)
    user = DEMO_USERS[role]
    page.goto(url)
    page.get_by_label("User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(user, exact=False).first.wait_for(timeout=30_000)
    _settled(page)
    return page


def unreadable(page: Any) -> str | None:
    """What on the page a person should never read: Streamlit's exception box, a repr, a traceback, a lone None.

    The text as drawn (lines), each table cell (the grid draws on a canvas; its cells are in an
    accessible table), and the text of folded expanders and hidden tabs.
    """
    box = page.locator('[data-testid="stException"]')
    if box.count():
        return f"Streamlit's exception box: {box.first.inner_text()[:400]!r}"
    main = page.locator('[data-testid="stMain"]')
    texts = [page.locator("body").inner_text()]
    texts += main.locator('[role="gridcell"], [role="columnheader"]').all_text_contents()
    texts.append(main.text_content() or "")
    return first_problem(texts)


def visit_every_page(page: Any, role: str, problems: list[str]) -> None:
    """Each page of ``role`` through the sidebar (a reload would start a new, signed-out session)."""
    for key in ROLE_PAGES[role]:
        title = CATALOGUE[key][1]
        page.get_by_role("link", name=title).click()
        page.get_by_role("heading", name=title, level=1).wait_for(timeout=30_000)
        _shot(page, f"{role}-{key}")  # once the page is settled
        problem = unreadable(page)
        if problem:
            problems.append(f"{role} / {key}: {problem}")


def test_launch_review_approve_score_and_watch(product: Product, tmp_path: Path) -> None:
    url = product.wait_for(r"dashboard: (http://\S+)").group(1)
    product.wait_for(r"state: awaiting review")  # the demo run
    problems: list[str] = []
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
        pages: dict[str, Any] = {}
        try:
            _flow(browser, url, pages, problems, product, tmp_path)
        except BaseException:
            for role, open_page in pages.items():  # what each role saw when it failed
                with contextlib.suppress(playwright.Error):
                    _shot(open_page, f"failed-{role}")
            raise
        finally:
            browser.close()
    assert not problems, "pages show Python instead of the product:\n" + "\n".join(problems)


def _launch(page: Any) -> int:
    """A run launched from the Runs page, followed until its model version awaits review; that version's id."""
    page.get_by_role("link", name="Runs").click()
    page.get_by_role("heading", name="Runs", level=1).wait_for()
    page.get_by_text("Launch a run").click()
    page.get_by_role("button", name="Launch").click()
    queued = page.get_by_text(re.compile(r"Run \d+ queued\."))
    queued.wait_for()
    run_id = re.search(r"Run (\d+)", queued.inner_text()).group(1)  # type: ignore[union-attr]
    done = page.get_by_text(re.compile(rf"Run {run_id} succeeded: .* is awaiting review"))
    done.wait_for(timeout=240_000)
    done.scroll_into_view_if_needed()
    return int(re.search(r"model version (\d+)", done.inner_text()).group(1))  # type: ignore[union-attr]


def _open_candidate(page: Any, mv_id: int) -> None:
    page.get_by_role("link", name="Review").click()
    page.get_by_role("heading", name="Review").wait_for()
    _settled(page)
    back = page.get_by_role("button", name="Back to the review queue")
    if back.count():  # the last decision, shown until dismissed
        back.click()
        _settled(page)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile(rf"\(model version {mv_id}\)")).click()
    _settled(page)


def _choose(page: Any, within: Any, index: int, option: str | re.Pattern[str]) -> None:
    """Pick ``option`` in the ``index``-th select box of ``within`` (a form, say)."""
    within.locator('[data-testid="stSelectbox"]').nth(index).click()
    page.get_by_role("option", name=option).click()


def _version(product: Product, mv_id: int) -> int:
    ctx = open_context(Settings(data_dir=product.data_dir, serve_port=product.serve_port))
    try:
        admin = governance.get_principal(ctx, "demo_admin")
        return next(v.version for v in runs.list_model_versions(ctx, admin) if v.id == mv_id)
    finally:
        ctx.close()


def _flow(browser: Any, url: str, pages: dict[str, Any], problems: list[str], product: Product, tmp_path: Path) -> None:
    # A data scientist launches a run on the demo data and follows it to review.
    page = pages["data_scientist"] = _sign_in(browser, url, "data_scientist")
    rejected_id = _launch(page)
    _shot(page, "data_scientist-run-awaiting-review")

    # ... and documents the model: every section the policy requires.
    page.get_by_role("link", name="Documentation").click()
    page.get_by_role("heading", name="Documentation", level=1).wait_for()
    for title in DOC_SECTION_TITLES.values():
        page.get_by_role("textbox", name=title, exact=True).fill(
            f"{title}: as the e2e data scientist documents german_credit."
        )
    page.get_by_role("button", name="Save documentation").click()
    page.get_by_text(re.compile(r"Saved: Purpose and intended use, ")).wait_for()
    _shot(page, "data_scientist-documentation-saved")

    # A validator opens the candidate, reads every tab, raises a high finding on its ROC AUC and rejects it.
    page = pages["validator"] = _sign_in(browser, url, "validator")
    _open_candidate(page, rejected_id)
    for tab in REVIEW_TABS:
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(800)
        if tab == "Model tests":
            # Each verdict's evidence sits in an expander named by the test and its verdict.
            page.get_by_text("artifact: pass (critical)").wait_for()
        _shot(page, f"validator-review-{tab.lower().replace(' ', '-')}")
    page.get_by_role("link", name="Findings").click()
    page.get_by_role("heading", name="Findings", level=1).wait_for()
    form = page.locator('[data-testid="stForm"]').first
    _choose(page, form, 0, re.compile(rf"german_credit v{_version(product, rejected_id)} "))
    form.get_by_role("textbox", name="Title", exact=True).fill("Discrimination too thin for a tier-1 credit model")
    form.get_by_role("textbox", name="Description", exact=True).fill(
        "ROC AUC barely clears its threshold on the held-out split."
    )
    _choose(page, form, 1, "high")
    _choose(page, form, 2, "check")
    form.get_by_role("textbox", name="Evidence reference", exact=True).fill("quality:roc_auc")
    form.get_by_role("textbox", name="Owner", exact=True).fill(DEMO_USERS["data_scientist"])
    form.get_by_role("button", name="Raise finding").click()
    raised = page.get_by_text(re.compile(r"Finding (\d+) raised on german_credit"))
    raised.wait_for()
    finding_id = int(re.search(r"Finding (\d+)", raised.inner_text()).group(1))  # type: ignore[union-attr]
    _shot(page, "validator-finding-raised")
    _open_candidate(page, rejected_id)
    page.get_by_role("tab", name="Findings").click()
    page.get_by_text(re.compile(rf"finding {finding_id} .Discrimination too thin")).first.wait_for()
    assert page.get_by_role("button", name="Approve…").is_disabled()  # an open high finding: no override
    page.get_by_role("textbox", name="Comment (required)", exact=True).fill(
        "Rejected: finding raised on discrimination; retrain and document."
    )
    page.get_by_role("button", name="Reject").click()
    page.get_by_text(re.compile(rf"\(model version {rejected_id}\) rejected")).wait_for()
    _shot(page, "validator-rejected-with-finding")

    # The data scientist proposes the remediation and retrains.
    page = pages["data_scientist"]
    page.get_by_role("link", name="Findings").click()
    page.get_by_role("heading", name="Findings", level=1).wait_for()
    page.get_by_role("textbox", name="Remediation", exact=True).fill(
        "Retrained on the full demo data with more iterations; see the new run."
    )
    page.get_by_role("button", name="Propose remediation").click()
    page.get_by_text(f"Remediation of finding {finding_id} proposed.").wait_for()
    mv_id = _launch(page)

    # The validator verifies the finding closed on the new version (its ROC AUC passes there).
    page = pages["validator"]
    page.get_by_role("link", name="Findings").click()
    page.get_by_role("heading", name="Findings", level=1).wait_for()
    page.get_by_role("textbox", name="Verification note", exact=True).fill(
        "ROC AUC passes on the retrained version's held-out split."
    )
    page.get_by_role("button", name="Close finding").click()
    page.get_by_text(re.compile(rf"Finding {finding_id} closed on version \d+\.")).wait_for()
    _shot(page, "validator-finding-closed")

    # Untiered, the model is judged as tier 1: two validators. The first approves with a condition.
    _open_candidate(page, mv_id)
    page.get_by_text("Not tiered yet (judged as tier 1): approval needs two independent validators").wait_for()
    page.get_by_role("spinbutton", name="Conditions of approval").fill("1")
    page.get_by_role("spinbutton", name="Conditions of approval").press("Enter")
    page.get_by_role("textbox", name="Condition 1: what must be done", exact=True).fill(
        "Re-run the fairness monitor on Q1 production data"
    )
    page.get_by_role("textbox", name="Owner (account)", exact=True).fill(DEMO_USERS["data_scientist"])
    page.get_by_role("textbox", name="Owner (account)", exact=True).press("Tab")
    page.get_by_role("textbox", name="Comment (required)", exact=True).fill(
        "Quality, fairness and drift reviewed; approved with a condition."
    )
    page.get_by_role("button", name="Approve…").click()
    confirm = page.get_by_role("button", name="Confirm approval")
    confirm.wait_for()
    _shot(page, "validator-review-confirm")
    # Finding 1 of issue 16: a double click approved this candidate and then the next one.
    confirm.dblclick()
    page.get_by_text(re.compile(rf"\(model version {mv_id}\) approved, pending countersign")).wait_for()
    _shot(page, "validator-approved-pending-countersign")

    # A second validator countersigns: then the production check runs and it deploys.
    page = pages["validator_2"] = _sign_in(browser, url, "validator_2")
    _open_candidate(page, mv_id)
    page.get_by_text(re.compile(r"is the first of the 2 independent approvals its tier needs")).wait_for()
    page.get_by_role("textbox", name="Comment (required)", exact=True).fill(
        "Countersigned: I reviewed the same evidence and agree."
    )
    page.get_by_role("button", name="Countersign…").click()
    page.get_by_role("button", name="Confirm and deploy").click()
    page.get_by_text(re.compile(r"Deployed to prod: deployment \d+")).wait_for(timeout=120_000)
    _settled(page)
    assert page.get_by_role("button", name="Countersign…").count() == 0  # the form is gone after the decision
    _shot(page, "validator_2-countersigned")
    page = pages["validator"]

    # The model answers through the prod endpoint; then it serves 300 more applicants.
    spec = german_credit_spec()
    ctx = open_context(Settings(data_dir=product.data_dir, serve_port=product.serve_port))
    try:
        admin = governance.get_principal(ctx, "demo_admin")
        prod = next(d for d in deployments.list_deployments(ctx, admin) if d.space == "prod")
        key = deployments.issue_key(ctx, admin, prod.id, label="e2e")
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
        assert answer.json()["model_version_id"] == prod.model_version_id == mv_id
        # The rejection and the approval, each on the candidate the validator opened; the demo run's candidate
        # still awaits review.
        decided = sorted(d.model_version_id for d in governance.decisions(ctx, admin))
        assert decided == sorted([rejected_id, mv_id])
        (waiting,) = governance.review_queue(ctx, admin)
        applicants = generate_german_credit(300, seed=5)
        scored = score_over_http(ctx, admin, prod.id, applicants, spec=spec, label="e2e traffic")
        wait_for(lambda: count_payload(ctx, SYSTEM, deployment_id=prod.id) == 301, timeout=20, what="prod's payload")
    finally:
        ctx.close()
    # The true outcomes of 150 of them, every one the opposite of what the model said.
    feedback = applicants.iloc[:150].copy()
    feedback["Risk"] = ["No Risk" if p == "Risk" else "Risk" for p in scored["prediction"].iloc[:150]]
    feedback["scoring_id"] = list(scored["scoring_id"].iloc[:150])
    feedback_csv = tmp_path / "feedback.csv"
    feedback_csv.write_bytes(frame_to_csv_bytes(feedback))

    # The validator uploads that feedback and evaluates prod now: alerts, and a retraining request.
    page.get_by_role("link", name="Monitoring").click()
    page.get_by_role("heading", name="Monitoring", level=1).wait_for()
    _settled(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(feedback_csv))
    page.get_by_role("button", name="Upload feedback").click()
    page.get_by_text("Stored 150 records (150 linked to scoring ids).").wait_for()
    page.get_by_role("button", name="Evaluate now").click()
    evaluated = page.get_by_text(re.compile(r"Evaluation \d+: fail, risk level high\."))
    evaluated.wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"\d+ alert\(s\) raised\.")).wait_for()
    page.get_by_text(re.compile(r"Retraining request \d+ created\.")).wait_for()
    _shot(page, "validator-evaluated-prod")

    # Every role, every page it has, on this store.
    for role in ROLE_PAGES:
        if role not in pages:
            pages[role] = _sign_in(browser, url, role)
        visit_every_page(pages[role], role, problems)

    # A manager sees the model in production, and the alerts its evaluation raised.
    page = pages["manager"]
    page.get_by_role("link", name="Overview").click()
    page.get_by_text(f"deployment {prod.id}").first.wait_for()
    page.get_by_role("heading", name="Open alerts").wait_for()
    # ... and the condition its approval carries, with its owner and due date.
    condition_due = (date.today() + timedelta(days=90)).isoformat()
    page.get_by_text("Open conditions of approval").wait_for()
    cells = page.locator('[data-testid="stMain"] [role="gridcell"]')
    # The grid draws on a canvas and fills its (hidden) accessible cells after: wait for them to be there.
    cells.filter(has_text="Re-run the fairness monitor on Q1 production data").first.wait_for(state="attached")
    cells.filter(has_text=condition_due).first.wait_for(state="attached")
    _shot(page, "manager-overview-conditions")
    # A page the manager may not open is not there at all: not in the sidebar, and its URL opens no review.
    assert page.get_by_role("link", name="Review").count() == 0
    page.goto(f"{url}/review")
    page.wait_for_timeout(2000)
    assert page.get_by_role("button", name="Approve").count() == 0
    _shot(page, "manager-review-refused")

    # Finding 2: the admin demotes the validator while their session is open, between Approve and Confirm.
    page = pages["validator"]
    _open_candidate(page, waiting.model_version_id)
    page.get_by_label("Comment (required)").fill("Demo candidate reviewed.")
    page.get_by_role("button", name="Approve…").click()
    page.get_by_role("button", name="Confirm approval").wait_for()  # tier 1: its first signature
    ctx = open_context(Settings(data_dir=product.data_dir, serve_port=product.serve_port))
    try:
        admin = governance.get_principal(ctx, "demo_admin")
        validator = next(u for u in governance.list_users(ctx, admin) if u.username == DEMO_USERS["validator"])
        governance.set_role(ctx, admin, username=validator.username, role="manager")
        page.get_by_role("button", name="Confirm approval").click()
        page.wait_for_timeout(3000)
        _shot(page, "validator-demoted-confirm-refused")
        assert sorted(d.model_version_id for d in governance.decisions(ctx, admin)) == decided
        assert [c.model_version_id for c in governance.review_queue(ctx, admin)] == [waiting.model_version_id]
        refused = governance.list_events(ctx, admin, action="action.refused", limit=5)
        assert any(e.actor == validator.username and e.details["action"] == "approve" for e in refused) or (
            page.get_by_role("button", name="Confirm approval").count() == 0
        )
    finally:
        ctx.close()
