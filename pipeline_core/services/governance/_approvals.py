"""Approvals: a validator approves or rejects a candidate; approval deploys it to prod.

``approve`` is the only road to production. A decision is bound to what the validator saw: the
form carries the model version, its artifact sha256 and the evidence on screen (pre-prod
evaluations, model test runs), and a decision whose any of these differs from the candidate's
current state is refused. A form carries an id too: submitting it again (a double click) returns
the first decision and never acts on another candidate.

The model's materiality tier sets the policy (``_approval_policy``): a critical check that failed *or
could not be judged* (too few records), a check the tier makes critical, a required documentation
section not written block approval; an override names each it lifts and gives a reason of at least a
sentence. An open high-severity finding blocks and is never overridden. An override, and every
approval of a tier whose policy asks for two validators, takes four eyes: it is recorded as pending
(the candidate awaits countersign) until a second validator, neither an author nor the first
approver, countersigns it; only then does the production check pass and the version deploy.
Separation of duties is by account (``_duties``). A final approval carries conditions (``_conditions``)
and always an expiry, the tier's revalidation interval from the day it became final; the production
check of an expired approval fails until a revalidation (``_revalidation``) renews it.

The decision is taken under the store's write lock on the model version, so concurrent approvals of
one candidate yield one approval and one deployment; the others are told it was already decided.
Before anything is written, the exact artifact is checked (there, hashing to its name, loading as a
model): one that fails is refused, the refusal recorded (an audit event and an alert,
``deployments.verify_artifact``), and the candidate stays in the review queue, which shows why.
Every refusal of a decision is audited (``action.refused``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import (
    ApprovalError,
    ConfigError,
    ConflictError,
    ModelIntegrityError,
    NotFoundError,
    PermissionDenied,
    PipelineError,
)
from pipeline_core.policy import TierPolicy
from pipeline_core.services import audit, authz, deployments, events, integrations, lookup, reasons
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import Checkpoint, DeploymentInfo
from pipeline_core.services.governance import _conditions, _duties, _inventory
from pipeline_core.services.governance._approval_policy import add_months, blocking_critical, expiry, policy_blocking
from pipeline_core.services.governance._blocking import Blocking
from pipeline_core.services.governance._conditions import ConditionInput
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, Evaluation, ModelTestRun, ModelVersion, username_key
from pipeline_core.vocabulary import APPROVED_STATES, ApprovalKind, EventKind, ModelState, Outcome, Space, transition

_UNDECIDED = (ModelState.AWAITING_REVIEW, ModelState.AWAITING_COUNTERSIGN)
_REQUEST_ID_LENGTH = 64


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
    # Pending: the override awaits a second validator's countersign; nothing was deployed.
    pending: bool = False
    # The same form submitted again: this is the first decision, told again; nothing new was done.
    repeated: bool = False


def _candidate(session: Session, model_version_id: int) -> ModelVersion:
    # FOR UPDATE on PostgreSQL; SQLite's write transactions already hold the database lock.
    return lookup.model_version(session, model_version_id, for_update=True)


def _check_decider(session: Session, actor: Principal, mv: ModelVersion, action: str) -> None:
    refused = _duties.conflict(session, actor, mv, action)
    if refused:
        raise PermissionDenied(refused)
    if mv.state == ModelState.FAILED:
        raise ConflictError(f"model version {mv.id} is failed: its run did not succeed, so it is not for review")
    if mv.state not in _UNDECIDED:
        raise ConflictError(f"model version {mv.id} is {mv.state}, not awaiting review; it was already decided")


def _current_evidence(session: Session, mv: ModelVersion) -> tuple[list[Evaluation], list[int]]:
    """The candidate's pre-prod evaluations and model test run ids, as the store has them now."""
    evaluations = list(
        session.execute(
            select(Evaluation)
            .where(Evaluation.model_version_id == mv.id, Evaluation.space == Space.PREPROD)
            .order_by(Evaluation.id)
        ).scalars()
    )
    tests = list(
        session.execute(
            select(ModelTestRun.id).where(ModelTestRun.model_version_id == mv.id).order_by(ModelTestRun.id)
        ).scalars()
    )
    return evaluations, [int(t) for t in tests]


