"""The product's words, defined once: states, roles, spaces, outcomes, and the model-version life cycle.

Every layer (the store's columns and CHECK constraints, the services, argparse choices, the pages)
takes these from here. A ``StrEnum`` member *is* its string, so stored values and JSON stay plain
text. A model version changes state only through ``transition()``, which reads ``MODEL_TRANSITIONS``.
Part of a model version's state is decided (and stored), part is where it has been served (and derived
from its deployment revisions): ``DECIDED_STATES`` and ``derived_state()`` say which is which.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum

from pipeline_core.errors import ConflictError


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED_RUN_STATES


FINISHED_RUN_STATES: frozenset[RunState] = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})


class StageState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class ModelState(StrEnum):
    """A model version's life; ``MODEL_TRANSITIONS`` has every legal move.

    trained → in pre-prod → awaiting review → (awaiting countersign →) approved | rejected → in production
    → retired; failed when the run that trained it did not succeed.
    """

    TRAINED = "trained"
    IN_PREPROD = "in_preprod"
    AWAITING_REVIEW = "awaiting_review"
    AWAITING_COUNTERSIGN = "awaiting_countersign"
    APPROVED = "approved"
    REJECTED = "rejected"
    IN_PRODUCTION = "in_production"
    RETIRED = "retired"
    FAILED = "failed"


# Every legal move, and the code that makes it:
#   trained -> in_preprod            its first deployment to pre-prod (the run's deploy stage, or deploy())
#   in_preprod -> awaiting_review    the run that trained it succeeded (runner, after the pre-prod evaluation)
#   awaiting_review -> approved      approve()
#   awaiting_review -> rejected      reject()
#   awaiting_review -> awaiting_countersign   approve() with an override: the first of four eyes
#   awaiting_countersign -> approved          countersign() by a second validator
#   awaiting_countersign -> rejected          reject() by a validator who will not countersign
#   approved -> in_production        approve()'s prod deployment, or deploy_approved() after a failed one
#   in_production -> retired         another version replaced it in prod (an approval or a rollback), or a
#                                    revalidation retired it (deployments.withdraw_from_production)
#   retired -> in_production         rollback() to it, or deploy_approved() of it (it holds a valid approval)
#   trained -> failed                the run that registered it failed, was cancelled or was reaped (runs)
#   in_preprod -> failed             the same after its pre-prod deployment; that deployment is put back
# Rejected and failed are final: neither ever reaches review or production. Changing no state, hence no move:
# a deployment to dev, a re-deployment to pre-prod of a version past ``trained``, and serving in prod
# the version the prod deployment already serves (deploy_approved() retried).
#
# The moves into in_preprod, in_production and retired are not written to the model version: the
# deployment revision that serves it *is* the move (``derived_state``), and the deployments service
# asks ``transition()`` before it records one, so this table guards those moves as it guards the
# decided ones (awaiting review, approved, rejected, failed), which are written as the stored decision.
MODEL_TRANSITIONS: Mapping[ModelState, frozenset[ModelState]] = {
    ModelState.TRAINED: frozenset({ModelState.IN_PREPROD, ModelState.FAILED}),
    ModelState.IN_PREPROD: frozenset({ModelState.AWAITING_REVIEW, ModelState.FAILED}),
    ModelState.AWAITING_REVIEW: frozenset({ModelState.APPROVED, ModelState.REJECTED, ModelState.AWAITING_COUNTERSIGN}),
    ModelState.AWAITING_COUNTERSIGN: frozenset({ModelState.APPROVED, ModelState.REJECTED}),
    ModelState.APPROVED: frozenset({ModelState.IN_PRODUCTION}),
    ModelState.REJECTED: frozenset(),
    ModelState.FAILED: frozenset(),
    ModelState.IN_PRODUCTION: frozenset({ModelState.RETIRED}),
    ModelState.RETIRED: frozenset({ModelState.IN_PRODUCTION}),
}

# States in which a version has been approved (and so may be served in prod).
APPROVED_STATES: frozenset[ModelState] = frozenset({ModelState.APPROVED, ModelState.IN_PRODUCTION, ModelState.RETIRED})

# What a person or the pipeline decided: the part of the state a model version stores. The other three
# say where it has been served, which its deployment revisions already record (``derived_state``).
DECIDED_STATES: frozenset[ModelState] = frozenset(
    {
        ModelState.TRAINED,
        ModelState.AWAITING_REVIEW,
        ModelState.AWAITING_COUNTERSIGN,
        ModelState.APPROVED,
        ModelState.REJECTED,
        ModelState.FAILED,
    }
)
SERVED_STATES: frozenset[ModelState] = frozenset(set(ModelState) - DECIDED_STATES)


def derived_state(decided: str, served: str | None) -> ModelState:
    """A model version's state from its stored decision and what its deployment revisions say.

    ``served`` is ``in_production`` while a prod deployment serves it (an open revision), ``retired``
    once prod served it and no longer does, ``in_preprod`` when only pre-prod ever served it, and None
    when nothing outside dev did. Served states refine a decision, never contradict it: only an approved
    version is in production or retired, and only a freshly trained one is merely in pre-prod (a version
    awaiting review, approved or rejected was in pre-prod too, and its decision is what it is now). A
    served word stored as ``decided`` is a state from before the revisions recorded it (migration 0010
    kept it), and stands as stored. ``store.models.ModelVersion.state`` is this function, in Python and SQL.
    """
    state = ModelState(decided)
    if state == ModelState.APPROVED and served in (ModelState.IN_PRODUCTION, ModelState.RETIRED):
        return ModelState(served)
    if state == ModelState.TRAINED and served == ModelState.IN_PREPROD:
        return ModelState.IN_PREPROD
    return state


def decision(state: str) -> ModelState:
    """The decision ``state`` implies: what a model version stores once its revisions say the rest."""
    found = ModelState(state)
    if found == ModelState.IN_PREPROD:
        return ModelState.TRAINED
    if found in (ModelState.IN_PRODUCTION, ModelState.RETIRED):
        return ModelState.APPROVED
    return found


def transition(current: str, target: ModelState, *, what: str) -> ModelState:
    """``target`` if ``what`` (e.g. "model version 7") may move there from ``current``; else a ``ConflictError``."""
    try:
        state = ModelState(current)
    except ValueError as exc:
        raise ConflictError(f"{what} is in an unknown state {current!r}") from exc
    if target not in MODEL_TRANSITIONS[state]:
        allowed = ", ".join(sorted(MODEL_TRANSITIONS[state])) or "none: it is final"
        raise ConflictError(f"{what} cannot move from {state} to {target} (from {state}: {allowed})")
    return target


class Space(StrEnum):
    DEV = "dev"
    PREPROD = "preprod"
    PROD = "prod"


class Role(StrEnum):
    DATA_SCIENTIST = "data_scientist"
    VALIDATOR = "validator"
    MANAGER = "manager"
    ADMIN = "admin"


class DeploymentStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class RevisionReason(StrEnum):
    """Why a deployment started serving a model version (a row of its revision history)."""

    DEPLOY = "deploy"  # deploy() to dev or pre-prod by a person
    PIPELINE = "pipeline"  # a run's deploy stage, to pre-prod
    APPROVAL = "approval"  # approve() or deploy_approved(), to prod
    ROLLBACK = "rollback"  # rollback(), in prod
    RUN_FAILED = "run_failed"  # a dev or pre-prod deployment put back when the version it served failed (runs)


class Outcome(StrEnum):
    """A validator's decision on a candidate."""

    APPROVED = "approved"
    REJECTED = "rejected"
    PENDING = "pending"  # an override's first signature, awaiting a second validator's countersign


