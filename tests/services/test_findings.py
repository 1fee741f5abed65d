"""Findings: raised by a validator, remediated by the owner, closed only on a later version whose check passes."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pipeline_core.errors import ConfigError, ConflictError, NotFoundError, PermissionDenied
from pipeline_core.model_tests.results import ModelTestReport
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _findings
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Evaluation, ModelTestRun, ModelVersion
from pipeline_core.vocabulary import EvidenceKind, FindingSeverity, FindingState
from tests.services.helpers import copy_version

CHECK = "quality:roc_auc"
REASON = "The weakness is mitigated by a manual review of every young applicant."


def _soon(days: int = 30) -> date:
    return utcnow().date() + timedelta(days=days)


def _raise(ctx: ServiceContext, who: Principal, mv_id: int, **overrides: Any) -> governance.FindingInfo:
    fields: dict[str, Any] = {
        "title": "ROC AUC weak on applicants under 25",
        "description": "The young segment's AUC is well below the portfolio's.",
        "severity": "high",
        "evidence_kind": "check",
        "evidence_ref": CHECK,
        "owner": "dora",
        "due_date": _soon(),
        **overrides,
    }
    return governance.raise_finding(ctx, who, mv_id, **fields)


def _check_names(ctx: ServiceContext, mv_id: int) -> set[str]:
    with ctx.db.read() as session:
        ev = session.execute(select(Evaluation).where(Evaluation.model_version_id == mv_id)).scalars().first()
        assert ev is not None
        return {f"{c['monitor']}:{c['name']}" for c in ev.results["checks"]}


def _later(ctx: ServiceContext, mv_id: int, *, check: str | None = None, test: str | None = None) -> int:
    """A next version of ``mv_id``'s model with a copy of its evaluation and model test run, in which the
    check ``CHECK`` has status ``check`` and the model test ``invariance`` status ``test`` (None: no such row)."""
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        copy = copy_version(session, mv)
        if check is not None:
            ev = session.execute(select(Evaluation).where(Evaluation.model_version_id == mv_id)).scalars().first()
            assert ev is not None
            results = dict(ev.results)
            results["checks"] = [
                {**c, "status": check} if f"{c['monitor']}:{c['name']}" == CHECK else c for c in results["checks"]
            ]
            session.add(
                Evaluation(
                    model_version_id=copy.id,
                    deployment_id=None,
                    space="preprod",
                    data_window=ev.data_window,
                    results=results,
                    status=ev.status,
                    created_at=utcnow(),
                    created_by="system",
                )
            )
        if test is not None:
            run = session.execute(select(ModelTestRun).where(ModelTestRun.model_version_id == mv_id)).scalars().first()
            assert run is not None
            report = ModelTestReport.from_dict(run.results).to_dict()
            for verdict in report["verdicts"]:
                if verdict["name"] == "invariance":
                    verdict["status"] = test
            session.add(
                ModelTestRun(
                    model_version_id=copy.id,
                    run_id=None,
                    status="pass",
                    seconds=0.0,
                    results=report,
                    created_by="dora",
                    created_at=utcnow(),
                )
            )
        return copy.id


def _remediated(ctx: ServiceContext, people: dict[str, Principal], mv_id: int, **overrides: Any) -> int:
    found = _raise(ctx, people["vera"], mv_id, **overrides)
    governance.propose_remediation(ctx, people["dora"], found.id, note="Retrained with more young applicants.")
    return found.id


def test_a_finding_lives_from_raised_to_closed_on_a_later_version_and_its_history_is_the_audit_log(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    assert CHECK in _check_names(ctx, candidate)
    raised = _raise(ctx, people["vera"], candidate, owner="DORA")
    assert (raised.state, raised.owner, raised.raised_by, raised.raised_on_version) == ("open", "dora", "vera", 1)
    assert (raised.severity, raised.evidence_kind, raised.evidence) == ("high", "check", f"check {CHECK}")
    assert not raised.overdue and raised.is_open
    proposed = governance.propose_remediation(ctx, people["dora"], raised.id, note="  Retrained on 2025 data. ")
    assert (proposed.state, proposed.remediation_note, proposed.remediation_by) == (
        "remediation_proposed",
        "Retrained on 2025 data.",
        "dora",
    )
    later = _later(ctx, candidate, check="pass")
    closed = governance.close_finding(ctx, people["victor"], raised.id, model_version_id=later, note="Looked fine.")
    assert (closed.state, closed.closed_by, closed.closed_on_version_id, closed.closed_on_version) == (
        "closed",
        "victor",
        later,
        2,
    )
    assert closed.resolution_note is not None
    assert closed.resolution_note.startswith(f"{CHECK} passes on version 2 (evaluation ")
    assert closed.resolution_note.endswith(": Looked fine.")
    assert [(e.actor, e.action, e.details["to"]) for e in closed.history] == [
        ("vera", "finding.raised", "open"),
        ("dora", "finding.remediation_proposed", "remediation_proposed"),
        ("victor", "finding.closed", "closed"),
    ]
    events = governance.list_events(ctx, people["admin"], object_type="finding", object_id=str(raised.id))
    assert [e.seq for e in reversed(events)] == [e.seq for e in closed.history]
    assert governance.get_finding(ctx, people["max"], raised.id) == closed
    with pytest.raises(ConflictError, match=f"finding {raised.id} cannot move from closed to risk_accepted.*final"):
        governance.accept_risk(ctx, people["victor"], raised.id, reason=REASON, expires_on=_soon())


@pytest.mark.parametrize(
    ("who", "overrides", "error", "match"),
    [
        ("dora", {}, PermissionDenied, "raise finding needs one of: validator"),
        ("max", {}, PermissionDenied, "max is a manager; raise finding needs one of: validator"),
        ("vera", {"title": "  "}, ConfigError, "finding title is empty"),
        ("vera", {"title": "x" * 201}, ConfigError, "finding title has 201 characters; at most 200"),
        ("vera", {"title": "a\nb"}, ConfigError, "finding title holds the control character U\\+000A"),
        ("vera", {"description": "a\x00b"}, ConfigError, "finding description holds the control character U\\+0000"),
        ("vera", {"severity": "critical"}, ConfigError, "severity 'critical' is not one of: high, medium, low"),
        ("vera", {"evidence_kind": "hunch"}, ConfigError, "evidence kind 'hunch' is not one of: check"),
        ("vera", {"evidence_ref": "roc_auc"}, ConfigError, "evidence reference 'roc_auc' of a check finding is not"),
        ("vera", {"evidence_ref": "quality:nope"}, ConfigError, "'quality:nope' is not a check of model version"),
        ("vera", {"owner": "nobody"}, ConfigError, "finding owner 'nobody' is not an account"),
        ("vera", {"owner": " "}, ConfigError, "finding owner is empty"),
        ("vera", {"due_date": date(2020, 1, 1)}, ConfigError, "finding due date 2020-01-01 is in the past"),
        ("vera", {"due_date": "soon"}, ConfigError, "finding due date must be a date, not str"),
        ("vera", {"model_version_id": 999}, NotFoundError, "model version 999 does not exist"),
        ("dan", {}, PermissionDenied, "dan is a data_scientist"),
    ],
    ids=[
        "scientist",
        "manager",
        "blank-title",
        "long-title",
        "newline-title",
        "nul",
        "severity",
        "kind",
        "ref-shape",
        "ref-unknown",
        "owner",
        "no-owner",
        "past",
        "not-a-date",
        "no-version",
        "other-scientist",
    ],
)
def test_refused_raises_name_the_rule_and_write_nothing(
    ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    who: str,
    overrides: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    mv_id = overrides.pop("model_version_id", candidate)
    with pytest.raises(error, match=match):
        _raise(ctx, people[who], mv_id, **overrides)
    assert governance.list_findings(ctx, people["max"]) == []
    refusal = governance.list_events(ctx, people["admin"], action="action.refused", limit=1)[0]
    assert refusal.details["action"] == "raise_finding"


def test_a_validator_may_not_raise_or_verify_a_finding_on_their_own_model(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        own = copy_version(session, mv)
        own.created_by = "victor"  # as if victor had trained it
        own_id = own.id
    with pytest.raises(PermissionDenied, match="a validator may not raise a finding on their own model"):
        _raise(ctx, people["victor"], own_id)
    # Nor verify a finding closed on a version they made: the check passing there is their own work.
    finding = _remediated(ctx, people, candidate, evidence_kind="free", evidence_ref="")
    with pytest.raises(PermissionDenied, match="a validator may not verify a finding on their own model"):
        governance.close_finding(ctx, people["victor"], finding, model_version_id=own_id, note="Looks right now.")
    assert (
        governance.close_finding(ctx, people["vera"], finding, model_version_id=own_id, note="Fine.").is_open is False
    )


@pytest.mark.parametrize(
    ("later", "error", "match"),
    [
        ("same", ConflictError, "closes only on a later version of .* than version 1, on which it was raised"),
        ("earlier", ConflictError, "closes only on a later version .*: model version \\d+ is version 1"),
        ("fail", ConflictError, f"closes only on a later version whose linked check passes: {CHECK} .* is fail"),
        ("warn", ConflictError, f"linked check passes: {CHECK} on model version \\d+ \\(.* v3\\) is warn"),
        ("unevaluated", ConflictError, "is not found \\(no pre-production evaluation\\)"),
        ("other-model", ConfigError, "is of model 'other', not of finding \\d+'s model"),
        ("open", ConflictError, "cannot move from open to closed \\(from open: remediation_proposed, risk_accepted\\)"),
    ],
)
def test_refused_closes_name_the_rule(
    ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    later: str,
    error: type[Exception],
    match: str,
) -> None:
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        v2 = copy_version(session, mv)
    if later == "earlier":  # raised on version 2, "verified" on version 1
        finding = _remediated(ctx, people, v2.id)
        target = candidate
    else:
        finding = _remediated(ctx, people, candidate)
        targets = {
            "same": lambda: candidate,
            "fail": lambda: _later(ctx, candidate, check="fail"),
            "warn": lambda: _later(ctx, candidate, check="warn"),
            "unevaluated": lambda: v2.id,
            "open": lambda: _later(ctx, candidate, check="pass"),
        }
        target = targets[later]() if later in targets else 0
    if later == "other-model":
        with ctx.db.write() as session:
            mv = session.get(ModelVersion, candidate)
            assert mv is not None
            other = copy_version(session, mv)
            other.name, other.version = "other", 9
            target = other.id
    if later == "open":
        finding = _raise(ctx, people["vera"], candidate).id
    with pytest.raises(error, match=match):
        governance.close_finding(ctx, people["victor"], finding, model_version_id=target)
    assert governance.get_finding(ctx, people["max"], finding).state != "closed"


def test_a_model_test_finding_closes_when_its_test_passes_on_the_later_version(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    finding = _remediated(ctx, people, candidate, evidence_kind="model_test", evidence_ref="invariance")
    assert governance.get_finding(ctx, people["max"], finding).evidence_ref == "model_tests:invariance"
    failing = _later(ctx, candidate, test="fail")
    with pytest.raises(ConflictError, match=r"model_tests:invariance on model version .* is fail \(model test run"):
        governance.close_finding(ctx, people["victor"], finding, model_version_id=failing)
    passing = _later(ctx, candidate, test="pass")
    closed = governance.close_finding(ctx, people["victor"], finding, model_version_id=passing)
    assert closed.state == "closed" and closed.closed_on_version == 3


def test_free_evidence_closes_on_a_later_version_with_a_note(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    finding = _remediated(ctx, people, candidate, evidence_kind="free", evidence_ref="")
    later = _later(ctx, candidate)
    with pytest.raises(ConfigError, match=r"verification note is empty: .* evidence is free"):
        governance.close_finding(ctx, people["vera"], finding, model_version_id=later, note="  ")
    closed = governance.close_finding(
        ctx, people["vera"], finding, model_version_id=later, note="The data dictionary now defines default."
    )
    assert closed.resolution_note == "verified on version 2: The data dictionary now defines default."


@pytest.mark.parametrize(
    ("who", "reason", "expires", "error", "match"),
    [
        ("vera", REASON, 30, PermissionDenied, "vera raised finding \\d+: its risk is accepted by a validator other"),
        ("dora", REASON, 30, PermissionDenied, "accept finding risk needs one of: validator"),
        ("victor", "fine", 30, ConfigError, "the reason for accepting finding \\d+'s risk must be at least a sentence"),
        ("victor", REASON, 0, ConfigError, "risk acceptance expiry .* is not in the future"),
        ("victor", REASON, 400, ConfigError, "risk acceptance expiry .* is more than 12 months ahead; the latest is"),
    ],
    ids=["raiser", "scientist", "short-reason", "today", "over-a-year"],
)
def test_refused_risk_acceptances_name_the_rule(
    ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    who: str,
    reason: str,
    expires: int,
    error: type[Exception],
    match: str,
) -> None:
    finding = _raise(ctx, people["vera"], candidate)
    with pytest.raises(error, match=match):
        governance.accept_risk(ctx, people[who], finding.id, reason=reason, expires_on=_soon(expires))
    assert governance.get_finding(ctx, people["max"], finding.id).state == "open"


def test_a_second_validator_accepts_the_risk_until_it_expires_then_it_is_open_again(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    finding = _raise(ctx, people["vera"], candidate)
    accepted = governance.accept_risk(ctx, people["victor"], finding.id, reason=f"  {REASON} ", expires_on=_soon(365))
    assert accepted.state == "risk_accepted" and accepted.risk_acceptance is not None
    assert (accepted.risk_acceptance.by, accepted.risk_acceptance.reason) == ("victor", REASON)
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        assert _findings.blocking(session, mv) == []
    # A year and a day later the acceptance has expired: the finding blocks again, and the next change
    # records that it reopened before it moves.
    later = utcnow() + timedelta(days=367)
    monkeypatch.setattr(_findings, "utcnow", lambda: later)
    reopened = governance.get_finding(ctx, people["max"], finding.id)
    assert reopened.state == "open" and reopened.overdue and reopened.risk_acceptance.expired  # type: ignore[union-attr]
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        assert [b.key for b in _findings.blocking(session, mv)] == [f"finding:{finding.id}"]
    proposed = governance.propose_remediation(ctx, people["dora"], finding.id, note="Retrained after all.")
    assert [e.action for e in proposed.history] == [
        "finding.raised",
        "finding.risk_accepted",
        "finding.reopened",
        "finding.remediation_proposed",
    ]
    assert proposed.history[2].actor == "system"


def test_only_the_owner_or_a_data_scientist_proposes_remediation(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    finding = _raise(ctx, people["vera"], candidate, owner="max")
    with pytest.raises(PermissionDenied, match=r"victor is not the owner of finding \d+ \(max\)"):
        governance.propose_remediation(ctx, people["victor"], finding.id, note="Done.")
    with pytest.raises(ConfigError, match="remediation note is empty"):
        governance.propose_remediation(ctx, people["max"], finding.id, note=" ")
    assert governance.propose_remediation(ctx, people["max"], finding.id, note="Done.").remediation_by == "max"
    with pytest.raises(NotFoundError, match="finding 999 does not exist"):
        governance.propose_remediation(ctx, people["dan"], 999, note="Done.")


def test_blocking_carries_an_open_high_finding_forward_and_needing_conditions_the_medium_ones(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    high = _raise(ctx, people["vera"], candidate, title="Unstable on the young")
    medium = _raise(ctx, people["vera"], candidate, severity=FindingSeverity.MEDIUM)
    _raise(ctx, people["vera"], candidate, severity="low")
    v2 = _later(ctx, candidate)
    raised_later = _raise(ctx, people["vera"], v2, title="Only on version 2")
    with ctx.db.read() as session:
        v1, mv2 = session.get(ModelVersion, candidate), session.get(ModelVersion, v2)
        assert v1 is not None and mv2 is not None
        carried = _findings.blocking(session, mv2)
        assert [(b.key, b.overridable) for b in carried] == [
            (f"finding:{high.id}", False),
            (f"finding:{raised_later.id}", False),
        ]
        assert carried[0].text == (
            f"finding {high.id} 'Unstable on the young' (high, raised on version 1, owner dora) is open"
        )
        assert [b.key for b in _findings.blocking(session, v1)] == [f"finding:{high.id}"]  # not the later one
        assert [f.id for f in _findings.needing_conditions(session, mv2)] == [medium.id]


def test_the_list_filters_and_puts_overdue_first(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = _raise(ctx, people["vera"], candidate, due_date=_soon(1), owner="dan")
    soon = _raise(ctx, people["vera"], candidate, due_date=_soon(5), severity="low")
    far = _raise(ctx, people["vera"], candidate, due_date=_soon(60))
    closed = _remediated(ctx, people, candidate, due_date=_soon(2))
    governance.close_finding(ctx, people["victor"], closed, model_version_id=_later(ctx, candidate, check="pass"))
    later = datetime.combine(_soon(3), datetime.min.time())
    monkeypatch.setattr(_findings, "utcnow", lambda: later)
    listed = governance.list_findings(ctx, people["max"])
    assert [f.id for f in listed] == [late.id, closed, soon.id, far.id]  # a closed finding is never overdue
    assert [f.overdue for f in listed] == [True, False, False, False]
    assert [f.id for f in governance.list_findings(ctx, people["max"], open_only=True)] == [late.id, soon.id, far.id]
    assert [f.id for f in governance.list_findings(ctx, people["max"], owner="DAN")] == [late.id]
    assert [f.id for f in governance.list_findings(ctx, people["max"], severity="low")] == [soon.id]
    assert governance.list_findings(ctx, people["max"], model_name="other") == []
    with pytest.raises(ConfigError, match="severity 'urgent' is not one of"):
        governance.list_findings(ctx, people["max"], severity="urgent")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=st.text(max_size=220),
    severity=st.sampled_from([*FindingSeverity, "HIGH", "", "x"]),
    kind=st.sampled_from([*EvidenceKind, "model-test", "?"]),
    ref=st.text(max_size=40),
)
def test_any_input_is_stored_as_given_or_refused_by_name(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, title: str, severity: str, kind: str, ref: str
) -> None:
    refused: ConfigError | None = None
    try:
        found = _raise(
            ctx, people["vera"], candidate, title=title, severity=severity, evidence_kind=kind, evidence_ref=ref
        )
    except ConfigError as exc:
        refused = exc
    if refused is not None:
        assert re.search(r"^(finding title|severity|evidence (kind|reference))", str(refused)), refused
        return
    assert found.title == title.strip() and found.state == FindingState.OPEN
    assert governance.get_finding(ctx, people["max"], found.id).title == title.strip()