def _check_seen(
    session: Session,
    mv: ModelVersion,
    artifact_sha256: str | None,
    evidence: Sequence[int] | None,
    model_tests: Sequence[int] | None,
) -> list[Evaluation]:
    """The evaluations the decision cites: exactly those the validator saw, which must be all there are now."""
    if artifact_sha256 is not None and artifact_sha256 != mv.artifact_sha256:
        raise ApprovalError(
            f"the decision names artifact {artifact_sha256} but model version {mv.id} is {mv.artifact_sha256}"
        )
    evaluations, tests = _current_evidence(session, mv)
    now = [e.id for e in evaluations]
    for name, shown, current in (("evaluations", evidence, now), ("model test runs", model_tests, tests)):
        if shown is not None and sorted({int(i) for i in shown}) != current:
            raise ApprovalError(
                f"the evidence of model version {mv.id} changed since the form was shown: its {name} are now "
                f"{current or 'none'}, the form showed {sorted(set(shown)) or 'none'}. Open the candidate again"
            )
    return evaluations


def _check_override(blocking: list[Blocking], overrides: Sequence[str] | None, reason: str | None) -> list[str]:
    """The checks the override lifts (sorted), or the refusal: each blocking check named, none other."""
    keys = sorted({b.key for b in blocking})
    if not blocking:
        if overrides or reason:
            raise ApprovalError("no critical check failed or went unjudged: there is nothing to override")
        return []
    if reason is None:
        raise ApprovalError(
            "critical check(s) failed or could not be judged: "
            + "; ".join(b.text for b in blocking)
            + f". Approving needs an override naming each of {', '.join(keys)} with a reason, and a second "
            "validator's countersign"
        )
    named = sorted(set(overrides or ()))
    if named != keys:
        missing, extra = sorted(set(keys) - set(named)), sorted(set(named) - set(keys))
        said = "; ".join(
            part
            for part in (
                f"not named: {', '.join(missing)}" if missing else "",
                f"not blocking: {', '.join(extra)}" if extra else "",
            )
            if part
        )
        raise ApprovalError(f"the override must name each blocking check ({', '.join(keys)}): {said}")
    return keys


def _request_id(request_id: str | None) -> str | None:
    if request_id is None:
        return None
    if not request_id or len(request_id) > _REQUEST_ID_LENGTH or not request_id.isprintable():
        raise ConfigError(f"request id: 1-{_REQUEST_ID_LENGTH} printable characters, got {request_id[:80]!r}")
    return request_id


def _earlier(session: Session, actor: Principal, model_version_id: int, request_id: str | None) -> Approval | None:
    """The decision this form already made (a repeated submit), or None; another's form id is refused."""
    if request_id is None:
        return None
    found = session.execute(select(Approval).where(Approval.request_id == request_id)).scalar_one_or_none()
    if found is None:
        return None
    if found.model_version_id != model_version_id or username_key(found.decided_by) != username_key(actor.username):
        raise ConflictError(f"decision form {request_id!r} was used for another decision; open the candidate again")
    return found


def _decision_details(decision: Approval, mv: ModelVersion) -> dict[str, Any]:
    """Every field of a decision, as its audit event and its record carry them."""
    return {
        "approval_id": decision.id,
        "outcome": decision.outcome,
        "artifact_sha256": mv.artifact_sha256,
        "comment": decision.comment,
        "evidence": decision.evidence,
        "seen": decision.seen or {},
        "override": decision.override_reason,
        "overridden": decision.overridden or [],
        "decided_by": decision.decided_by,
        "countersigned_by": decision.countersigned_by,
        "countersign_comment": decision.countersign_comment,
        "request_id": decision.request_id,
        "kind": decision.kind,
        "expires_at": decision.expires_at.isoformat() if decision.expires_at else None,
    }


