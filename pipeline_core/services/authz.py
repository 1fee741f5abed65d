"""Who may do what: the role matrix of DESIGN.md §4, checked against the store by every acting service call.

A ``Principal`` is who a session or a command *says* acts, with the role it read at sign-in. The
authority is what the store says now: ``require`` reads the account at the moment of action, so a
user whose role was changed or whose account was disabled after signing in is refused at once,
whatever the dashboard's session cached. Every refusal is audited (``action.refused``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from pipeline_core.errors import PermissionDenied
from pipeline_core.services import audit
from pipeline_core.store.models import User, username_key
from pipeline_core.vocabulary import Role

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext

ROLES: tuple[Role, ...] = tuple(Role)
# Not a user's role (no account has it): the principal of the product's own actions.
SYSTEM_ROLE = "system"

# action -> roles allowed. Deploying to prod is not here on purpose: only approve() does it.
# Administration and model development are separate duties: an admin manages accounts and thresholds but
# never launches, retrains (retraining is a launch) or cancels a run, nor registers its training data, so
# an admin cannot make a model and then the validator account that approves it.
PERMISSIONS: dict[str, frozenset[str]] = {
    "launch_run": frozenset({Role.DATA_SCIENTIST}),
    # Training data: a launched run's file or upload, and the pipeline's retraining sets.
    "register_dataset": frozenset({Role.DATA_SCIENTIST, SYSTEM_ROLE}),
    "cancel_run": frozenset({Role.DATA_SCIENTIST}),
    # Every signed-in person reads; the pipeline reads what it works on.
    "view": frozenset({*ROLES, SYSTEM_ROLE}),
    "approve": frozenset({Role.VALIDATOR}),
    "reject": frozenset({Role.VALIDATOR}),
    # A condition is met when a validator has seen it met; a production model is revalidated by a validator.
    "mark_condition_met": frozenset({Role.VALIDATOR}),
    "revalidate": frozenset({Role.VALIDATOR}),
    # Alerts of what is due (expiring approvals, overdue conditions): the worker's sweep, or anyone who governs.
    "sweep_due": frozenset({Role.VALIDATOR, Role.MANAGER, Role.ADMIN, SYSTEM_ROLE}),
    # SYSTEM_ROLE: the pipeline's deployment of its candidate to pre-prod, and the keys it scores with.
    "deploy_nonprod": frozenset({Role.DATA_SCIENTIST, Role.ADMIN, SYSTEM_ROLE}),
    "deploy_candidate": frozenset({SYSTEM_ROLE}),
    "delete_deployment": frozenset({Role.DATA_SCIENTIST, Role.ADMIN}),
    "revoke_prod_key": frozenset({Role.ADMIN}),  # by id, a prod key someone else issued (its issuer may too)
    "rollback": frozenset({Role.VALIDATOR, Role.ADMIN}),
    "upload_feedback": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN}),
    # SYSTEM_ROLE: the worker's scheduled evaluations, the pipeline's model tests.
    "evaluate_now": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN, SYSTEM_ROLE}),
    "run_model_tests": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN, SYSTEM_ROLE}),
    # Pushing the store's facts to the external services (subscriptions, records, decisions, retries):
    # whoever may run the monitors now; it changes nothing of ours.
    "sync_integrations": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN, SYSTEM_ROLE}),
    # Sending the alert notifications due (the worker between runs; a person's "deliver now" after fixing a channel).
    "deliver_alerts": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN, SYSTEM_ROLE}),
    "manage_users": frozenset({Role.ADMIN}),
    # The product's own housekeeping, never a person: the scoring service's payload log, a worker
    # executing a queued run, marking failed the runs whose worker stopped beating.
    "log_payload": frozenset({SYSTEM_ROLE}),
    "execute_run": frozenset({SYSTEM_ROLE}),
    "reap_runs": frozenset({SYSTEM_ROLE}),
    "manage_thresholds": frozenset({Role.ADMIN}),
    # The inventory: a model's materiality tier is a governance judgement; its owner and use, anyone's who makes it.
    "set_tier": frozenset({Role.VALIDATOR, Role.ADMIN}),
    "set_model_info": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN}),
    # The author documents the model, the validator reviews what was written: a validator never writes it.
    "write_documentation": frozenset({Role.DATA_SCIENTIST}),
    # A signed evidence pack is the product vouching for a model's record to a regulator or auditor: issued by
    # those who answer for the review (validator, manager, admin), never by the model's developer.
    "export_evidence": frozenset({Role.VALIDATOR, Role.MANAGER, Role.ADMIN}),
    # Findings (``governance._findings``): a validator raises, closes and accepts their risk; the finding's
    # owner, whatever their role, proposes its remediation (the service checks it is the owner).
    "raise_finding": frozenset({Role.VALIDATOR}),
    "remediate_finding": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.MANAGER, Role.ADMIN}),
    "close_finding": frozenset({Role.VALIDATOR}),
    "accept_finding_risk": frozenset({Role.VALIDATOR}),
    # A candidate scoring production traffic in the shadow (``deployments._shadow``): those who make and judge
    # models gather the evidence; the scoring service stores what the shadow said (SYSTEM_ROLE, never a person).
    "shadow": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR}),
    "log_shadow": frozenset({SYSTEM_ROLE}),
}


@dataclass(frozen=True)
class Principal:
    """The acting user of a service call."""

    username: str
    role: str

    def __str__(self) -> str:
        return f"{self.username} ({self.role})"


# The pipeline's own actions (a worker deploying a candidate to pre-prod) act as this.
SYSTEM = Principal("system", SYSTEM_ROLE)


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action`` by the matrix (a UI's hint; the services decide with ``require``)."""
    return role in PERMISSIONS.get(action, frozenset())


