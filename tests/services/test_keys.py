"""API keys as people handle them: listed without their secret, revoked by id or token, by whom the rules allow.

A prod deployment's key, revoked by id, is an admin's or its issuer's to revoke; a revoked key is
refused by the running scoring service at its next refresh, without a restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd
import pytest

from pipeline_core.errors import ConflictError, DataError, NotFoundError, PermissionDenied
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import KEY_PREFIX, KeyInfo, hash_key
from tests.live import Live
from tests.processes import wait_for


def _events(ctx: ServiceContext, action: str) -> list[governance.AuditEventInfo]:
    return governance.list_events(ctx, Principal("max", "manager"), action=action, limit=100)


def test_keys_are_listed_with_what_tells_them_apart_and_never_the_key(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    key = deployments.issue_key(live_ctx, people["dora"], in_prod, label="the loan desk's client")
    listed = deployments.list_keys(live_ctx, people["dan"], in_prod)
    mine = listed[-1]
    assert isinstance(mine, KeyInfo) and dataclasses.is_dataclass(mine)
    assert (mine.deployment_id, mine.label, mine.created_by, mine.active) == (
        in_prod,
        "the loan desk's client",
        "dora",
        True,
    )
    assert mine.prefix == key[: len(KEY_PREFIX) + 6] and key.startswith(mine.prefix)
    shown = " ".join(str(v) for k in listed for v in dataclasses.astuple(k))
    assert key not in shown and hash_key(key) not in shown  # neither the token nor its hash leaves the store
    with pytest.raises(dataclasses.FrozenInstanceError):
        mine.label = "changed"  # type: ignore[misc]


def test_revoking_by_id_records_who_and_is_audited(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    deployments.issue_key(live_ctx, people["dora"], in_prod, label="to revoke")
    issued = deployments.list_keys(live_ctx, people["dora"], in_prod)[-1]
    revoked = deployments.revoke_key(live_ctx, people["admin"], key_id=issued.id)
    assert (revoked.id, revoked.active, revoked.revoked_by) == (issued.id, False, "ada")
    assert deployments.list_keys(live_ctx, people["dora"], in_prod)[-1] == revoked
    (event,) = [e for e in _events(live_ctx, "deployment.key_revoked") if e.details.get("key_id") == issued.id]
    assert event.actor == "ada" and event.details["named_by"] == "id" and event.details["prefix"] == issued.prefix
    assert hash_key("x") not in str(event.details)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("dora", True), ("admin", True), ("dan", False)],
    ids=["its issuer", "an admin", "another data scientist"],
)
def test_a_prod_key_is_revoked_by_id_only_by_its_issuer_or_an_admin(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, who: str, allowed: bool
) -> None:
    deployments.issue_key(live_ctx, people["dora"], in_prod, label="dora's prod client")
    key = deployments.list_keys(live_ctx, people["dora"], in_prod)[-1]
    if allowed:
        assert not deployments.revoke_key(live_ctx, people[who], key_id=key.id).active
        return
    with pytest.raises(PermissionDenied, match=rf"API key {key.id} of prod deployment {in_prod} was issued by dora"):
        deployments.revoke_key(live_ctx, people[who], key_id=key.id)
    assert deployments.list_keys(live_ctx, people["dora"], in_prod)[-1].active  # nothing changed
    (refusal,) = [e for e in _events(live_ctx, "action.refused") if e.details["action"] == "revoke_prod_key"]
    assert refusal.actor == "dan" and refusal.object == f"action {key.id}"


def _is(key: KeyInfo, token: str) -> bool:
    """Whether the listed ``key`` is ``token``'s, as a person tells: by the characters the list shows."""
    return key.prefix is not None and token.startswith(key.prefix)


def test_a_preprod_key_is_revoked_by_any_data_scientist(live: Live) -> None:
    (key,) = [k for k in deployments.list_keys(live.ctx, live.people["dan"], live.deployment_id) if _is(k, live.key)]
    assert key.created_by != "dan" and key.active
    assert deployments.revoke_key(live.ctx, live.people["dan"], key_id=key.id).revoked_by == "dan"


def test_revoking_by_token_still_works_and_says_which_key(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    token = deployments.issue_key(live_ctx, people["dora"], in_prod, label="leaked")
    revoked = deployments.revoke_key(live_ctx, people["dan"], token)  # holding the token is the authority
    assert revoked.label == "leaked" and revoked.revoked_by == "dan"


def _revoke_twice(ctx: ServiceContext, people: dict[str, Principal], deployment_id: int) -> None:
    deployments.issue_key(ctx, people["dora"], deployment_id, label="twice")
    key_id = deployments.list_keys(ctx, people["dora"], deployment_id)[-1].id
    deployments.revoke_key(ctx, people["admin"], key_id=key_id)
    deployments.revoke_key(ctx, people["admin"], key_id=key_id)


Revoke = Callable[[ServiceContext, dict[str, Principal], int], object]
HOSTILE: dict[str, tuple[Revoke, type[Exception], str]] = {
    "unknown id": (
        lambda c, p, d: deployments.revoke_key(c, p["admin"], key_id=987654),
        NotFoundError,
        "API key 987654 does not exist",
    ),
    "unknown token": (
        lambda c, p, d: deployments.revoke_key(c, p["admin"], "mlk_not-a-key"),
        NotFoundError,
        "no such API key",
    ),
    "neither": (lambda c, p, d: deployments.revoke_key(c, p["admin"]), DataError, "by its token or by its id"),
    "both": (
        lambda c, p, d: deployments.revoke_key(c, p["admin"], "mlk_x", key_id=1),
        DataError,
        "not both or neither",
    ),
    "revoked twice": (
        lambda c, p, d: _revoke_twice(c, p, d),
        ConflictError,
        r"API key \d+ of deployment \d+ was already revoked at .* by ada",
    ),
    "a manager lists": (lambda c, p, d: deployments.list_keys(c, p["max"], d), PermissionDenied, "max is a manager"),
    "a validator revokes": (
        lambda c, p, d: deployments.revoke_key(c, p["vera"], key_id=1),
        PermissionDenied,
        "vera is a validator",
    ),
    "keys of no deployment": (
        lambda c, p, d: deployments.list_keys(c, p["dora"], 4242),
        NotFoundError,
        "deployment 4242 does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE), ids=sorted(HOSTILE))
def test_hostile_key_requests_are_refused_naming_what(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, case: str
) -> None:
    call, error, match = HOSTILE[case]
    with pytest.raises(error, match=match):
        call(live_ctx, people, in_prod)


def test_a_key_revoked_by_id_stops_scoring_at_the_services_next_refresh(live: Live, applicants: pd.DataFrame) -> None:
    payload = live.payload(applicants.iloc[:2])
    assert live.post(payload).status_code == 200
    (key,) = [k for k in deployments.list_keys(live.ctx, live.people["dora"], live.deployment_id) if _is(k, live.key)]
    deployments.revoke_key(live.ctx, live.people["dora"], key_id=key.id)
    # The service re-reads keys every 0.5 s (serving_refresh_interval); no restart, no request gets through after.
    wait_for(lambda: live.post(payload).status_code == 401, timeout=5, what="the revoked key to be refused")
    assert live.post(payload).status_code == 401