def _outbox(session: Session, actor: Principal, mv: ModelVersion, decision: Approval) -> int:
    """What the external services are to be told of a final decision, committed with it."""
    return events.record(
        session,
        kind=EventKind.DECISION_RECORDED,
        model_version_id=mv.id,
        actor=actor.username,
        payload={
            "approval_id": decision.id,
            "outcome": decision.outcome,
            "artifact_sha256": mv.artifact_sha256,
            "comment": decision.comment,
            "decided_at": decision.decided_at.isoformat(),
            "countersigned_by": decision.countersigned_by,
        },
    )


def _record_decision(
    session: Session,
    actor: Principal,
    mv: ModelVersion,
    outcome: Outcome,
    *,
    comment: str,
    evidence: list[int],
    seen: dict[str, Any],
    override: str | None = None,
    overridden: list[str] | None = None,
    request_id: str | None = None,
    policy: TierPolicy | None = None,
    conditions: Sequence[ConditionInput] = (),
) -> tuple[Approval, int | None]:
    """The decision, its conditions, the candidate's move, its audit event and (when final) its outbox event,
    in one transaction. ``policy`` is the tier's, recorded with the decision (what the countersign and the
    production check hold it to)."""
    now = utcnow()
    if policy is not None:
        seen = {**seen, "policy": _policy_record(policy)}
    decision = Approval(
        model_version_id=mv.id,
        artifact_sha256=mv.artifact_sha256,
        outcome=outcome,
        comment=comment,
        evidence={"evaluation_ids": evidence},
        override_reason=override,
        overridden=overridden or [],
        seen=seen,
        decided_by=actor.username,
        decided_at=now,
        request_id=request_id,
        kind=ApprovalKind.APPROVAL,
        expires_at=expiry(now, policy) if policy is not None and outcome == Outcome.APPROVED else None,
    )
    session.add(decision)
    session.flush()
    condition_ids = _conditions.record(session, actor, decision, mv, conditions)
    target = {
        Outcome.APPROVED: ModelState.APPROVED,
        Outcome.REJECTED: ModelState.REJECTED,
        Outcome.PENDING: ModelState.AWAITING_COUNTERSIGN,
    }[outcome]
    mv.review_state = transition(mv.state, target, what=f"model version {mv.id}")
    action = "model_version.approval_pending" if outcome == Outcome.PENDING else f"model_version.{outcome}"
    audit.record(
        session,
        actor=actor.username,
        action=action,
        object_type="model_version",
        object_id=mv.id,
        details={**_decision_details(decision, mv), "condition_ids": condition_ids},
    )
    return decision, None if outcome == Outcome.PENDING else _outbox(session, actor, mv, decision)


def _policy_record(policy: TierPolicy) -> dict[str, Any]:
    return {
        "tier": int(policy.tier),
        "approvals": policy.approvals,
        "revalidation_months": policy.revalidation_months,
        "critical_checks": list(policy.critical_checks),
        "required_documentation": [str(s) for s in policy.required_documentation],
    }


def _recorded_policy(decision: Approval) -> dict[str, Any]:
    """The policy an approval was decided under (empty for approvals from before tiers)."""
    return dict((decision.seen or {}).get("policy") or {})


def policy_of(ctx: ServiceContext, session: Session, mv: ModelVersion) -> TierPolicy:
    """The policy of ``mv``'s model's tier, with the settings' overrides."""
    return _inventory.policy_for(session, mv.name, ctx.settings.policies())


@contextmanager
def _refusals_audited(ctx: ServiceContext, actor: Principal, action: str, model_version_id: int) -> Iterator[None]:
    """Audit a refused decision (in its own transaction: the refused one wrote nothing), then let it raise."""
    try:
        yield
    except (ApprovalError, ConflictError, PermissionDenied, ConfigError, NotFoundError) as exc:
        authz.refused(ctx, actor, action, str(exc), object_id=f"model_version {model_version_id}")
        raise


@dataclass(frozen=True)
class _Asked:
    """What an approval form asks: the artifact and evidence it showed, the checks it overrides and why."""

    artifact_sha256: str
    evidence: Sequence[int] | None
    model_tests: Sequence[int] | None
    overrides: Sequence[str] | None
    override: str | None
    conditions: Sequence[ConditionInput] = ()


