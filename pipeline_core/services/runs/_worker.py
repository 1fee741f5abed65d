"""The worker: claim queued runs atomically, beat a heartbeat, execute, honour cancel.

Any number of workers (processes, machines) can serve one store. A claim is an UPDATE
guarded by ``status = 'queued'``, so exactly one claimant sees its row change. While a
run executes, a heartbeat thread stamps it; a worker that dies stops stamping, and the
reaper (run by every worker and by the CLI) fails the run after the timeout. Between
runs, a worker also keeps the production evaluation schedule (``evaluation_interval``) and
delivers the domain events still due to the external services (``integrations.deliver``) and the alert
notifications still due to their channels (``monitoring.deliver_notifications``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline_core.services import audit, integrations, monitoring
from pipeline_core.services.authz import SYSTEM, SYSTEM_ROLE, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow
from pipeline_core.services.runs._launch import reap_stale_runs
from pipeline_core.services.runs._persist import ProgressFn, RunControl
from pipeline_core.services.runs._runner import execute_run
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Run, Worker
from pipeline_core.vocabulary import RunState

MAX_CLAIM_ATTEMPTS = 5
log = logging.getLogger(__name__)


def new_worker_id(kind: str = "worker") -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunWorker:
    """One worker identity in the store, able to claim and execute runs."""

    def __init__(
        self, ctx: ServiceContext, *, worker_id: str | None = None, progress: ProgressFn | None = None
    ) -> None:
        self.ctx = ctx
        self.id = worker_id or new_worker_id()
        self.principal = Principal(self.id, SYSTEM_ROLE)  # what it does is audited under its own id
        self.progress = progress
        self._next_evaluation_check = 0.0
        now = utcnow()
        with ctx.db.write() as session:
            session.merge(
                Worker(
                    id=self.id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                    heartbeat_at=now,
                    stopped_at=None,
                    current_run_id=None,
                )
            )

    def claim_next(self) -> int | None:
        """Claim the oldest queued run; ``None`` when there is none."""
        for _ in range(MAX_CLAIM_ATTEMPTS):
            with self.ctx.db.write() as session:
                candidate = session.execute(
                    select(Run.id).where(Run.status == RunState.QUEUED).order_by(Run.id).limit(1)
                ).scalar()
                if candidate is None:
                    return None
                if self._claim_in(session, candidate):
                    return candidate
        return None

    def claim(self, run_id: int) -> bool:
        """Claim one given run if it is still queued."""
        with self.ctx.db.write() as session:
            return self._claim_in(session, run_id)

    def _claim_in(self, session: Session, run_id: int) -> bool:
        now = utcnow()
        result = session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == RunState.QUEUED)
            .values(status=RunState.RUNNING, worker_id=self.id, started_at=now, heartbeat_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        session.execute(update(Worker).where(Worker.id == self.id).values(current_run_id=run_id, heartbeat_at=now))
        audit.record(session, actor=self.id, action="run.claimed", object_type="run", object_id=run_id)
        return True

    def execute(self, run_id: int) -> str:
        """Execute a run this worker has claimed, with a heartbeat; return its final status."""
        control = RunControl()
        stop_beating = threading.Event()
        beater = threading.Thread(
            target=self._heartbeat, args=(run_id, control, stop_beating), name=f"heartbeat-{run_id}", daemon=True
        )
        beater.start()
        try:
            return execute_run(
                self.ctx, self.principal, run_id, worker_id=self.id, control=control, progress=self.progress
            )
        finally:
            stop_beating.set()
            beater.join()
            with self.ctx.db.write() as session:
                session.execute(
                    update(Worker).where(Worker.id == self.id).values(current_run_id=None, heartbeat_at=utcnow())
                )

    def _heartbeat(self, run_id: int, control: RunControl, stop: threading.Event) -> None:
        while not stop.wait(self.ctx.settings.heartbeat_interval):
            self.beat(run_id, control)

    def beat(self, run_id: int | None = None, control: RunControl | None = None) -> None:
        """Stamp this worker (and its run); pick up a cancel request or a lost run."""
        now = utcnow()
        try:
            with self.ctx.db.write() as session:
                session.execute(update(Worker).where(Worker.id == self.id).values(heartbeat_at=now))
                if run_id is None or control is None:
                    return
                result = session.execute(
                    update(Run)
                    .where(Run.id == run_id, Run.worker_id == self.id, Run.status == RunState.RUNNING)
                    .values(heartbeat_at=now)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    control.lost.set()
                    return
                if session.execute(select(Run.cancel_requested).where(Run.id == run_id)).scalar():
                    control.cancel.set()
        except Exception:  # noqa: BLE001 - a missed beat is retried; the timeout is many beats long
            return

    def serve(
        self, stop: threading.Event, *, max_runs: int | None = None, on_idle: Callable[[], None] | None = None
    ) -> int:
        """Claim and execute runs until ``stop`` is set (or ``max_runs`` are done)."""
        done = 0
        try:
            while not stop.is_set() and (max_runs is None or done < max_runs):
                reap_stale_runs(self.ctx, self.principal)
                run_id = self.claim_next()
                if run_id is None:
                    self.beat()
                    self.evaluate_due()
                    self.deliver_due()
                    self.notify_due()
                    if on_idle:
                        on_idle()
                    stop.wait(self.ctx.settings.poll_interval)
                    continue
                self.execute(run_id)
                done += 1
        finally:
            self.stop()
        return done

    def evaluate_due(self) -> list[int]:
        """Evaluate every production deployment whose last evaluation is older than the interval.

        Between runs only, so a schedule never delays a queued run by more than one evaluation.
        A deployment without traffic is skipped; any other failure is logged and retried next time.
        """
        interval = self.ctx.settings.evaluation_interval
        if interval <= 0 or time.monotonic() < self._next_evaluation_check:
            return []
        self._next_evaluation_check = time.monotonic() + min(interval, 60.0)
        done = []
        window = PayloadWindow(max_records=self.ctx.settings.evaluation_max_records)
        for deployment_id in monitoring.due_deployments(self.ctx, self.principal, interval=interval):
            try:
                # The claim makes it one evaluation per due time however many workers found it due.
                outcome = monitoring.evaluate_if_due(
                    self.ctx, SYSTEM, deployment_id, interval=interval, window=window, claimant=self.id
                )
            except monitoring.EvaluationError as exc:
                log.info("scheduled evaluation of deployment %d skipped: %s", deployment_id, exc)
                continue
            except Exception:
                log.exception("scheduled evaluation of deployment %d failed", deployment_id)
                continue
            if outcome is not None:
                done.append(outcome.evaluation_id)
        return done

    def deliver_due(self) -> int:
        """Hand the external services the events still due to them (retries after back-off); how many failed.

        Between runs only, like the schedule. A failure is the dispatcher's to record and retry;
        anything else (the store unreachable) is logged and tried again on the next idle turn.
        """
        try:
            return len(integrations.deliver(self.ctx, self.principal))
        except Exception:
            log.exception("delivering the events due to the external services failed")
            return 0

    def notify_due(self) -> int:
        """Send the alert notifications due (retries after back-off); how many attempts failed.

        Between runs only, like the schedule. A failed attempt is recorded on its delivery and retried;
        anything else (the store unreachable) is logged and tried again on the next idle turn.
        """
        try:
            return len(monitoring.deliver_notifications(self.ctx, self.principal).failures)
        except Exception:
            log.exception("sending the alert notifications due failed")
            return 0

    def stop(self) -> None:
        with self.ctx.db.write() as session:
            session.execute(update(Worker).where(Worker.id == self.id).values(stopped_at=utcnow()))
