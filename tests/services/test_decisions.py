"""A decision is valid and informed: bound to what was seen, made once, unjudged blocks, duties by account.

Regression tests of issue 16's findings 1 (double submit), 3 (unjudged critical checks), 5 (names in
another case), 7 (the decision's audit event), 12 (an admin approving through a second account).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline_core.errors import ApprovalError, ConfigError, ConflictError, PermissionDenied
from pipeline_core.services import governance
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Approval, AuditEvent, Evaluation, ModelVersion
from pipeline_core.vocabulary import ModelState
from tests.credentials import PASSWORD
from tests.services.helpers import copy_version


def _sha(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.artifact_sha256


def _state(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return str(mv.state)


def _approvals(ctx: ServiceContext) -> int:
    with ctx.db.read() as session:
        return int(session.execute(select(func.count()).select_from(Approval)).scalar() or 0)


def _next_candidate(ctx: ServiceContext, mv_id: int) -> int:
    """Another candidate of the same model awaiting review (a copy: same artifact, its own run by dan)."""
    with ctx.db.write() as session:
        live = session.get(ModelVersion, mv_id)
        assert live is not None
        return copy_version(session, live, state=ModelState(live.state)).id


def _mark(ctx: ServiceContext, mv_id: int, status: str) -> None:
    """Every critical check of the candidate's evaluations given ``status`` (as a small split gives them)."""
    with ctx.db.write() as session:
        for ev in session.execute(select(Evaluation).where(Evaluation.model_version_id == mv_id)).scalars():
            results = dict(ev.results)
            results["checks"] = [
                {**c, "status": status, "value": None, "detail": "insufficient data: 60 < 100"}
                if c["critical"] and status == "insufficient"
                else {**c, "status": status}
                if c["critical"]
                else c
                for c in results["checks"]
            ]
            ev.results = results


def test_the_same_form_submitted_twice_decides_once_and_never_the_next_candidate(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    """Finding 1: two clicks 0.6 s apart approved v2, then v3 with v2's comment."""
    following = _next_candidate(live_ctx, candidate)
    (first, second) = governance.review_queue(live_ctx, people["vera"])
    form: dict[str, Any] = {
        "comment": "metrics and tests hold",
        "artifact_sha256": first.artifact_sha256,
        "evidence": first.evaluation_ids,
        "model_tests": list(first.model_test_run_ids),
        "request_id": "form-7f3a",
    }
    once = governance.approve(live_ctx, people["vera"], candidate, **form)
    again = governance.approve(live_ctx, people["vera"], candidate, **form)
    assert once.deployment is not None and not once.repeated
    assert again.repeated and again.approval_id == once.approval_id and again.deployment == once.deployment
    assert "already submitted" in again.notes[0]
    # The same form id on the next candidate (what a moved selector would send) is refused, not applied.
    with pytest.raises(ConflictError, match="decision form 'form-7f3a' was used for another decision"):
        governance.approve(live_ctx, people["vera"], following, **{**form, "evidence": second.evaluation_ids})
    assert _approvals(live_ctx) == 1 and _state(live_ctx, following) == "awaiting_review"


def test_a_repeated_rejection_is_the_first_one(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    sha = _sha(live_ctx, candidate)
    first = governance.reject(
        live_ctx, people["vera"], candidate, comment="drift", artifact_sha256=sha, request_id="r1"
    )
    assert governance.reject(live_ctx, people["vera"], candidate, comment="drift", request_id="r1") == first
    assert _approvals(live_ctx) == 1 and _state(live_ctx, candidate) == "rejected"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("artifact", r"the decision names artifact 0{64} but model version \d+ is"),
        ("new evaluation", r"its evaluations are now \[\d+, \d+\], the form showed \[\d+\]. Open the candidate again"),
        ("new model test run", r"its model test runs are now .*the form showed"),
    ],
)
def test_a_decision_on_evidence_that_changed_since_the_form_was_shown_is_refused(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, change: str, match: str
) -> None:
    (shown,) = governance.review_queue(live_ctx, people["vera"])
    sha, tests = shown.artifact_sha256, list(shown.model_test_run_ids)
    if change == "artifact":
        sha = "0" * 64
    elif change == "new evaluation":
        with live_ctx.db.write() as session:
            ev = session.get(Evaluation, shown.evaluation_ids[0])
            assert ev is not None
            session.add(
                Evaluation(
                    **{
                        c: getattr(ev, c)
                        for c in (
                            "model_version_id",
                            "deployment_id",
                            "space",
                            "data_window",
                            "results",
                            "status",
                            "created_at",
                        )
                    }
                )
            )
    else:
        tests = [*tests, 999] if tests else [999]
    with pytest.raises(ApprovalError, match=match):
        governance.approve(
            live_ctx,
            people["vera"],
            candidate,
            comment="ok",
            artifact_sha256=sha,
            evidence=shown.evaluation_ids,
            model_tests=tests,
        )
    assert _approvals(live_ctx) == 0 and _state(live_ctx, candidate) == "awaiting_review"
    refusal = governance.list_events(live_ctx, SYSTEM, action="action.refused", limit=1)[0]
    assert (
        refusal.actor == "vera" and refusal.details["action"] == "approve" and refusal.object.endswith(str(candidate))
    )