@dataclass(frozen=True)
class _Approvable:
    """What an approval would cite, override and oblige, under which policy."""

    evaluations: list[Evaluation]
    overridden: list[str]
    policy: TierPolicy
    conditions: list[ConditionInput]

    @property
    def pending(self) -> bool:
        return bool(self.overridden) or self.policy.approvals > 1


def _refuse_fixed(mv: ModelVersion, blocking: Sequence[Blocking]) -> None:
    """What no override lifts (an open high-severity finding): the refusal naming each item and the rule."""
    fixed = [b for b in blocking if not b.overridable]
    if fixed:
        raise ApprovalError(
            f"model version {mv.id} cannot be approved: "
            + "; ".join(b.text for b in fixed)
            + ". Policy: an open high-severity finding blocks approval; it is closed on a later version or its "
            "risk accepted by a second validator, never overridden"
        )


def _approvable(
    ctx: ServiceContext, session: Session, actor: Principal, mv: ModelVersion, asked: _Asked
) -> _Approvable:
    """What an approval of ``mv`` by ``actor`` would cite and override, or the ``PipelineError`` refusing it."""
    _check_decider(session, actor, mv, "approve")
    if mv.state != ModelState.AWAITING_REVIEW:
        raise ConflictError(
            f"model version {mv.id} is {mv.state}: its approval awaits a second validator's countersign "
            "(countersign or reject it)"
        )
    evaluations = _check_seen(session, mv, asked.artifact_sha256, asked.evidence, asked.model_tests)
    if not evaluations:
        raise ApprovalError(f"model version {mv.id} has no pre-prod evaluation to cite")
    policy = policy_of(ctx, session, mv)
    blocking = policy_blocking(session, mv, policy, evaluations)
    _refuse_fixed(mv, blocking)
    conditions = _conditions.checked(session, asked.conditions, what=f"the approval of model version {mv.id}")
    overridden = _check_override([b for b in blocking if b.overridable], asked.overrides, asked.override)
    return _Approvable(evaluations, overridden, policy, conditions)


def approve(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    comment: str,
    artifact_sha256: str,
    evidence: Sequence[int] | None = None,
    model_tests: Sequence[int] | None = None,
    override_reason: str | None = None,
    overrides: Sequence[str] | None = None,
    request_id: str | None = None,
    conditions: Sequence[ConditionInput] = (),
) -> ApprovalOutcome:
    """Approve the candidate's exact artifact, then run the production check and deploy to prod.

    ``evidence`` and ``model_tests`` are the evaluation and model test run ids the validator saw (the
    dashboard always sends them): the decision is refused if the candidate's now differ. With an
    override (``overrides`` naming each blocking check, ``override_reason`` a sentence) the approval is
    pending until ``countersign``, as is every approval of a tier asking for two validators.
    ``conditions`` oblige their owners by their due dates; an open medium-severity finding must be
    named by one. ``request_id`` is the decision form's id: the same form again
    returns this decision (``repeated``). ``ModelIntegrityError`` if the artifact is missing, altered
    or does not load: nothing is approved, the refusal is recorded, the candidate awaits review still.
    """
    require(ctx, actor, "approve")
    with _refusals_audited(ctx, actor, "approve", model_version_id):
        return _approve(
            ctx,
            actor,
            model_version_id,
            comment=comment,
            artifact_sha256=artifact_sha256,
            evidence=evidence,
            model_tests=model_tests,
            override_reason=override_reason,
            overrides=overrides,
            request_id=request_id,
            conditions=conditions,
        )


