"""Approval gates production: who, which artifact, which evidence; concurrency; rollback."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from pipeline_core.errors import ApprovalError, ConfigError, ConflictError, DeploymentError, PermissionDenied
from pipeline_core.services import deployments, governance
from pipeline_core.services.audit import verify_chain
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import (
    Approval,
    AuditEvent,
    Deployment,
    DeploymentRevision,
    Evaluation,
    ModelVersion,
)
from pipeline_core.vocabulary import ModelState
from tests.services.helpers import make_candidate, plant_in_prod_history


def _mv(ctx: ServiceContext, mv_id: int) -> ModelVersion:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv


def _prod(ctx: ServiceContext) -> list[Deployment]:
    with ctx.db.read() as session:
        return list(session.execute(select(Deployment).where(Deployment.space == "prod")).scalars())


def test_approve_records_the_artifact_and_evidence_then_deploys_to_prod(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    mv = _mv(live_ctx, candidate)
    queue = governance.review_queue(live_ctx, people["max"])
    assert [c.model_version_id for c in queue] == [candidate] and queue[0].evaluation_ids
    outcome = governance.approve(
        live_ctx, people["vera"], candidate, comment="metrics and tests hold", artifact_sha256=mv.artifact_sha256
    )
    assert outcome.check.passed and outcome.error is None
    assert outcome.deployment is not None and outcome.deployment.space == "prod"
    assert outcome.deployment.artifact_sha256 == mv.artifact_sha256
    assert _mv(live_ctx, candidate).state == "in_production"
    with live_ctx.db.read() as session:
        approval = session.get(Approval, outcome.approval_id)
        assert approval is not None
        assert (approval.decided_by, approval.artifact_sha256, approval.outcome) == (
            "vera",
            mv.artifact_sha256,
            "approved",
        )
        assert approval.evidence["evaluation_ids"] == queue[0].evaluation_ids
        assert verify_chain(session).ok


@pytest.mark.parametrize(
    ("who", "comment", "error", "match"),
    [
        ("vera", "  ", ApprovalError, "an approval needs a comment"),
        ("dora", "mine is great", PermissionDenied, "dora is a data_scientist"),
        ("max", "looks fine", PermissionDenied, "max is a manager"),
        ("admin", "looks fine", PermissionDenied, "ada is a admin"),
    ],
)
def test_approve_refusals(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    who: str,
    comment: str,
    error: type[Exception],
    match: str,
) -> None:
    mv = _mv(live_ctx, candidate)
    with pytest.raises(error, match=match):
        governance.approve(live_ctx, people[who], candidate, comment=comment, artifact_sha256=mv.artifact_sha256)
    assert _mv(live_ctx, candidate).state == "awaiting_review"


def test_a_validator_may_not_approve_a_model_they_launched(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    governance.set_role(live_ctx, people["admin"], username="dora", role="validator")  # dora moved teams
    dora_now = governance.authenticate(live_ctx, "dora", "correct horse battery")
    mv = _mv(live_ctx, candidate)
    for decide in (
        lambda: governance.approve(live_ctx, dora_now, candidate, comment="ok", artifact_sha256=mv.artifact_sha256),
        lambda: governance.reject(live_ctx, dora_now, candidate, comment="no"),
    ):
        with pytest.raises(
            PermissionDenied, match=f"dora is the account of dora, who launched.* model version {candidate}"
        ):
            decide()


def test_twenty_concurrent_approvals_give_one_approval_and_one_deployment(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    sha = _mv(live_ctx, candidate).artifact_sha256
    results: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def approve(i: int) -> None:
        start.wait()
        who = people["vera"] if i % 2 else people["victor"]
        try:
            outcome: object = governance.approve(live_ctx, who, candidate, comment=f"approve #{i}", artifact_sha256=sha)
        except ConflictError as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, governance.ApprovalOutcome)]
    assert len(results) == 20 and len(wins) == 1, results
    assert all("already decided" in str(r) for r in results if isinstance(r, ConflictError))
    with live_ctx.db.read() as session:
        assert session.execute(select(func.count()).select_from(Approval)).scalar() == 1
        prod_revisions = session.execute(
            select(func.count()).select_from(DeploymentRevision).join(Deployment).where(Deployment.space == "prod")
        ).scalar()
        assert prod_revisions == 1
    assert len(_prod(live_ctx)) == 1


def test_prod_refused_without_an_approval(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with pytest.raises(ApprovalError, match=f"model version {candidate} has no approval"):
        governance.deploy_approved(live_ctx, people["vera"], candidate)
    with pytest.raises(DeploymentError, match="deploying to prod goes through approve"):
        deployments.deploy(live_ctx, people["dora"], candidate, space="prod")
    assert _prod(live_ctx) == []


def test_prod_refused_with_an_approval_of_another_artifact(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with pytest.raises(ApprovalError, match=r"the decision names artifact 0+ but model version"):
        governance.approve(live_ctx, people["vera"], candidate, comment="ok", artifact_sha256="0" * 64)
    # An approval on record for other bytes (the artifact was swapped after the review):
    with live_ctx.db.write() as session:
        session.add(
            Approval(
                model_version_id=candidate,
                artifact_sha256="f" * 64,
                outcome="approved",
                comment="old",
                evidence={"evaluation_ids": []},
                decided_by="vera",
                decided_at=utcnow(),
            )
        )
        session.execute(update(ModelVersion).where(ModelVersion.id == candidate).values(state="approved"))
    with pytest.raises(ApprovalError, match=f"is for artifact f{{64}}, not {_mv(live_ctx, candidate).artifact_sha256}"):
        governance.deploy_approved(live_ctx, people["vera"], candidate)
    assert _prod(live_ctx) == []


def _fail_critical(ctx: ServiceContext, mv_id: int) -> None:
    with ctx.db.write() as session:
        for ev in session.execute(select(Evaluation).where(Evaluation.model_version_id == mv_id)).scalars():
            results = dict(ev.results)
            results["checks"] = [{**c, "status": "fail"} if c["critical"] else c for c in results["checks"]]
            ev.results, ev.status = results, "fail"


def test_a_failed_critical_check_needs_a_named_override_and_a_second_validator(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    """Finding 4: one validator and a one-character reason put a failing model into prod."""
    _fail_critical(live_ctx, candidate)
    sha = _mv(live_ctx, candidate).artifact_sha256
    with pytest.raises(ApprovalError, match=r"critical check\(s\) failed or could not be judged: roc_auc .* override"):
        governance.approve(live_ctx, people["vera"], candidate, comment="ok", artifact_sha256=sha)
    reason = "AUC from a 120-record split; the backtest on 2025 data is attached"
    with pytest.raises(ConfigError, match="an override's reason must be at least a sentence"):
        governance.approve(live_ctx, people["vera"], candidate, comment="ok", artifact_sha256=sha, override_reason="x")
    with pytest.raises(
        ApprovalError, match=r"the override must name each blocking check .*not named: .*quality:roc_auc"
    ):
        governance.approve(
            live_ctx, people["vera"], candidate, comment="ok", artifact_sha256=sha, override_reason=reason
        )
    assert _prod(live_ctx) == [] and _mv(live_ctx, candidate).state == "awaiting_review"
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    blocking = sorted({b.key for b in queued.blocking})
    assert "quality:roc_auc" in blocking
    first = governance.approve(
        live_ctx,
        people["vera"],
        candidate,
        comment="ok",
        artifact_sha256=sha,
        override_reason=reason,
        overrides=blocking,
    )
    assert first.pending and not first.check.passed and first.deployment is None
    assert _prod(live_ctx) == [] and _mv(live_ctx, candidate).state == "awaiting_countersign"
    assert not governance.production_check(live_ctx, people["max"], candidate).passed
    countersign: dict[str, Any] = {
        "approval_id": first.approval_id,
        "comment": "backtest read; agreed",
        "artifact_sha256": sha,
    }
    with pytest.raises(PermissionDenied, match=r"vera gave approval .*a second validator"):
        governance.countersign(live_ctx, people["vera"], candidate, **countersign)
    with pytest.raises(PermissionDenied, match="dora is a data_scientist"):
        governance.countersign(live_ctx, people["dora"], candidate, **countersign)
    outcome = governance.countersign(live_ctx, people["victor"], candidate, **countersign)
    assert outcome.check.passed and outcome.deployment is not None
    with live_ctx.db.read() as session:
        approval = session.get(Approval, outcome.approval_id)
        assert approval is not None and approval.outcome == "approved"
        assert (approval.decided_by, approval.countersigned_by, approval.overridden) == ("vera", "victor", blocking)
        event = (
            session.execute(
                select(AuditEvent).where(AuditEvent.action == "model_version.approved").order_by(AuditEvent.seq.desc())
            )
            .scalars()
            .first()
        )
        assert event is not None and event.actor == "vera"
        assert {k: event.details[k] for k in ("override", "overridden", "countersigned_by", "artifact_sha256")} == {
            "override": reason,
            "overridden": blocking,
            "countersigned_by": "victor",
            "artifact_sha256": sha,
        }
        assert event.details["comment"] == "ok" and event.details["countersign_comment"] == "backtest read; agreed"
        assert verify_chain(session).ok


def test_reject_needs_a_comment_and_closes_the_candidate(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with pytest.raises(ApprovalError, match="a rejection needs a comment"):
        governance.reject(live_ctx, people["vera"], candidate, comment="")
    governance.reject(live_ctx, people["vera"], candidate, comment="drift on Age bands")
    assert _mv(live_ctx, candidate).state == "rejected"
    with pytest.raises(ConflictError, match="is rejected, not awaiting review"):
        governance.approve(
            live_ctx,
            people["victor"],
            candidate,
            comment="ok",
            artifact_sha256=_mv(live_ctx, candidate).artifact_sha256,
        )


def test_replace_then_rollback_prod(live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path) -> None:
    first = make_candidate(live_ctx, people["dora"], tmp_path, seed=1)
    governance.approve(
        live_ctx, people["vera"], first, comment="v1", artifact_sha256=_mv(live_ctx, first).artifact_sha256
    )
    second = make_candidate(live_ctx, people["dan"], tmp_path, seed=2)
    outcome = governance.approve(
        live_ctx, people["victor"], second, comment="v2", artifact_sha256=_mv(live_ctx, second).artifact_sha256
    )
    assert outcome.deployment is not None
    prod = _prod(live_ctx)
    assert len(prod) == 1 and prod[0].model_version_id == second  # replaced in place: same endpoint
    assert (_mv(live_ctx, first).state, _mv(live_ctx, second).state) == ("retired", "in_production")

    with pytest.raises(PermissionDenied, match="dora is a data_scientist"):
        deployments.rollback(
            live_ctx, people["dora"], reason="the new version misjudges young applicants; back to the last approved one"
        )
    result = deployments.rollback(
        live_ctx, people["vera"], reason="the new version misjudges young applicants; back to the last approved one"
    )
    assert result.deployment.id == prod[0].id and result.deployment.model_version_id == first
    assert (_mv(live_ctx, first).state, _mv(live_ctx, second).state) == ("in_production", "retired")
    history = [(r.model_version_id, r.reason) for r in deployments.revisions(live_ctx, people["max"], prod[0].id)]
    assert history == [(first, "approval"), (second, "approval"), (first, "rollback")]
    with live_ctx.db.read() as session:
        assert verify_chain(session).ok


def _rejected_version_in_prod_history(ctx: ServiceContext, deployment_id: int) -> int:
    """A rejected copy of the version prod serves (its artifact loads: only the state stands in the way)."""
    return plant_in_prod_history(ctx, deployment_id, state=ModelState.REJECTED, artifact_sha256=None, actor="mallory")


def test_rollback_never_serves_a_rejected_version_in_prod(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    """No service puts a rejected version in prod's history; if the history says so anyway, the state table refuses.

    Rollback serves the last other version of prod's history without asking for an approval (each
    was approved when it went to prod), so it is the road a tampered history would take.
    """
    serving = deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id
    served = deployments.served_model(live_ctx, SYSTEM, in_prod)
    rejected = _rejected_version_in_prod_history(live_ctx, in_prod)
    with live_ctx.db.read() as session:
        events = session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    with pytest.raises(ConflictError, match=f"model version {rejected} cannot move from rejected to in_production"):
        deployments.rollback(
            live_ctx, people["vera"], reason="the new version misjudges young applicants; back to the last approved one"
        )
    # refused before the deployment target was touched, and nothing recorded
    assert deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id == serving
    assert deployments.served_model(live_ctx, SYSTEM, in_prod) == served
    assert (_mv(live_ctx, serving).state, _mv(live_ctx, rejected).state) == ("in_production", "rejected")
    with live_ctx.db.read() as session:
        assert session.execute(select(func.count()).select_from(AuditEvent)).scalar() == events


def test_production_is_refused_without_an_approval_of_the_exact_artifact(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    # The deployment service asks the store itself, whatever its caller checked before.
    sha = _mv(live_ctx, candidate).artifact_sha256
    with pytest.raises(ApprovalError, match=f"model version {candidate} has no approval of artifact {sha}"):
        deployments.deploy_to_production(live_ctx, people["vera"], candidate)
    assert _prod(live_ctx) == [] and _mv(live_ctx, candidate).state == ModelState.AWAITING_REVIEW
