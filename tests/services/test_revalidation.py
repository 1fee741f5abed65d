"""Revalidation of a production model (renew, renew with conditions, retire) and the sweep of what is due."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from pipeline_core.errors import ApprovalError, ConfigError, ConflictError, PermissionDenied
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import ConditionInput
from pipeline_core.services.governance._approval_policy import add_months
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Alert, Approval, ApprovalCondition, AuditEvent, Evaluation, ModelVersion
from pipeline_core.vocabulary import ModelState, Space


def _prod_evaluation(ctx: ServiceContext, mv_id: int) -> int:
    """A production evaluation of ``mv_id``: its newest pre-prod one's results, stored as the prod space's."""
    with ctx.db.write() as session:
        newest = session.execute(
            select(Evaluation).where(Evaluation.model_version_id == mv_id).order_by(Evaluation.id.desc()).limit(1)
        ).scalar_one()
        row = Evaluation(
            model_version_id=mv_id,
            deployment_id=newest.deployment_id,
            space=Space.PROD,
            results=newest.results,
            data_window=newest.data_window,
            status=newest.status,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return row.id


def _expire(ctx: ServiceContext, *, days_ago: int = 1) -> None:
    with ctx.db.write() as session:
        session.execute(update(Approval).values(expires_at=utcnow() - timedelta(days=days_ago)))


def _evidence(ctx: ServiceContext, actor: Principal, mv_id: int) -> list[int]:
    return [e.id for e in governance.revalidation_case(ctx, actor, mv_id).evaluations]


def test_an_expired_approval_is_renewed_on_production_evidence(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    mv = deployments.get_deployment(live_ctx, people["max"], in_prod).model_version_id
    prod_eval = _prod_evaluation(live_ctx, mv)
    _expire(live_ctx)
    case = governance.revalidation_case(live_ctx, people["vera"], mv)
    assert case.expired and case.evaluations[0].id == prod_eval and case.evaluations[0].space == "prod"
    assert not governance.production_check(live_ctx, people["max"], mv).passed

    result = governance.revalidate(
        live_ctx,
        people["victor"],
        mv,
        outcome="renew",
        comment="Production evidence over the quarter holds; renewed for the tier's interval.",
        evidence=_evidence(live_ctx, people["victor"], mv),
    )
    assert result.outcome == "renew" and result.expires_at is not None
    with live_ctx.db.read() as session:
        row = session.get(Approval, result.revalidation_id)
        assert row is not None and row.kind == "revalidation" and row.decided_by == "victor"
        assert row.expires_at == add_months(row.decided_at, 36)
        actions = session.execute(
            select(AuditEvent.action).where(AuditEvent.object_type == "model_version", AuditEvent.object_id == str(mv))
        ).scalars()
        assert "model_version.revalidated" in list(actions)
    check = governance.production_check(live_ctx, people["max"], mv)
    assert check.passed, check.reasons
    assert not governance.revalidation_case(live_ctx, people["vera"], mv).expired


def test_renewing_with_conditions_records_them(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    mv = deployments.get_deployment(live_ctx, people["max"], in_prod).model_version_id
    _prod_evaluation(live_ctx, mv)
    due = utcnow().date() + timedelta(days=90)
    result = governance.revalidate(
        live_ctx,
        people["vera"],
        mv,
        outcome="renew_with_conditions",
        comment="Drift on duration is rising; renewed on condition that it is retrained.",
        evidence=_evidence(live_ctx, people["vera"], mv),
        conditions=[ConditionInput(text="Retrain on 2027 data", owner="dora", due_date=due)],
    )
    [condition] = governance.list_conditions(live_ctx, people["max"], open_only=True)
    assert (condition.approval_id, condition.due_date, condition.id) == (
        result.revalidation_id,
        due,
        *result.condition_ids,
    )


def test_retiring_takes_the_production_model_down_and_its_check_fails(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    mv = deployments.get_deployment(live_ctx, people["max"], in_prod).model_version_id
    result = governance.revalidate(
        live_ctx,
        people["vera"],
        mv,
        outcome="retire",
        comment="The product it scores was withdrawn; the model is retired from production.",
        evidence=_evidence(live_ctx, people["vera"], mv),
    )
    assert result.retired_deployment_id == in_prod and result.expires_at is None
    assert not [d for d in deployments.list_deployments(live_ctx, people["max"]) if d.space == "prod"]
    with live_ctx.db.read() as session:
        found = session.get(ModelVersion, mv)
        assert found is not None and found.state == ModelState.RETIRED
    check = governance.production_check(live_ctx, people["max"], mv)
    assert not check.passed and any(f"revalidation {result.revalidation_id} retired" in r for r in check.reasons)


@pytest.mark.parametrize(
    ("who", "outcome", "conditions", "evidence", "error", "match"),
    [
        ("dora", "renew", False, True, PermissionDenied, "revalidate needs one of: validator"),
        ("vera", "extend", False, True, ConfigError, "revalidation outcome 'extend' is not one of"),
        ("vera", "renew", False, False, ApprovalError, "the evidence of model version .* changed since the case"),
        ("vera", "renew", True, True, ConfigError, "ends in renew carries no conditions"),
        ("vera", "renew_with_conditions", False, True, ConfigError, "needs at least one condition"),
    ],
    ids=["data-scientist", "bad-outcome", "stale-evidence", "renew-with-a-condition", "conditions-missing"],
)
def test_a_revalidation_is_refused_naming_the_rule(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    in_prod: int,
    who: str,
    outcome: str,
    conditions: bool,
    evidence: bool,
    error: type[Exception],
    match: str,
) -> None:
    mv = deployments.get_deployment(live_ctx, people["max"], in_prod).model_version_id
    _prod_evaluation(live_ctx, mv)
    shown = _evidence(live_ctx, people["vera"], mv)
    with pytest.raises(error, match=match):
        governance.revalidate(
            live_ctx,
            people[who],
            mv,
            outcome=outcome,
            comment="A sentence long enough to say why, in words.",
            evidence=shown if evidence else shown[1:],
            conditions=[ConditionInput(text="t", owner="dora", due_date=date(2099, 1, 1))] if conditions else (),
        )


def test_a_renewal_needs_production_evidence_and_a_production_model(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, tmp_path: object
) -> None:
    mv = deployments.get_deployment(live_ctx, people["max"], in_prod).model_version_id
    with pytest.raises(ApprovalError, match="has no production evaluation: a renewal is decided on production"):
        governance.revalidate(
            live_ctx,
            people["vera"],
            mv,
            outcome="renew",
            comment="Renewed without looking at production at all.",
            evidence=_evidence(live_ctx, people["vera"], mv),
        )


def test_a_candidate_is_approved_not_revalidated(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with pytest.raises(ConflictError, match="not in production: a candidate is approved, only a production model"):
        governance.revalidate(
            live_ctx, people["vera"], candidate, outcome="renew", comment="A sentence long enough here.", evidence=[]
        )


def test_the_sweep_alerts_once_for_expiring_and_expired_approvals_and_overdue_conditions(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    mv = deployments.get_deployment(live_ctx, people["max"], in_prod).model_version_id
    assert governance.sweep_due(live_ctx, SYSTEM) == []  # 36 months away
    with live_ctx.db.write() as session:
        session.execute(update(Approval).values(expires_at=utcnow() + timedelta(days=10)))
        approval_id = session.execute(select(Approval.id)).scalar_one()
        session.add(
            ApprovalCondition(
                approval_id=approval_id,
                model_version_id=mv,
                model_name="credit",
                text="Re-run fairness",
                owner="dora",
                due_date=utcnow().date() - timedelta(days=2),
                state="open",
                created_at=utcnow(),
            )
        )
    first = governance.sweep_due(live_ctx, SYSTEM)
    assert [i.kind for i in first] == ["approval_expiring", "condition_overdue"]
    assert "expires on" in first[0].message and "owner dora" in first[1].message
    again = governance.sweep_due(live_ctx, people["max"])
    assert [i.alert_id for i in again] == [i.alert_id for i in first]  # the same open alerts, not new ones
    _expire(live_ctx)
    expired = governance.sweep_due(live_ctx, SYSTEM)
    assert expired[0].kind == "approval_expired" and "expired on" in expired[0].message
    with live_ctx.db.read() as session:
        monitors = session.execute(select(Alert.monitor, Alert.metric).where(Alert.monitor == "governance")).all()
        assert sorted(m for _, m in monitors) == ["approval_expired", "approval_expiring", "condition_overdue"]
    with pytest.raises(PermissionDenied, match="sweep due needs one of"):
        governance.sweep_due(live_ctx, people["dora"])
