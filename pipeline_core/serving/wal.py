"""The payload write-ahead log: each scored request is on disk, synced, before its answer is sent.

A log is one folder of segment files under the log root, owned by one ``PayloadLogger``
(one per service process, or several in one process in tests) through an exclusive
``flock`` on ``<root>/<name>.lock`` held for as long as it lives. A record is
``<length u32><crc32 u32><bytes>``; a segment starts with ``MAGIC``. Appends are group
committed: the first caller that finds no sync in flight writes and syncs everything
appended so far while the others wait, so under load one ``fdatasync`` covers many
requests and an idle service pays one per request (no timer adds latency).

With a ``sync_interval`` (the default setting), an append returns once its record is written
to the file (the kernel has it: a killed process loses nothing) and a syncer thread
``fdatasync``s what was written every ``sync_interval`` seconds, so the machine going down
loses at most that much of the newest records, and no answer waits for the disk. With
``sync_interval`` 0 every answer waits for the sync of its record.

The writer thread stores the records and then releases them; a sealed segment whose
records are all released is deleted, and a log closed with nothing outstanding removes
itself. A log whose lock nobody holds was abandoned (its process died, or stopped with the
store out of reach): ``abandoned_logs`` hands it to another logger to replay. A record cut
short by a kill ends its segment: nothing after it was acknowledged (each acknowledgement
waits for the write of everything before it). One whose checksum does not match (the disk)
ends it too, but may hide acknowledged records after it: hence the rest is kept, below.

A segment's first 8 bytes name its format: ``MLOPSWL2`` (``MAGIC``, written now) holds records of
``pipeline_core.serving.payload_record`` (the request's raw body and what was answered);
``MLOPSWL1`` (written before) holds pickled requests, still replayed. A segment of any other
header, and the bytes of a torn or corrupt tail that are not just zeros, are kept aside
(``keep_aside``) in a folder next to the log for the replayer to quarantine: never silently dropped.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import struct
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline_core.errors import DeploymentError

log = logging.getLogger(__name__)

MAGIC = b"MLOPSWL2"  # a segment's header: the format of its records
FORMATS = {b"MLOPSWL1": 1, MAGIC: 2}
_HEADER = struct.Struct("<II")
# A request holds at most max_scoring_rows records: far below this. A longer length is a torn header.
MAX_RECORD_BYTES = 1 << 30
_SEGMENT_GLOB = "segment-*.log"


class WalError(DeploymentError):
    """The write-ahead log cannot take a record (the disk is full or failing)."""


def _sync_dir(path: Path) -> None:
    # A new file's name is durable only once its folder is synced.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_datasync = getattr(os, "fdatasync", os.fsync)


def frame(*parts: bytes) -> bytes:
    """One record as it is written: length, checksum, then ``parts`` joined (one copy)."""
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return b"".join([_HEADER.pack(sum(len(p) for p in parts), crc), *parts])


@dataclass
class SegmentRead:
    """What one segment file gave back: its whole records and where a torn or corrupt tail began."""

    path: Path
    records: list[bytes]
    format: int | None  # of its records (``FORMATS``); None: a header this version does not know
    tail_at: int | None = None  # byte offset of the first record that is not whole and intact
    tail_bytes: int = 0
    tail: bytes = b""  # those bytes, unless they are only zeros (preallocated, never written)


def read_segment(path: Path) -> SegmentRead:
    """The whole, intact records of ``path``, in order; reading stops at the first one that is not."""
    data = path.read_bytes()
    out = SegmentRead(path, [], FORMATS.get(data[: len(MAGIC)]))
    if out.format is None:
        out.tail_at, out.tail_bytes, out.tail = 0, len(data), data
        return out
    pos = len(MAGIC)
    while pos < len(data):
        if pos + _HEADER.size > len(data):
            break
        length, crc = _HEADER.unpack_from(data, pos)
        start, end = pos + _HEADER.size, pos + _HEADER.size + length
        # No record is empty: a zero length is a block of zeros (preallocated, never written), not a record.
        if not 0 < length <= MAX_RECORD_BYTES or end > len(data) or zlib.crc32(data[start:end]) != crc:
            break
        out.records.append(data[start:end])
        pos = end
    if pos < len(data):
        tail = data[pos:]
        out.tail_at, out.tail_bytes = pos, len(tail)
        out.tail = tail if tail.strip(b"\x00") else b""
    return out


def quarantine_dir(root: Path) -> Path:
    """Where the bytes a replay could not read are kept: beside the log folder, never taken for a log."""
    return root.with_name(f"{root.name}-quarantined")


def keep_aside(root: Path, name: str, data: bytes) -> Path:
    """``data`` in ``quarantine_dir(root)/name``, synced; the same name again replaces it (a retried replay)."""
    folder = quarantine_dir(root)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    partial = folder / f".{name}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    _sync_dir(folder)
    return path


def _segment_number(path: Path) -> int:
    return int(path.stem.removeprefix("segment-"))


def _segment_path(folder: Path, number: int) -> Path:
    return folder / f"segment-{number:09d}.log"


@dataclass
class _Segment:
    number: int
    path: Path
    fd: int | None
    size: int
    appended: int = 0  # records whose append succeeded (or is in flight)
    released: int = 0  # records the writer stored (or set aside)


@dataclass
class _Group:
    """The records one sync covers; their appenders wait on it."""

    records: list[tuple[_Segment, bytes]] = field(default_factory=list)
    done: bool = False
    error: str | None = None


class WriteAheadLog:
    """This logger's own log under ``root``: append (durable on return), release, close."""

    def __init__(
        self, root: Path, *, segment_bytes: int = 4 << 20, sync: bool = True, sync_interval: float = 0.0
    ) -> None:
        self.root = root
        self.segment_bytes = segment_bytes
        self.sync = sync
        # Synced by the syncer thread, not before each answer (``sync`` must be on for it to mean anything).
        self.sync_interval = sync_interval if sync else 0.0
        self._unsynced: set[int] = set()  # segments written since the syncer's last pass
        root.mkdir(parents=True, exist_ok=True)
        # The lock first, the folder second: a folder without its lock file is never a live one.
        self.name, self._lock_path, self._lock_fd = _new_lock(root)
        self.folder = root / self.name
        self.folder.mkdir()
        _sync_dir(root)
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._segments: dict[int, _Segment] = {}
        self._current = self._open_segment(1)
        self._group = _Group()  # appended, waiting for the next sync
        self._flushing = False
        self._rotate = False  # after a failed write: the current segment may end in a partial record
        self._closed = False
        self.syncs = 0
        self._syncer: threading.Thread | None = None
        self._stop_syncing = threading.Event()
        if self.sync_interval > 0:
            self._syncer = threading.Thread(target=self._sync_every_interval, name="payload-wal-sync", daemon=True)
            self._syncer.start()

    def _sync_every_interval(self) -> None:
        while not self._stop_syncing.wait(self.sync_interval):
            self.sync_now()

    def sync_now(self) -> None:
        """``fdatasync`` every segment written since the last pass (the syncer's work, also at close)."""
        with self._cond:
            # Duplicates, so that a segment closed meanwhile (sealed) cannot hand its number to another file.
            fds = [os.dup(seg.fd) for n in self._unsynced if (seg := self._segments.get(n)) and seg.fd is not None]
            self._unsynced.clear()
        for fd in fds:
            try:
                _datasync(fd)
            except OSError as exc:  # the next append's write meets the failing disk and refuses with a 503
                log.error("payload write-ahead log %s: syncing failed: %s", self.folder, exc)
            finally:
                os.close(fd)

    def _open_segment(self, number: int) -> _Segment:
        path = _segment_path(self.folder, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        try:
            os.write(fd, MAGIC)
            if self.sync:
                _datasync(fd)
                _sync_dir(self.folder)
        except OSError:
            os.close(fd)
            raise
        segment = _Segment(number, path, fd, len(MAGIC))
        self._segments[number] = segment
        return segment

    def append(self, *parts: bytes) -> int:
        """Write ``parts`` as one record; returns once it is written (and synced, without an interval).

        Returns the number of the segment holding it.
        """
        record = frame(*parts)
        with self._cond:
            if self._closed:
                raise WalError(f"payload write-ahead log {self.folder} is closed")
            if self._rotate or self._current.size >= self.segment_bytes:
                try:
                    self._current = self._open_segment(self._current.number + 1)
                except OSError as exc:
                    raise WalError(f"payload write-ahead log {self.folder}: no new segment: {exc}") from exc
                self._rotate = False
                self._close_sealed()
            segment = self._current
            segment.appended += 1
            segment.size += len(record)
            group = self._group
            group.records.append((segment, record))
            while not group.done:
                if self._flushing:
                    self._cond.wait()
                    continue
                self._flush_locked()
            if group.error is not None:
                raise WalError(f"payload write-ahead log {self.folder} cannot be written: {group.error}")
            return segment.number

    def _flush_locked(self) -> None:
        # The leader of a group commit: takes everything buffered, writes and syncs it without the lock.
        group, self._group = self._group, _Group()
        batch = group.records
        self._flushing = True
        self._mutex.release()
        error: OSError | None = None
        try:
            touched: dict[int, int] = {}
            for segment, chunk in _grouped(batch):
                assert segment.fd is not None
                view = memoryview(chunk)
                while view:
                    view = view[os.write(segment.fd, view) :]
                touched[segment.number] = segment.fd
            if self.sync and not self.sync_interval:
                for fd in touched.values():
                    _datasync(fd)
        except OSError as exc:
            error = exc
        finally:
            self._mutex.acquire()
        self._unsynced.update(touched)
        self._flushing = False
        self.syncs += 1
        if error is not None:
            log.error("payload write-ahead log %s: writing %d records failed: %s", self.folder, len(batch), error)
            group.error = str(error)
            for segment, _chunk in batch:
                segment.appended -= 1
            self._rotate = True
        group.done = True
        self._close_sealed()
        self._cond.notify_all()

    def _close_sealed(self) -> None:
        # A segment no longer current, with nothing left to write, is closed; deleted once all released.
        waiting = {segment.number for segment, _ in self._group.records}
        for segment in list(self._segments.values()):
            if segment is self._current or segment.number in waiting or self._flushing:
                continue
            if segment.fd is not None:
                if segment.number in self._unsynced:  # sealed before the syncer's pass: synced on the way out
                    try:
                        _datasync(segment.fd)
                    except OSError as exc:
                        log.error("payload write-ahead log %s: syncing a sealed segment failed: %s", self.folder, exc)
                    self._unsynced.discard(segment.number)
                os.close(segment.fd)
                segment.fd = None
            if segment.released >= segment.appended:
                segment.path.unlink(missing_ok=True)
                del self._segments[segment.number]

    def release(self, counts: Mapping[int, int]) -> None:
        """``counts[n]`` records of segment ``n`` are in the store (or set aside): they need no replay."""
        with self._cond:
            for number, n in counts.items():
                segment = self._segments.get(number)
                if segment is not None:
                    segment.released += n
            if not self._flushing:
                self._close_sealed()

    @property
    def outstanding(self) -> int:
        """Records appended and not yet released."""
        with self._cond:
            return sum(s.appended - s.released for s in self._segments.values())

    def close(self) -> bool:
        """Stop taking records; remove the log if nothing is outstanding. True if it was removed."""
        if self._syncer is not None:
            self._stop_syncing.set()
            self._syncer.join()
            self.sync_now()
        with self._cond:
            while self._flushing:
                self._cond.wait()
            self._closed = True
            outstanding = sum(s.appended - s.released for s in self._segments.values())
            for segment in self._segments.values():
                if segment.fd is not None:
                    os.close(segment.fd)
                    segment.fd = None
            if not outstanding:
                for segment in self._segments.values():
                    segment.path.unlink(missing_ok=True)
                self._segments.clear()
                self.folder.rmdir()
                self._lock_path.unlink(missing_ok=True)
            else:
                log.warning(
                    "payload write-ahead log %s keeps %d records not yet stored; the next service start replays them",
                    self.folder,
                    outstanding,
                )
            os.close(self._lock_fd)  # the lock goes with it: the log is now someone else's to replay
            return not outstanding


def _holds(fd: int, path: Path) -> bool:
    """Whether the file locked through ``fd`` is still the one at ``path`` (not deleted meanwhile)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _new_lock(root: Path) -> tuple[str, Path, int]:
    # A replayer that opened our fresh lock file before we locked it takes it for an empty abandoned
    # log and deletes it: we then either fail to lock it, or lock a deleted file. Take another name.
    for _ in range(5):
        name = f"{os.getpid()}-{secrets.token_hex(6)}"
        path = root / f"{name}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if _holds(fd, path):
            return name, path, fd
        os.close(fd)
    raise WalError(f"payload write-ahead log under {root}: no lock of its own after 5 attempts")


def _grouped(batch: list[tuple[_Segment, bytes]]) -> Iterator[tuple[_Segment, bytes]]:
    # Records of one segment, in order, joined into one write.
    run: list[bytes] = []
    current: _Segment | None = None
    for segment, record in batch:
        if current is not None and segment is not current:
            yield current, b"".join(run)
            run = []
        current = segment
        run.append(record)
    if current is not None and run:
        yield current, b"".join(run)


@dataclass
class AbandonedLog:
    """A log whose owner is gone, locked by us while we replay it."""

    name: str
    folder: Path
    lock_path: Path
    lock_fd: int
    segments: list[Path] = field(default_factory=list)

    def read(self) -> Iterator[SegmentRead]:
        for path in self.segments:
            yield read_segment(path)

    def remove(self) -> None:
        """Everything in it is stored: delete its segments, its folder, then its lock file."""
        for path in self.segments:
            path.unlink(missing_ok=True)
        if self.folder.exists():
            for leftover in self.folder.iterdir():
                leftover.unlink(missing_ok=True)
            self.folder.rmdir()
        self.lock_path.unlink(missing_ok=True)

    def release(self) -> None:
        os.close(self.lock_fd)


def abandoned_logs(root: Path, *, own: str | None = None) -> Iterator[AbandonedLog]:
    """Each log under ``root`` that no live logger holds, locked for the caller until it is released.

    A lock another logger holds (in this process or another) is skipped; a folder without its
    lock file (a replay that stopped between deleting the two) gets one.
    """
    if not root.is_dir():
        return
    names = {p.stem for p in root.glob("*.lock")} | {p.name for p in root.iterdir() if p.is_dir()}
    for name in sorted(names - {own}):
        lock_path = root / f"{name}.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            log.error("payload write-ahead log %s: cannot open its lock: %s", lock_path, exc)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # alive: its owner holds it
            continue
        folder = root / name
        if not _holds(fd, lock_path):
            os.close(fd)  # another replayer finished it (and deleted this file) between our open and our lock
            continue
        segments = sorted(folder.glob(_SEGMENT_GLOB), key=_segment_number) if folder.is_dir() else []
        yield AbandonedLog(name, folder, lock_path, fd, segments)