def require(ctx: ServiceContext, actor: Principal, action: str) -> Principal:
    """Raise ``PermissionDenied`` unless ``actor`` may perform ``action`` now; return who acts, as the store has them.

    For a person the role is the account's current one, not the principal's: a validator demoted
    to manager after signing in cannot approve, a disabled or deleted account can do nothing.
    The product's own principal (the system) has no account.
    """
    current, message = _authority(ctx, actor, action)
    if message is not None:
        refused(ctx, actor, action, message)
        raise PermissionDenied(message)
    return current


def refusal(ctx: ServiceContext, actor: Principal, action: str) -> str | None:
    """Why ``actor`` may not perform ``action`` now, or None; asking records nothing (a page greying a button)."""
    return _authority(ctx, actor, action)[1]


def _authority(ctx: ServiceContext, actor: Principal, action: str) -> tuple[Principal, str | None]:
    permitted = PERMISSIONS.get(action)
    if permitted is None:
        return actor, f"unknown action {action!r}"
    if actor.role == SYSTEM_ROLE or actor.role not in ROLES:
        allowed = actor.role == SYSTEM_ROLE and actor.role in permitted
        return actor, None if allowed else f"{actor.username} is a {actor.role}; {_needs(action, permitted)}"
    with ctx.db.read() as session:
        row = session.execute(
            select(User.username, User.role, User.disabled).where(User.username_key == username_key(actor.username))
        ).one_or_none()
    if row is None or row.disabled:
        state = "does not exist" if row is None else "is disabled"
        return actor, f"the account {actor.username!r} {state}; {action.replace('_', ' ')} refused"
    current = Principal(str(row.username), str(row.role))
    if current.role not in permitted:
        changed = f" (its role changed from {actor.role} since sign-in)" if current.role != actor.role else ""
        return current, f"{current.username} is a {current.role}{changed}; {_needs(action, permitted)}"
    return current, None


def same_account(a: str, b: str) -> bool:
    """Whether two user names are one account (whatever their case or Unicode form)."""
    return username_key(a) == username_key(b)


def _needs(action: str, permitted: frozenset[str]) -> str:
    return f"{action.replace('_', ' ')} needs one of: {', '.join(sorted(permitted))}"


def refused(ctx: ServiceContext, actor: Principal, action: str, message: str, *, object_id: object = "") -> None:
    """Record, in a transaction of its own (the refused work wrote nothing), that ``actor`` was refused ``action``
    (the role matrix, an account's state, separation of duties, a decision on evidence that changed)."""
    with ctx.db.write() as session:
        audit.record(
            session,
            actor=actor.username[:128],
            action="action.refused",
            object_type="action",
            object_id=object_id or action,
            details={"action": action, "role": actor.role[:64], "reason": message[:500]},
        )