class CheckStatus(StrEnum):
    """A metric's, monitor's or evaluation's verdict (the order is severity, worst first)."""

    FAIL = "fail"
    WARN = "warn"
    INSUFFICIENT = "insufficient"
    PASS = "pass"
    INFO = "info"


class AlertStatus(StrEnum):
    """An alert's life: open -> acknowledged (someone saw it, and said what they do) -> resolved (and how it ended)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class RetrainingStatus(StrEnum):
    OPEN = "open"
    LAUNCHED = "launched"


class EventKind(StrEnum):
    """What a domain event says happened (``services.events``); the integrations deliver it to their sinks."""

    CANDIDATE_EVALUATED = "candidate_evaluated"  # the pipeline stored a candidate's pre-prod evaluation
    DECISION_RECORDED = "decision_recorded"  # a validator approved or rejected a candidate


class Sink(StrEnum):
    """An external service kept in step with the store by delivering domain events to it."""

    OPENSCALE = "openscale"  # IBM Watson OpenScale: the risk evaluation status of a subscription
    FACTSHEETS = "factsheets"  # IBM AI Factsheets: tracked model assets and their facts


class DeliveryStatus(StrEnum):
    """Where one event's delivery to one sink stands."""

    PENDING = "pending"  # not delivered yet; tried again from its next attempt on
    DELIVERED = "delivered"  # the sink has it (or the sink is not configured here: nothing to deliver)
    FAILED = "failed"  # every automatic attempt failed; retried only on demand


