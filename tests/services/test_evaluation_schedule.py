"""The worker's evaluation schedule: however many workers find a deployment due at once, one evaluation is made."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.datasets import count_payload
from pipeline_core.services.runs import RunWorker
from pipeline_core.store.models import Evaluation, EvaluationClaim
from tests.processes import wait_for
from tests.services.test_evaluations import _score, _to_prod
from tests.states import State
from tests.store.test_concurrency import race


def _claims(ctx: ServiceContext, dep_id: int) -> list[tuple[int | None, str]]:
    with ctx.db.read() as session:
        rows = session.execute(
            select(EvaluationClaim.evaluation_id, EvaluationClaim.claimed_by).where(
                EvaluationClaim.deployment_id == dep_id
            )
        ).all()
        return [(r.evaluation_id, r.claimed_by) for r in rows]


def _evaluations(ctx: ServiceContext, dep_id: int) -> int:
    with ctx.db.read() as session:
        return int(session.execute(select(func.count()).where(Evaluation.deployment_id == dep_id)).scalar_one())


def test_four_workers_due_at_once_make_one_evaluation(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State, spec: DataSpec
) -> None:
    ctx = live_ctx
    _, dep_id, key = _to_prod(ctx, people, starting_state)
    before = count_payload(ctx, SYSTEM, deployment_id=dep_id)
    _score(ctx, dep_id, key, generate_german_credit(150, seed=5), spec)
    wait_for(lambda: count_payload(ctx, SYSTEM, deployment_id=dep_id) == before + 150, timeout=10, what="logged")
    evaluated_before = _evaluations(ctx, dep_id)
    contexts = [ctx, *(open_context(ctx.settings) for _ in range(3))]
    workers = [RunWorker(c) for c in contexts]
    try:
        done = race(*(w.evaluate_due for w in workers))
    finally:
        for w in workers:
            w.stop()
        for c in contexts[1:]:
            c.close()
    assert not [d for d in done if isinstance(d, Exception)], done
    made = [evaluation for d in done for evaluation in d]
    assert len(made) == 1
    assert _evaluations(ctx, dep_id) == evaluated_before + 1
    ((evaluation_id, claimed_by),) = _claims(ctx, dep_id)
    assert evaluation_id == made[0] and claimed_by in {w.id for w in workers}
    history = monitoring.list_evaluations(ctx, people["max"], deployment_id=dep_id, limit=1)
    assert history[0].id == made[0] and history[0].created_by == "system"


def test_an_evaluation_that_cannot_run_leaves_no_claim_so_a_later_turn_tries_again(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    in_prod: int,
    starting_state: State,
    spec: DataSpec,
) -> None:
    ctx = live_ctx
    _, dep_id, key = _to_prod(ctx, people, starting_state)
    assert count_payload(ctx, SYSTEM, deployment_id=dep_id) == 0
    with pytest.raises(monitoring.EvaluationError, match="no scored records"):
        monitoring.evaluate_if_due(ctx, SYSTEM, dep_id, interval=3600.0, claimant="worker-a")
    assert _claims(ctx, dep_id) == []
    _score(ctx, dep_id, key, generate_german_credit(120, seed=6), spec)
    wait_for(lambda: count_payload(ctx, SYSTEM, deployment_id=dep_id) > 0, timeout=10, what="logged")
    outcome = monitoring.evaluate_if_due(ctx, SYSTEM, dep_id, interval=3600.0, claimant="worker-b")
    assert outcome is not None
    assert _claims(ctx, dep_id) == [(outcome.evaluation_id, "worker-b")]
    assert monitoring.evaluate_if_due(ctx, SYSTEM, dep_id, interval=3600.0, claimant="worker-c") is None
