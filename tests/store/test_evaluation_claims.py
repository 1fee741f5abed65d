"""One scheduled evaluation per deployment and due time, on every store: the claim, its takeover, its migration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from pipeline_core.config import Settings
from pipeline_core.services import monitoring
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.store.db import Database, utcnow
from pipeline_core.store.models import Dataset, Deployment, Evaluation, EvaluationClaim, Run
from pipeline_core.vocabulary import ModelState, Space
from tests.store.migrating import downgrade
from tests.store.test_concurrency import race
from tests.store.test_derived_state import _dataset_and_runs, _version

HOUR = 3600.0


@pytest.fixture
def others(settings: Settings) -> Iterator[list[ServiceContext]]:
    """Three more instances of the services on the same store: four workers' machines in all."""
    contexts = [open_context(settings) for _ in range(3)]
    yield contexts
    for other in contexts:
        other.close()


def _prod_deployment(ctx: ServiceContext, *, evaluated_ago: timedelta | None = None) -> int:
    """An active production deployment, evaluated ``evaluated_ago`` (never when None)."""
    now = utcnow()
    with ctx.db.write() as session:
        dep = Deployment(model_name="credit", space=Space.PROD, status="active", created_by="vera", created_at=now)
        session.add(dep)
        session.flush()
        if evaluated_ago is not None:
            (run_id,) = _dataset_and_runs(session, 1) if session.get(Dataset, 1) is None else [_run(session)]
            mv = _version(run_id, "credit", ModelState.APPROVED)
            mv.version = run_id  # one version per run: unique per name
            session.add(mv)
            session.flush()
            session.add(
                Evaluation(
                    model_version_id=mv.id,
                    deployment_id=dep.id,
                    space=Space.PROD,
                    data_window={},
                    results={},
                    status="pass",
                    created_at=now - evaluated_ago,
                    created_by="system",
                )
            )
        return dep.id


def _run(session: Session) -> int:
    run = Run(status="succeeded", dataset_id=1, params={}, created_by="dora", created_at=utcnow())
    session.add(run)
    session.flush()
    return run.id


def _claims(ctx: ServiceContext, dep_id: int) -> list[EvaluationClaim]:
    with ctx.db.read() as session:
        rows = session.execute(select(EvaluationClaim).where(EvaluationClaim.deployment_id == dep_id)).scalars()
        return list(rows)


def test_of_eight_workers_finding_one_deployment_due_at_once_one_claims_it(
    ctx: ServiceContext, others: list[ServiceContext]
) -> None:
    dep_id = _prod_deployment(ctx)
    contexts = [ctx, *others] * 2
    won = race(
        *(
            lambda c=c, i=i: monitoring.claim_evaluation(c, SYSTEM, dep_id, interval=HOUR, claimant=f"worker-{i}")
            for i, c in enumerate(contexts)
        )
    )
    assert not [r for r in won if isinstance(r, Exception)], won
    claims = [r for r in won if r is not None]
    assert len(claims) == 1 and claims[0].after_evaluation_id == 0
    (row,) = _claims(ctx, dep_id)
    assert row.claimed_by == claims[0].claimed_by and row.finished_at is None


def test_a_deployment_evaluated_within_the_interval_is_not_claimed(ctx: ServiceContext) -> None:
    recent = _prod_deployment(ctx, evaluated_ago=timedelta(minutes=5))
    old = _prod_deployment(ctx, evaluated_ago=timedelta(hours=2))
    assert monitoring.due_deployments(ctx, SYSTEM, interval=HOUR) == [old]
    assert monitoring.claim_evaluation(ctx, SYSTEM, recent, interval=HOUR) is None
    claim = monitoring.claim_evaluation(ctx, SYSTEM, old, interval=HOUR)
    assert claim is not None and claim.after_evaluation_id > 0
    assert monitoring.claim_evaluation(ctx, SYSTEM, old, interval=HOUR) is None  # held, and fresh


def test_a_claim_left_by_a_dead_worker_is_taken_over_by_one_of_its_racers(
    ctx: ServiceContext, others: list[ServiceContext]
) -> None:
    dep_id = _prod_deployment(ctx)
    first = monitoring.claim_evaluation(ctx, SYSTEM, dep_id, interval=HOUR, claimant="dead-worker")
    assert first is not None
    timeout = timedelta(seconds=ctx.settings.evaluation_claim_timeout)
    with ctx.db.write() as session:
        session.execute(
            update(EvaluationClaim)
            .where(EvaluationClaim.id == first.id)
            .values(claimed_at=utcnow() - timeout - timedelta(seconds=1))
        )
    won = race(
        *(
            lambda c=c, i=i: monitoring.claim_evaluation(c, SYSTEM, dep_id, interval=HOUR, claimant=f"taker-{i}")
            for i, c in enumerate([ctx, *others])
        )
    )
    taken = [r for r in won if r is not None]
    assert len(taken) == 1 and not isinstance(taken[0], Exception), won
    assert taken[0].id == first.id and taken[0].claimed_by.startswith("taker-")
    (row,) = _claims(ctx, dep_id)
    assert row.claimed_by == taken[0].claimed_by


def test_a_finished_claim_is_never_taken_again(ctx: ServiceContext) -> None:
    dep_id = _prod_deployment(ctx)
    claim = monitoring.claim_evaluation(ctx, SYSTEM, dep_id, interval=HOUR)
    assert claim is not None
    with ctx.db.write() as session:
        session.execute(
            update(EvaluationClaim)
            .where(EvaluationClaim.id == claim.id)
            .values(finished_at=utcnow(), claimed_at=utcnow() - timedelta(days=1))
        )
    assert monitoring.claim_evaluation(ctx, SYSTEM, dep_id, interval=HOUR) is None


def test_the_claims_table_goes_up_and_down(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate("0017_c")
    columns = {c["name"] for c in inspect(db.engine).get_columns("evaluation_claims")}
    assert {"deployment_id", "after_evaluation_id", "claimed_by", "claimed_at", "finished_at"} <= columns
    uniques = inspect(db.engine).get_unique_constraints("evaluation_claims")
    assert [u["column_names"] for u in uniques] == [["deployment_id", "after_evaluation_id"]]
    downgrade(db, "0016_f")
    assert "evaluation_claims" not in inspect(db.engine).get_table_names()
    db.dispose()
