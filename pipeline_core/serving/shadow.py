"""Shadow scoring: a candidate scores production requests after their responses are sent, on a thread of its own.

The scoring path only hands a scored request over (``submit``: a non-blocking put into a queue bounded
by the records it holds, from a background task that runs once the response is sent). When the queue is
full the request is dropped for the shadow and counted, never waited for: serving does not slow down because
the shadow cannot keep up. One thread (at a lower OS priority) takes what the queue holds every
``interval`` seconds, parses each request again against the shadow model's own spec, scores them together
in one vectorised call (each alone if that call raises, so that one bad request fails alone) and stores
the answers in one batch, keyed by the production scoring ids (``deployments.store_shadow_outputs``).
Whatever the shadow model raises, however slow it is, it fails only the shadow: the failure is counted
and logged (the first of each shadow, then every ``LOG_EVERY``-th), and production's response and
payload log were done before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from pipeline_core.scoring import LoadedModel, parse_payload
from pipeline_core.services.datasets import scoring_id
from pipeline_core.services.deployments import ShadowOutput
from pipeline_core.serving.request import RequestLimits

log = logging.getLogger(__name__)

Writer = Callable[[Sequence[ShadowOutput]], int]
LOG_EVERY = 100  # after a shadow's first failure, one log line per this many
NICENESS = 10  # the shadow thread's OS priority below the serving threads' (Linux: per thread)


@dataclass(frozen=True)
class ShadowServing:
    """A loaded, verified shadow model and which production deployment's traffic it scores."""

    shadow_id: int
    production_deployment_id: int
    model_version_id: int
    artifact_sha256: str
    loaded: LoadedModel


@dataclass(frozen=True)
class ShadowJob:
    """One production request for the shadow: the parsed body and production's request id for its records."""

    shadow: ShadowServing
    payload: Any
    request_id: str
    n_records: int
    created_at: datetime


@dataclass(frozen=True)
class ShadowStats:
    """What the shadow scorer did since it started (``/health`` shows it)."""

    scored: int  # records scored and handed to the store
    failed: int  # records whose shadow scoring raised
    dropped: int  # records not scored: the queue was full
    unstored: int  # records scored whose answers the store refused
    pending: int  # records waiting in the queue
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _probabilities(loaded: LoadedModel, rows: list[list[Any]]) -> np.ndarray:
    """Each record's class probabilities, as ``scoring.score`` computes them (without its warnings: production's)."""
    names = loaded.spec.feature_names
    if loaded.fast is not None:
        columns = dict(zip(names, zip(*rows, strict=True), strict=True))
        return np.asarray(loaded.fast.predict_proba(columns, len(rows)))
    return np.asarray(loaded.model.predict_proba(pd.DataFrame(rows, columns=names)))


