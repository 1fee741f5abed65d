"""The payload logger in-process: its write-ahead log, replay, quarantine by bisection, outages, the bound."""

from __future__ import annotations

import json
import pickle
import shutil
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline_core.data.columns import UNSEEN
from pipeline_core.errors import DataError
from pipeline_core.services import governance
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.datasets import (
    count_payload,
    count_quarantined_payload,
    existing_scoring_ids,
    quarantine_payload,
    quarantined_payload,
    store_payload_batch,
)
from pipeline_core.serving import payload_record
from pipeline_core.serving import wal as wal_module
from pipeline_core.serving.app import payload_logger
from pipeline_core.serving.payload_log import PayloadLogger, PayloadLogRefused
from pipeline_core.serving.wal import MAGIC, WriteAheadLog, abandoned_logs, frame, read_segment
from tests.live import Live
from tests.processes import wait_for

POISON = {
    "int-beyond-64-bits": ("LoanDuration", 100000000000000000000),
    "int-in-uint64-range": ("LoanDuration", 2**63),
    "lone-surrogate": ("LoanPurpose", "\ud800"),
}


def request(live: Live, applicants: pd.DataFrame, start: int, n: int = 1, **poison: Any) -> dict[str, Any]:
    """A scored request as the service hands it to the logger."""
    fields = live.spec.feature_names
    values = applicants[fields].iloc[start : start + n].astype(object).values.tolist()
    values = [[v.item() if hasattr(v, "item") else v for v in row] for row in values]
    for name, value in poison.items():
        values[0][fields.index(name)] = value
    return {
        "request_id": uuid.uuid4().hex,
        "deployment_id": live.deployment_id,
        "model_version_id": live.model_version_id,
        "n_records": n,
        "created_at": datetime.now(UTC).replace(tzinfo=None),
        "fields": fields,
        "values": values,
        "predictions": ["No Risk"] * n,
        "probabilities": [0.25] * n,
        UNSEEN: [0] * n,
    }


