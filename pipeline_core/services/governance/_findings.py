"""Findings: a validator's issues with a model, owned, due, remediated, verified on a later version or risk-accepted.

A finding is raised by a validator on one version of a model (never on their own work, ``_duties``) and
belongs to the model (``ModelVersion.name``): it carries forward to every later version until it is
closed or its risk accepted. Its life is ``FINDING_TRANSITIONS``: open -> remediation proposed (by its
owner, or a data scientist, with a note) -> closed, or risk accepted from either open state.

The rules, each named by its refusal:

- closing is verification: a validator names a *later* version of the same model (a higher ``version``)
  on which the finding's linked evidence passes: for a check, the check in that version's newest
  pre-production evaluation; for a model test, the test in its newest model test run. Free and
  report-section evidence cannot be re-run, so a later version and a note saying what was verified do;
- risk acceptance takes a second pair of eyes: a validator other than the one who raised it, a reason of
  at least a sentence (``reasons.sentence``) and an expiry in the future, at most ``MAX_RISK_MONTHS`` ahead.
  An acceptance whose expiry has passed counts as open again (derived on every read, and recorded as a
  ``finding.reopened`` event by the next change to the finding).

Every change is an audit event of ``object_type`` "finding" and the finding's history is those events:
one record of what happened, not a second one that could disagree with it. ``blocking`` and
``needing_conditions`` are what approval policy reads: open high findings block (not overridable), open
medium ones must be answered by a condition of the approval.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import ConfigError, ConflictError, NotFoundError, PermissionDenied
from pipeline_core.model_tests.results import ModelTestReport
from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.services import audit, authz, lookup, reasons
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _duties, _users
from pipeline_core.services.governance._blocking import Blocking
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import AuditEvent, Evaluation, Finding, ModelTestRun, ModelVersion, username_key
from pipeline_core.vocabulary import (
    FINDING_TRANSITIONS,
    OPEN_FINDING_STATES,
    CheckStatus,
    EvidenceKind,
    FindingSeverity,
    FindingState,
    Role,
    Space,
)

MAX_TITLE = 200  # the column's length
MAX_DESCRIPTION = 10_000
MAX_EVIDENCE_REF = 200  # the column's length
MAX_NOTE = 5_000
MAX_RISK_MONTHS = 12  # a risk acceptance is reviewed at least yearly, like a tier-1 revalidation
_ALLOWED_CONTROLS = frozenset("\t\n\r")
_MODEL_TESTS = "model_tests"
_SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class FindingEvent:
    """One change to a finding, as its audit event records it."""

    seq: int
    at: datetime
    actor: str
    action: str  # "finding.raised", "finding.remediation_proposed", ...
    details: Mapping[str, Any]


@dataclass(frozen=True)
class RiskAcceptance:
    """Who accepted a finding's risk, why, until when; ``expired`` once that date has passed."""

    by: str
    reason: str
    expires_on: date
    at: datetime | None
    expired: bool


