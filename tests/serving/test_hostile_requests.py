"""Hostile scoring requests: each measured way to get a 500, burn CPU or store the unstorable is a 4xx now.

The reproductions of issue 15, table-driven: a payload that used to answer 500 (deep nesting,
huge integers), to cost seconds (50,000 field names), to score what should not be scored (1e308,
2**63, a lone surrogate, 2 MB strings, unknown keys, duplicate keys) or to be accepted whatever it
claimed to be (Content-Type). Each is refused with the status and a message naming the value.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline_core.config import Settings
from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ConfigError, ScoringInputError
from pipeline_core.scoring import parse_payload
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.datasets import existing_scoring_ids
from pipeline_core.serving.request import RequestLimits, nesting_depth, parse_json
from pipeline_core.serving.server import BackgroundServer
from tests.serving.inprocess import Served, served
from tests.states import States

PLACEHOLDER = "\x00raw\x00"
Body = Callable[[Served], bytes]


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return generate_german_credit(5, seed=5)


@pytest.fixture
def app(states: States, tmp_path: Path) -> Iterator[Served]:
    with served(states, tmp_path) as s:
        yield s


def _valid(s: Served) -> dict[str, Any]:
    return s.payload(generate_german_credit(3, seed=5))


def _raw_value(field: str, raw: str | bytes) -> Body:
    """A valid payload whose record 0 holds ``raw`` (JSON text, sent as it is) in ``field``."""

    def body(s: Served) -> bytes:
        p = _valid(s)
        p["input_data"][0]["values"][0][p["input_data"][0]["fields"].index(field)] = PLACEHOLDER
        text = json.dumps(p).encode()
        marker = json.dumps(PLACEHOLDER).encode()
        return text.replace(marker, raw.encode() if isinstance(raw, str) else raw)

    return body


def _edited(edit: Callable[[dict[str, Any]], Any]) -> Body:
    def body(s: Served) -> bytes:
        p = _valid(s)
        edit(p)
        return json.dumps(p).encode()

    return body


def _duplicated_key(where: str) -> Body:
    """The valid payload as text with one object's key given twice (json.dumps cannot write that)."""

    def body(s: Served) -> bytes:
        p = _valid(s)
        block = p["input_data"][0]
        fields, values = json.dumps(block["fields"]), json.dumps(block["values"])
        if where == "top":
            inner = f'[{{"fields": {fields}, "values": {values}}}]'
            return f'{{"input_data": {inner}, "input_data": {inner}}}'.encode()
        return f'{{"input_data": [{{"fields": {fields}, "values": {values}, "fields": {fields}}}]}}'.encode()

    return body


def _many_fields(n: int) -> Body:
    def body(s: Served) -> bytes:
        fields = [f"f{i}" for i in range(n)]
        return json.dumps({"input_data": [{"fields": fields, "values": [[0] * n]}]}).encode()

    return body


