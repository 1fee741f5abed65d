"""Batched, asynchronous payload logging: requests enqueue, one thread writes.

Scoring threads only append to a queue; a writer thread drains it every ``interval``
seconds (or as soon as ``batch_size`` records wait) and stores each batch in one
transaction. ``close()`` drains everything still queued, so nothing acknowledged is lost
on a clean shutdown. A failed write is retried; only a store still failing at shutdown
after many attempts loses records, and that is logged with the count.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Writer = Callable[[Sequence[dict[str, Any]]], int]


class PayloadLogger:
    def __init__(self, write: Writer, *, interval: float = 0.2, batch_size: int = 500) -> None:
        self._write = write
        self._interval = interval
        self._batch_size = batch_size
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.written = 0
        self.lost = 0
        self._thread = threading.Thread(target=self._run, name="payload-logger", daemon=True)
        self._thread.start()

    def log(self, records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            self._queue.put(record)
        if self._queue.qsize() >= self._batch_size:
            self._wake.set()

    def _drain(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _flush_once(self) -> int:
        batch = self._drain()
        attempts = 0
        while batch:
            try:
                self.written += self._write(batch)
                return len(batch)
            except Exception:
                attempts += 1
                if self._stop.is_set() and attempts >= 20:
                    log.error("payload logging: giving up on %d records after %d attempts", len(batch), attempts)
                    self.lost += len(batch)
                    return len(batch)
                log.exception("payload logging: writing %d records failed; retrying", len(batch))
                threading.Event().wait(min(0.05 * 2**attempts, 2.0))
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            while self._flush_once():
                pass

    def flush(self) -> None:
        """Write everything queued now (from the caller's thread)."""
        while self._flush_once():
            pass

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()

    @property
    def pending(self) -> int:
        return self._queue.qsize()