def _approve(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    comment: str,
    artifact_sha256: str,
    evidence: Sequence[int] | None,
    model_tests: Sequence[int] | None,
    override_reason: str | None,
    overrides: Sequence[str] | None,
    request_id: str | None,
    conditions: Sequence[ConditionInput],
) -> ApprovalOutcome:
    if not comment or not comment.strip():
        raise ApprovalError("an approval needs a comment saying why")
    form = _request_id(request_id)
    # A blank reason is no override (a form's empty field), not a short one.
    override = (
        reasons.sentence(override_reason, what="an override's reason") if (override_reason or "").strip() else None
    )
    asked = _Asked(artifact_sha256, evidence, model_tests, overrides, override, tuple(conditions))
    # Every other refusal first (they need no artifact), then the artifact, outside a write transaction:
    # a failure is recorded in a transaction of its own, and nothing of the approval is written.
    with ctx.db.read() as session:
        repeat = _earlier(session, actor, model_version_id, form)
        if repeat is None:
            _approvable(ctx, session, actor, lookup.model_version(session, model_version_id), asked)
    if repeat is not None:
        return _told_again(ctx, actor, repeat)
    deployments.verify_artifact(ctx, actor, model_version_id, at=Checkpoint.APPROVAL)
    with ctx.db.write() as session:
        repeat = _earlier(session, actor, model_version_id, form)  # a double click racing the first
        if repeat is None:
            mv = _candidate(session, model_version_id)  # again, authoritatively, under the write lock
            found = _approvable(ctx, session, actor, mv, asked)
            _, tests = _current_evidence(session, mv)
            decision, event_id = _record_decision(
                session,
                actor,
                mv,
                Outcome.PENDING if found.pending else Outcome.APPROVED,
                comment=comment.strip(),
                evidence=[e.id for e in found.evaluations],
                seen={"evaluation_ids": [e.id for e in found.evaluations], "model_test_run_ids": tests},
                override=override,
                overridden=found.overridden,
                request_id=form,
                policy=found.policy,
                conditions=found.conditions,
            )
            approval_id = decision.id
    if repeat is not None:
        return _told_again(ctx, actor, repeat)
    if found.pending:
        waiting = ProductionCheck(False, [_awaits(found.overridden, found.policy)], approval_id)
        return ApprovalOutcome(approval_id, waiting, pending=True)
    return _deploy_decided(ctx, actor, model_version_id, approval_id, event_id)


def _awaits(overridden: Sequence[str], policy: TierPolicy) -> str:
    if overridden:
        return f"the override of {', '.join(overridden)} awaits a second validator's countersign"
    return (
        f"tier {int(policy.tier)} policy: a version needs {policy.approvals} independent validators' approvals; "
        "it awaits a second validator's countersign"
    )


def _deploy_decided(
    ctx: ServiceContext, actor: Principal, model_version_id: int, approval_id: int, event_id: int | None
) -> ApprovalOutcome:
    """After a final approval: the production check, the prod deployment, the external services told."""
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
    failures = integrations.deliver(ctx, actor, event_ids=[event_id] if event_id is not None else [])
    if failures and outcome.error is None:
        outcome.error = "approved and deployed, but " + "; ".join(f.summary for f in failures)
    return outcome


def _told_again(ctx: ServiceContext, actor: Principal, decision: Approval) -> ApprovalOutcome:
    """A repeated form: its first decision as it stands now; nothing is decided or deployed again."""
    check = production_check(ctx, actor, decision.model_version_id)
    outcome = ApprovalOutcome(decision.id, check, pending=decision.outcome == Outcome.PENDING, repeated=True)
    served = [
        d
        for d in deployments.list_deployments(ctx, actor)
        if d.space == Space.PROD and d.model_version_id == decision.model_version_id
    ]
    outcome.deployment = served[0] if served else None
    outcome.notes.append(f"this form was already submitted: decision {decision.id} stands; nothing was done again")
    return outcome


def countersign(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    approval_id: int,
    comment: str,
    artifact_sha256: str,
) -> ApprovalOutcome:
    """The second validator's signature on an override: the approval becomes final and the version deploys.

    The countersigner is neither an author of the candidate nor the first approver, names the
    pending approval and the artifact they reviewed, and says why. Countersigning the same approval
    again (by the same validator) returns it (``repeated``).
    """
    require(ctx, actor, "approve")
    with _refusals_audited(ctx, actor, "countersign", model_version_id):
        return _countersign(
            ctx, actor, model_version_id, approval_id=approval_id, comment=comment, artifact_sha256=artifact_sha256
        )