class Recorder:
    """A writer that stores nothing: records what it was given, fails on demand."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.fail_next = 0
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, batch: Sequence[dict[str, Any]]) -> int:
        self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database is down")  # what an outage looks like to the logger: not a DataError
        self.seen += [r["request_id"] for r in batch]
        return sum(int(r["n_records"]) for r in batch)


def body_of(record: dict[str, Any]) -> bytes:
    """The JSON body a client sent for ``record`` (what the service hands the logger beside it)."""
    return json.dumps({"input_data": [{"fields": record["fields"], "values": record["values"]}]}).encode()


def _no_quarantine(record: dict[str, Any], error: str) -> None:
    raise AssertionError(f"nothing should be quarantined here: {error}")


def plain(i: int, n: int = 1) -> dict[str, Any]:
    """A small request for a logger whose writer does not look inside."""
    return {
        "request_id": f"r{i:04d}",
        "deployment_id": 1,
        "model_version_id": 1,
        "n_records": n,
        "created_at": datetime(2026, 1, 1, 12, 0, i % 60),
        "fields": ["a"],
        "values": [[i]] * n,
        "predictions": ["No Risk"] * n,
        "probabilities": [0.5] * n,
        UNSEEN: [0] * n,
    }


def log(logger: PayloadLogger, record: dict[str, Any]) -> None:
    logger.log(record, body_of(record))


# -- the write-ahead log ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tear", "kept", "zeros"),
    [
        (lambda data: data[:-3], 4, False),  # the last record's bytes cut short
        (lambda data: data + frame(b"x" * 40)[:6], 5, False),  # half a header after the last whole record
        (lambda data: data + frame(b"x" * 40)[:20], 5, False),  # a header and part of its record
        (lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), 4, False),  # the last record's checksum fails
        (lambda data: data + b"\x00" * 5, 5, True),  # zeros after the last record (a preallocated block)
        (lambda data: data + b"\x00" * 64, 5, True),  # zeros that would parse as empty records
    ],
    ids=["cut-record", "half-header", "header-and-part", "bad-checksum", "few-zeros", "many-zeros"],
)
def test_a_torn_tail_is_detected_and_handed_over_unless_it_is_zeros(
    tmp_path: Path, tear: Any, kept: int, zeros: bool
) -> None:
    wal = WriteAheadLog(tmp_path / "wal", sync=False)
    records = [f"record {i} ".encode() * (i + 1) for i in range(5)]
    for data in records:
        assert wal.append(data) == 1
    # A log whose process died mid-write: a copy of ours under another name, torn, its lock held by nobody.
    dead = tmp_path / "wal" / "dead-1"
    shutil.copytree(wal.folder, dead)
    segment = next(dead.glob("segment-*.log"))
    segment.write_bytes(tear(segment.read_bytes()))
    found = list(abandoned_logs(tmp_path / "wal", own=wal.name))
    assert [a.name for a in found] == ["dead-1"]  # ours is held: never someone else's to replay
    [read] = list(found[0].read())
    assert read.records == records[:kept] and read.format == 2
    assert read.tail_at is not None and read.tail_bytes > 0
    torn = segment.read_bytes()[read.tail_at :]
    assert read.tail == (b"" if zeros else torn)  # the bytes to quarantine; zeros alone were never written
    found[0].remove()
    found[0].release()
    assert not dead.exists() and list(abandoned_logs(tmp_path / "wal", own=wal.name)) == []
    wal.close()


def test_a_segment_without_its_header_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "segment-000000001.log"
    path.write_bytes(b"garbage" + frame(b"data"))
    read = read_segment(path)
    assert read.records == [] and read.tail_at == 0 and read.format is None
    assert read.tail == path.read_bytes()  # all of it, for the replayer to keep aside


def test_the_log_rolls_segments_and_deletes_what_is_stored(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal", segment_bytes=4096, sync=False)
    segments = [wal.append(b"r" * 1000) for _ in range(12)]
    assert segments == sorted(segments) and segments[-1] > 2  # about four records a segment
    assert wal.outstanding == 12
    wal.release({n: segments.count(n) for n in set(segments) if n != segments[-1]})
    files = sorted(p.name for p in wal.folder.iterdir())
    assert files == [f"segment-{segments[-1]:09d}.log"]  # sealed and stored: deleted; the current one stays
    wal.release({segments[-1]: segments.count(segments[-1])})
    assert wal.close() is True and not wal.folder.exists()
    assert list((tmp_path / "wal").iterdir()) == []


def test_concurrent_appends_are_all_durable_when_they_return(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal")
    written: list[bytes] = []
    lock = threading.Lock()

    def appender(k: int) -> None:
        for i in range(50):
            data = f"{k}-{i}".encode()
            wal.append(data)
            with lock:
                written.append(data)

    threads = [threading.Thread(target=appender, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_disk = [r for p in sorted(wal.folder.glob("segment-*.log")) for r in read_segment(p).records]
    assert sorted(on_disk) == sorted(written) and len(on_disk) == 400
    assert wal.close() is False  # nothing was released: the log stays for a replay
    assert [a.name for a in abandoned_logs(tmp_path / "wal")] == [wal.name]


# -- the logger ---------------------------------------------------------------------------------


def test_every_logged_request_is_in_the_log_before_log_returns(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.gate.clear()  # the store takes nothing yet
    logger = PayloadLogger(recorder, quarantine=_no_quarantine, wal_dir=tmp_path / "wal", interval=0.01)
    for i in range(20):
        log(logger, plain(i))
    own = next(p for p in (tmp_path / "wal").iterdir() if p.is_dir())
    on_disk = [r for p in sorted(own.glob("segment-*.log")) for r in read_segment(p).records]
    assert len(on_disk) == 20
    assert logger.pending == 20
    recorder.gate.set()
    logger.close()
    assert sorted(recorder.seen) == [f"r{i:04d}" for i in range(20)]
    assert list((tmp_path / "wal").iterdir()) == []  # everything stored: the log removed itself


def test_a_store_outage_is_retried_and_loses_nothing(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.fail_next = 3
    logger = PayloadLogger(recorder, quarantine=_no_quarantine, wal_dir=tmp_path / "wal", interval=0.01)
    for i in range(10):
        log(logger, plain(i))
    wait_for(lambda: len(recorder.seen) == 10, timeout=20, what="the store to come back and take all ten")
    assert recorder.fail_next == 0 and logger.quarantined == 0
    wait_for(lambda: logger.problems() == [], timeout=5, what="the store's failure to clear")
    logger.close()


def test_at_shutdown_what_the_store_refuses_stays_in_the_log_for_the_next_start(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.fail_next = 10**6  # down for good
    logger = PayloadLogger(recorder, quarantine=_no_quarantine, wal_dir=tmp_path / "wal", interval=0.01)
    for i in range(7):
        log(logger, plain(i))
    wait_for(lambda: bool(logger.problems()), timeout=10, what="the outage to show")
    assert "the payload store is failing: RuntimeError: database is down" in logger.problems()[0]
    logger.close()
    assert logger.unstored == 7 and logger.lost == 0
    # The next logger on this folder (the next service start) replays them.
    recorder.fail_next = 0
    again = PayloadLogger(recorder, quarantine=_no_quarantine, wal_dir=tmp_path / "wal", interval=0.01)
    wait_for(lambda: sorted(recorder.seen) == [f"r{i:04d}" for i in range(7)], timeout=10, what="the replay")
    again.close()
    assert again.replayed == 7 and list((tmp_path / "wal").iterdir()) == []


def test_a_full_queue_refuses_with_retry_after_and_an_empty_one_takes_any_request(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.gate.clear()
    logger = PayloadLogger(
        recorder, quarantine=_no_quarantine, wal_dir=tmp_path / "wal", max_records=10, retry_after=3, interval=0.01
    )
    for i in range(10):
        log(logger, plain(i))
    with pytest.raises(PayloadLogRefused, match=r"holds 10 records waiting for the store \(its bound is 10\)") as info:
        log(logger, plain(10))
    assert info.value.status == 503 and info.value.retry_after == 3 and logger.refused == 1
    recorder.gate.set()
    wait_for(lambda: logger.pending == 0, timeout=10, what="the queue to drain")
    log(logger, plain(11, n=50))  # more than the bound, into an empty queue: taken
    logger.close()
    assert "r0010" not in recorder.seen and len(recorder.seen) == 11


def test_a_disk_that_fails_is_a_503_and_never_an_acknowledgement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    logger = PayloadLogger(recorder, quarantine=_no_quarantine, wal_dir=tmp_path / "wal", interval=0.01)

    def full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wal_module, "_datasync", full)
    with pytest.raises(PayloadLogRefused, match="No space left on device") as info:
        log(logger, plain(1))
    assert info.value.status == 503 and "write-ahead log failed" in logger.problems()[0]
    monkeypatch.undo()
    log(logger, plain(2))  # a new segment, past the one that may end in a partial record
    assert logger.problems() == []
    logger.close()
    assert recorder.seen == ["r0002"]


# -- quarantine, against the real store ---------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(POISON))
def test_a_poisoned_request_is_quarantined_and_every_good_one_in_its_batch_stored(
    live: Live, applicants: pd.DataFrame, kind: str
) -> None:
    ctx = live.ctx
    before = count_payload(ctx, SYSTEM, deployment_id=live.deployment_id)
    field, value = POISON[kind]
    good = [request(live, applicants, i * 3, n=3) for i in range(40)]
    bad = request(live, applicants, 200, n=2, **{field: value})
    batch = [*good[:17], bad, *good[17:]]
    with pytest.raises(DataError, match=rf"deployment {live.deployment_id} \(request\(s\) .*\) cannot be encoded"):
        store_payload_batch(ctx, SYSTEM, batch)  # the defect: one request fails its whole batch
    calls: list[list[str]] = []

    def write(requests: Sequence[dict[str, Any]]) -> int:
        calls.append([r["request_id"] for r in requests])
        return store_payload_batch(ctx, SYSTEM, requests)

    # As the service's logger, but its thread waits an hour: this test flushes, so the bad request shares a batch.
    logger = PayloadLogger(
        write,
        quarantine=lambda r, error: quarantine_payload(ctx, SYSTEM, r, error=error),
        wal_dir=ctx.settings.data_dir / "payload" / "wal",
        interval=3600,
        batch_size=1000,
    )
    for r in batch:
        log(logger, r)
    logger.flush()
    assert any(len(c) > 1 and bad["request_id"] in c for c in calls)  # it came in a batch with good ones
    assert logger.quarantined == 1 and logger.written == 120
    assert count_payload(ctx, SYSTEM, deployment_id=live.deployment_id) == before + 120
    ids = [f"{r['request_id']}-{i}" for r in good for i in range(3)]
    assert existing_scoring_ids(ctx, SYSTEM, live.deployment_id, ids) == set(ids)
    [kept] = quarantined_payload(ctx, live.people["max"])
    assert kept.request_id == bad["request_id"] and kept.n_records == 2
    assert f"{field!r}" in kept.error
    assert count_quarantined_payload(ctx, SYSTEM) == 1
    [event] = governance.list_events(ctx, live.people["max"], action="payload.quarantined")
    assert event.object == f"deployment {live.deployment_id}" and event.details["request_id"] == bad["request_id"]
    assert governance.chain_status(ctx, live.people["max"]).ok
    logger.close()


def test_storing_is_idempotent_by_request_id(live: Live, applicants: pd.DataFrame) -> None:
    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    batch = [request(live, applicants, i, n=2) for i in range(5)]
    assert store_payload_batch(live.ctx, SYSTEM, batch[:3]) == 6
    assert store_payload_batch(live.ctx, SYSTEM, batch + batch[:1]) == 4  # a replay: only the new two
    assert count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + 10


def _format_1(record: dict[str, Any]) -> bytes:
    # What the service wrote before the log kept raw bodies: the parsed request, pickled.
    return frame(pickle.dumps({**record, "created_at": record["created_at"].isoformat()}, protocol=5))


@pytest.mark.parametrize(
    ("header", "encode"),
    [
        (MAGIC, lambda r: frame(*payload_record.encode(r, body_of(r)))),
        (b"MLOPSWL1", _format_1),
    ],
    ids=["raw-bodies", "format-1-pickled"],
)
def test_a_replay_of_a_killed_log_stores_each_request_once(
    live: Live, applicants: pd.DataFrame, header: bytes, encode: Any
) -> None:
    root = live.ctx.settings.data_dir / "payload" / "wal"
    requests = [request(live, applicants, i) for i in range(30)]
    store_payload_batch(live.ctx, SYSTEM, requests[:10])  # stored before the kill, still in the log
    dead = root / "4242-deadbeef0000"
    dead.mkdir(parents=True)
    body = b"".join(encode(r) for r in requests)
    (dead / "segment-000000001.log").write_bytes(header + body + frame(b"torn")[:-2])
    (root / "4242-deadbeef0000.lock").touch()
    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    logger = payload_logger(live.ctx)
    wait_for(lambda: not dead.exists(), timeout=20, what="the abandoned log to be replayed and removed")
    logger.close()
    assert count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + 20
    ids = [f"{r['request_id']}-0" for r in requests]
    assert existing_scoring_ids(live.ctx, SYSTEM, live.deployment_id, ids) == set(ids)
    assert not (root / "4242-deadbeef0000.lock").exists()
    # The torn tail (never acknowledged, but not provably so) is set aside, not dropped.
    [torn] = quarantined_payload(live.ctx, SYSTEM)
    assert torn.request_id == f"4242-deadbeef0000/segment-000000001.log@{len(header) + len(body)}"
    assert "are not a whole, intact record" in torn.error and torn.n_records == 0


def test_quarantine_degrades_health_and_the_service_keeps_scoring(live: Live, applicants: pd.DataFrame) -> None:
    assert live.client.get("/health").json()["status"] == "ok"
    bad = request(live, applicants, 0, LoanPurpose="\ud800")
    quarantine_payload(live.ctx, SYSTEM, bad, error="column 'LoanPurpose' cannot be encoded")
    quarantine_payload(live.ctx, SYSTEM, bad, error="again, after a failed audit write")  # still one request
    health = live.client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded" and body["payload_quarantined"] == 1
    assert body["problems"] == ["1 scored request(s) could not be stored and are quarantined"]
    assert live.post(live.payload(applicants.iloc[:2])).status_code == 200


@pytest.mark.parametrize("interval", [0.0, 0.05])
def test_a_record_is_in_its_file_when_append_returns_and_synced_per_answer_or_by_the_syncer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interval: float
) -> None:
    """Interval 0: each append waits for its fdatasync. Else: it waits for the write only (a killed process
    loses nothing: the kernel has it), and the syncer thread syncs what was written, once per interval."""
    synced: list[int] = []
    real = wal_module._datasync

    def counted(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(wal_module, "_datasync", counted)
    wal = WriteAheadLog(tmp_path / "wal", sync=True, sync_interval=interval)
    synced.clear()  # the new segment's header
    records = [f"record {i}".encode() for i in range(3)]
    for data in records:
        wal.append(data)
    # What a process killed now leaves behind: every acknowledged record, whole.
    [segment] = list(wal.folder.glob("segment-*.log"))
    assert read_segment(segment).records == records
    if interval == 0:
        assert len(synced) == 3
    else:
        assert len(synced) <= 1  # no append waited for a sync of its own
        wait_for(lambda: len(synced) >= 1, timeout=5, what="the syncer's pass")
        before = len(synced)
        threading.Event().wait(interval * 4)
        assert len(synced) == before  # nothing written since: nothing synced again
    assert wal.close() is False  # nothing released: the log stays for a replay
