"""Who may do what: the role matrix of DESIGN.md §4, checked by every acting service call."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline_core.errors import PermissionDenied

ROLES: tuple[str, ...] = ("data_scientist", "validator", "manager", "admin")

# action -> roles allowed. Deploying to prod is not here on purpose: only approve() does it.
PERMISSIONS: dict[str, frozenset[str]] = {
    "launch_run": frozenset({"data_scientist", "admin"}),
    "cancel_run": frozenset({"data_scientist", "admin"}),
    "view": frozenset(ROLES),
    "approve": frozenset({"validator"}),
    "reject": frozenset({"validator"}),
    "deploy_nonprod": frozenset({"data_scientist", "admin"}),
    "delete_deployment": frozenset({"data_scientist", "admin"}),
    "rollback": frozenset({"validator", "admin"}),
    "upload_feedback": frozenset({"data_scientist", "validator", "admin"}),
    # "system": the worker's scheduled evaluations.
    "evaluate_now": frozenset({"data_scientist", "validator", "admin", "system"}),
    "run_model_tests": frozenset({"data_scientist", "validator", "admin", "system"}),
    "manage_users": frozenset({"admin"}),
    "manage_thresholds": frozenset({"admin"}),
}


@dataclass(frozen=True)
class Principal:
    """The acting user of a service call."""

    username: str
    role: str

    def __str__(self) -> str:
        return f"{self.username} ({self.role})"


# The pipeline's own actions (a worker deploying a candidate to pre-prod) act as this.
SYSTEM = Principal("system", "system")


def require(actor: Principal, action: str) -> None:
    """Raise ``PermissionDenied`` unless ``actor``'s role may perform ``action``."""
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        raise PermissionDenied(f"unknown action {action!r}")
    if actor.role not in allowed:
        raise PermissionDenied(
            f"{actor.username} is a {actor.role}; {action.replace('_', ' ')} needs one of: {', '.join(sorted(allowed))}"
        )
