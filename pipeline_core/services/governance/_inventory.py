"""The model inventory: each model's owner, business use and materiality tier, and the tier's policy.

A model's row is made lazily, on the first set (a read of a model with no row sees it untiered):
registering a version need not know of the inventory. Tiers are set by a validator or an admin with
a reason, audited with the old and the new tier; owner and business use by anyone who builds or
governs models (data scientist, validator, admin).

``inventory`` is the manager's view of every model: its tier, where its newest version stands, when
its production approval must be revalidated, how long its oldest review has waited, and what is
overdue (an approval expired or expiring within ``EXPIRY_WARNING``, a condition open past its due
date), overdue models first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline_core.errors import ConfigError, NotFoundError
from pipeline_core.policy import DEFAULT_POLICIES, UNTIERED, TierPolicy
from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.services import audit, reasons
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _findings, _users
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, ApprovalCondition, AuditEvent, Evaluation, ModelRecord, ModelVersion
from pipeline_core.vocabulary import ConditionState, ModelState, Tier

MAX_BUSINESS_USE = 2_000  # a paragraph; the documentation holds the rest
EXPIRY_WARNING = timedelta(days=30)  # as _due's: an approval expiring sooner than this is listed as overdue already
_PENDING = (ModelState.AWAITING_REVIEW, ModelState.AWAITING_COUNTERSIGN)


@dataclass(frozen=True)
class ModelInfo:
    """A model of the inventory as the manager's Overview shows it."""

    name: str
    owner: str | None
    business_use: str | None
    tier: Tier | None  # None: untiered, governed as tier 1 (``effective_tier``)
    tier_reason: str | None
    newest_version: int
    newest_version_id: int
    state: ModelState  # of the newest version
    risk_level: str | None  # of the newest version's newest evaluation; None: not evaluated
    open_findings: int
    production_version: int | None  # the version in production; None: nothing is
    production_version_id: int | None  # its model version id
    next_revalidation: datetime | None  # its approval's expiry; None: nothing in production, or no expiry on record
    pending_reviews: int
    oldest_pending_since: datetime | None  # when the oldest version still awaiting a decision began to wait
    oldest_pending_age: timedelta | None
    overdue: tuple[str, ...]

    @property
    def effective_tier(self) -> Tier:
        return self.tier or UNTIERED


def _waiting_since(session: Session, mv: ModelVersion) -> datetime:
    """When the version began to await review (its audit event), else when it was registered."""
    since = session.execute(
        select(func.max(AuditEvent.at)).where(
            AuditEvent.action == "model_version.awaiting_review",
            AuditEvent.object_type == "model_version",
            AuditEvent.object_id == str(mv.id),
        )
    ).scalar_one_or_none()
    return since or mv.created_at


def _risk_level(session: Session, mv: ModelVersion) -> str | None:
    newest = session.execute(
        select(Evaluation.results)
        .where(Evaluation.model_version_id == mv.id)
        .order_by(Evaluation.created_at.desc(), Evaluation.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    level = None if newest is None else EvaluationReport.from_dict(newest).risk_level
    return None if level is None else level.value


def _production_approval(session: Session, mv: ModelVersion) -> Approval | None:
    """The approvals row the served version stands on now (its approval, or a revalidation renewing it)."""
    # Imported here: _revalidation imports _approvals, which imports this module.
    from pipeline_core.services.governance._revalidation import standing

    return standing(session, mv)


def _overdue(session: Session, name: str, served: ModelVersion | None, approval: Approval | None) -> list[str]:
    """What the due sweep (``_due.sweep_due``) alerts on, for this model, counted in days as it counts them."""
    today = utcnow().date()
    out: list[str] = []
    if served is not None and approval is not None and approval.expires_at is not None:
        what, expires = f"approval {approval.id} of v{served.version}", approval.expires_at.date()
        if expires <= today:
            out.append(f"{what} expired on {expires:%Y-%m-%d}: revalidation due")
        elif expires - today <= EXPIRY_WARNING:
            out.append(f"{what} expires on {expires:%Y-%m-%d}: revalidation due soon")
    late = session.execute(
        select(ApprovalCondition)
        .where(
            ApprovalCondition.model_name == name,
            ApprovalCondition.state == ConditionState.OPEN,
            ApprovalCondition.due_date < today,
        )
        .order_by(ApprovalCondition.due_date, ApprovalCondition.id)
    ).scalars()
    for c in late:
        text = c.text if len(c.text) <= 60 else c.text[:59] + "…"
        out.append(f"condition {c.id} ({c.owner}) was due {c.due_date:%Y-%m-%d}: {text}")
    return out


def _info(session: Session, name: str, versions: list[ModelVersion], findings: int) -> ModelInfo:
    record = session.execute(select(ModelRecord).where(ModelRecord.name == name)).scalar_one_or_none()
    newest = versions[-1]
    served = next((v for v in reversed(versions) if v.state == ModelState.IN_PRODUCTION), None)
    approval = None if served is None else _production_approval(session, served)
    pending = [v for v in versions if v.state in _PENDING]
    since = min((_waiting_since(session, v) for v in pending), default=None)
    return ModelInfo(
        name=name,
        owner=None if record is None else record.owner,
        business_use=None if record is None else record.business_use,
        tier=None if record is None or record.tier is None else Tier(record.tier),
        tier_reason=None if record is None else record.tier_reason,
        newest_version=newest.version,
        newest_version_id=newest.id,
        state=ModelState(newest.state),
        risk_level=_risk_level(session, newest),
        open_findings=findings,
        production_version=None if served is None else served.version,
        production_version_id=None if served is None else served.id,
        next_revalidation=None if approval is None else approval.expires_at,
        pending_reviews=len(pending),
        oldest_pending_since=since,
        oldest_pending_age=None if since is None else utcnow() - since,
        overdue=tuple(_overdue(session, name, served, approval)),
    )


def inventory(
    ctx: ServiceContext, actor: Principal, *, open_findings: Callable[[Session, str], int] | None = None
) -> list[ModelInfo]:
    """Every model that has a version, overdue ones first, then by tier (untiered as tier 1) and name.

    ``open_findings(session, model_name)`` counts a model's open findings (default: the findings area's count).
    """
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        by_name: dict[str, list[ModelVersion]] = {}
        for mv in session.execute(select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version)).scalars():
            by_name.setdefault(mv.name, []).append(mv)
        models = [
            _info(session, name, versions, (open_findings or _findings.open_count)(session, name))
            for name, versions in by_name.items()
        ]
    return sorted(models, key=lambda m: (not m.overdue, int(m.effective_tier), m.name))


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