class Tier(IntEnum):
    """A model's materiality tier: 1 is the most material (credit decisions at scale), 3 the least."""

    HIGH = 1
    MEDIUM = 2
    LOW = 3


class FindingSeverity(StrEnum):
    """How much a validation finding matters: an open high one blocks approval; a medium one becomes a condition."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingState(StrEnum):
    """A finding's life: open -> remediation proposed -> closed (verified on a later version) | risk accepted."""

    OPEN = "open"
    REMEDIATION_PROPOSED = "remediation_proposed"
    CLOSED = "closed"
    RISK_ACCEPTED = "risk_accepted"


# Open findings: they still count against the model (block approval when high, need a condition when medium).
OPEN_FINDING_STATES: frozenset[FindingState] = frozenset({FindingState.OPEN, FindingState.REMEDIATION_PROPOSED})

# A finding's legal moves. A rejected remediation goes back to open; an accepted risk reopens when it expires
# (``_findings`` derives that on read and ``reopen`` records it); a closed finding is final.
FINDING_TRANSITIONS: Mapping[FindingState, frozenset[FindingState]] = {
    FindingState.OPEN: frozenset({FindingState.REMEDIATION_PROPOSED, FindingState.RISK_ACCEPTED}),
    FindingState.REMEDIATION_PROPOSED: frozenset({FindingState.CLOSED, FindingState.OPEN, FindingState.RISK_ACCEPTED}),
    FindingState.RISK_ACCEPTED: frozenset({FindingState.OPEN}),
    FindingState.CLOSED: frozenset(),
}


class EvidenceKind(StrEnum):
    """What a finding's evidence is: a monitor's check, a model test, a report section, or free text."""

    CHECK = "check"  # ref "monitor:metric", e.g. "quality:roc_auc"
    MODEL_TEST = "model_test"  # ref "model_tests:test", e.g. "model_tests:monotonic_duration"
    REPORT_SECTION = "report_section"  # ref a section title, e.g. "Fairness"
    FREE = "free"


class DocSection(StrEnum):
    """A section of a model's documentation (what a validator reviews; EU AI Act Annex IV, SR 26-2)."""

    PURPOSE = "purpose"  # purpose and intended use
    INTENDED_USERS = "intended_users"
    OUT_OF_SCOPE = "out_of_scope"  # uses it must not be put to
    DATA = "data"  # data sources and period
    FEATURES = "features"  # why each feature is there
    ASSUMPTIONS = "assumptions"
    LIMITATIONS = "limitations"  # known limitations
    OVERSIGHT = "oversight"  # human-oversight instructions

    @property
    def heading(self) -> str:
        return DOC_SECTION_TITLES[self]


DOC_SECTION_TITLES: Mapping[DocSection, str] = {
    DocSection.PURPOSE: "Purpose and intended use",
    DocSection.INTENDED_USERS: "Intended users",
    DocSection.OUT_OF_SCOPE: "Out-of-scope uses",
    DocSection.DATA: "Data sources and period",
    DocSection.FEATURES: "Feature rationale",
    DocSection.ASSUMPTIONS: "Assumptions",
    DocSection.LIMITATIONS: "Known limitations",
    DocSection.OVERSIGHT: "Human-oversight instructions",
}


class RevalidationOutcome(StrEnum):
    """How a revalidation of a production model ends."""

    RENEW = "renew"
    RENEW_WITH_CONDITIONS = "renew_with_conditions"
    RETIRE = "retire"


class ApprovalKind(StrEnum):
    """What an approvals row decides: a candidate's first approval, or a production model's revalidation."""

    APPROVAL = "approval"
    REVALIDATION = "revalidation"


class ConditionState(StrEnum):
    """A condition of approval as stored; "overdue" is derived (open and past its due date), never stored."""

    OPEN = "open"
    MET = "met"


CONDITION_TRANSITIONS: Mapping[ConditionState, frozenset[ConditionState]] = {
    ConditionState.OPEN: frozenset({ConditionState.MET}),
    ConditionState.MET: frozenset(),
}


class AlertNotice(StrEnum):
    """What a notification about an alert says happened to it (issue 18: alerts reach people)."""

    RAISED = "raised"  # a critical check failed and no alert of its deployment and check was open
    RESOLVED = "resolved"  # a later evaluation judged the check passed, or the deployment serves another version


class AlertChannel(StrEnum):
    """Where alert notifications go: configured in the settings, their secrets from the environment."""

    EMAIL = "email"  # SMTP with STARTTLS
    WEBHOOK = "webhook"  # an HTTPS POST signed with HMAC-SHA256 (JSON, Slack or Teams format)
