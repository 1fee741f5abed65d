"""The role matrix: every acting service call, for every role, allowed or refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import PermissionDenied, PipelineError
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.authz import PERMISSIONS, ROLES, SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import register_file
from pipeline_core.services.runs import cancel_run, get_run, launch_run, list_model_versions, list_runs, retrain
from tests.credentials import PASSWORD
from tests.services.helpers import FAST
from tests.states import DORA

NO_SUCH = 9999  # ids that do not exist: an allowed role gets NotFoundError, a refused one PermissionDenied
Call = Callable[[ServiceContext, Principal, dict[str, Any]], object]

CALLS: dict[str, tuple[str, Call]] = {
    "launch a run": ("launch_run", lambda ctx, p, env: launch_run(ctx, p, dataset=env["dataset"], params=FAST)),
    "cancel a run": ("cancel_run", lambda ctx, p, env: cancel_run(ctx, p, NO_SUCH)),
    "retrain": ("launch_run", lambda ctx, p, env: retrain(ctx, p, deployment_id=NO_SUCH)),
    "register training data": (
        "register_dataset",
        lambda ctx, p, env: register_file(ctx, p, env["csv"], spec=env["spec"]),
    ),
    "approve": ("approve", lambda ctx, p, env: governance.approve(ctx, p, NO_SUCH, comment="ok", artifact_sha256="x")),
    "reject": ("reject", lambda ctx, p, env: governance.reject(ctx, p, NO_SUCH, comment="no")),
    "deploy to dev/preprod": ("deploy_nonprod", lambda ctx, p, env: deployments.deploy(ctx, p, NO_SUCH, space="dev")),
    "issue an API key": ("deploy_nonprod", lambda ctx, p, env: deployments.issue_key(ctx, p, NO_SUCH, label="t")),
    "revoke an API key": ("deploy_nonprod", lambda ctx, p, env: deployments.revoke_key(ctx, p, "mlk_no_such_key")),
    "deploy to prod": ("approve", lambda ctx, p, env: deployments.deploy_to_production(ctx, p, NO_SUCH)),
    "delete a deployment": ("delete_deployment", lambda ctx, p, env: deployments.delete_deployment(ctx, p, NO_SUCH)),
    "roll back prod": (
        "rollback",
        lambda ctx, p, env: deployments.rollback(ctx, p, reason="a reason long enough to be read"),
    ),
    "upload feedback": (
        "upload_feedback",
        lambda ctx, p, env: monitoring.upload_feedback(ctx, p, NO_SUCH, env["frame"]),
    ),
    "add a user": (
        "manage_users",
        lambda ctx, p, env: governance.add_user(
            ctx, p, username=f"new_{p.username}", role="manager", password=PASSWORD
        ),
    ),
    "change a role": ("manage_users", lambda ctx, p, env: governance.set_role(ctx, p, username="max", role="manager")),
    "view deployments": ("view", lambda ctx, p, env: deployments.list_deployments(ctx, p)),
    "view the review queue": ("view", lambda ctx, p, env: governance.review_queue(ctx, p)),
    "view users": ("view", lambda ctx, p, env: governance.list_users(ctx, p)),
    "view runs": ("view", lambda ctx, p, env: list_runs(ctx, p)),
    "view a run": ("view", lambda ctx, p, env: get_run(ctx, p, NO_SUCH)),
    "export an evidence pack": ("export_evidence", lambda ctx, p, env: governance.evidence_pack(ctx, p, NO_SUCH)),
    "view model versions": ("view", lambda ctx, p, env: list_model_versions(ctx, p)),
}


@pytest.mark.parametrize("call_name", sorted(CALLS))
def test_every_role_is_allowed_or_refused_as_the_matrix_says(
    ctx: ServiceContext,
    people: dict[str, Principal],
    csv_path: Path,
    spec: DataSpec,
    frame: pd.DataFrame,
    call_name: str,
) -> None:
    action, call = CALLS[call_name]
    env = {"dataset": register_file(ctx, DORA, csv_path, spec=spec), "frame": frame, "csv": csv_path, "spec": spec}
    by_role = {
        "data_scientist": people["dora"],
        "validator": people["vera"],
        "manager": people["max"],
        "admin": people["admin"],
    }
    assert set(by_role) == set(ROLES)
    for role, principal in by_role.items():
        allowed = role in PERMISSIONS[action]
        if allowed:
            try:
                call(ctx, principal, env)
            except PermissionDenied as exc:  # pragma: no cover - the failure message is the point
                pytest.fail(f"{role} should be allowed to {call_name}: {exc}")
            except PipelineError:
                pass  # allowed, then refused for another reason (no such object): not a role decision
        else:
            with pytest.raises(PermissionDenied, match=f"{principal.username} is a {role}"):
                call(ctx, principal, env)


# Who may do what, said once more by hand: the matrix above follows PERMISSIONS, whatever it says.
EXPECTED = {
    "launch_run": {"data_scientist"},
    "cancel_run": {"data_scientist"},
    "register_dataset": {"data_scientist", "system"},
    "manage_users": {"admin"},
    "manage_thresholds": {"admin"},
    "approve": {"validator"},
    "view": {"data_scientist", "validator", "manager", "admin", "system"},
    "export_evidence": {"validator", "manager", "admin"},
}


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_the_matrix_says_what_design_says(action: str) -> None:
    assert set(PERMISSIONS[action]) == EXPECTED[action]


def test_an_admin_develops_no_model(
    ctx: ServiceContext, people: dict[str, Principal], csv_path: Path, spec: DataSpec
) -> None:
    """Finding 12: an admin launched a run, created a validator account and approved with it. No launch, no model."""
    admin = people["admin"]
    dataset = register_file(ctx, DORA, csv_path, spec=spec)
    refusals = [
        lambda: launch_run(ctx, admin, dataset=dataset, params=FAST),
        lambda: register_file(ctx, admin, csv_path, spec=spec),
        lambda: retrain(ctx, admin, deployment_id=NO_SUCH),
        lambda: cancel_run(ctx, admin, NO_SUCH),
    ]
    for call in refusals:
        with pytest.raises(PermissionDenied, match=r"ada is a admin; .* needs one of: data_scientist"):
            call()
    assert list_runs(ctx, admin) == []
    refused = governance.list_events(ctx, SYSTEM, action="action.refused", limit=10)
    assert sorted(e.details["action"] for e in refused) == [
        "cancel_run",
        "launch_run",
        "launch_run",
        "register_dataset",
    ]


def test_prod_is_reached_by_no_role_except_through_approve(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    from pipeline_core.errors import DeploymentError

    for principal in [*people.values(), SYSTEM]:
        # Who may deploy at all is told prod goes through approve; everyone else may not deploy.
        refusal = (
            (DeploymentError, "deploying to prod goes through approve")
            if principal.role in PERMISSIONS["deploy_nonprod"]
            else (PermissionDenied, "deploy nonprod needs one of")
        )
        with pytest.raises(refusal[0], match=refusal[1]):
            deployments.deploy(ctx, principal, 1, space="prod")


def test_only_the_pipeline_deploys_its_own_candidate(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    for who in ("dora", "vera", "max", "admin"):
        with pytest.raises(PermissionDenied, match="deploy candidate needs one of: system"):
            deployments.deploy_candidate(ctx, people[who], NO_SUCH)


def test_a_role_changed_after_sign_in_counts_now(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    """Finding 2: the session still says validator; the store says manager, and the store decides."""
    signed_in = people["vera"]
    governance.set_role(ctx, people["admin"], username=signed_in.username, role="manager")
    with pytest.raises(PermissionDenied, match=r"is a manager \(its role changed from validator since sign-in\)"):
        governance.approve(ctx, signed_in, NO_SUCH, comment="ok", artifact_sha256="x")
    refusal = governance.list_events(ctx, SYSTEM, action="action.refused", limit=1)[0]
    assert refusal.actor == signed_in.username and refusal.details["action"] == "approve"


def test_a_principal_whose_account_does_not_exist_is_refused(ctx: ServiceContext) -> None:
    with pytest.raises(PermissionDenied, match="the account 'ghost' does not exist"):
        list_runs(ctx, Principal("ghost", "admin"))
