"""The Review page when the candidate's artifact was altered: Approve is refused, and the page says why.

The candidate stays in the queue; the refusal (the service's own words: version, expected and
found hash) shows above the evidence on the run that pressed Approve and on every later one,
and the candidate is marked in the picker.
"""

from __future__ import annotations

import hashlib

from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.pages.conftest import PageRunner


def test_an_altered_artifact_is_refused_and_the_candidate_shows_why(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    sha = queued.artifact_sha256
    artifact = live_ctx.settings.artifact_dir / sha[:2] / sha
    altered = artifact.read_bytes() + b"edited on disk"
    artifact.write_bytes(altered)
    expected = (
        f"model version {candidate} failed its integrity check (artifact sha256 {sha}): "
        f"its stored bytes hash to {hashlib.sha256(altered).hexdigest()}"
    )

    at = page("review", "vera")
    assert not at.exception and not at.error  # nothing known yet: no check has run
    next(t for t in at.text_area if t.label == "Comment (required)").set_value("metrics reviewed")
    next(b for b in at.button if b.key == "approve").click().run()
    next(b for b in at.button if b.key == "confirm").click().run()
    assert not at.exception
    box, refusal = (e.value for e in at.error)  # above the evidence, and the refusal of this click
    assert refusal == f"ModelIntegrityError: {expected}"
    assert box.startswith("**Integrity check failed: this candidate cannot be approved.**")
    (alert,) = governance.review_queue(live_ctx, people["vera"])[0].integrity_alerts
    assert f"\n- alert {alert.alert_id}, " in box
    assert box.endswith(f": {expected}; the approval or prod deployment was refused")
    assert not at.success and governance.decisions(live_ctx, people["vera"]) == []  # nothing approved
    # Drawn after the refusal was recorded: Approve is not offered beside the banner that says it cannot be.
    assert next(b for b in at.button if b.key == "approve").disabled

    again = page("review", "vera")  # a later visit: the candidate still waits, saying why
    assert again.selectbox[0].options == [
        f"{queued.name} v{queued.version} (model version {candidate}) by dora · integrity check failed"
    ]
    assert any(e.value.startswith("**Integrity check failed") for e in again.error)
    # Approve is not offered while the banner says it cannot be: Reject stays open.
    assert next(b for b in again.button if b.key == "approve").disabled
    assert not next(b for b in again.button if b.key == "reject").disabled