def _block(p: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = p["input_data"][0]
    return block


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [
        (lambda s: b"[" * 1000 + b"]" * 1000, 400, r"nests arrays/objects 1,000 levels deep .*the limit is 32"),
        (_raw_value("Age", "[" * 1000 + "]" * 1000), 400, r"nests arrays/objects 1,005 levels deep"),
        (lambda s: b'{"a":' * 5000 + b"1" + b"}" * 5000, 400, r"5,000 levels deep"),
        (
            _raw_value("LoanDuration", "1" + "0" * 308),
            400,
            r"field 'LoanDuration', record 0: an integer of 309 digits \(1000000000\.\.\.0000000000\); "
            r"the limit is 20 digits",
        ),
        (_raw_value("LoanDuration", "-" + "9" * 5000), 400, r"field 'LoanDuration', record 0: an integer of 5,000"),
        (_raw_value("LoanAmount", "1" + "0" * 20), 400, r"field 'LoanAmount', record 0: an integer of 21 digits"),
        (
            _raw_value("LoanAmount", str(2**63)),
            400,
            r"field 'LoanAmount', record 0: 9223372036854775808 is beyond the limit of ±1e\+15",
        ),
        (_raw_value("LoanDuration", "1e308"), 400, r"field 'LoanDuration', record 0: 1e\+308 is beyond the limit"),
        (_raw_value("LoanDuration", "-1e999"), 400, r"field 'LoanDuration', record 0: -inf is not a finite number"),
        (_raw_value("LoanDuration", "NaN"), 400, r"field 'LoanDuration', record 0: NaN is not a JSON number"),
        (_raw_value("Age", "-Infinity"), 400, r"field 'Age', record 0: -Infinity is not a JSON number"),
        (
            _raw_value("Sex", '"\\ud800"'),
            400,
            r"field 'Sex', record 0: the string '\\ud800' is not valid Unicode \(a lone surrogate",
        ),
        (_raw_value("Sex", '"male\\udfff"'), 400, r"field 'Sex', record 0: the string 'male\\udfff' is not valid"),
        (_raw_value("Sex", b'"\xed\xa0\x80"'), 400, r"not valid JSON: it is not UTF-8 at byte \d+"),
        (
            _raw_value("Sex", '"' + "x" * 2_000_000 + '"'),
            400,
            r"field 'Sex', record 0: a string of 2,000,000 characters \('xxxx.*\.\.\.\); the limit is 1,000",
        ),
        (
            _edited(lambda p: _block(p).__setitem__("y" * 5000, 1)),
            400,
            r"at \$\.input_data\[0\]\['yyy.*\.\.\.\]: a key of 5,000 characters \('yyy.*\.\.\.\); the limit is 1,000",
        ),
        (_edited(lambda p: _block(p).__setitem__("extra", 1)), 400, r"unknown field 'extra' in 'input_data\[0\]'"),
        (_edited(lambda p: p.__setitem__("meta", {})), 400, r"unknown top-level field 'meta'"),
        (_duplicated_key("top"), 400, r"at \$: key 'input_data' appears more than once in one object"),
        (_duplicated_key("block"), 400, r"at \$\.input_data\[0\]: key 'fields' appears more than once"),
        (
            _edited(lambda p: (_block(p)["fields"].append("Age"), [r.append(30) for r in _block(p)["values"]])),
            400,
            r"field 'Age' is given more than once",
        ),
        (_many_fields(50_000), 413, r"50,000 fields in one request; the limit is 1,000"),
        (lambda s: b"\xff" + json.dumps(_valid(s)).encode(), 400, r"not valid JSON: it is not UTF-8 at byte 0"),
        (lambda s: b"\xef\xbb\xbf" + json.dumps(_valid(s)).encode(), 400, r"not valid JSON at line 1 column 1"),
    ],
    ids=[
        "nesting-1000",
        "nesting-1000-in-a-value",
        "nesting-5000-objects",
        "int-309-digits",
        "int-5000-digits",
        "int-21-digits",
        "int-2**63",
        "float-1e308",
        "float-overflow",
        "nan-literal",
        "infinity-literal",
        "lone-surrogate",
        "lone-low-surrogate",
        "surrogate-as-utf8-bytes",
        "string-2MB",
        "key-5000-chars",
        "unknown-key-in-block",
        "unknown-top-level-key",
        "duplicate-key-top",
        "duplicate-key-block",
        "duplicate-field",
        "fields-50000",
        "not-utf8",
        "utf8-bom",
    ],
)
def test_hostile_payloads_are_4xx_naming_the_value(app: Served, body: Body, status: int, match: str) -> None:
    response = app.post(body(app))
    assert response.status_code == status, response.text[:500]
    errors = response.json()["errors"]
    assert len(errors) == 1 and errors[0]["code"], errors
    assert re.search(match, errors[0]["message"]), errors[0]["message"]
    assert len(response.content) < 1_000  # the refused value is quoted shortened, never echoed whole


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
        ("application/json; charset=latin-1", 415),
        ("application/json; boundary=x", 415),
        ("application/jsonp", 415),
        ("application/json", 200),
        ("Application/JSON; charset=UTF-8", 200),
        ('application/json;charset="utf-8"', 200),
    ],
)
def test_only_json_is_accepted(app: Served, content_type: str | None, status: int) -> None:
    response = app.post(_valid(app), content_type=content_type)
    assert response.status_code == status, response.text
    if status == 415:
        error = response.json()["errors"][0]
        assert error["code"] == "unsupported_media_type" and "application/json" in error["message"]