def _pending(session: Session, actor: Principal, mv: ModelVersion, approval_id: int, artifact_sha256: str) -> Approval:
    decision = session.get(Approval, approval_id)
    if decision is None or decision.model_version_id != mv.id:
        raise NotFoundError(f"model version {mv.id} has no approval {approval_id}")
    if username_key(decision.decided_by) == username_key(actor.username):
        raise PermissionDenied(
            f"{actor.username} gave approval {approval_id}; the countersign must be a second validator's"
        )
    _check_decider(session, actor, mv, "countersign")
    if decision.outcome != Outcome.PENDING or mv.state != ModelState.AWAITING_COUNTERSIGN:
        raise ConflictError(f"approval {approval_id} is {decision.outcome}, not awaiting countersign")
    if artifact_sha256 != decision.artifact_sha256 or artifact_sha256 != mv.artifact_sha256:
        raise ApprovalError(
            f"the countersign names artifact {artifact_sha256}; approval {approval_id} is of "
            f"{decision.artifact_sha256} and model version {mv.id} is {mv.artifact_sha256}"
        )
    return decision


def _countersign(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    approval_id: int,
    comment: str,
    artifact_sha256: str,
) -> ApprovalOutcome:
    said = " ".join((comment or "").split())
    if not said:
        raise ApprovalError("a countersign needs a comment saying why")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        done = session.get(Approval, approval_id)
        if (
            done is not None
            and done.countersigned_by
            and username_key(done.countersigned_by) == username_key(actor.username)
        ):
            return _told_again(ctx, actor, done)
        _pending(session, actor, mv, approval_id, artifact_sha256)
    deployments.verify_artifact(ctx, actor, model_version_id, at=Checkpoint.APPROVAL)
    with ctx.db.write() as session:
        mv = _candidate(session, model_version_id)
        decision = _pending(session, actor, mv, approval_id, artifact_sha256)
        decision.outcome = Outcome.APPROVED
        decision.countersigned_by = actor.username
        decision.countersigned_at = utcnow()
        decision.countersign_comment = said
        # The interval the approval was given under: a tier changed since does not move its expiry.
        months = (
            _recorded_policy(decision).get("revalidation_months") or policy_of(ctx, session, mv).revalidation_months
        )
        decision.expires_at = add_months(decision.countersigned_at, int(months))
        mv.review_state = transition(mv.state, ModelState.APPROVED, what=f"model version {mv.id}")
        # The first approver's name stays the event's actor, so the record of who approved agrees with
        # it; the countersigner is in the details, with every other field of the decision.
        audit.record(
            session,
            actor=decision.decided_by,
            action="model_version.approved",
            object_type="model_version",
            object_id=mv.id,
            details=_decision_details(decision, mv),
        )
        event_id = _outbox(session, actor, mv, decision)
    return _deploy_decided(ctx, actor, model_version_id, approval_id, event_id)


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
    """An approval of this version *and* its artifact hash (countersigned when it overrides or its tier asks
    for two validators), not expired (or renewed by a revalidation since); cited evaluations without blocking
    critical checks unless overridden; the stored artifact still hashes to what was approved."""
    require(ctx, actor, "view")
    reasons_: list[str] = []
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, model_version_id)
        if mv is None:
            return ProductionCheck(False, [f"model version {model_version_id} does not exist"])
        approvals = list(
            session.execute(
                select(Approval)
                .where(
                    Approval.model_version_id == mv.id,
                    Approval.kind == ApprovalKind.APPROVAL,
                    Approval.outcome.in_((Outcome.APPROVED, Outcome.PENDING)),
                )
                .order_by(Approval.id.desc())
            ).scalars()
        )
        approval = next((a for a in approvals if a.artifact_sha256 == mv.artifact_sha256), None)
        if approval is None:
            if approvals:
                reasons_.append(
                    f"the approval of model version {mv.id} is for artifact {approvals[0].artifact_sha256}, "
                    f"not {mv.artifact_sha256}"
                )
            else:
                reasons_.append(f"model version {mv.id} has no approval")
            return ProductionCheck(False, reasons_)
        if approval.outcome == Outcome.PENDING:
            why = "overrides critical checks" if approval.override_reason else "needs two validators by its tier"
            reasons_.append(f"approval {approval.id} {why}; it awaits a second validator's countersign")
        needed = int(_recorded_policy(approval).get("approvals") or 1)
        if needed > 1 and approval.outcome == Outcome.APPROVED and not approval.countersigned_by:
            reasons_.append(f"approval {approval.id} needs {needed} validators by its tier and has one")
        reasons_ += _lapsed(session, mv, approval)
        cited = [session.get(Evaluation, i) for i in approval.evidence.get("evaluation_ids", [])]
        blocking = blocking_critical([e for e in cited if e is not None])
        # An override from before overrides named their checks lifted them all; it still needs four eyes.
        lifted = set(approval.overridden or [b.key for b in blocking]) if approval.override_reason else set()
        unlifted = [b.text for b in blocking if b.key not in lifted]
        if unlifted:
            reasons_.append("critical check(s) failed or unjudged without an override: " + "; ".join(unlifted))
        if approval.override_reason and approval.outcome == Outcome.APPROVED and not approval.countersigned_by:
            reasons_.append(f"approval {approval.id} overrides critical checks without a second validator's signature")
        if mv.state not in APPROVED_STATES:
            reasons_.append(f"model version {mv.id} is {mv.state}")
    try:  # the one artifact check; a read-only look, so it records nothing
        deployments.verify_artifact(ctx, actor, model_version_id, at=Checkpoint.APPROVAL, record=False)
    except ModelIntegrityError as exc:
        reasons_.append(f"artifact check: {exc}")
    except PipelineError as exc:  # the store could not be read: not the artifact's fault, still no
        reasons_.append(f"artifact check: {exc}")
    return ProductionCheck(not reasons_, reasons_ or ["approval, evidence and artifact hash all hold"], approval.id)