@dataclass(frozen=True)
class FindingInfo:
    """A finding as it stands now: ``state`` is derived (an expired risk acceptance is open again)."""

    id: int
    model_name: str
    raised_on_version_id: int
    raised_on_version: int
    title: str
    description: str
    severity: FindingSeverity
    state: FindingState
    evidence_kind: EvidenceKind
    evidence_ref: str
    owner: str
    due_date: date
    overdue: bool
    raised_by: str
    raised_at: datetime
    remediation_note: str | None = None
    remediation_by: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    closed_on_version_id: int | None = None
    closed_on_version: int | None = None
    resolution_note: str | None = None
    risk_acceptance: RiskAcceptance | None = None
    history: tuple[FindingEvent, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_FINDING_STATES

    @property
    def evidence(self) -> str:
        """The linked evidence as a person reads it: "check quality:roc_auc", "free"."""
        return self.evidence_kind.value if not self.evidence_ref else f"{self.evidence_kind.value} {self.evidence_ref}"


# --- inputs --------------------------------------------------------------------------------------------------------


def _text(value: object, *, what: str, limit: int, one_line: bool = False) -> str:
    """``value`` stripped if it can be stored as ``what``, else a ``ConfigError`` naming ``what``."""
    if not isinstance(value, str):
        raise ConfigError(f"{what} must be text, not {type(value).__name__}")
    said = value.strip()
    if not said:
        raise ConfigError(f"{what} is empty")
    if len(said) > limit:
        raise ConfigError(f"{what} has {len(said):,} characters; at most {limit:,} are kept")
    allowed = frozenset() if one_line else _ALLOWED_CONTROLS
    bad = next((c for c in said if unicodedata.category(c) in ("Cc", "Cs") and c not in allowed), None)
    if bad is not None:
        # A NUL cannot be stored by PostgreSQL, an escape sequence would drive the terminal showing it.
        raise ConfigError(f"{what} holds the control character U+{ord(bad):04X}")
    return said


def severity_of(value: object) -> FindingSeverity:
    """``value`` as a severity, or a ``ConfigError`` naming it and the severities there are."""
    try:
        return FindingSeverity(str(value).strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in FindingSeverity)
        raise ConfigError(f"severity {str(value)[:40]!r} is not one of: {known}") from None


def evidence_kind_of(value: object) -> EvidenceKind:
    """``value`` as an evidence kind, or a ``ConfigError`` naming it and the kinds there are."""
    try:
        return EvidenceKind(str(value).strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(k.value for k in EvidenceKind)
        raise ConfigError(f"evidence kind {str(value)[:40]!r} is not one of: {known}") from None


def _evidence_ref(kind: EvidenceKind, ref: object) -> str:
    """The reference as stored: ``monitor:metric`` for a check, ``model_tests:<test>`` for a model test."""
    if kind == EvidenceKind.FREE and (ref is None or (isinstance(ref, str) and not ref.strip())):
        return ""
    said = _text(ref, what=f"evidence reference of a {kind.value} finding", limit=MAX_EVIDENCE_REF, one_line=True)
    if kind == EvidenceKind.MODEL_TEST and ":" not in said:
        said = f"{_MODEL_TESTS}:{said}"
    if kind in (EvidenceKind.CHECK, EvidenceKind.MODEL_TEST):
        source, _, name = said.partition(":")
        if not source.strip() or not name.strip() or (kind == EvidenceKind.MODEL_TEST and source != _MODEL_TESTS):
            shape = "monitor:metric, e.g. quality:roc_auc" if kind == EvidenceKind.CHECK else "model_tests:<test>"
            raise ConfigError(f"evidence reference {said[:80]!r} of a {kind.value} finding is not {shape}")
    return said


def _date(value: object, *, what: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ConfigError(f"{what} must be a date, not {type(value).__name__}")
    return value


def _months_ahead(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months (the 29th of February one year on is the 28th)."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def today() -> date:
    return utcnow().date()


# --- reading -------------------------------------------------------------------------------------------------------


def _state(row: Finding, on: date) -> FindingState:
    """The finding's state on ``on``: an accepted risk whose expiry has passed is open again."""
    state = FindingState(row.state)
    if state == FindingState.RISK_ACCEPTED and row.accepted_expires_on is not None and row.accepted_expires_on < on:
        return FindingState.OPEN
    return state


def _history(session: Session, ids: Iterable[int]) -> dict[int, tuple[FindingEvent, ...]]:
    wanted = [str(i) for i in ids]
    found: dict[int, list[FindingEvent]] = {}
    if not wanted:
        return {}
    events = session.execute(
        select(AuditEvent)
        .where(AuditEvent.object_type == "finding", AuditEvent.object_id.in_(wanted))
        .order_by(AuditEvent.seq)
    ).scalars()
    for e in events:
        found.setdefault(int(e.object_id), []).append(
            FindingEvent(e.seq, e.at, e.actor, e.action, dict(e.details or {}))
        )
    return {k: tuple(v) for k, v in found.items()}


def _infos(session: Session, rows: Sequence[Finding]) -> list[FindingInfo]:
    on = today()
    version_ids = {r.raised_on_model_version_id for r in rows} | {
        r.closed_on_model_version_id for r in rows if r.closed_on_model_version_id is not None
    }
    numbers: dict[int, int] = {
        int(i): int(v)
        for i, v in session.execute(
            select(ModelVersion.id, ModelVersion.version).where(ModelVersion.id.in_(version_ids))
        ).all()
    }
    history = _history(session, [r.id for r in rows])
    out = []
    for r in rows:
        state = _state(r, on)
        acceptance = None
        if r.accepted_by is not None and r.accepted_expires_on is not None:
            acceptance = RiskAcceptance(
                by=r.accepted_by,
                reason=r.accepted_reason or "",
                expires_on=r.accepted_expires_on,
                at=r.accepted_at,
                expired=r.accepted_expires_on < on,
            )
        out.append(
            FindingInfo(
                id=r.id,
                model_name=r.model_name,
                raised_on_version_id=r.raised_on_model_version_id,
                raised_on_version=numbers[r.raised_on_model_version_id],
                title=r.title,
                description=r.description,
                severity=FindingSeverity(r.severity),
                state=state,
                evidence_kind=EvidenceKind(r.evidence_kind),
                evidence_ref=r.evidence_ref,
                owner=r.owner,
                due_date=r.due_date,
                overdue=state in OPEN_FINDING_STATES and r.due_date < on,
                raised_by=r.raised_by,
                raised_at=r.raised_at,
                remediation_note=r.remediation_note,
                remediation_by=r.remediation_by,
                closed_by=r.closed_by,
                closed_at=r.closed_at,
                closed_on_version_id=r.closed_on_model_version_id,
                closed_on_version=(
                    None if r.closed_on_model_version_id is None else numbers[r.closed_on_model_version_id]
                ),
                resolution_note=r.verification,
                risk_acceptance=acceptance,
                history=history.get(r.id, ()),
            )
        )
    return out


def _carried_to(session: Session, mv: ModelVersion, severity: FindingSeverity) -> list[FindingInfo]:
    """The open findings of ``severity`` that ``mv`` carries: of its model, raised on it or an earlier version."""
    rows = (
        session.execute(
            select(Finding)
            .join(ModelVersion, ModelVersion.id == Finding.raised_on_model_version_id)
            .where(
                Finding.model_name == mv.name,
                Finding.severity == severity.value,
                ModelVersion.version <= mv.version,
                Finding.state.in_([FindingState.RISK_ACCEPTED, *OPEN_FINDING_STATES]),
            )
            .order_by(Finding.id)
        )
        .scalars()
        .all()
    )
    return [f for f in _infos(session, rows) if f.is_open]


def carried(session: Session, mv: ModelVersion) -> list[FindingInfo]:
    """Every finding of ``mv``'s model raised on it or an earlier version, whatever its state (reports)."""
    rows = (
        session.execute(
            select(Finding)
            .join(ModelVersion, ModelVersion.id == Finding.raised_on_model_version_id)
            .where(Finding.model_name == mv.name, ModelVersion.version <= mv.version)
            .order_by(Finding.id)
        )
        .scalars()
        .all()
    )
    return _infos(session, rows)


def open_count(session: Session, model_name: str) -> int:
    """How many findings of ``model_name`` are open (an expired risk acceptance counts): the inventory's."""
    rows = session.execute(select(Finding).where(Finding.model_name == model_name)).scalars().all()
    return sum(1 for f in _infos(session, list(rows)) if f.is_open)


def blocking(session: Session, mv: ModelVersion) -> list[Blocking]:
    """An item that no override lifts for every open high finding ``mv`` carries (its model's, raised on it or
    an earlier version, an expired risk acceptance included): remedy it or accept its risk first."""
    return [
        Blocking(
            key=f"finding:{f.id}",
            text=(
                f"finding {f.id} '{f.title}' (high, raised on version {f.raised_on_version}, owner {f.owner}) "
                f"is {f.state.value.replace('_', ' ')}"
            ),
            overridable=False,
        )
        for f in _carried_to(session, mv, FindingSeverity.HIGH)
    ]


def needing_conditions(session: Session, mv: ModelVersion) -> list[FindingInfo]:
    """The open medium findings ``mv`` carries: an approval of it names each in a condition."""
    return _carried_to(session, mv, FindingSeverity.MEDIUM)


def list_findings(
    ctx: ServiceContext,
    actor: Principal,
    *,
    model_name: str | None = None,
    owner: str | None = None,
    severity: FindingSeverity | str | None = None,
    open_only: bool = False,
) -> list[FindingInfo]:
    """The findings, overdue first, then by due date; filtered by model, owner (an account), severity, openness."""
    require(ctx, actor, "view")
    query = select(Finding)
    if model_name is not None:
        query = query.where(Finding.model_name == model_name)
    if severity is not None:
        query = query.where(Finding.severity == severity_of(severity).value)
    with ctx.db.read() as session:
        rows = list(session.execute(query.order_by(Finding.id)).scalars().all())
        if owner is not None:
            rows = [r for r in rows if username_key(r.owner) == username_key(owner.strip())]
        found = _infos(session, rows)
    if open_only:
        found = [f for f in found if f.is_open]
    return sorted(found, key=lambda f: (not f.overdue, f.due_date, f.id))


def get_finding(ctx: ServiceContext, actor: Principal, finding_id: int) -> FindingInfo:
    """One finding with its history, or a ``NotFoundError`` naming it."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        return _infos(session, [_row(session, finding_id)])[0]


# --- changing ------------------------------------------------------------------------------------------------------


def _row(session: Session, finding_id: object, *, for_update: bool = False) -> Finding:
    if isinstance(finding_id, bool) or not isinstance(finding_id, int):
        raise ConfigError(f"finding id {str(finding_id)[:40]!r} is not a number")
    query = select(Finding).where(Finding.id == finding_id)
    row = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"finding {finding_id} does not exist")
    return row


@contextmanager
def _refusals_audited(ctx: ServiceContext, actor: Principal, action: str, what: str) -> Iterator[None]:
    """Audit a refused change (in its own transaction: the refused one wrote nothing), then let it raise."""
    try:
        yield
    except (ConflictError, PermissionDenied, ConfigError, NotFoundError) as exc:
        authz.refused(ctx, actor, action, str(exc), object_id=what)
        raise


def _record(session: Session, actor: str, action: str, row: Finding, details: dict[str, Any]) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="finding",
        object_id=row.id,
        details={"model": row.model_name, **details},
    )


def _move(session: Session, row: Finding, target: FindingState, *, actor: str, action: str, **details: Any) -> None:
    """Move ``row`` to ``target`` if ``FINDING_TRANSITIONS`` allows it, audited; else a ``ConflictError``.

    An accepted risk that has expired is first recorded as reopened (by the product), so every move
    starts from the state the finding is really in.
    """
    now = utcnow()
    current = FindingState(row.state)
    if current == FindingState.RISK_ACCEPTED and _state(row, now.date()) == FindingState.OPEN:
        row.state, row.updated_at = FindingState.OPEN.value, now
        _record(
            session,
            _SYSTEM_ACTOR,
            "finding.reopened",
            row,
            {"from": current.value, "to": FindingState.OPEN.value, "expired_on": row.accepted_expires_on},
        )
        current = FindingState.OPEN
    if target not in FINDING_TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in FINDING_TRANSITIONS[current])) or "none: it is final"
        raise ConflictError(
            f"finding {row.id} cannot move from {current.value} to {target.value} (from {current.value}: {allowed})"
        )
    row.state, row.updated_at = target.value, now
    _record(session, actor, action, row, {"from": current.value, "to": target.value, **details})


def _duty(session: Session, actor: Principal, mv: ModelVersion, action: str) -> None:
    refused = _duties.conflict(session, actor, mv, action)
    if refused:
        raise PermissionDenied(refused)


def _known_checks(session: Session, mv: ModelVersion, kind: EvidenceKind) -> set[str] | None:
    """The references ``mv``'s newest evidence of ``kind`` names, or None when it has none to compare with."""
    if kind == EvidenceKind.CHECK:
        ev = _newest_evaluation(session, mv)
        if ev is None:
            return None
        report = EvaluationReport.from_dict(ev.results)
        risk = [f"{e.source}:{e.name}" for e in report.risk.entries] if report.risk is not None else []
        return {f"{c.monitor}:{c.metric.name}" for c in report.checks} | set(risk)
    if kind == EvidenceKind.MODEL_TEST:
        run = _newest_test_run(session, mv)
        if run is None:
            return None
        return {f"{_MODEL_TESTS}:{v.name}" for v in ModelTestReport.from_dict(run.results).verdicts}
    return None


def raise_finding(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    title: str,
    description: str,
    severity: FindingSeverity | str,
    evidence_kind: EvidenceKind | str,
    evidence_ref: str,
    owner: str,
    due_date: date,
) -> FindingInfo:
    """Raise a finding on model version ``model_version_id`` (a validator, never on their own model); audited.

    Every input is checked before anything is written; a check or model test named as evidence must be
    one the version's newest evaluation or model test run has (a typo could never be verified closed).
    """
    current = require(ctx, actor, "raise_finding")
    with _refusals_audited(ctx, current, "raise_finding", f"model_version {model_version_id}"):
        said_title = _text(title, what="finding title", limit=MAX_TITLE, one_line=True)
        said_description = _text(description, what="finding description", limit=MAX_DESCRIPTION)
        chosen = severity_of(severity)
        kind = evidence_kind_of(evidence_kind)
        ref = _evidence_ref(kind, evidence_ref)
        due = _date(due_date, what="finding due date")
        if due < today():
            raise ConfigError(f"finding due date {due.isoformat()} is in the past (today is {today().isoformat()})")
        if not isinstance(owner, str) or not owner.strip():
            raise ConfigError("finding owner is empty: name the account that remediates it")
        with ctx.db.write() as session:
            mv = lookup.model_version(session, model_version_id)
            _duty(session, current, mv, "raise a finding on")
            account = session.execute(_users.by_name(owner.strip())).scalar_one_or_none()
            if account is None:
                raise ConfigError(f"finding owner {owner.strip()[:128]!r} is not an account")
            known = _known_checks(session, mv, kind)
            if known is not None and ref not in known:
                names = ", ".join(sorted(known)) or "none"
                raise ConfigError(
                    f"evidence reference {ref!r} is not a {kind.value} of model version {mv.id} "
                    f"({mv.name} v{mv.version}); it has: {names}"
                )
            now = utcnow()
            row = Finding(
                model_name=mv.name,
                raised_on_model_version_id=mv.id,
                title=said_title,
                description=said_description,
                severity=chosen.value,
                state=FindingState.OPEN.value,
                evidence_kind=kind.value,
                evidence_ref=ref,
                owner=str(account.username),
                due_date=due,
                raised_by=current.username,
                raised_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            _record(
                session,
                current.username,
                "finding.raised",
                row,
                {
                    "model_version_id": mv.id,
                    "version": mv.version,
                    "title": said_title,
                    "severity": chosen.value,
                    "evidence": {"kind": kind.value, "ref": ref},
                    "owner": row.owner,
                    "due_date": due,
                    "to": FindingState.OPEN.value,
                },
            )
            return _infos(session, [row])[0]


def may_remediate(actor: Principal, finding: FindingInfo) -> bool:
    """Whether ``actor`` is one who proposes ``finding``'s remediation: its owner, or a data scientist (what
    ``propose_remediation`` checks again, against the store, when it is asked)."""
    return actor.role == Role.DATA_SCIENTIST or authz.same_account(actor.username, finding.owner)


def propose_remediation(ctx: ServiceContext, actor: Principal, finding_id: int, *, note: str) -> FindingInfo:
    """The finding's owner (or a data scientist) says how it was remedied: open -> remediation proposed."""
    current = require(ctx, actor, "remediate_finding")
    with _refusals_audited(ctx, current, "remediate_finding", f"finding {finding_id}"):
        said = _text(note, what="remediation note", limit=MAX_NOTE)
        with ctx.db.write() as session:
            row = _row(session, finding_id, for_update=True)
            if current.role != Role.DATA_SCIENTIST and not authz.same_account(current.username, row.owner):
                raise PermissionDenied(
                    f"{current.username} is not the owner of finding {row.id} ({row.owner}): its owner or a data "
                    "scientist proposes its remediation"
                )
            _move(
                session,
                row,
                FindingState.REMEDIATION_PROPOSED,
                actor=current.username,
                action="finding.remediation_proposed",
                note=said,
            )
            row.remediation_note, row.remediation_by, row.remediation_at = said, current.username, row.updated_at
            return _infos(session, [row])[0]


def _newest_evaluation(session: Session, mv: ModelVersion) -> Evaluation | None:
    found: Evaluation | None = session.execute(
        select(Evaluation)
        .where(Evaluation.model_version_id == mv.id, Evaluation.space == Space.PREPROD)
        .order_by(Evaluation.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return found


def _newest_test_run(session: Session, mv: ModelVersion) -> ModelTestRun | None:
    found: ModelTestRun | None = session.execute(
        select(ModelTestRun).where(ModelTestRun.model_version_id == mv.id).order_by(ModelTestRun.id.desc()).limit(1)
    ).scalar_one_or_none()
    return found


def _linked_status(session: Session, row: Finding, later: ModelVersion) -> tuple[CheckStatus | str | None, str]:
    """The linked evidence's status on ``later`` and where it was read ("evaluation 12"); None: not found there."""
    kind, ref = EvidenceKind(row.evidence_kind), row.evidence_ref
    if kind == EvidenceKind.CHECK:
        ev = _newest_evaluation(session, later)
        if ev is None:
            return None, "no pre-production evaluation"
        report = EvaluationReport.from_dict(ev.results)
        for check in report.checks:
            if f"{check.monitor}:{check.metric.name}" == ref:
                return check.metric.status, f"evaluation {ev.id}"
        for entry in report.risk.entries if report.risk is not None else ():
            if f"{entry.source}:{entry.name}" == ref:
                return entry.status, f"evaluation {ev.id}"
        return None, f"evaluation {ev.id}"
    run = _newest_test_run(session, later)
    if run is None:
        return None, "no model test run"
    name = ref.partition(":")[2]
    verdict = next((v for v in ModelTestReport.from_dict(run.results).verdicts if v.name == name), None)
    return (None if verdict is None else verdict.status), f"model test run {run.id}"


def close_finding(
    ctx: ServiceContext, actor: Principal, finding_id: int, *, model_version_id: int, note: str | None = None
) -> FindingInfo:
    """Verify the finding closed on a later version of its model whose linked evidence passes (a validator).

    Free and report-section evidence cannot be re-run: a later version and a note saying what was verified.
    Records who verified it, on which version, and the status read (with the note) as its resolution.
    """
    current = require(ctx, actor, "close_finding")
    with _refusals_audited(ctx, current, "close_finding", f"finding {finding_id}"):
        said = None if note is None or (isinstance(note, str) and not note.strip()) else note
        said = None if said is None else _text(said, what="verification note", limit=MAX_NOTE)
        with ctx.db.write() as session:
            row = _row(session, finding_id, for_update=True)
            raised_on = lookup.model_version(session, row.raised_on_model_version_id)
            later = lookup.model_version(session, model_version_id)
            if later.name != row.model_name:
                raise ConfigError(
                    f"model version {later.id} is of model {later.name!r}, not of finding {row.id}'s "
                    f"model {row.model_name!r}"
                )
            if later.version <= raised_on.version:
                raise ConflictError(
                    f"finding {row.id} closes only on a later version of {row.model_name} than version "
                    f"{raised_on.version}, on which it was raised: model version {later.id} is version {later.version}"
                )
            _duty(session, current, later, "verify a finding on")
            kind = EvidenceKind(row.evidence_kind)
            if kind in (EvidenceKind.CHECK, EvidenceKind.MODEL_TEST):
                status, where = _linked_status(session, row, later)
                if status != CheckStatus.PASS:
                    shown = "not found" if status is None else str(status)
                    raise ConflictError(
                        f"finding {row.id} closes only on a later version whose linked check passes: "
                        f"{row.evidence_ref} on model version {later.id} ({later.name} v{later.version}) "
                        f"is {shown} ({where})"
                    )
                verified = f"{row.evidence_ref} passes on version {later.version} ({where})"
            else:
                if said is None:
                    raise ConfigError(
                        f"verification note is empty: finding {row.id}'s evidence is {kind.value}, which cannot be "
                        "re-run; say what was verified on the later version"
                    )
                verified = f"verified on version {later.version}"
            resolution = verified if said is None else f"{verified}: {said}"
            _move(
                session,
                row,
                FindingState.CLOSED,
                actor=current.username,
                action="finding.closed",
                model_version_id=later.id,
                version=later.version,
                verification=resolution,
            )
            row.closed_by, row.closed_at, row.closed_on_model_version_id = current.username, row.updated_at, later.id
            row.verification = resolution
            return _infos(session, [row])[0]


def accept_risk(
    ctx: ServiceContext, actor: Principal, finding_id: int, *, reason: str, expires_on: date
) -> FindingInfo:
    """Accept the finding's risk until ``expires_on`` (a validator other than the one who raised it), with a reason."""
    current = require(ctx, actor, "accept_finding_risk")
    with _refusals_audited(ctx, current, "accept_finding_risk", f"finding {finding_id}"):
        said = reasons.sentence(reason, what=f"the reason for accepting finding {finding_id}'s risk")
        until = _date(expires_on, what="risk acceptance expiry")
        now = today()
        latest = _months_ahead(now, MAX_RISK_MONTHS)
        if until <= now:
            raise ConfigError(f"risk acceptance expiry {until.isoformat()} is not in the future (today is {now})")
        if until > latest:
            raise ConfigError(
                f"risk acceptance expiry {until.isoformat()} is more than {MAX_RISK_MONTHS} months ahead; "
                f"the latest is {latest.isoformat()}"
            )
        with ctx.db.write() as session:
            row = _row(session, finding_id, for_update=True)
            if authz.same_account(current.username, row.raised_by):
                raise PermissionDenied(
                    f"{current.username} raised finding {row.id}: its risk is accepted by a validator other than "
                    "the one who raised it"
                )
            _duty(session, current, lookup.model_version(session, row.raised_on_model_version_id), "accept a risk of")
            _move(
                session,
                row,
                FindingState.RISK_ACCEPTED,
                actor=current.username,
                action="finding.risk_accepted",
                reason=said,
                expires_on=until,
            )
            row.accepted_by, row.accepted_at = current.username, row.updated_at
            row.accepted_reason, row.accepted_expires_on = said, until
            return _infos(session, [row])[0]
