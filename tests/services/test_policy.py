"""The inventory's tier and the tier policy from settings: who may set a tier, with what reason, and bad settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError, PermissionDenied
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _inventory
from pipeline_core.store.models import ModelRecord, ModelVersion
from pipeline_core.vocabulary import Tier


def _name(ctx: ServiceContext, candidate: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        return mv.name


REASON = "retail credit decisions on every application, so most material"


def test_a_validator_sets_the_tier_and_the_policy_follows(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    name = _name(live_ctx, candidate)
    with live_ctx.db.write() as session:  # the starting state tiers its model 3: untier it
        session.execute(update(ModelRecord).where(ModelRecord.name == name).values(tier=None))
    with live_ctx.db.read() as session:
        assert _inventory.policy_for(session, name).approvals == 2  # untiered: tier 1's
    _inventory.set_tier(live_ctx, people["vera"], name, tier=3, reason=REASON)
    with live_ctx.db.read() as session:
        assert _inventory.tier_of(session, name) == Tier.LOW
        assert _inventory.policy_for(session, name).approvals == 1
    _inventory.set_tier(live_ctx, people["vera"], name, tier=1, reason=REASON)
    with live_ctx.db.read() as session:
        assert _inventory.policy_for(session, name).approvals == 2


@pytest.mark.parametrize(
    ("who", "reason", "error", "match"),
    [
        ("dora", REASON, PermissionDenied, "set tier needs one of: admin, validator"),
        ("vera", "too short", ConfigError, "at least a sentence"),
    ],
)
def test_set_tier_refused(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    who: str,
    reason: str,
    error: type[Exception],
    match: str,
) -> None:
    name = _name(live_ctx, candidate)
    with pytest.raises(error, match=match):
        _inventory.set_tier(live_ctx, people[who], name, tier=1, reason=reason)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"policy_tier1_approvals": 3}, "policy_tier1_approvals"),
        ({"policy_tier2_revalidation_months": 500}, "policy_tier2_revalidation_months"),
        ({"policy_tier3_critical_checks": "auc"}, "policy_tier3_critical_checks"),
    ],
)
def test_bad_policy_settings_name_their_key(values: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Settings.from_dict(values)


def test_settings_override_a_tier_policy() -> None:
    policies = Settings.from_dict({"policy_tier3_approvals": "2", "policy_tier3_revalidation_months": 6}).policies()
    assert (policies[Tier.LOW].approvals, policies[Tier.LOW].revalidation_months) == (2, 6)
    assert policies[Tier.HIGH].approvals == 2


@pytest.mark.parametrize(
    ("tier", "info", "match"),
    [
        ("four", None, "tier 'four' of model .* is not 1, 2 or 3"),
        (None, None, "tier None of model .* is not 1, 2 or 3"),
        (4, None, "tier 4 of model .* is not 1, 2 or 3"),
        (None, {"owner": "nobody_here"}, "owner 'nobody_here' of model .* is not an account"),
        (None, {"business_use": "x" * 2_001}, "business use of model .* is over 2000 characters"),
    ],
)
def test_clumsy_inventory_values_are_refused_by_name(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    tier: object,
    info: dict[str, str] | None,
    match: str,
) -> None:
    name = _name(live_ctx, candidate)
    with live_ctx.db.read() as session:
        before = _inventory.tier_of(session, name)
    with pytest.raises(ConfigError, match=match):
        if info is None:
            _inventory.set_tier(live_ctx, people["vera"], name, tier=tier, reason=REASON)  # type: ignore[arg-type]
        else:
            _inventory.set_model_info(live_ctx, people["vera"], name, **info)
    with live_ctx.db.read() as session:
        assert _inventory.tier_of(session, name) == before  # nothing was written


def test_the_owner_is_stored_as_the_account_spells_it(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    name = _name(live_ctx, candidate)
    _inventory.set_model_info(live_ctx, people["vera"], name, owner=people["dora"].username.upper())
    with live_ctx.db.read() as session:
        owner = session.execute(select(ModelRecord.owner).where(ModelRecord.name == name)).scalar_one()
    assert owner == people["dora"].username