def test_unjudged_critical_checks_block_approval_like_failed_ones(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    """Finding 3: 'insufficient data: 60 < 100' on the critical ROC AUC and DI checks was approved and deployed."""
    _mark(live_ctx, candidate, "insufficient")
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    assert "quality:roc_auc" in {b.key for b in queued.blocking}
    assert any("roc_auc could not be judged (insufficient data: 60 < 100)" in b.text for b in queued.blocking)
    with pytest.raises(ApprovalError, match=r"roc_auc could not be judged \(insufficient data: 60 < 100\)"):
        governance.approve(live_ctx, people["vera"], candidate, comment="ok", artifact_sha256=queued.artifact_sha256)
    assert _approvals(live_ctx) == 0 and _state(live_ctx, candidate) == "awaiting_review"
    assert governance.failed_critical([]) == []


@pytest.mark.parametrize(
    ("reason", "match"),
    [
        ("x", "at least a sentence"),
        ("   ", None),  # blank: no override at all, so the blocking checks are what refuse
        ("backtest ok fine", "at least a sentence"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "at least a sentence"),
    ],
)
def test_an_override_reason_must_be_a_sentence(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, reason: str, match: str | None
) -> None:
    _mark(live_ctx, candidate, "fail")
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    keys = [b.key for b in queued.blocking]
    error: type[Exception] = ConfigError if match else ApprovalError
    with pytest.raises(error, match=match or "critical check"):
        governance.approve(
            live_ctx,
            people["vera"],
            candidate,
            comment="ok",
            artifact_sha256=queued.artifact_sha256,
            override_reason=reason,
            overrides=keys,
        )
    assert _approvals(live_ctx) == 0


def test_an_override_of_nothing_is_refused(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with pytest.raises(ApprovalError, match="there is nothing to override"):
        governance.approve(
            live_ctx,
            people["vera"],
            candidate,
            comment="ok",
            artifact_sha256=_sha(live_ctx, candidate),
            override_reason="nothing failed but I want it on record anyway",
        )


def test_a_pending_override_can_be_rejected_by_the_second_validator(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    _mark(live_ctx, candidate, "fail")
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    pending = governance.approve(
        live_ctx,
        people["vera"],
        candidate,
        comment="ok",
        artifact_sha256=queued.artifact_sha256,
        override_reason="the failing AUC comes from a tiny split; backtest attached",
        overrides=[b.key for b in queued.blocking],
    )
    (waiting,) = governance.review_queue(live_ctx, people["victor"])
    assert waiting.state == "awaiting_countersign" and waiting.pending is not None
    assert waiting.pending.approval_id == pending.approval_id and waiting.pending.decided_by == "vera"
    with pytest.raises(ConflictError, match="awaits a second validator's countersign"):
        governance.approve(live_ctx, people["victor"], candidate, comment="ok", artifact_sha256=queued.artifact_sha256)
    governance.reject(live_ctx, people["victor"], candidate, comment="the backtest does not convince me")
    assert _state(live_ctx, candidate) == "rejected"
    with pytest.raises(ConflictError, match=r"is pending, not awaiting countersign|is rejected"):
        governance.countersign(
            live_ctx,
            people["victor"],
            candidate,
            approval_id=pending.approval_id,
            comment="changed my mind",
            artifact_sha256=queued.artifact_sha256,
        )
    assert not governance.production_check(live_ctx, SYSTEM, candidate).passed
    assert governance.chain_status(live_ctx, SYSTEM).ok


def test_the_approval_event_carries_every_field_of_the_decision(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    """Finding 7: the approval's audit event had no comment."""
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    outcome = governance.approve(
        live_ctx,
        people["vera"],
        candidate,
        comment="metrics hold on the held-out split",
        artifact_sha256=queued.artifact_sha256,
        evidence=queued.evaluation_ids,
        request_id="form-1",
    )
    with live_ctx.db.read() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "model_version.approved")).scalar_one()
    assert event.details["approval_id"] == outcome.approval_id
    assert event.details["comment"] == "metrics hold on the held-out split"
    assert event.details["artifact_sha256"] == queued.artifact_sha256
    assert event.details["evidence"] == {"evaluation_ids": queued.evaluation_ids}
    assert event.details["seen"]["evaluation_ids"] == queued.evaluation_ids
    assert {"override", "overridden", "countersigned_by", "request_id"} <= set(event.details)


def test_another_case_of_an_authors_name_is_the_author(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    """Finding 5: SAM_SCI (validator) approved sam_sci's model. One name is one account, whatever its case."""
    with pytest.raises(Exception, match="already exists"):
        governance.add_user(live_ctx, people["admin"], username="DORA", role="validator", password=PASSWORD)
    # A principal naming the account in another case acts as that account, with its role: refused.
    with pytest.raises(PermissionDenied, match="dora is a data_scientist"):
        governance.approve(live_ctx, Principal("DORA", "validator"), candidate, comment="ok", artifact_sha256="x")


def test_a_validator_made_by_the_admin_who_built_the_model_may_not_decide_it(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, tmp_path: Path
) -> None:
    """Finding 12: an admin uploaded the training data, created a validator account and approved with it."""
    with live_ctx.db.write() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        from pipeline_core.store.models import Dataset

        data = session.get(Dataset, mv.dataset_id)
        assert data is not None
        data.created_by = "ada"  # the admin uploaded the training data
    sock = governance.add_user(live_ctx, people["admin"], username="sock", role="validator", password=PASSWORD)
    refused = governance.decision_refused(live_ctx, sock, candidate)
    assert refused is not None and "ada made model version" in refused and "gave them the role" in refused
    with pytest.raises(PermissionDenied, match="a validator may not approve a model of the admin who gave them"):
        governance.approve(live_ctx, sock, candidate, comment="ok", artifact_sha256=_sha(live_ctx, candidate))
    # vera, also made a validator by ada, is refused likewise; victor was promoted by another admin.
    governance.add_user(live_ctx, people["admin"], username="adele", role="admin", password=PASSWORD)
    adele = Principal("adele", "admin")
    governance.set_role(live_ctx, adele, username="victor", role="manager")
    governance.set_role(live_ctx, adele, username="victor", role="validator")
    assert governance.decision_refused(live_ctx, people["victor"], candidate) is not None  # ada created victor
    fresh = governance.add_user(live_ctx, adele, username="vanya", role="validator", password=PASSWORD)
    assert governance.decision_refused(live_ctx, fresh, candidate) is None
    assert governance.approve(live_ctx, fresh, candidate, comment="ok", artifact_sha256=_sha(live_ctx, candidate))


def test_asking_whether_one_may_decide_records_nothing(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    before = len(governance.list_events(live_ctx, SYSTEM, limit=10_000))
    assert governance.decision_refused(live_ctx, people["max"], candidate) is not None
    assert len(governance.list_events(live_ctx, SYSTEM, limit=10_000)) == before
