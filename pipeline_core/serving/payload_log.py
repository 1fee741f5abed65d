"""Payload logging: durable before acknowledged, stored in batches by one thread, never stuck on one request.

``log()`` runs on the scoring thread before the response is sent. It reserves room in a
bounded queue (``PayloadLogRefused`` with status 503 when there is none: the service says
"retry later" rather than take what it cannot keep), appends the request's raw body and its
answers to this logger's write-ahead log (``pipeline_core.serving.wal``, records of
``pipeline_core.serving.payload_record``: nothing parsed or pickled on the way) and waits for
its group commit, then queues the parsed request.

A writer thread drains the queue every ``interval`` seconds (or as soon as ``batch_size``
requests wait), stores each batch in one transaction and releases it from the log. A
batch refused for its data (``DataError``: a value the columnar encoding cannot hold) is
halved until the request(s) at fault stand alone; those are quarantined (kept with the
error, counted, audited) and everything else is stored. Any other failure is the store's:
retried with back-off for as long as the service runs, losing nothing (the log has it, and
the queue bound turns a long outage into 503s). At start, and every ``adopt_interval``
seconds, the writer also replays the logs of loggers that are gone (a killed process);
storing is idempotent by request id, so a record stored before the kill is not stored twice.
A replayed body is parsed again with the service's strict parser and ``limits``; a record that
cannot be read back, a torn or corrupt segment tail, and a segment of an unknown format are
quarantined like a request the store refuses (their bytes kept beside the log, ``keep_aside``).

``close()`` drains the queue; whatever the store still refuses then stays in the log, for
the next start to replay (without a log, those records are lost and counted).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_core.errors import DataError, DeploymentError
from pipeline_core.serving import payload_record
from pipeline_core.serving.request import RequestLimits
from pipeline_core.serving.wal import AbandonedLog, SegmentRead, WalError, WriteAheadLog, abandoned_logs, keep_aside

log = logging.getLogger(__name__)

Writer = Callable[[Sequence[dict[str, Any]]], int]
# Sets a request aside durably with why; raises if it could not (then the writer retries).
Quarantine = Callable[[dict[str, Any], str], object]


class PayloadLogRefused(DeploymentError):
    """The payload log cannot keep this request now: the service answers ``status`` (and Retry-After)."""

    def __init__(self, message: str, *, status: int = 503, code: str = "payload_log_full", retry_after: float = 1.0):
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


@dataclass
class _Item:
    record: dict[str, Any]
    n_records: int
    segment: int | None  # the segment of our log holding it (None: no log, or replayed from another's)
    counted: bool = True  # in the queue's bound (False: replayed from an abandoned log)
    done: bool = False


class PayloadLogger:
    def __init__(
        self,
        write: Writer,
        *,
        quarantine: Quarantine,
        wal_dir: Path | None = None,
        durable: bool = True,
        wal_sync: bool = True,
        wal_sync_interval: float = 0.0,
        wal_segment_bytes: int = 4 << 20,
        max_records: int = 200_000,
        retry_after: float = 1.0,
        interval: float = 0.2,
        batch_size: int = 500,
        adopt_interval: float = 30.0,
        limits: RequestLimits | None = None,
    ) -> None:
        self._write = write
        self._limits = limits or RequestLimits()  # what a replayed body is parsed with, as the service does
        self._quarantine = quarantine
        self._interval = interval
        self._batch_size = batch_size
        self._max_records = max_records
        self._retry_after = retry_after
        self._adopt_interval = adopt_interval
        self._wal_dir = wal_dir
        # Without a log (durable False, or no folder) a request is acknowledged from memory: a kill loses it.
        self._wal = (
            WriteAheadLog(wal_dir, segment_bytes=wal_segment_bytes, sync=wal_sync, sync_interval=wal_sync_interval)
            if durable and wal_dir is not None
            else None
        )
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._pending = 0  # records queued and not yet handled; the bound applies to this
        self._count_lock = threading.Lock()
        self._storing = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._giving_up = False
        self.written = 0
        self.quarantined = 0
        self.replayed = 0  # records of abandoned logs this logger stored
        self.refused = 0  # requests answered 503 because the queue was full
        self.lost = 0  # without a log: records the store still refused at shutdown
        self.unstored = 0  # with a log: records left in it at shutdown, for the next start
        self.store_error: str | None = None  # the store's last failure, while it lasts
        self.wal_error: str | None = None  # the log's last failure to write
        self._thread = threading.Thread(target=self._run, name="payload-logger", daemon=True)
        self._thread.start()

    # -- the scoring threads' side --------------------------------------------------------------

    def log(self, record: dict[str, Any], body: bytes) -> None:
        """Keep one scored request (``body`` its JSON as received): on return it survives a kill of this process.

        ``record`` is what the writer stores; the log keeps ``body`` and the answers, from which
        a replay rebuilds ``record``.
        """
        n = int(record["n_records"])
        with self._count_lock:
            if self._stop.is_set():
                raise PayloadLogRefused("the payload log is shutting down", code="shutting_down")
            # An empty queue takes any request, so a bound below one request's size never refuses forever.
            if self._pending and self._pending + n > self._max_records:
                self.refused += 1
                raise PayloadLogRefused(
                    f"the payload log holds {self._pending:,} records waiting for the store "
                    f"(its bound is {self._max_records:,}); retry later",
                    retry_after=self._retry_after,
                )
            self._pending += n
        segment = None
        try:
            if self._wal is not None:
                segment = self._wal.append(*payload_record.encode(record, body))
        except Exception as exc:
            self._unreserve(n)
            if not isinstance(exc, WalError):  # a record the service built wrong: not the caller's to retry
                raise PayloadLogRefused(
                    f"the request cannot be logged: {type(exc).__name__}", status=400, code="payload_not_loggable"
                ) from exc
            self.wal_error = str(exc)
            raise PayloadLogRefused(str(exc), code="payload_log_unavailable", retry_after=self._retry_after) from exc
        if self.wal_error is not None and self._wal is not None:
            self.wal_error = None  # it writes again
        self._enqueue([_Item(record, n, segment)])

    def _unreserve(self, n: int) -> None:
        with self._count_lock:
            self._pending -= n

    def _enqueue(self, items: list[_Item]) -> None:
        for item in items:
            self._queue.put(item)
        if self._queue.qsize() >= self._batch_size:
            self._wake.set()

    # -- the writer thread's side ---------------------------------------------------------------

    def _drain(self) -> list[_Item]:
        batch: list[_Item] = []
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _done(self, items: Sequence[_Item]) -> None:
        counts: Counter[int] = Counter()
        for item in items:
            item.done = True
            if item.segment is not None:
                counts[item.segment] += 1
        self._unreserve(sum(i.n_records for i in items if i.counted))
        if self._wal is not None and counts:
            self._wal.release(counts)

    def _store_or_split(self, items: list[_Item]) -> None:
        """Store ``items``; a batch refused for its data is halved until the culprits stand alone.

        Raises whatever else the store raises: the caller retries what is not done yet.
        """
        try:
            stored = self._write([i.record for i in items])
        except DataError as exc:
            if len(items) == 1:
                self._set_aside(items[0], str(exc))
                return
            middle = len(items) // 2
            self._store_or_split(items[:middle])
            self._store_or_split(items[middle:])
            return
        self.written += stored
        if not items[0].counted:
            self.replayed += stored
        self._done(items)

    def _set_aside(self, item: _Item, error: str) -> None:
        self._quarantine(item.record, error)
        self.quarantined += 1
        log.error(
            "payload logging: request %s (deployment %s, %d records) quarantined: %s",
            item.record.get("request_id"),
            item.record.get("deployment_id"),
            item.n_records,
            error,
        )
        self._done([item])

    def _store(self, batch: list[_Item]) -> bool:
        """Store or set aside every item, retrying the store's failures; False if it gave up at shutdown."""
        attempts = 0
        while True:
            todo = [i for i in batch if not i.done]
            if not todo:
                self.store_error = None
                return True
            try:
                self._store_or_split(todo)
            except Exception as exc:  # noqa: BLE001 - not the data's fault: the store's; retried
                attempts += 1
                self.store_error = f"{type(exc).__name__}: {exc}"[:500]
                # At shutdown a logged record is safe in the log, so give up soon; without one, try harder.
                limit = 3 if self._wal is not None else 20
                if self._stop.is_set() and (self._giving_up or attempts >= limit):
                    self._giving_up = True
                    self._give_up(todo)
                    return False
                log.warning("payload logging: storing %d requests failed (%s); retrying", len(todo), self.store_error)
                threading.Event().wait(min(0.05 * 2**attempts, 2.0))

    def _give_up(self, items: list[_Item]) -> None:
        n = sum(i.n_records for i in items)
        for item in items:
            item.done = True
        self._unreserve(sum(i.n_records for i in items if i.counted))
        if self._wal is not None or not items[0].counted:  # a replayed record is still in its abandoned log
            self.unstored += n
            log.error("payload logging: %d records not stored at shutdown stay in the write-ahead log", n)
        else:
            self.lost += n
            log.error("payload logging: giving up on %d records at shutdown: the store refuses them", n)

    def _flush_once(self) -> int:
        # One batch at a time, taken and stored under the lock: flush() returning means nothing taken
        # off the queue is still on its way to the store (the writer thread's batch included).
        with self._storing:
            batch = self._drain()
            if batch:
                self._store(batch)
            return len(batch)

    def _adopt(self) -> Generator[bool, None, None]:
        """Replay each abandoned log under the log folder into the store, a batch per step."""
        assert self._wal_dir is not None
        own = self._wal.name if self._wal is not None else None
        for abandoned in abandoned_logs(self._wal_dir, own=own):
            complete = True
            try:
                log.warning("payload logging: replaying the abandoned write-ahead log %s", abandoned.folder)
                for segment in abandoned.read():
                    items = [self._replayed_item(abandoned, segment, i, data) for i, data in enumerate(segment.records)]
                    items = [i for i in items if not i.done]  # the unreadable ones are quarantined already
                    for start in range(0, len(items), self._batch_size):
                        if not self._store(items[start : start + self._batch_size]):
                            complete = False
                            break
                        yield True
                    if not complete:
                        break
                    self._set_aside_tail(abandoned, segment)  # once its records are in: quarantined once
                if complete:
                    abandoned.remove()
            finally:
                abandoned.release()
            yield True

    def _set_aside_tail(self, abandoned: AbandonedLog, segment: SegmentRead) -> None:
        """Quarantine what of ``segment`` is not a whole record: a header of an unknown format, a torn or bad tail."""
        if segment.tail_at is None:
            return
        where = f"{abandoned.name}/{segment.path.name}@{segment.tail_at}"
        if not segment.tail:
            log.warning("payload logging: %s: %d zero bytes after the last record; ignored", where, segment.tail_bytes)
            return
        assert self._wal_dir is not None
        kept = keep_aside(self._wal_dir, where.replace("/", "-"), segment.tail)
        if segment.format is None:
            error = (
                f"write-ahead log segment {abandoned.name}/{segment.path.name} starts with {segment.tail[:8]!r}, "
                f"not a format this service reads (MLOPSWL1 or MLOPSWL2); its {segment.tail_bytes:,} bytes are "
                f"kept in {kept}"
            )
        else:
            # Each acknowledgement waited for the write of everything before it: a tail cut short by a kill
            # was never answered. A checksum that fails on bytes later than that may hide answered records.
            error = (
                f"write-ahead log segment {abandoned.name}/{segment.path.name}: {segment.tail_bytes:,} bytes from "
                f"offset {segment.tail_at} are not a whole, intact record (cut short by a kill, or corrupted); "
                f"kept in {kept}"
            )
        record = {"request_id": where, "n_records": 0, "kept_at": str(kept)}
        self._set_aside(_Item(record, 0, None, counted=False), error)

    def _replayed_item(self, abandoned: AbandonedLog, segment: SegmentRead, index: int, data: bytes) -> _Item:
        try:
            if segment.format == 1:
                record = payload_record.decode_format_1(data)
            else:
                record = payload_record.decode(data, self._limits)
            return _Item(record, int(record["n_records"]), None, counted=False)
        except payload_record.RecordUnreadable as exc:  # intact (checksummed) yet unreadable: set aside, as bytes
            where = f"{abandoned.name}/{segment.path.name}#{index}"
            assert self._wal_dir is not None
            kept = keep_aside(self._wal_dir, where.replace("/", "-").replace("#", "-record-"), data)
            record = {"request_id": where, "n_records": 0, **exc.known, "kept_at": str(kept)}
            item = _Item(record, int(record["n_records"]), None, counted=False)
            self._set_aside(item, f"write-ahead log record {where} cannot be replayed: {exc}; kept in {kept}")
            return item

    def _run(self) -> None:
        adoption: Generator[bool, None, None] | None = None
        next_adoption = 0.0  # at once: a previous process may have left a log behind
        while True:
            stopping = self._stop.is_set()
            try:
                while self._flush_once():
                    pass
                if stopping:
                    break
                if self._wal_dir is not None and adoption is None and time.monotonic() >= next_adoption:
                    adoption = self._adopt()
                if adoption is not None:
                    if next(adoption, False):
                        continue  # more to replay: our own queue first, then the next batch
                    adoption = None
                    next_adoption = time.monotonic() + self._adopt_interval
            except Exception:  # the writer must outlive any surprise, or logging stops for all
                log.exception("payload logging: the writer failed unexpectedly; carrying on")
                if adoption is not None:
                    adoption.close()
                adoption = None
                next_adoption = time.monotonic() + self._adopt_interval
            self._wake.wait(self._interval)
            self._wake.clear()
        if adoption is not None:
            adoption.close()  # releases its lock: the rest is replayed at the next start

    def flush(self) -> None:
        """Write everything queued now (from the caller's thread)."""
        while self._flush_once():
            pass

    def close(self) -> None:
        with self._count_lock:
            self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
        if self._wal is not None:
            self._wal.close()

    @property
    def pending(self) -> int:
        """Records acknowledged and not yet stored (what the bound ``max_records`` applies to)."""
        return self._pending

    def problems(self) -> list[str]:
        """Why payload logging is not healthy right now (empty: it is)."""
        out = []
        if self.store_error is not None:
            out.append(f"the payload store is failing: {self.store_error}")
        if self.wal_error is not None:
            out.append(f"the payload write-ahead log failed: {self.wal_error}")
        return out
