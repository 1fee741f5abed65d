"""Shadows: who may start and stop one, on what, audited with the reason; one active shadow per deployment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pipeline_core.errors import ConfigError, ConflictError, NotFoundError, PermissionDenied, PipelineError
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import ShadowOutput
from pipeline_core.store.models import Deployment, ModelVersion
from pipeline_core.vocabulary import DeploymentStatus, Space
from tests.states import State

REASON = "Compare the retrained candidate with production on identical live traffic."


def _preprod(ctx: ServiceContext) -> int:
    with ctx.db.read() as session:
        return int(
            session.execute(
                select(Deployment.id).where(
                    Deployment.space == Space.PREPROD, Deployment.status == DeploymentStatus.ACTIVE
                )
            ).scalar_one()
        )


def test_start_and_stop_are_audited_with_their_reasons(
    live_ctx: ServiceContext, people: dict[str, Principal], challenger: int, starting_state: State
) -> None:
    ctx, prod = live_ctx, starting_state.deployment_id
    assert prod is not None
    started = deployments.start_shadow(
        ctx, people["dora"], production_deployment_id=prod, model_version_id=challenger, reason=REASON
    )
    assert started.active and (started.production_deployment_id, started.model_version_id) == (prod, challenger)
    assert (started.started_by, started.start_reason) == ("dora", REASON)
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, challenger)
        assert mv is not None
        assert started.artifact_sha256 == mv.artifact_sha256 and started.version == mv.version
    assert [s.id for s in deployments.list_shadows(ctx, people["max"], active_only=True)] == [started.id]
    (snapshot,) = deployments.shadow_snapshot(ctx, SYSTEM)
    assert (snapshot.shadow_id, snapshot.production_deployment_id) == (started.id, prod)

    stopped = deployments.stop_shadow(ctx, people["vera"], started.id, reason="Enough traffic compared for the review.")
    assert not stopped.active and stopped.stopped_by == "vera"
    assert stopped.stop_reason == "Enough traffic compared for the review."
    assert deployments.list_shadows(ctx, people["max"], active_only=True) == []
    assert deployments.shadow_snapshot(ctx, SYSTEM) == []
    events = governance.list_events(ctx, people["max"], action="shadow.")
    assert [(e.action, e.actor, e.details["reason"], e.details["shadow_id"]) for e in events] == [
        ("shadow.stopped", "vera", "Enough traffic compared for the review.", started.id),
        ("shadow.started", "dora", REASON, started.id),
    ]
    assert events[1].details["artifact_sha256"] == started.artifact_sha256
    # Stopped, a new one may start: one *active* shadow per deployment.
    again = deployments.start_shadow(
        ctx, people["vera"], production_deployment_id=prod, model_version_id=challenger, reason=REASON
    )
    assert again.id != started.id and again.active
    with pytest.raises(ConflictError, match=rf"shadow {started.id} was already stopped by vera at "):
        deployments.stop_shadow(ctx, people["dora"], started.id, reason="Stopping it twice should be refused.")


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("max", "max is a manager; shadow needs one of: data_scientist, validator"),
        ("admin", "ada is a admin; shadow needs one of: data_scientist, validator"),
    ],
)
def test_only_a_data_scientist_or_a_validator_starts_or_stops_a_shadow(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    challenger: int,
    starting_state: State,
    who: str,
    message: str,
) -> None:
    prod = starting_state.deployment_id
    assert prod is not None
    with pytest.raises(PermissionDenied, match=message):
        deployments.start_shadow(
            live_ctx, people[who], production_deployment_id=prod, model_version_id=challenger, reason=REASON
        )
    shadow = deployments.start_shadow(
        live_ctx, people["dan"], production_deployment_id=prod, model_version_id=challenger, reason=REASON
    )
    with pytest.raises(PermissionDenied, match=message):
        deployments.stop_shadow(live_ctx, people[who], shadow.id, reason="I would like to stop this shadow now.")
    refusals = governance.list_events(live_ctx, SYSTEM, action="action.refused")
    assert [e.details["action"] for e in refusals[:2]] == ["shadow", "shadow"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda ctx, admin: governance.disable_user(ctx, admin, username="dan", reason="Left the team this week."),
            "the account 'dan' is disabled; shadow refused",
        ),
        (
            lambda ctx, admin: governance.set_role(ctx, admin, username="dan", role="manager"),
            r"dan is a manager \(its role changed from data_scientist since sign-in\); shadow needs one of",
        ),
    ],
    ids=["disabled", "role-changed"],
)
def test_the_account_is_read_at_the_moment_of_action(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    challenger: int,
    starting_state: State,
    change: Callable[[ServiceContext, Principal], object],
    message: str,
) -> None:
    prod = starting_state.deployment_id
    assert prod is not None
    change(live_ctx, people["admin"])
    with pytest.raises(PermissionDenied, match=message):
        deployments.start_shadow(
            live_ctx, people["dan"], production_deployment_id=prod, model_version_id=challenger, reason=REASON
        )


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("preprod", ConflictError, r"deployment {preprod} is a preprod deployment; a shadow scores production traffic"),
        ("itself", ConflictError, r"model version {live} is what prod deployment {prod} serves"),
        ("missing-deployment", NotFoundError, r"deployment 999 does not exist or was deleted"),
        ("missing-version", NotFoundError, r"model version 999 does not exist"),
        ("short-reason", ConfigError, r"the reason for shadowing prod deployment {prod} must be at least a sentence"),
        ("second", ConflictError, r"prod deployment {prod} already has an active shadow: shadow \d+ \(model version"),
        ("rejected", ConflictError, r"model version {challenger} is rejected; only a candidate"),
        ("other-model", ConflictError, r"model version {challenger} is of model 'other'; prod deployment {prod}"),
    ],
)
def test_what_cannot_be_shadowed_is_refused_naming_why(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    challenger: int,
    starting_state: State,
    case: str,
    error: type[PipelineError],
    message: str,
) -> None:
    ctx, dora = live_ctx, people["dora"]
    prod, live = starting_state.deployment_id, starting_state.model_version_id
    assert prod is not None and live is not None
    deployment, version, reason = prod, challenger, REASON
    if case == "preprod":
        deployment = _preprod(ctx)
    elif case == "itself":
        version = live
    elif case == "missing-deployment":
        deployment = 999
    elif case == "missing-version":
        version = 999
    elif case == "short-reason":
        reason = "why not"
    elif case == "second":
        deployments.start_shadow(ctx, dora, production_deployment_id=prod, model_version_id=challenger, reason=REASON)
    elif case == "rejected":
        governance.reject(ctx, people["vera"], challenger, comment="It does not generalise to the new applicants.")
    elif case == "other-model":
        with ctx.db.write() as session:
            mv = session.get(ModelVersion, challenger)
            assert mv is not None
            mv.name = "other"
    expected = message.format(preprod=_preprod(ctx), live=live, prod=prod, challenger=challenger)
    with pytest.raises(error, match=expected):
        deployments.start_shadow(
            ctx, dora, production_deployment_id=deployment, model_version_id=version, reason=reason
        )


def test_a_candidate_no_longer_in_pre_prod_is_refused(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State
) -> None:
    """``in_prod`` alone: its only version serves prod; pre-prod serves that same version, no candidate."""
    live = starting_state.model_version_id
    with pytest.raises(ConflictError, match=rf"model version {live} is what prod deployment {in_prod} serves"):
        deployments.start_shadow(
            live_ctx, people["dora"], production_deployment_id=in_prod, model_version_id=live or 0, reason=REASON
        )


def test_answers_are_stored_by_scoring_id_and_read_back_once(
    live_ctx: ServiceContext, people: dict[str, Principal], challenger: int, starting_state: State
) -> None:
    prod = starting_state.deployment_id
    assert prod is not None
    shadow = deployments.start_shadow(
        live_ctx, people["dora"], production_deployment_id=prod, model_version_id=challenger, reason=REASON
    )
    empty = deployments.shadow_outputs(live_ctx, people["max"], shadow.id)
    assert list(empty.columns) == ["scoring_id", "prediction", "probability"] and empty.empty
    at = datetime(2026, 12, 2, 10, 0)
    first = ShadowOutput(shadow.id, challenger, ("r1-0", "r1-1"), ("Risk", "No Risk"), (0.8, 0.2), at)
    second = ShadowOutput(shadow.id, challenger, ("r2-0",), ("No Risk",), (0.1,), at)
    assert deployments.store_shadow_outputs(live_ctx, SYSTEM, [first, second]) == 3
    assert deployments.store_shadow_outputs(live_ctx, SYSTEM, [first]) == 2  # a retried flush
    found = deployments.shadow_outputs(live_ctx, people["max"], shadow.id)
    assert found.to_dict(orient="list") == {
        "scoring_id": ["r1-0", "r1-1", "r2-0"],
        "prediction": ["Risk", "No Risk", "No Risk"],
        "probability": [0.8, 0.2, 0.1],
    }
    with pytest.raises(PermissionDenied, match="dora is a data_scientist; log shadow needs one of: system"):
        deployments.store_shadow_outputs(live_ctx, people["dora"], [first])
    with pytest.raises(NotFoundError, match="shadow 999 does not exist"):
        deployments.shadow_outputs(live_ctx, people["max"], 999)


@given(
    deployment=st.one_of(st.integers(), st.just(2**63)),
    version=st.one_of(st.integers(), st.just(-(2**70))),
    reason=st.one_of(st.text(max_size=60), st.just(REASON)),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_start_input_is_refused_with_an_error_that_names_it(
    ctx: ServiceContext, people: dict[str, Principal], deployment: int, version: int, reason: str
) -> None:
    """An empty store: whatever the numbers and the reason, a ``PipelineError`` naming the problem, never a crash."""
    with pytest.raises((ConfigError, NotFoundError)) as refused:
        deployments.start_shadow(
            ctx, people["dora"], production_deployment_id=deployment, model_version_id=version, reason=reason
        )
    assert "reason" in str(refused.value) or "does not exist" in str(refused.value)
    with pytest.raises((ConfigError, NotFoundError)):
        deployments.stop_shadow(ctx, people["dora"], deployment, reason=reason)
