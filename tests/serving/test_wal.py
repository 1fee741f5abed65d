"""The write-ahead log's record format: raw bodies replayed through the strict parser; old, torn and unknown files."""

from __future__ import annotations

import json
import pickle
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID, UNSEEN
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.datasets import count_payload, read_payload, store_payload_batch
from pipeline_core.serving import payload_record
from pipeline_core.serving.app import payload_logger
from pipeline_core.serving.payload_log import PayloadLogger
from pipeline_core.serving.payload_record import RecordUnreadable
from pipeline_core.serving.request import RequestLimits
from pipeline_core.serving.wal import MAGIC, frame, quarantine_dir
from tests.live import Live
from tests.processes import wait_for

FIELDS = ["CheckingStatus", "LoanDuration", "LoanAmount"]
DEAD = "4242-deadbeef0000"
SEGMENT = "segment-000000001.log"


def scored(i: int, n: int = 3) -> tuple[dict[str, Any], bytes]:
    """A request as the service hands it to the logger, and its body as the client sent it (spaces and all)."""
    values = [["no_checking", 12 + k, 1000.5 * (k + i)] for k in range(n)]
    body = f'{{ "input_data" : [ {{"fields": {json.dumps(FIELDS)},\n "values": {json.dumps(values)}}} ] }}'.encode()
    record = {
        "request_id": uuid.uuid4().hex,
        "deployment_id": 7,
        "model_version_id": 3,
        "n_records": n,
        "created_at": datetime(2026, 3, 1, 9, 30, i % 60, 123456),
        "fields": FIELDS,
        "values": values,
        "predictions": ["Risk" if k % 2 else "No Risk" for k in range(n)],
        "probabilities": [0.1 + k / 7 for k in range(n)],
        UNSEEN: [k % 3 for k in range(n)],
    }
    return record, body


def encoded(record: dict[str, Any], body: bytes) -> bytes:
    return b"".join(payload_record.encode(record, body))


