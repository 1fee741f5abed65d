"""Production history: deploy, replace, roll back; what served on each day and at each moment, approved by whom."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline_core.errors import NotFoundError
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, ApprovalCondition, ModelVersion
from pipeline_core.vocabulary import ConditionState
from tests.services.helpers import make_candidate

REASON = "decides a small internal book of loans, so the least material tier"


def _mv(ctx: ServiceContext, mv_id: int) -> ModelVersion:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv


def _approved(ctx: ServiceContext, actor: Principal, mv_id: int, comment: str) -> int:
    outcome = governance.approve(ctx, actor, mv_id, comment=comment, artifact_sha256=_mv(ctx, mv_id).artifact_sha256)
    assert outcome.deployment is not None, outcome
    return outcome.approval_id


def test_deploy_replace_rollback_then_what_served_when(
    live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    first = make_candidate(live_ctx, people["dora"], tmp_path, seed=1)
    name = _mv(live_ctx, first).name
    # One validator's approval suffices at tier 3 (make_candidate documents the model too).
    governance.set_tier(live_ctx, people["vera"], name, tier=3, reason=REASON)
    before = utcnow()
    assert governance.production_history(live_ctx, people["max"], name) == []
    first_approval = _approved(live_ctx, people["vera"], first, "v1")
    after_deploy = utcnow()
    second = make_candidate(live_ctx, people["dan"], tmp_path, seed=2)
    second_approval = _approved(live_ctx, people["victor"], second, "v2")
    after_replace = utcnow()
    deployments.rollback(
        live_ctx, people["vera"], reason="the new version misjudges young applicants; back to the last approved one"
    )
    after_rollback = utcnow()
    with live_ctx.db.write() as session:  # a condition on the first approval, as the lead's approve() writes them
        session.add(
            ApprovalCondition(
                approval_id=first_approval,
                model_version_id=first,
                model_name=name,
                text="Backtest the young applicants' band within a quarter",
                owner="dora",
                due_date=date(2027, 3, 1),
                state=ConditionState.OPEN,
                created_at=utcnow(),
            )
        )
        cited = {
            a.id: tuple(a.evidence["evaluation_ids"])
            for a in session.execute(select(Approval).where(Approval.id.in_((first_approval, second_approval))))
            .scalars()
            .all()
        }

    history = governance.production_history(live_ctx, people["max"], name)
    assert [(p.model_version_id, p.version, p.reason, p.approval_id, p.approved_by) for p in history] == [
        (first, 1, "approval", first_approval, "vera"),
        (second, 2, "approval", second_approval, "victor"),
        (first, 1, "rollback", first_approval, "vera"),  # a rollback serves the version on its earlier approval
    ]
    assert [p.started_by for p in history] == ["vera", "victor", "vera"]
    assert history[0].ended_at == history[1].started_at and history[1].ended_at == history[2].started_at
    assert history[2].ended_at is None
    assert len({p.deployment_id for p in history}) == 1  # replaced in place: one prod deployment
    assert [p.artifact_sha256 for p in history] == [_mv(live_ctx, v).artifact_sha256 for v in (first, second, first)]
    assert [p.evaluation_ids for p in history] == [cited[first_approval], cited[second_approval], cited[first_approval]]
    assert all(p.evaluation_ids for p in history)  # each approval cited its pre-prod evaluation
    assert [c.text for c in history[0].conditions] == ["Backtest the young applicants' band within a quarter"]
    assert history[1].conditions == () and history[2].conditions == history[0].conditions
    assert history[0].countersigned_by is None and history[0].approved_at is not None

    at = {
        "before": governance.served_on(live_ctx, people["max"], name, before),
        "deployed": governance.served_on(live_ctx, people["max"], name, after_deploy),
        "replaced": governance.served_on(live_ctx, people["max"], name, after_replace),
        "rolled back": governance.served_on(live_ctx, people["dora"], name, after_rollback),
    }
    assert at["before"] is None
    assert {k: (p.model_version_id, p.reason) for k, p in at.items() if p is not None} == {
        "deployed": (first, "approval"),
        "replaced": (second, "approval"),
        "rolled back": (first, "rollback"),
    }
    # an aware datetime is read in UTC, as the store keeps its times
    aware = governance.served_on(live_ctx, people["vera"], name, after_replace.replace(tzinfo=UTC))
    assert aware is not None and aware.model_version_id == second
    # a whole day: every period that served in it, and served_on the last to start
    today = after_rollback.date()
    assert governance.production_history(live_ctx, people["max"], name, on=today) == history
    served_today = governance.served_on(live_ctx, people["max"], name, today)
    assert served_today == history[2]
    yesterday = today - timedelta(days=1)
    assert governance.production_history(live_ctx, people["max"], name, on=yesterday) == []
    assert governance.served_on(live_ctx, people["max"], name, yesterday) is None
    assert governance.served_on(live_ctx, people["max"], name, today + timedelta(days=400)) == history[2]


def test_a_model_never_in_production_and_an_unknown_model(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    name = _mv(live_ctx, candidate).name
    assert governance.production_history(live_ctx, people["max"], name) == []  # served in pre-prod only
    assert governance.served_on(live_ctx, people["max"], name, utcnow()) is None
    for call in (
        lambda: governance.production_history(live_ctx, people["max"], "no_such_model"),
        lambda: governance.served_on(live_ctx, people["max"], "no_such_model", date(2026, 1, 1)),
    ):
        with pytest.raises(NotFoundError, match="model 'no_such_model' has no version"):
            call()
