"""Approvals: a validator approves or rejects a candidate; approval deploys it to prod.

``approve`` is the only road to production. It records who approved which model version
*and which artifact hash*, citing which pre-prod evaluations, then runs the production
deployment check and deploys. The decision is taken under the store's write lock on the
model version, so concurrent approvals of one candidate yield one approval and one
deployment; the others are told it was already decided. Before anything is written, the
exact artifact is checked (there, hashing to its name, loading as a model): one that fails is
refused, the refusal recorded (an audit event and an alert, ``deployments.verify_artifact``),
and the candidate stays in the review queue, which shows why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import ApprovalError, ConflictError, ModelIntegrityError, PermissionDenied, PipelineError
from pipeline_core.results.evaluation import Evaluated, EvaluationReport
from pipeline_core.services import audit, deployments, events, integrations, lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import Checkpoint, DeploymentInfo, IntegrityAlert
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, Evaluation, ModelVersion, Run
from pipeline_core.vocabulary import APPROVED_STATES, EventKind, ModelState, Outcome, Space, transition


@dataclass(frozen=True)
class ProductionCheck:
    """The production deployment check: may this exact artifact go to prod?"""

    passed: bool
    reasons: list[str]
    approval_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "reasons": self.reasons, "approval_id": self.approval_id}


@dataclass
class ApprovalOutcome:
    approval_id: int
    check: ProductionCheck
    deployment: DeploymentInfo | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _candidate(session: Session, model_version_id: int) -> ModelVersion:
    # FOR UPDATE on PostgreSQL; SQLite's write transactions already hold the database lock.
    return lookup.model_version(session, model_version_id, for_update=True)


def _authors(session: Session, mv: ModelVersion) -> set[str]:
    run = session.get(Run, mv.run_id)
    return {mv.created_by, *([run.created_by] if run else [])}


def _check_decider(session: Session, actor: Principal, mv: ModelVersion, action: str) -> None:
    if actor.username in _authors(session, mv):
        raise PermissionDenied(
            f"{actor.username} trained or launched model version {mv.id}; a validator may not {action} their own model"
        )
    if mv.state != ModelState.AWAITING_REVIEW:
        raise ConflictError(f"model version {mv.id} is {mv.state}, not awaiting review; it was already decided")


def _evaluations(session: Session, mv: ModelVersion, evidence: Sequence[int] | None) -> list[Evaluation]:
    if evidence is None:
        return list(
            session.execute(
                select(Evaluation).where(Evaluation.model_version_id == mv.id, Evaluation.space == Space.PREPROD)
            ).scalars()
        )
    found = []
    for evaluation_id in evidence:
        ev = session.get(Evaluation, evaluation_id)
        if ev is None or ev.model_version_id != mv.id or ev.space != Space.PREPROD:
            raise ApprovalError(f"evaluation {evaluation_id} is not a pre-prod evaluation of model version {mv.id}")
        found.append(ev)
    return found


def failed_critical(evaluations: Sequence[Evaluation | Evaluated]) -> list[str]:
    """'metric value < threshold (evaluation N)' for every failed critical check (of a stored row or a DTO)."""
    failed = []
    for ev in evaluations:
        report = EvaluationReport.from_dict(ev.results) if isinstance(ev, Evaluation) else ev.report
        for check in report.failed_critical:
            m = check.metric
            value = "no value" if m.value is None else f"{m.value:.4f}"
            threshold = "" if m.threshold is None else f" fails threshold {m.threshold:.2f}"
            failed.append(f"{m.name} {value}{threshold} (evaluation {ev.id})")
    return failed


def _record_decision(
    session: Session,
    actor: Principal,
    mv: ModelVersion,
    outcome: Outcome,
    *,
    comment: str,
    evidence: dict[str, Any] | None = None,
    override: str | None = None,
) -> tuple[int, int]:
    """The decision, the candidate's move, its audit event and its outbox event, in the caller's transaction.

    Returns (decision id, event id).
    """
    decision = Approval(
        model_version_id=mv.id,
        artifact_sha256=mv.artifact_sha256,
        outcome=outcome,
        comment=comment,
        evidence=evidence or {},
        override_reason=override,
        decided_by=actor.username,
        decided_at=utcnow(),
    )
    session.add(decision)
    session.flush()
    target = ModelState.APPROVED if outcome == Outcome.APPROVED else ModelState.REJECTED
    mv.review_state = transition(mv.state, target, what=f"model version {mv.id}")
    details: dict[str, Any] = {"approval_id": decision.id}
    if outcome == Outcome.APPROVED:
        details |= {"artifact_sha256": mv.artifact_sha256, "evidence": decision.evidence, "override": override}
    else:
        details["comment"] = comment
    audit.record(
        session,
        actor=actor.username,
        action=f"model_version.{outcome}",
        object_type="model_version",
        object_id=mv.id,
        details=details,
    )
    # What the external services are to be told of it (outbox), committed with the decision.
    event_id = events.record(
        session,
        kind=EventKind.DECISION_RECORDED,
        model_version_id=mv.id,
        actor=actor.username,
        payload={
            "approval_id": decision.id,
            "outcome": outcome,
            "artifact_sha256": mv.artifact_sha256,
            "comment": comment,
            "decided_at": decision.decided_at.isoformat(),
        },
    )
    return decision.id, event_id


def _approvable(
    session: Session,
    actor: Principal,
    mv: ModelVersion,
    artifact_sha256: str,
    evidence: Sequence[int] | None,
    override: str | None,
) -> list[Evaluation]:
    """The evaluations an approval of ``mv`` by ``actor`` would cite, or the ``PipelineError`` refusing it."""
    _check_decider(session, actor, mv, "approve")
    if artifact_sha256 != mv.artifact_sha256:
        raise ApprovalError(
            f"the approval names artifact {artifact_sha256} but model version {mv.id} is {mv.artifact_sha256}"
        )
    evaluations = _evaluations(session, mv, evidence)
    if not evaluations:
        raise ApprovalError(f"model version {mv.id} has no pre-prod evaluation to cite")
    failed = failed_critical(evaluations)
    if failed and override is None:
        raise ApprovalError(
            "critical threshold(s) failed: " + "; ".join(failed) + ". Approving needs an override with a reason"
        )
    return evaluations


def approve(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    comment: str,
    artifact_sha256: str,
    evidence: Sequence[int] | None = None,
    override_reason: str | None = None,
) -> ApprovalOutcome:
    """Approve the candidate's exact artifact, then run the production check and deploy to prod.

    ``ModelIntegrityError`` if the artifact is missing, altered or does not load: nothing is approved,
    the refusal is recorded, and the candidate awaits review still.
    """
    require(ctx, actor, "approve")
    if not comment or not comment.strip():
        raise ApprovalError("an approval needs a comment saying why")
    override = override_reason.strip() if override_reason and override_reason.strip() else None
    # Every other refusal first (they need no artifact), then the artifact, outside a write transaction:
    # a failure is recorded in a transaction of its own, and nothing of the approval is written.
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        _approvable(session, actor, mv, artifact_sha256, evidence, override)
    deployments.verify_artifact(ctx, actor, model_version_id, at=Checkpoint.APPROVAL)
    with ctx.db.write() as session:
        mv = _candidate(session, model_version_id)  # again, authoritatively, under the write lock
        evaluations = _approvable(session, actor, mv, artifact_sha256, evidence, override)
        approval_id, event_id = _record_decision(
            session,
            actor,
            mv,
            Outcome.APPROVED,
            comment=comment.strip(),
            evidence={"evaluation_ids": [e.id for e in evaluations]},
            override=override,
        )
    outcome = ApprovalOutcome(approval_id, production_check(ctx, actor, model_version_id))
    if not outcome.check.passed:
        outcome.error = "production deployment check failed: " + "; ".join(outcome.check.reasons)
    else:
        try:
            outcome.deployment = deployments.deploy_to_production(ctx, actor, model_version_id).deployment
        except PipelineError as exc:
            outcome.error = f"approved, but the prod deployment failed: {exc}"
    # After the prod deployment: the external inventory then tracks the prod asset too. The decision
    # stands whatever a sink says; a failed delivery is audited, retried, and told here.
    failures = integrations.deliver(ctx, actor, event_ids=[event_id])
    if failures and outcome.error is None:
        outcome.error = "approved and deployed, but " + "; ".join(f.summary for f in failures)
    return outcome


def deploy_approved(ctx: ServiceContext, actor: Principal, model_version_id: int) -> DeploymentInfo:
    """Deploy an already-approved model version to prod (after a failed first attempt)."""
    require(ctx, actor, "approve")
    # Before the production check, which reports an altered artifact without recording it.
    deployments.verify_artifact(ctx, actor, model_version_id, at=Checkpoint.APPROVAL)
    check = production_check(ctx, actor, model_version_id)
    if not check.passed:
        raise ApprovalError("production deployment check failed: " + "; ".join(check.reasons))
    return deployments.deploy_to_production(ctx, actor, model_version_id).deployment


def production_check(ctx: ServiceContext, actor: Principal, model_version_id: int) -> ProductionCheck:
    """An approval of this version *and* its artifact hash; cited evaluations without failed critical
    thresholds unless overridden; the stored artifact still hashes to what was approved."""
    require(ctx, actor, "view")
    reasons: list[str] = []
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, model_version_id)
        if mv is None:
            return ProductionCheck(False, [f"model version {model_version_id} does not exist"])
        approvals = list(
            session.execute(
                select(Approval)
                .where(Approval.model_version_id == mv.id, Approval.outcome == Outcome.APPROVED)
                .order_by(Approval.id.desc())
            ).scalars()
        )
        approval = next((a for a in approvals if a.artifact_sha256 == mv.artifact_sha256), None)
        if approval is None:
            if approvals:
                reasons.append(
                    f"the approval of model version {mv.id} is for artifact {approvals[0].artifact_sha256}, "
                    f"not {mv.artifact_sha256}"
                )
            else:
                reasons.append(f"model version {mv.id} has no approval")
            return ProductionCheck(False, reasons)
        cited = [session.get(Evaluation, i) for i in approval.evidence.get("evaluation_ids", [])]
        failed = failed_critical([e for e in cited if e is not None])
        if failed and not approval.override_reason:
            reasons.append("critical threshold(s) failed without an override: " + "; ".join(failed))
        if mv.state not in APPROVED_STATES:
            reasons.append(f"model version {mv.id} is {mv.state}")
    try:  # the one artifact check; a read-only look, so it records nothing
        deployments.verify_artifact(ctx, actor, model_version_id, at=Checkpoint.APPROVAL, record=False)
    except ModelIntegrityError as exc:
        reasons.append(f"artifact check: {exc}")
    except PipelineError as exc:  # the store could not be read: not the artifact's fault, still no
        reasons.append(f"artifact check: {exc}")
    return ProductionCheck(not reasons, reasons or ["approval, evidence and artifact hash all hold"], approval.id)


def reject(ctx: ServiceContext, actor: Principal, model_version_id: int, *, comment: str) -> int:
    """Reject the candidate, with a comment; returns the decision's id."""
    require(ctx, actor, "reject")
    if not comment or not comment.strip():
        raise ApprovalError("a rejection needs a comment saying why")
    with ctx.db.write() as session:
        mv = _candidate(session, model_version_id)
        _check_decider(session, actor, mv, "reject")
        decision_id, event_id = _record_decision(session, actor, mv, Outcome.REJECTED, comment=comment.strip())
    integrations.deliver(ctx, actor, event_ids=[event_id])  # a failure is audited, retried and listed as not in sync
    return decision_id


