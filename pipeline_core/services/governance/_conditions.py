"""Conditions of approval: what an approval obliges someone to do by a date, and who saw it done.

A condition is written with its approval, in the approval's transaction (``checked`` then ``record``):
text, an owner who is an account, a due date not in the past, and, when it answers a finding, the
finding's id. A validator marks it met with a note saying what they saw; "overdue" is derived from the
due date and never stored.
Moves go through ``CONDITION_TRANSITIONS``; each is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import ConfigError, ConflictError, NotFoundError
from pipeline_core.services import audit, reasons
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _users
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, ApprovalCondition, ModelVersion
from pipeline_core.vocabulary import CONDITION_TRANSITIONS, ConditionState

MAX_CONDITIONS = 20
MAX_CONDITION_TEXT = 2_000
MAX_NOTE = 2_000


@dataclass(frozen=True, kw_only=True)
class ConditionInput:
    """A condition as the decision form asks for it."""

    text: str
    owner: str
    due_date: date
    finding_id: int | None = None


@dataclass(frozen=True)
class ConditionInfo:
    """A condition of an approval, as pages, reports and the CLI show it."""

    id: int
    approval_id: int
    model_version_id: int
    model_name: str
    text: str
    owner: str
    due_date: date
    finding_id: int | None
    state: ConditionState
    overdue: bool
    created_at: datetime
    met_by: str | None = None
    met_at: datetime | None = None
    met_note: str | None = None


def info(row: ApprovalCondition, *, today: date | None = None) -> ConditionInfo:
    state = ConditionState(row.state)
    on = today or utcnow().date()
    return ConditionInfo(
        id=row.id,
        approval_id=row.approval_id,
        model_version_id=row.model_version_id,
        model_name=row.model_name,
        text=row.text,
        owner=row.owner,
        due_date=row.due_date,
        finding_id=row.finding_id,
        state=state,
        overdue=state == ConditionState.OPEN and row.due_date < on,
        created_at=row.created_at,
        met_by=row.met_by,
        met_at=row.met_at,
        met_note=row.met_note,
    )


def checked(session: Session, conditions: Sequence[ConditionInput], *, what: str) -> list[ConditionInput]:
    """``conditions`` normalised (text stripped, owner as the account spells it), or the ``ConfigError``
    naming the condition (1-based) and its field."""
    if len(conditions) > MAX_CONDITIONS:
        raise ConfigError(f"{what}: at most {MAX_CONDITIONS} conditions, got {len(conditions)}")
    today = utcnow().date()
    out: list[ConditionInput] = []
    for number, c in enumerate(conditions, start=1):
        named = f"{what}: condition {number}"
        if not isinstance(c, ConditionInput):
            raise ConfigError(f"{named} is not a condition (text, owner, due date)")
        text = " ".join((c.text or "").split()) if isinstance(c.text, str) else ""
        if not text:
            raise ConfigError(f"{named}: the text is empty")
        if len(text) > MAX_CONDITION_TEXT:
            raise ConfigError(f"{named}: the text is over {MAX_CONDITION_TEXT} characters")
        owner = c.owner.strip() if isinstance(c.owner, str) else ""
        account = session.execute(_users.by_name(owner)).scalar_one_or_none() if owner else None
        if account is None:
            raise ConfigError(f"{named}: owner {owner[:128]!r} is not an account")
        if not isinstance(c.due_date, date) or isinstance(c.due_date, datetime):
            raise ConfigError(f"{named}: due date {c.due_date!r} is not a date")
        if c.due_date < today:
            raise ConfigError(f"{named}: due date {c.due_date.isoformat()} is in the past")
        if c.finding_id is not None and (isinstance(c.finding_id, bool) or not isinstance(c.finding_id, int)):
            raise ConfigError(f"{named}: finding {c.finding_id!r} is not a finding id")
        out.append(ConditionInput(text=text, owner=str(account.username), due_date=c.due_date, finding_id=c.finding_id))
    return out


def record(
    session: Session, actor: Principal, decision: Approval, mv: ModelVersion, conditions: Sequence[ConditionInput]
) -> list[int]:
    """The approval's conditions written in the caller's transaction (already ``checked``); their ids."""
    now, ids = utcnow(), []
    for c in conditions:
        row = ApprovalCondition(
            approval_id=decision.id,
            model_version_id=mv.id,
            model_name=mv.name,
            text=c.text,
            owner=c.owner,
            due_date=c.due_date,
            finding_id=c.finding_id,
            state=ConditionState.OPEN,
            created_at=now,
        )
        session.add(row)
        session.flush()
        ids.append(row.id)
        audit.record(
            session,
            actor=actor.username,
            action="condition.set",
            object_type="condition",
            object_id=row.id,
            details={
                "approval_id": decision.id,
                "model_version_id": mv.id,
                "text": c.text,
                "owner": c.owner,
                "due_date": c.due_date.isoformat(),
                "finding_id": c.finding_id,
            },
        )
    return ids


def of_approval(session: Session, approval_id: int) -> list[ConditionInfo]:
    rows = session.execute(
        select(ApprovalCondition).where(ApprovalCondition.approval_id == approval_id).order_by(ApprovalCondition.id)
    ).scalars()
    return [info(r) for r in rows]


def list_conditions(
    ctx: ServiceContext, actor: Principal, *, model_name: str | None = None, open_only: bool = False
) -> list[ConditionInfo]:
    """Conditions of approvals, overdue first, then by due date."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        query = select(ApprovalCondition)
        if model_name is not None:
            query = query.where(ApprovalCondition.model_name == model_name)
        if open_only:
            query = query.where(ApprovalCondition.state == ConditionState.OPEN)
        found = [info(r) for r in session.execute(query).scalars()]
    return sorted(found, key=lambda c: (not c.overdue, c.state != ConditionState.OPEN, c.due_date, c.id))


def mark_condition_met(ctx: ServiceContext, actor: Principal, condition_id: int, *, note: str) -> ConditionInfo:
    """A validator records that condition ``condition_id`` was met, saying what they saw (a sentence)."""
    require(ctx, actor, "mark_condition_met")
    said = reasons.sentence(note, what=f"the note on condition {condition_id}")
    if len(said) > MAX_NOTE:
        raise ConfigError(f"the note on condition {condition_id} is over {MAX_NOTE} characters")
    with ctx.db.write() as session:
        row = session.get(ApprovalCondition, condition_id)
        if row is None:
            raise NotFoundError(f"condition {condition_id} does not exist")
        state = ConditionState(row.state)
        if ConditionState.MET not in CONDITION_TRANSITIONS[state]:
            raise ConflictError(f"condition {condition_id} is {state}; it cannot be marked met again")
        row.state, row.met_by, row.met_at, row.met_note = ConditionState.MET, actor.username, utcnow(), said
        audit.record(
            session,
            actor=actor.username,
            action="condition.met",
            object_type="condition",
            object_id=row.id,
            details={"approval_id": row.approval_id, "model_version_id": row.model_version_id, "note": said},
        )
        return info(row)
