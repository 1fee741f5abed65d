"""Two service instances and two workers on one store: no run claimed twice, approvals serialised, one chain.

Each "instance" is its own ``ServiceContext`` (its own engine and connection pool) on the
same database, as two dashboard replicas or two worker machines would be; they race in
threads released together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline_core.config import Settings
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ConflictError
from pipeline_core.params import RunParams
from pipeline_core.services import audit, governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.datasets import register_file
from pipeline_core.services.governance import _approvals
from pipeline_core.services.runs import RunWorker, launch_run
from pipeline_core.store.models import Approval, AuditEvent, Deployment, Evaluation, ModelVersion
from tests.services.helpers import make_candidate
from tests.states import DORA


@pytest.fixture
def second(settings: Settings, ctx: ServiceContext) -> Iterator[ServiceContext]:
    """Another instance of the services on the same store."""
    other = open_context(settings)
    yield other
    other.close()


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at the same moment in its own thread; each result, or the exception it raised."""
    gate = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        gate.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - the race's loser is part of the result
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def test_two_workers_never_claim_the_same_run(
    ctx: ServiceContext, second: ServiceContext, people: dict[str, Principal], csv_path: Path, spec: DataSpec
) -> None:
    dataset = register_file(ctx, DORA, csv_path, spec=spec)
    queued = {launch_run(ctx, people["dora"], dataset=dataset, params=RunParams()).id for _ in range(30)}
    workers = [RunWorker(ctx), RunWorker(second)]

    def drain(worker: RunWorker) -> list[int]:
        claimed = []
        while (run_id := worker.claim_next()) is not None:
            claimed.append(run_id)
            time.sleep(0.01)  # a moment of "work" so that the two interleave
        return claimed

    first, other = race(lambda: drain(workers[0]), lambda: drain(workers[1]))
    for w in workers:
        w.stop()
    assert isinstance(first, list) and isinstance(other, list), (first, other)
    assert set(first) | set(other) == queued and not set(first) & set(other)
    assert len(first) + len(other) == 30
    with ctx.db.read() as session:
        claims = session.execute(select(func.count()).where(AuditEvent.action == "run.claimed")).scalar()
        assert claims == 30
        assert audit.verify_chain(session).ok


def test_two_validators_deciding_one_candidate_at_once_are_serialised(
    live_ctx: ServiceContext,
    second: ServiceContext,
    people: dict[str, Principal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The whole pipeline on this store: validate ... model tests, deploy and evaluate in pre-prod.
    mv_id = make_candidate(live_ctx, people["dora"], tmp_path)
    with live_ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        sha = mv.artifact_sha256
    checked = _approvals._check_decider

    def slow_check(*args: Any, **kwargs: Any) -> None:
        checked(*args, **kwargs)
        time.sleep(0.3)  # widen the window between reading the candidate's state and writing the decision

    monkeypatch.setattr(_approvals, "_check_decider", slow_check)
    outcomes = race(
        lambda: governance.approve(live_ctx, people["vera"], mv_id, comment="reviewed", artifact_sha256=sha),
        lambda: governance.approve(second, people["victor"], mv_id, comment="reviewed too", artifact_sha256=sha),
    )
    won = [o for o in outcomes if isinstance(o, governance.ApprovalOutcome)]
    lost = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert "already decided" in str(lost[0]) and won[0].deployment is not None
    with live_ctx.db.read() as session:
        assert session.execute(select(func.count()).select_from(Approval)).scalar() == 1
        prod = session.execute(select(Deployment).where(Deployment.space == "prod")).scalars().all()
        assert [d.model_version_id for d in prod] == [mv_id]
        assert audit.verify_chain(session).ok


def test_two_instances_appending_to_the_audit_log_keep_one_chain(ctx: ServiceContext, second: ServiceContext) -> None:
    def append(context: ServiceContext, actor: str) -> int:
        for i in range(40):
            with context.db.write() as session:
                audit.record(session, actor=actor, action="thing.done", object_type="thing", object_id=i)
        return 40

    assert race(lambda: append(ctx, "one"), lambda: append(second, "two")) == [40, 40]
    with ctx.db.read() as session:
        status = audit.verify_chain(session)
        actors = session.execute(select(AuditEvent.actor).order_by(AuditEvent.seq)).scalars().all()
    assert status.ok and status.events == 80
    assert actors.count("one") == 40 and actors.count("two") == 40


def test_twenty_approvals_then_twenty_countersigns_of_one_candidate_decide_once(
    live_ctx: ServiceContext, second: ServiceContext, people: dict[str, Principal], tmp_path: Path
) -> None:
    """Issue 16: 20 concurrent approvals, then 20 countersigns, from two instances: one decision, one countersign,
    one prod deployment, one audit event each, on every store."""
    mv_id = make_candidate(live_ctx, people["dora"], tmp_path)
    with live_ctx.db.write() as session:  # its critical checks failed: approving it takes an override and four eyes
        for ev in session.execute(select(Evaluation).where(Evaluation.model_version_id == mv_id)).scalars():
            ev.results = {
                **ev.results,
                "checks": [{**c, "status": "fail"} if c["critical"] else c for c in ev.results["checks"]],
            }
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    sha, keys = queued.artifact_sha256, sorted({b.key for b in queued.blocking})
    reason = "the failing checks come from a small split; the backtest is attached"

    def approve(i: int) -> Callable[[], Any]:
        return lambda: governance.approve(
            (live_ctx, second)[i % 2],
            people["vera"],
            mv_id,
            comment=f"approval #{i}",
            artifact_sha256=sha,
            override_reason=reason,
            overrides=keys,
        )

    approvals = race(*(approve(i) for i in range(20)))
    pending = [o for o in approvals if isinstance(o, governance.ApprovalOutcome)]
    assert len(pending) == 1 and pending[0].pending, approvals
    assert all(isinstance(o, ConflictError) for o in approvals if o is not pending[0]), approvals

    def countersign(i: int) -> Callable[[], Any]:
        return lambda: governance.countersign(
            (live_ctx, second)[i % 2],
            people["victor"],
            mv_id,
            approval_id=pending[0].approval_id,
            comment=f"countersign #{i}",
            artifact_sha256=sha,
        )

    signs = race(*(countersign(i) for i in range(20)))
    outcomes = [o for o in signs if isinstance(o, governance.ApprovalOutcome)]
    fresh = [o for o in outcomes if not o.repeated]
    assert len(fresh) == 1 and fresh[0].deployment is not None, signs
    # The others were told it was done (a repeat of their own countersign) or that it is no longer pending.
    assert all(
        isinstance(o, ConflictError) or (isinstance(o, governance.ApprovalOutcome) and o.repeated)
        for o in signs
        if o is not fresh[0]
    ), signs
    with live_ctx.db.read() as session:
        assert session.execute(select(func.count()).select_from(Approval)).scalar() == 1
        prod = session.execute(select(Deployment).where(Deployment.space == "prod")).scalars().all()
        assert [d.model_version_id for d in prod] == [mv_id]
        actions = session.execute(
            select(AuditEvent.action, func.count())
            .where(AuditEvent.object_id == str(mv_id))
            .group_by(AuditEvent.action)
        ).all()
        counted = {str(action): int(n) for action, n in actions}
        assert counted["model_version.approval_pending"] == 1 and counted["model_version.approved"] == 1
        revisions = session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "deployment.created")
        ).scalar()
        assert revisions == 2  # pre-prod, then prod
        assert audit.verify_chain(session).ok