@dataclass(frozen=True)
class Candidate:
    model_version_id: int
    name: str
    version: int
    artifact_sha256: str
    created_by: str
    metrics: dict[str, Any]
    evaluation_ids: list[int]
    integrity_alerts: tuple[IntegrityAlert, ...] = ()  # open: its artifact failed the check (an approval refused)


def review_queue(ctx: ServiceContext, actor: Principal) -> list[Candidate]:
    """Model versions awaiting review, oldest first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        mvs = list(
            session.execute(
                select(ModelVersion).where(ModelVersion.state == ModelState.AWAITING_REVIEW).order_by(ModelVersion.id)
            ).scalars()
        )
        out = []
        for mv in mvs:
            ids = list(
                session.execute(
                    select(Evaluation.id).where(Evaluation.model_version_id == mv.id, Evaluation.space == Space.PREPROD)
                ).scalars()
            )
            out.append(Candidate(mv.id, mv.name, mv.version, mv.artifact_sha256, mv.created_by, dict(mv.metrics), ids))
    return [
        replace(c, integrity_alerts=tuple(deployments.open_integrity_alerts(ctx, actor, c.model_version_id)))
        for c in out
    ]


@dataclass(frozen=True)
class DecisionInfo:
    """An approval or a rejection: which version, who, when, why, on what evidence."""

    model_version_id: int
    model: str  # "name vN"
    outcome: Outcome
    decided_by: str
    decided_at: datetime
    comment: str
    override: str  # the override's reason; empty without one
    evidence: tuple[int, ...]  # the evaluations cited


def decisions(ctx: ServiceContext, actor: Principal, *, limit: int = 20) -> list[DecisionInfo]:
    """Recent approvals and rejections, newest first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(
            select(Approval, ModelVersion.name, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == Approval.model_version_id)
            .order_by(Approval.id.desc())
            .limit(limit)
        ).all()
        return [
            DecisionInfo(
                model_version_id=a.model_version_id,
                model=f"{name} v{version}",
                outcome=Outcome(a.outcome),
                decided_by=a.decided_by,
                decided_at=a.decided_at,
                comment=a.comment,
                override=a.override_reason or "",
                evidence=tuple(int(i) for i in a.evidence.get("evaluation_ids", [])),
            )
            for a, name, version in rows
        ]


def decision_refused(ctx: ServiceContext, actor: Principal, model_version_id: int) -> str | None:
    """Why ``actor`` may not approve or reject this candidate, or None when they may (the UI shows it)."""
    require(ctx, actor, "view")
    try:
        require(ctx, actor, "approve")
        with ctx.db.read() as session:
            mv = lookup.model_version(session, model_version_id)
            _check_decider(session, actor, mv, "approve or reject")
    except PipelineError as exc:
        return str(exc)
    return None