def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(app: Served) -> None:
    # 40 MB of records whose categories are 2 MB each: once a 200 that grew the store by 80 MB.
    big = "x" * 2_000_000
    row = [big if name in app.spec.categorical else 1 for name in app.spec.feature_names]
    body = json.dumps({"input_data": [{"fields": app.spec.feature_names, "values": [row] * 2}]}).encode()
    assert len(body) > 8 * 1024 * 1024
    declared = app.post(body)
    assert declared.status_code == 413, declared.text[:300]
    assert declared.json()["errors"][0]["code"] == "payload_too_large"
    assert "Content-Length" in declared.json()["errors"][0]["message"]
    assert declared.headers["connection"] == "close"
    # Without a Content-Length (chunked): read in chunks, refused as soon as the total passes the limit.
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    streamed = app.client.post(
        app.path,
        content=chunks,
        headers={"Authorization": f"Bearer {app.key}", "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413, streamed.text[:300]
    assert "more than 8,388,608 bytes" in streamed.json()["errors"][0]["message"]


def test_the_limits_are_settings(states: States, tmp_path: Path) -> None:
    env = {
        "MLOPS_MAX_REQUEST_BYTES": "2000",
        "MLOPS_MAX_SCORING_FIELDS": "25",
        "MLOPS_MAX_STRING_CHARS": "30",
        "MLOPS_MAX_JSON_DEPTH": "6",
        "MLOPS_MAX_NUMBER_DIGITS": "6",
        "MLOPS_MAX_NUMBER_MAGNITUDE": "5e5",
    }
    loaded = Settings.load(env=env)
    limits = RequestLimits.from_settings(loaded)
    assert limits == RequestLimits(
        max_bytes=2000,
        max_rows=10_000,
        max_fields=25,
        max_string_chars=30,
        max_depth=6,
        max_number_digits=6,
        max_number_magnitude=5e5,
    )
    overrides = {
        name.removeprefix("MLOPS_").lower(): getattr(loaded, name.removeprefix("MLOPS_").lower()) for name in env
    }
    with served(states, tmp_path, **overrides) as s:
        one = s.payload(generate_german_credit(1, seed=2))
        assert s.post(one).status_code == 200
        two = s.payload(generate_german_credit(10, seed=2))
        assert s.post(two).status_code == 413  # over 2,000 bytes
        fields = _block(one)["fields"]
        cases = {
            "Sex": ('"' + "x" * 31 + '"', r"field 'Sex', record 0: a string of 31 characters"),
            "LoanAmount": ("1234567", r"field 'LoanAmount', record 0: an integer of 7 digits"),
            "Age": ("600000", r"600000 is beyond the limit of ±500000"),
        }
        for field, (raw, match) in cases.items():
            values = [json.dumps(v) for v in _block(one)["values"][0]]
            values[fields.index(field)] = raw
            text = f'{{"input_data": [{{"fields": {json.dumps(fields)}, "values": [[{", ".join(values)}]]}}]}}'
            r = s.post(text)
            assert r.status_code == 400 and re.search(match, r.json()["errors"][0]["message"]), r.text
        assert s.post("[[[[[[[0]]]]]]]").json()["errors"][0]["code"] == "too_deep"


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("MLOPS_MAX_REQUEST_BYTES", "0", "max_request_bytes must be >= 1"),
        ("MLOPS_MAX_REQUEST_BYTES", "8MiB", "max_request_bytes = '8MiB' is not a valid int"),
        ("MLOPS_MAX_SCORING_FIELDS", "0", "max_scoring_fields must be >= 1"),
        ("MLOPS_MAX_STRING_CHARS", "-1", "max_string_chars must be >= 1"),
        ("MLOPS_MAX_JSON_DEPTH", "4", "max_json_depth must be in 5-200"),
        ("MLOPS_MAX_JSON_DEPTH", "1000", "max_json_depth must be in 5-200"),
        ("MLOPS_MAX_NUMBER_DIGITS", "4301", "max_number_digits must be in 1-4000"),
        ("MLOPS_MAX_NUMBER_MAGNITUDE", "inf", "max_number_magnitude must be positive and finite"),
        ("MLOPS_MAX_NUMBER_MAGNITUDE", "nan", "max_number_magnitude must be positive and finite"),
    ],
)
def test_unusable_limits_are_refused(name: str, value: str, match: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(match)):
        Settings.load(env={name: value})


def test_an_integer_beyond_int64_is_refused_before_scoring_whatever_the_magnitude_setting(
    states: States, tmp_path: Path
) -> None:
    # The payload log stores int64: with the magnitude limit raised out of the way, parse_payload still says no.
    with served(states, tmp_path, max_number_magnitude=1e300) as s:
        body = _raw_value("LoanAmount", str(2**63))(s)
        r = s.post(body)
        assert r.status_code == 400
        assert re.search(
            r"field 'LoanAmount', record 0: 9223372036854775808 is not an integer the payload log can store",
            r.json()["errors"][0]["message"],
        ), r.text
        # The largest int64 would fit the log, but no loan is that large: the spec's valid range refuses it.
        fits = _raw_value("LoanAmount", str(2**63 - 1))(s)
        refused = s.post(fits)
        assert refused.status_code == 400 and "outside the valid range [1, 1e+06]" in refused.text, refused.text
        scored = s.post(_raw_value("LoanAmount", "1000000")(s))
        assert scored.status_code == 200, scored.text
        s.logger.flush()
        ids = scored.json()["scoring_ids"]
        assert existing_scoring_ids(s.ctx, SYSTEM, s.deployment_id, ids) == set(ids)


