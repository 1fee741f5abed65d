"""One acknowledged request as a write-ahead log record: its body as received, what was answered; and back.

A record (format 2, the first byte) is the request's raw JSON body, exactly the bytes the
service validated, behind a small header: a JSON object (request id, deployment, model
version, record count, time, the distinct predicted labels) and three packed little-endian
arrays, one entry per record: the label's index (u16), the positive class's probability
(f64) and the count of unseen categories (u32). Nothing is parsed or pickled before the
answer; replay parses the body again with the service's strict parser
(``pipeline_core.serving.request.parse_json``), so it needs no model, and a body it refuses
is set aside, never stored half-read.

Format 1 (segments headed ``MLOPSWL1``, before this module) pickled the parsed request; its
records still replay, through an unpickler that resolves no global (data, never code).
"""

from __future__ import annotations

import io
import json
import pickle
import struct
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline_core.data.columns import UNSEEN
from pipeline_core.serving.request import BodyRefused, RequestLimits, parse_json

VERSION = 2
_HEAD = struct.Struct("<BI")  # format, length of the JSON header
_META_KEYS = ("request_id", "deployment_id", "model_version_id", "n_records", "created_at", "labels")


class RecordUnreadable(ValueError):
    """A log record that cannot be turned back into its request; ``known`` is what could be read of it."""

    def __init__(self, message: str, known: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.known = dict(known or {})


def encode(record: Mapping[str, Any], body: bytes) -> list[bytes]:
    """The parts of ``record``'s log record (the WAL joins them once), ``body`` last and not copied."""
    n = int(record["n_records"])
    predictions = record["predictions"]
    labels = list(dict.fromkeys(predictions))  # in order of first appearance: usually one or two
    position = {label: i for i, label in enumerate(labels)}
    meta = {
        "request_id": record["request_id"],
        "deployment_id": record["deployment_id"],
        "model_version_id": record["model_version_id"],
        "n_records": n,
        "created_at": record["created_at"].isoformat(),
        "labels": labels,
    }
    head = json.dumps(meta, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return [
        _HEAD.pack(VERSION, len(head)),
        head,
        struct.pack(f"<{n}H", *[position[p] for p in predictions]),
        struct.pack(f"<{n}d", *record["probabilities"]),
        struct.pack(f"<{n}I", *record[UNSEEN]),
        body,
    ]


def decode(data: bytes, limits: RequestLimits) -> dict[str, Any]:
    """The request a format-2 record holds, as the service handed it to the logger; ``RecordUnreadable`` if not."""
    if len(data) < _HEAD.size:
        raise RecordUnreadable(f"a record of {len(data)} bytes is shorter than its header")
    version, head_len = _HEAD.unpack_from(data)
    if version != VERSION:
        raise RecordUnreadable(f"record format {version} is not one this service reads (it reads {VERSION})")
    start = _HEAD.size
    try:
        meta = json.loads(data[start : start + head_len])
        if not isinstance(meta, dict) or sorted(meta) != sorted(_META_KEYS):
            raise ValueError(f"its keys are {sorted(meta) if isinstance(meta, dict) else type(meta).__name__}")
        n, labels = int(meta["n_records"]), meta["labels"]
        created_at = datetime.fromisoformat(str(meta["created_at"]))
    except ValueError as exc:
        raise RecordUnreadable(f"the record's header is not the one written: {exc}") from exc
    known = {k: meta[k] for k in ("request_id", "deployment_id", "model_version_id", "n_records")}
    pos = start + head_len
    arrays = []
    for code, width in (("H", 2), ("d", 8), ("I", 4)):
        if pos + n * width > len(data):
            raise RecordUnreadable(f"the record ends inside its answers ({n} records announced)", known)
        arrays.append(list(struct.unpack_from(f"<{n}{code}", data, pos)))
        pos += n * width
    indexes, probabilities, unseen = arrays
    if any(i >= len(labels) for i in indexes):
        raise RecordUnreadable(f"a prediction refers to a label beyond the {len(labels)} the record names", known)
    body = data[pos:]
    try:
        document = parse_json(body, limits)
    except BodyRefused as exc:
        raise RecordUnreadable(f"its body is refused on replay: {exc}", known) from exc
    fields, values = _envelope(document, n, known)
    return {
        **known,
        "created_at": created_at,
        "fields": fields,
        "values": values,
        "predictions": [labels[i] for i in indexes],
        "probabilities": probabilities,
        UNSEEN: unseen,
    }


def _envelope(document: Any, n: int, known: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    # The body passed every check before it was answered: anything else here is a record not as written.
    try:
        block = document["input_data"][0]
        fields, values = block["fields"], block["values"]
    except (KeyError, IndexError, TypeError) as exc:
        raise RecordUnreadable(f"its body has no input_data[0].fields and .values ({exc!r})", known) from exc
    if not isinstance(fields, list) or not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise RecordUnreadable(f"its body holds {got} records where the header says {n}", known)
    return fields, values


class _PlainData(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a payload log record names {module}.{name}; records hold plain data only")


def decode_format_1(data: bytes) -> dict[str, Any]:
    """A record of a format-1 segment (a pickled request), as the service handed it to the logger."""
    try:
        value = _PlainData(io.BytesIO(data)).load()
        if not isinstance(value, dict):
            raise pickle.UnpicklingError(f"a payload log record is a {type(value).__name__}, not a mapping")
        value["created_at"] = datetime.fromisoformat(str(value["created_at"]))
        int(value["n_records"])
    except Exception as exc:  # whatever the bytes provoke, the record is unreadable
        raise RecordUnreadable(f"a format-1 record cannot be read: {type(exc).__name__}: {exc}") from exc
    return value
