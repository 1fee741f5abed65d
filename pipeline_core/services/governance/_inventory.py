"""The model inventory: each model's owner, business use and materiality tier, and the tier's policy.

A model's row is made lazily, on the first set (a read of a model with no row sees it untiered):
registering a version need not know of the inventory. Tiers are set by a validator or an admin with
a reason, audited with the old and the new tier; owner and business use by anyone who builds or
governs models (data scientist, validator, admin).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import ConfigError, NotFoundError
from pipeline_core.policy import DEFAULT_POLICIES, UNTIERED, TierPolicy
from pipeline_core.services import audit, reasons
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _users
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ModelRecord, ModelVersion
from pipeline_core.vocabulary import Tier

MAX_BUSINESS_USE = 2_000  # a paragraph; the documentation holds the rest


def _record(session: Session, name: str) -> ModelRecord:
    """The model's inventory row, made on first use; ``NotFoundError`` if no version has that name."""
    found = session.execute(select(ModelRecord).where(ModelRecord.name == name)).scalar_one_or_none()
    if found is not None:
        return found
    if session.execute(select(ModelVersion.id).where(ModelVersion.name == name).limit(1)).first() is None:
        raise NotFoundError(f"model {name!r} has no version")
    now = utcnow()
    found = ModelRecord(name=name, created_at=now, updated_at=now)
    session.add(found)
    session.flush()
    return found


def tier_of(session: Session, model_name: str) -> Tier | None:
    """The model's tier, or None while untiered."""
    tier = session.execute(select(ModelRecord.tier).where(ModelRecord.name == model_name)).scalar_one_or_none()
    return None if tier is None else Tier(tier)


def policy_for(session: Session, model_name: str, policies: Mapping[Tier, TierPolicy] = DEFAULT_POLICIES) -> TierPolicy:
    """The policy of the model's tier (``Settings.policies()`` as ``policies``); an untiered model is tier 1's."""
    return policies[tier_of(session, model_name) or UNTIERED]


def set_tier(ctx: ServiceContext, actor: Principal, name: str, *, tier: int, reason: str) -> None:
    """Set the model's materiality tier, with a reason of at least a sentence; audited with old and new."""
    require(ctx, actor, "set_tier")
    try:
        chosen = Tier(int(tier))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"tier {tier!r} of model {name!r} is not 1, 2 or 3") from exc
    said = reasons.sentence(reason, what=f"the reason for model {name!r}'s tier")
    with ctx.db.write() as session:
        row = _record(session, name)
        old = row.tier
        row.tier, row.tier_reason, row.tier_set_by = int(chosen), said, actor.username
        row.tier_set_at = row.updated_at = utcnow()
        audit.record(
            session,
            actor=actor.username,
            action="model.tier_set",
            object_type="model",
            object_id=name,
            details={"from": old, "to": int(chosen), "reason": said},
        )


def _owner(session: Session, owner: str, name: str) -> str | None:
    """The account ``owner`` names, as the store spells it; None for a blank one (no owner)."""
    if not owner.strip():
        return None
    found = session.execute(_users.by_name(owner.strip())).scalar_one_or_none()
    if found is None:
        raise ConfigError(f"owner {owner.strip()[:128]!r} of model {name!r} is not an account")
    return str(found.username)


def set_model_info(
    ctx: ServiceContext, actor: Principal, name: str, *, owner: str | None = None, business_use: str | None = None
) -> None:
    """Set the model's owner and/or business use (None: unchanged); audited."""
    require(ctx, actor, "set_model_info")
    if business_use is not None and len(business_use) > MAX_BUSINESS_USE:
        raise ConfigError(f"the business use of model {name!r} is over {MAX_BUSINESS_USE} characters")
    with ctx.db.write() as session:
        row = _record(session, name)
        before = {"owner": row.owner, "business_use": row.business_use}
        if owner is not None:
            row.owner = _owner(session, owner, name)
        if business_use is not None:
            row.business_use = business_use.strip() or None
        row.updated_at = utcnow()
        audit.record(
            session,
            actor=actor.username,
            action="model.info_set",
            object_type="model",
            object_id=name,
            details={"from": before, "to": {"owner": row.owner, "business_use": row.business_use}},
        )