class ShadowScorer:
    def __init__(
        self,
        write: Writer,
        *,
        limits: RequestLimits | None = None,
        max_records: int = 50_000,
        batch_size: int = 200,
        interval: float = 0.2,
        store_attempts: int = 3,
    ) -> None:
        self._write = write
        self._limits = limits or RequestLimits()
        self._queue: queue.SimpleQueue[ShadowJob] = queue.SimpleQueue()
        self._max_records = max_records
        self._batch_size = batch_size
        self._interval = interval
        self._store_attempts = store_attempts
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._outstanding = 0  # requests queued and not yet handled
        self._queued_records = 0  # their records: what the bound applies to
        self._failures: dict[int, int] = {}  # per shadow, to thin out the log
        self.scored = 0
        self.failed = 0
        self.dropped = 0
        self.unstored = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shadow-scorer", daemon=True)
        self._thread.start()

    # -- the serving side -----------------------------------------------------------------------

    def submit(self, job: ShadowJob) -> bool:
        """Queue ``job`` for the shadow without waiting; False (and counted as dropped) when the queue is full."""
        if self._stop.is_set():
            return False
        with self._lock:
            # An empty queue takes any request, so a bound below one request's size never drops them all.
            if self._outstanding and self._queued_records + job.n_records > self._max_records:
                self.dropped += job.n_records
                return False
            self._outstanding += 1
            self._queued_records += job.n_records
            self._queue.put(job)
        return True

    # -- the shadow's thread --------------------------------------------------------------------

    def _run(self) -> None:
        # Linux sets a thread's nice value by its id: serving threads go first when both want a core.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        while True:
            try:
                first = self._queue.get(timeout=self._interval)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            # Let a batch gather: one vectorised call for many small requests costs a fraction of a call each.
            self._stop.wait(self._interval)
            jobs = [first, *self._take(self._batch_size - 1)]
            try:
                if self._stop.is_set():  # shutting down: what waits is not worth delaying the stop for
                    with self._lock:
                        self.dropped += sum(j.n_records for j in jobs)
                else:
                    self._handle(jobs)
            except Exception:  # the thread must outlive any surprise, or shadowing stops for all
                log.exception("shadow scoring: a batch of %d requests failed unexpectedly", len(jobs))
            finally:
                with self._idle:
                    self._outstanding -= len(jobs)
                    self._queued_records -= sum(j.n_records for j in jobs)
                    self._idle.notify_all()

    def _take(self, most: int) -> list[ShadowJob]:
        jobs: list[ShadowJob] = []
        while len(jobs) < most:
            try:
                jobs.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return jobs

    def _handle(self, jobs: list[ShadowJob]) -> None:
        outputs: list[ShadowOutput] = []
        by_shadow: dict[int, list[ShadowJob]] = {}
        for job in jobs:
            by_shadow.setdefault(job.shadow.shadow_id, []).append(job)
        for group in by_shadow.values():
            outputs += self._score_together(group)
        if not outputs:
            return
        n = sum(len(o.scoring_ids) for o in outputs)
        for attempt in range(1, self._store_attempts + 1):
            try:
                self._write(outputs)
            except Exception as exc:  # noqa: BLE001 - the store's trouble: retried a little, then counted
                self.last_error = f"storing shadow answers failed: {type(exc).__name__}: {exc}"[:500]
                if attempt == self._store_attempts:
                    log.error("shadow scoring: %d answers not stored: %s", n, self.last_error)
                    with self._lock:
                        self.unstored += n
                    return
                threading.Event().wait(min(0.05 * 2**attempt, 1.0))
                continue
            with self._lock:
                self.scored += n
            return

    def _score_together(self, group: list[ShadowJob]) -> list[ShadowOutput]:
        """One shadow's requests scored in one call; if that raises, each alone, so that one bad request fails alone."""
        loaded = group[0].shadow.loaded
        parsed: list[tuple[ShadowJob, list[list[Any]]]] = []
        for job in group:
            try:
                parsed.append((job, self._rows(job, loaded)))
            except Exception as exc:  # noqa: BLE001 - the shadow's spec refuses what production's took
                self._failed(job, exc)
        if not parsed:
            return []
        try:
            return self._outputs(parsed, _probabilities(loaded, [row for _, rows in parsed for row in rows]))
        except Exception as exc:  # noqa: BLE001 - whatever the shadow model does, only the shadow fails
            if len(parsed) == 1:
                self._failed(parsed[0][0], exc)
                return []
        found = []
        for job, rows in parsed:
            try:
                found += self._outputs([(job, rows)], _probabilities(loaded, rows))
            except Exception as exc:  # noqa: BLE001 - as above, for this request alone
                self._failed(job, exc)
        return found

    def _rows(self, job: ShadowJob, loaded: LoadedModel) -> list[list[Any]]:
        """The request's records as the shadow model's spec reads them: checked, in its features' order."""
        fields, values = parse_payload(
            job.payload, loaded.spec, max_rows=self._limits.max_rows, max_fields=self._limits.max_fields
        )
        if len(values) != job.n_records:
            raise ValueError(f"{len(values)} records for the {job.n_records} production scored")
        position = {name: i for i, name in enumerate(fields)}
        order = [position[name] for name in loaded.spec.feature_names]
        return [[row[i] for i in order] for row in values]

    @staticmethod
    def _outputs(parsed: list[tuple[ShadowJob, list[list[Any]]]], proba: np.ndarray) -> list[ShadowOutput]:
        loaded = parsed[0][0].shadow.loaded
        if proba.shape[0] != sum(len(rows) for _, rows in parsed):
            raise ValueError(f"{proba.shape[0]} answers for {sum(len(rows) for _, rows in parsed)} records")
        labels = np.asarray(loaded.classes, dtype=object)[proba.argmax(axis=1)]
        positive = proba[:, loaded.classes.index(loaded.spec.positive_label)]
        out, start = [], 0
        for job, rows in parsed:
            end = start + len(rows)
            out.append(
                ShadowOutput(
                    shadow_id=job.shadow.shadow_id,
                    model_version_id=job.shadow.model_version_id,
                    scoring_ids=tuple(scoring_id(job.request_id, i) for i in range(len(rows))),
                    predictions=tuple(str(label) for label in labels[start:end]),
                    probabilities=tuple(float(p) for p in positive[start:end]),
                    created_at=job.created_at,
                )
            )
            start = end
        return out

    def _failed(self, job: ShadowJob, exc: Exception) -> None:
        shadow = job.shadow
        with self._lock:
            self.failed += job.n_records
            seen = self._failures.get(shadow.shadow_id, 0) + 1
            self._failures[shadow.shadow_id] = seen
        self.last_error = (
            f"shadow {shadow.shadow_id} (model version {shadow.model_version_id}) failed on request "
            f"{job.request_id}: {type(exc).__name__}: {exc}"
        )[:500]
        if seen == 1 or seen % LOG_EVERY == 0:
            log.warning("shadow scoring: %s (failure %d of this shadow)", self.last_error, seen)

    # -- both -----------------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every request queued so far is handled (tests, benchmarks); False if ``timeout`` passed."""
        with self._idle:
            return self._idle.wait_for(lambda: self._outstanding == 0, timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def stats(self) -> ShadowStats:
        return ShadowStats(self.scored, self.failed, self.dropped, self.unstored, self._queued_records, self.last_error)