def _lapsed(session: Session, mv: ModelVersion, approval: Approval) -> list[str]:
    """Why ``approval`` no longer stands by time: expired and not renewed, or a revalidation retired the version."""
    renewal = session.execute(
        select(Approval)
        .where(
            Approval.model_version_id == mv.id, Approval.kind == ApprovalKind.REVALIDATION, Approval.id > approval.id
        )
        .order_by(Approval.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if renewal is not None and renewal.outcome == Outcome.REJECTED:
        return [f"revalidation {renewal.id} retired model version {mv.id} on {renewal.decided_at.date().isoformat()}"]
    standing = renewal or approval
    if standing.expires_at is not None and standing.expires_at <= utcnow():
        what = "revalidation" if standing is renewal else "approval"
        return [
            f"{what} {standing.id} of model version {mv.id} expired on {standing.expires_at.date().isoformat()}: "
            "a revalidation must renew it before a new deployment"
        ]
    return []


def reject(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    comment: str,
    artifact_sha256: str | None = None,
    request_id: str | None = None,
) -> int:
    """Reject the candidate (awaiting review, or an override awaiting countersign), with a comment.

    Returns the decision's id; the same form (``request_id``) again returns the first rejection.
    """
    require(ctx, actor, "reject")
    with _refusals_audited(ctx, actor, "reject", model_version_id):
        return _reject(ctx, actor, model_version_id, comment=comment, artifact_sha256=artifact_sha256, form=request_id)


def _reject(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    comment: str,
    artifact_sha256: str | None,
    form: str | None,
) -> int:
    if not comment or not comment.strip():
        raise ApprovalError("a rejection needs a comment saying why")
    form = _request_id(form)
    with ctx.db.write() as session:
        repeat = _earlier(session, actor, model_version_id, form)
        if repeat is not None:
            return repeat.id
        mv = _candidate(session, model_version_id)
        _check_decider(session, actor, mv, "reject")
        evaluations = _check_seen(session, mv, artifact_sha256, None, None)
        _, tests = _current_evidence(session, mv)
        decision, event_id = _record_decision(
            session,
            actor,
            mv,
            Outcome.REJECTED,
            comment=comment.strip(),
            evidence=[e.id for e in evaluations],
            seen={"evaluation_ids": [e.id for e in evaluations], "model_test_run_ids": tests},
            request_id=form,
        )
        decision_id = decision.id
    # A failure is audited, retried and listed as not in sync.
    integrations.deliver(ctx, actor, event_ids=[event_id] if event_id is not None else [])
    return decision_id