def test_parse_payload_is_linear_in_the_field_names(spec: DataSpec) -> None:
    # 50,000 names, the repeat at the very end: a scan per name (the old check) took 30 s here.
    fields = [f"f{i}" for i in range(50_000)] + ["f0"]
    payload = {"input_data": [{"fields": fields, "values": [[0] * len(fields)]}]}
    with pytest.raises(ScoringInputError, match=r"field 'f0' is given more than once"):
        parse_payload(payload, spec, max_rows=10)
    many = {"input_data": [{"fields": spec.feature_names + [f"x{i}" for i in range(50_000)], "values": [[0]]}]}
    with pytest.raises(
        ScoringInputError, match=r"unexpected field\(s\) \['x0', 'x1', 'x2', 'x3', 'x4', and 49,995 more\]"
    ):
        parse_payload(many, spec, max_rows=10)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (2**63, r"field 'Age', record 0: 9223372036854775808 is not an integer the payload log can store"),
        (-(2**63) - 1, r"-9223372036854775809 is not an integer the payload log can store"),
        (10**5000, r"field 'Age', record 0: <an integer of 16,610 bits> is not an integer"),
        (float("nan"), r"field 'Age', record 0: nan is not a finite number"),
        ("\ud800", r"field 'Age', record 0: '\\ud800' is not a number"),
    ],
    ids=["2**63", "below-int64", "5000-digits", "nan", "surrogate-for-number"],
)
def test_parse_payload_refuses_numbers_the_payload_log_cannot_store(
    spec: DataSpec, records: pd.DataFrame, value: Any, match: str
) -> None:
    row = json.loads(records[spec.feature_names].iloc[:1].to_json(orient="values"))[0]
    row[spec.feature_names.index("Age")] = value
    with pytest.raises(ScoringInputError, match=match):
        parse_payload({"input_data": [{"fields": spec.feature_names, "values": [row]}]}, spec, max_rows=10)
    row[spec.feature_names.index("Age")] = 30
    row[spec.feature_names.index("Sex")] = "fe\udc80male"
    with pytest.raises(ScoringInputError, match=r"field 'Sex', record 0: 'fe\\udc80male' is not valid Unicode"):
        parse_payload({"input_data": [{"fields": spec.feature_names, "values": [row]}]}, spec, max_rows=10)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"", 0),
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [[{"b": 1}]]}', 4),
        (b'["[[[[", "]]]]]]]]"]', 1),
        (b'["\\"[[[[", "[[\\\\"]', 1),
        (b'["\\\\\\"[[[[", [[0]]]', 3),
        (b'[["a\\\\"], [["b"]]]', 3),
        (b"[[[[[[[[", 8),  # not JSON: counted all the same (the parser would recurse that far first)
        (b'["unterminated [[[[', 1),  # not JSON: the parser stops in the string, before those brackets
    ],
)
def test_nesting_is_counted_outside_strings(text: bytes, depth: int) -> None:
    assert nesting_depth(text, 1_000)[0] == depth
    if text:
        try:
            parsed = parse_json(text, RequestLimits(max_depth=100))
        except ScoringInputError:
            return
        assert _depth(parsed) == depth


def _depth(node: Any) -> int:
    if isinstance(node, list):
        return 1 + max((_depth(v) for v in node), default=0)
    if isinstance(node, dict):
        return 1 + max((_depth(v) for v in node.values()), default=0)
    return 0


def _http(port: int, request: bytes, sock: socket.socket | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request on ``sock`` (or a new connection to ``port``); the status, headers and body of the answer."""
    conn = sock or socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        rest += conn.recv(65536)
    return int(lines[0].split()[1]), headers, rest


def _request(s: Served, body: bytes, *, content_length: int | None = None) -> bytes:
    head = (
        f"POST {s.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {s.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) if content_length is None else content_length}"
        "\r\n\r\n"
    )
    return head.encode() + body


def test_over_http_a_declared_40mb_body_is_refused_unread_and_refusals_keep_the_connection(app: Served) -> None:
    with BackgroundServer(app.ctx) as server:
        # Only the headers are sent: the answer comes without the service waiting for 40 MB.
        status, headers, body = _http(server.port, _request(app, b"", content_length=40_000_000))
        assert status == 413 and headers["connection"] == "close", (status, headers)
        assert json.loads(body)["errors"][0]["code"] == "payload_too_large"
        # The payloads that once answered 500 and dropped the keep-alive connection: 400s on one connection.
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        try:
            for hostile in (
                b"[" * 1000 + b"]" * 1000,
                _raw_value("LoanDuration", "1" + "0" * 308)(app),
                _raw_value("LoanDuration", "9" * 5000)(app),
            ):
                status, headers, body = _http(server.port, _request(app, hostile), sock)
                assert status == 400 and headers.get("connection") != "close", (status, headers, body[:300])
            status, _, body = _http(server.port, _request(app, json.dumps(_valid(app)).encode()), sock)
            assert status == 200, body[:300]
        finally:
            sock.close()
