"""Who may do what: the role matrix of DESIGN.md §4, checked by every acting service call."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_core.errors import PermissionDenied
from pipeline_core.vocabulary import Role

ROLES: tuple[Role, ...] = tuple(Role)
# Not a user's role (no account has it): the principal of the product's own actions.
SYSTEM_ROLE = "system"
# Not a user's role either: whoever runs a read-only CLI command on the store's machine without signing in
# (they can read the database file anyway); it may view, nothing else.
READER_ROLE = "reader"

# action -> roles allowed. Deploying to prod is not here on purpose: only approve() does it.
PERMISSIONS: dict[str, frozenset[str]] = {
    "launch_run": frozenset({Role.DATA_SCIENTIST, Role.ADMIN}),
    # Training data: a launched run's file or upload, and the pipeline's retraining sets.
    "register_dataset": frozenset({Role.DATA_SCIENTIST, Role.ADMIN, SYSTEM_ROLE}),
    "cancel_run": frozenset({Role.DATA_SCIENTIST, Role.ADMIN}),
    # The pipeline reads what it works on; the host's reader reads everything (it holds the files).
    "view": frozenset({*ROLES, SYSTEM_ROLE, READER_ROLE}),
    "approve": frozenset({Role.VALIDATOR}),
    "reject": frozenset({Role.VALIDATOR}),
    # SYSTEM_ROLE: the pipeline's deployment of its candidate to pre-prod, and the keys it scores with.
    "deploy_nonprod": frozenset({Role.DATA_SCIENTIST, Role.ADMIN, SYSTEM_ROLE}),
    "deploy_candidate": frozenset({SYSTEM_ROLE}),
    "delete_deployment": frozenset({Role.DATA_SCIENTIST, Role.ADMIN}),
    "rollback": frozenset({Role.VALIDATOR, Role.ADMIN}),
    "upload_feedback": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN}),
    # SYSTEM_ROLE: the worker's scheduled evaluations, the pipeline's model tests.
    "evaluate_now": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN, SYSTEM_ROLE}),
    "run_model_tests": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN, SYSTEM_ROLE}),
    # Pushing the store's facts to the external services (subscriptions, records, decisions, retries):
    # whoever may run the monitors now; it changes nothing of ours.
    "sync_integrations": frozenset({Role.DATA_SCIENTIST, Role.VALIDATOR, Role.ADMIN, SYSTEM_ROLE}),
    "manage_users": frozenset({Role.ADMIN}),
    # The product's own housekeeping, never a person: the scoring service's payload log, a worker
    # executing a queued run, marking failed the runs whose worker stopped beating.
    "log_payload": frozenset({SYSTEM_ROLE}),
    "execute_run": frozenset({SYSTEM_ROLE}),
    "reap_runs": frozenset({SYSTEM_ROLE}),
    "manage_thresholds": frozenset({Role.ADMIN}),
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
# The CLI's read-only commands (runs list, runs show, models list) when no user is named.
HOST_READER = Principal("host", READER_ROLE)


def require(actor: Principal, action: str) -> None:
    """Raise ``PermissionDenied`` unless ``actor``'s role may perform ``action``."""
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        raise PermissionDenied(f"unknown action {action!r}")
    if actor.role not in allowed:
        raise PermissionDenied(
            f"{actor.username} is a {actor.role}; {action.replace('_', ' ')} needs one of: {', '.join(sorted(allowed))}"
        )