class Store:
    """A writer that keeps every request it is given (the whole record), and a quarantine beside it."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.quarantined: list[tuple[dict[str, Any], str]] = []

    def __call__(self, batch: Sequence[dict[str, Any]]) -> int:
        self.records += batch
        return sum(int(r["n_records"]) for r in batch)

    def quarantine(self, record: dict[str, Any], error: str) -> None:
        self.quarantined.append((record, error))


def dead_log(root: Path, content: bytes) -> Path:
    """A log left by a killed process: one segment of ``content``, its lock held by nobody."""
    folder = root / DEAD
    folder.mkdir(parents=True)
    (folder / SEGMENT).write_bytes(content)
    (root / f"{DEAD}.lock").touch()
    return folder


def replay(root: Path) -> Store:
    """Start a logger on ``root`` (a service start), let it replay what it finds, stop it."""
    store = Store()
    logger = PayloadLogger(store, quarantine=store.quarantine, wal_dir=root, interval=0.01)
    wait_for(lambda: not (root / DEAD).exists(), timeout=20, what="the abandoned log to be replayed and removed")
    logger.close()
    assert not (root / f"{DEAD}.lock").exists()
    return store


# -- the record ---------------------------------------------------------------------------------


def test_a_record_keeps_the_body_byte_for_byte_and_decodes_to_the_request_as_logged() -> None:
    record, body = scored(1, n=5)
    data = encoded(record, body)
    assert data[0] == payload_record.VERSION and data.endswith(body)
    assert payload_record.decode(data, RequestLimits()) == record


def _refuse_body(record: dict[str, Any], body: bytes) -> bytes:
    return encoded(record, body.replace(b'"fields"', b'"values": [], "fields"'))  # a duplicate key


def _other_version(record: dict[str, Any], body: bytes) -> bytes:
    return b"\x09" + encoded(record, body)[1:]


def _cut_in_answers(record: dict[str, Any], body: bytes) -> bytes:
    parts = payload_record.encode(record, body)
    return b"".join(parts[:3]) + parts[3][:5]


def _label_beyond(record: dict[str, Any], body: bytes) -> bytes:
    parts = payload_record.encode(record, body)
    parts[2] = b"\x09\x00" * record["n_records"]
    return b"".join(parts)


def _fewer_records(record: dict[str, Any], body: bytes) -> bytes:
    fewer = json.dumps({"input_data": [{"fields": record["fields"], "values": record["values"][1:]}]})
    return encoded(record, fewer.encode())


def _bad_header(record: dict[str, Any], body: bytes) -> bytes:
    data = bytearray(encoded(record, body))
    data[5] = ord("[")  # the header's JSON no longer an object
    return bytes(data)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_refuse_body, r"its body is refused on replay: .*key 'values' appears more than once"),
        (_other_version, r"record format 9 is not one this service reads \(it reads 2\)"),
        (_cut_in_answers, r"the record ends inside its answers \(3 records announced\)"),
        (_label_beyond, r"a prediction refers to a label beyond the 2 the record names"),
        (_fewer_records, r"its body holds 2 records where the header says 3"),
        (_bad_header, r"the record's header is not the one written"),
        (lambda r, b: b"\x02", r"a record of 1 bytes is shorter than its header"),
    ],
    ids=["body-refused", "other-version", "cut-in-answers", "label-beyond", "fewer-records", "bad-header", "short"],
)
def test_a_record_that_is_not_as_written_is_refused_naming_why(damage: Any, message: str) -> None:
    record, body = scored(0, n=3)
    with pytest.raises(RecordUnreadable, match=message):
        payload_record.decode(damage(record, body), RequestLimits())


def test_replay_parses_with_the_services_limits() -> None:
    record, body = scored(0, n=3)
    with pytest.raises(RecordUnreadable, match=r"its body is refused on replay: .*nests .* levels deep"):
        payload_record.decode(encoded(record, body), RequestLimits(max_depth=2))


# -- replaying abandoned logs -------------------------------------------------------------------


def test_raw_bodies_replay_into_the_store_exactly_as_acknowledged(live: Live, applicants: pd.DataFrame) -> None:
    ctx = live.ctx
    root = ctx.settings.data_dir / "payload" / "wal"
    fields = live.spec.feature_names
    requests: list[tuple[dict[str, Any], bytes]] = []
    for i in range(6):
        n = 1 + i % 3
        values = json.loads(applicants[fields].iloc[i * 3 : i * 3 + n].to_json(orient="values"))
        if i == 4:
            values[0][fields.index("LoanPurpose")] = "spaceship"  # an unseen category, counted as answered
        record = {
            "request_id": uuid.uuid4().hex,
            "deployment_id": live.deployment_id,
            "model_version_id": live.model_version_id,
            "n_records": n,
            "created_at": datetime(2026, 3, 1, 9, 30, i),
            "fields": fields,
            "values": values,
            "predictions": ["Risk" if (i + k) % 2 else "No Risk" for k in range(n)],
            "probabilities": [1 / (3 + i + k) for k in range(n)],
            UNSEEN: [int(i == 4 and k == 0) for k in range(n)],
        }
        requests.append((record, json.dumps({"input_data": [{"fields": fields, "values": values}]}).encode()))

    def store_down(batch: Sequence[dict[str, Any]]) -> int:
        raise RuntimeError("database is down")

    # A service that acknowledged them all and could store none: they stay in its log for the next start.
    others = set(root.iterdir()) if root.exists() else set()  # the live service's own log
    down = PayloadLogger(store_down, quarantine=lambda r, e: None, wal_dir=root, interval=0.01)
    for record, body in requests:
        down.log(record, body)
    down.close()
    assert down.unstored == sum(r["n_records"] for r, _ in requests)
    store_payload_batch(ctx, SYSTEM, [requests[0][0]])  # one stored before the outage: not stored twice
    before = count_payload(ctx, SYSTEM, deployment_id=live.deployment_id)
    expected = before + sum(r["n_records"] for r, _ in requests[1:])
    logger = payload_logger(ctx)  # the next start
    wait_for(
        lambda: count_payload(ctx, SYSTEM, deployment_id=live.deployment_id) >= expected,
        timeout=20,
        what="the log to be replayed",
    )
    logger.close()
    assert count_payload(ctx, SYSTEM, deployment_id=live.deployment_id) == expected
    assert set(root.iterdir()) == others  # replayed, then removed; the new log closed empty
    stored = read_payload(ctx, SYSTEM, live.deployment_id, scoring_ids=True).set_index(SCORING_ID)
    for record, _ in requests:
        for k in range(record["n_records"]):
            row = stored.loc[f"{record['request_id']}-{k}"]
            assert [row[f] for f in fields] == record["values"][k]
            assert row[PREDICTION] == record["predictions"][k]
            assert row[PROBABILITY] == record["probabilities"][k]  # the f64 as answered, bit for bit
            assert row[UNSEEN] == record[UNSEEN][k]


def test_a_replayed_body_the_parser_refuses_is_quarantined_and_the_others_stored(tmp_path: Path) -> None:
    root = tmp_path / "wal"
    good = [scored(i) for i in range(3)]
    bad, bad_body = scored(9)
    refused = _refuse_body(bad, bad_body)
    dead_log(root, MAGIC + b"".join(frame(encoded(*r)) for r in good[:2]) + frame(refused) + frame(encoded(*good[2])))
    store = replay(root)
    assert [r["request_id"] for r in store.records] == [r["request_id"] for r, _ in good]
    assert store.records == [r for r, _ in good]  # rebuilt from the bodies: what was logged, exactly
    [(record, error)] = store.quarantined
    assert record["request_id"] == bad["request_id"] and record["n_records"] == 3
    assert f"write-ahead log record {DEAD}/{SEGMENT}#2 cannot be replayed: its body is refused on replay" in error
    assert Path(record["kept_at"]).read_bytes() == refused and Path(record["kept_at"]).parent == quarantine_dir(root)


@pytest.mark.parametrize(
    ("tear", "kept"),
    [
        (lambda data: data[:-7], 2),  # the last record cut short (a kill mid-write)
        (lambda data: data[:-1] + bytes([data[-1] ^ 0x01]), 2),  # the last record's checksum fails
        (lambda data: data + b"\xde\xad" * 9, 3),  # bytes after the last record that are no record
    ],
    ids=["truncated", "corrupted", "garbage-after"],
)
def test_a_torn_or_corrupt_tail_is_quarantined_and_the_records_before_it_stored(
    tmp_path: Path, tear: Any, kept: int
) -> None:
    root = tmp_path / "wal"
    requests = [scored(i) for i in range(3)]
    whole = MAGIC + b"".join(frame(encoded(*r)) for r in requests)
    content = tear(whole)
    dead_log(root, content)
    store = replay(root)
    assert store.records == [r for r, _ in requests[:kept]]
    [(record, error)] = store.quarantined
    offset = len(MAGIC) + sum(len(frame(encoded(*r))) for r in requests[:kept])
    assert record["request_id"] == f"{DEAD}/{SEGMENT}@{offset}"
    assert f"{len(content) - offset:,} bytes from offset {offset} are not a whole, intact record" in error
    assert Path(record["kept_at"]).read_bytes() == content[offset:]


def test_zeros_after_the_last_record_are_not_quarantined(tmp_path: Path) -> None:
    root = tmp_path / "wal"
    requests = [scored(i) for i in range(2)]
    dead_log(root, MAGIC + b"".join(frame(encoded(*r)) for r in requests) + b"\x00" * 4096)
    store = replay(root)
    assert store.records == [r for r, _ in requests] and store.quarantined == []


def test_an_old_format_log_still_replays(tmp_path: Path) -> None:
    root = tmp_path / "wal"
    requests = [scored(i)[0] for i in range(4)]
    # Format 1, as the service wrote it before: each parsed request pickled, its time as ISO text.
    records = [pickle.dumps({**r, "created_at": r["created_at"].isoformat()}, protocol=5) for r in requests]
    dead_log(root, b"MLOPSWL1" + b"".join(frame(r) for r in records))
    store = replay(root)
    assert store.records == requests and store.quarantined == []


def test_an_old_format_record_that_names_code_is_quarantined_never_run(tmp_path: Path) -> None:
    root = tmp_path / "wal"
    good = scored(0)[0]
    evil = pickle.dumps({"request_id": "x", "n_records": 1, "created_at": datetime(2026, 1, 1)}, protocol=5)
    ok = pickle.dumps({**good, "created_at": good["created_at"].isoformat()}, protocol=5)
    dead_log(root, b"MLOPSWL1" + frame(evil) + frame(ok))
    store = replay(root)
    assert store.records == [good]
    [(record, error)] = store.quarantined
    assert record["request_id"] == f"{DEAD}/{SEGMENT}#0"
    assert "a format-1 record cannot be read: UnpicklingError: a payload log record names datetime.datetime" in error


def test_a_segment_of_an_unknown_format_is_quarantined_with_a_clear_message(tmp_path: Path) -> None:
    root = tmp_path / "wal"
    record, body = scored(0)
    content = b"MLOPSWL9" + frame(encoded(record, body))
    dead_log(root, content)
    store = replay(root)
    assert store.records == []
    [(kept, error)] = store.quarantined
    assert kept["request_id"] == f"{DEAD}/{SEGMENT}@0"
    assert error.startswith(
        f"write-ahead log segment {DEAD}/{SEGMENT} starts with b'MLOPSWL9', not a format this service reads "
        f"(MLOPSWL1 or MLOPSWL2); its {len(content):,} bytes are kept in "
    )
    assert Path(kept["kept_at"]).read_bytes() == content  # nothing lost: a later version may read it
