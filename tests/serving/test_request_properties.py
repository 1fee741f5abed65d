"""Property: no request body makes the scoring endpoint answer 5xx, and every record it answers 200 for is logged.

The bodies are built around the valid WML shape and then broken the ways an attacker or a buggy
client breaks them: wrong types, integers of thousands of digits and just past int64, floats
past float64 or the magnitude limit, the NaN/Infinity literals, nesting hundreds of levels deep,
long strings, lone surrogates, keys repeated in one object (written as raw text, which json.dumps
cannot), unknown keys, truncated text, random bytes, other media types. The app is the real one,
in-process (FastAPI's TestClient), over a copy of the ``live`` starting state. Derandomised: the
same 2,000 examples on every run. The valid records are drawn inside the spec's valid ranges; a
second property puts one numeric value outside its valid range and expects a 400 naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.datasets import existing_scoring_ids
from tests.serving.inprocess import Served, served
from tests.states import States

SPEC = german_credit_spec()
RECORDS: list[list[Any]] = json.loads(generate_german_credit(40, seed=23)[SPEC.feature_names].to_json(orient="values"))
CATEGORIES = sorted({str(r[SPEC.feature_names.index(name)]) for r in RECORDS for name in SPEC.categorical})


@dataclass(frozen=True)
class Obj:
    """A JSON object as its pairs, in order: a key may repeat (json.dumps of a dict cannot write that)."""

    pairs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Raw:
    """JSON text sent as it is: literals like NaN, integers of thousands of digits, deep nesting."""

    text: str


def render(node: Any) -> str:
    if isinstance(node, Raw):
        return node.text
    if isinstance(node, Obj):
        return "{" + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in node.pairs) + "}"
    if isinstance(node, list):
        return "[" + ",".join(render(v) for v in node) + "]"
    # floats: NaN and Infinity as the literals many encoders emit; strings: lone surrogates as \udxxx escapes.
    return json.dumps(node, allow_nan=True)


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.one_of(
    st.sampled_from(CATEGORIES),
    st.text(max_size=6),
    st.text(st.characters() | surrogates, min_size=1, max_size=4),
    st.integers(990, 1010).map(lambda n: "c" * n),
    st.sampled_from(["", " ", "\x00", "é", "\U0001f600", "\ud83d\ude00"]),
)
numbers = st.one_of(
    st.integers(-100_000, 100_000),
    st.integers(),
    st.sampled_from([2**53, 10**15, 10**15 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**20]),
    st.floats(),  # NaN and the infinities included
    st.sampled_from([1e15, 1.0000000000000002e15, 1e308, -1e308, 5e-324, -0.0, 1.7976931348623157e308]),
    st.integers(18, 6_000).map(lambda n: Raw("9" * n)),
    st.sampled_from(["NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-0", "1E+2", "0.1e-400", "01", "1."]).map(Raw),
)
keys = st.one_of(st.sampled_from(["input_data", "fields", "values", "meta", *SPEC.feature_names[:3]]), texts)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
nodes = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(st.tuples(keys, children), max_size=4).map(lambda pairs: Obj(tuple(pairs))),
    ),
    max_leaves=10,
)
deep = st.one_of(
    st.integers(1, 1_200).map(lambda n: Raw("[" * n + "0" + "]" * n)),
    st.integers(1, 200).map(lambda n: Raw('{"a":' * n + "1" + "}" * n)),
    st.integers(1, 40).map(lambda n: Raw("[" * n)),  # unclosed
)
cell_values = st.one_of(numbers, texts, scalars, nodes, deep)


@st.composite
def payloads(draw: st.DrawFn) -> str:
    """A valid payload of 1-5 records, then 0-4 breakages, as JSON text."""
    n = draw(st.integers(1, 5))
    # Indices, not st.sampled_from(RECORDS): the strategy's repr would quote every record.
    rows: list[Any] = [
        list(RECORDS[i]) for i in draw(st.lists(st.integers(0, len(RECORDS) - 1), min_size=n, max_size=n))
    ]
    fields: Any = list(SPEC.feature_names)
    block: list[tuple[str, Any]] = []
    top: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "field", "row", "block-key", "top-key", "values"]))
        targets = [r for r in rows if isinstance(r, list)]
        if kind == "cell" and targets:
            row = targets[draw(st.integers(0, len(targets) - 1))]
            if row:
                row[draw(st.integers(0, len(row) - 1))] = draw(cell_values)
        elif kind == "field" and isinstance(fields, list) and fields:
            i = draw(st.integers(0, len(fields) - 1))
            change = draw(st.sampled_from(["rename", "repeat", "drop", "replace"]))
            if change == "rename":
                fields[i] = draw(texts)
            elif change == "repeat":
                fields.append(fields[i])
            elif change == "drop":
                del fields[i]
            else:
                fields = draw(nodes)
        elif kind == "row" and targets:
            row = targets[draw(st.integers(0, len(targets) - 1))]
            if draw(st.booleans()) or not row:
                row.append(draw(scalars))
            else:
                row.pop()
        elif kind == "block-key":
            block.append((draw(keys), draw(nodes)))
        elif kind == "top-key":
            top.append((draw(keys), draw(nodes)))
        elif kind == "values":
            rows = draw(st.lists(nodes, max_size=3))
    inner = Obj((("fields", fields), ("values", rows), *block))
    return render(Obj((("input_data", [inner]), *top)))


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    form = draw(st.sampled_from(["payload"] * 6 + ["truncated", "any-json", "deep", "bytes"]))
    if form == "bytes":
        return draw(st.binary(max_size=200))
    if form == "any-json":
        return render(draw(nodes)).encode()
    if form == "deep":
        return render(draw(deep)).encode()
    text = draw(payloads()).encode()
    if form == "truncated":
        return text[: draw(st.integers(0, len(text)))]
    return text


# Mostly JSON, so that most examples reach the parser; the rest must be 415s.
content_types = st.sampled_from(
    ["application/json"] * 12
    + ["application/json; charset=utf-8", "text/plain", "application/json; charset=latin-1", None]
)


@pytest.fixture
def app(states: States, tmp_path: Path) -> Iterator[Served]:
    with served(states, tmp_path) as s:
        yield s


def test_no_body_gets_a_5xx_and_every_scored_record_is_logged(app: Served) -> None:
    scored: list[str] = []
    refused: set[int] = set()

    @settings(
        max_examples=2_000,
        deadline=None,
        derandomize=True,  # the same examples on every run and machine (no example database either)
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(body=bodies(), content_type=content_types)
    def check(body: bytes, content_type: str | None) -> None:
        response = app.post(body, content_type=content_type)
        assert response.status_code < 500, (response.status_code, response.text[:300], body[:300])
        answer = response.json()
        if response.status_code == 200:
            assert len(answer["predictions"][0]["values"]) == len(answer["scoring_ids"])
            scored.extend(answer["scoring_ids"])
        else:
            assert response.status_code in (400, 413, 415), response.status_code
            assert answer["errors"][0]["message"] and answer["errors"][0]["code"]
            assert len(response.content) < 2_000, response.text[:300]  # values are quoted shortened
            refused.add(response.status_code)

    check()
    # Both kinds happened: bodies scored, and bodies refused as bad JSON or payload (400) and media type (415).
    assert len(scored) > 500 and {400, 415} <= refused, (len(scored), refused)
    app.logger.flush()
    assert app.logger.lost == 0
    assert existing_scoring_ids(app.ctx, SYSTEM, app.deployment_id, scored) == set(scored)


def _outside(low: float, high: float) -> st.SearchStrategy[int | float]:
    """A number outside ``[low, high]`` and within the magnitude limit: an int or a float, below or above."""
    return st.one_of(
        st.integers(-(10**12), int(low) - 1),
        st.integers(int(high) + 1, 10**12),
        st.floats(-1e12, low, exclude_max=True),
        st.floats(high, 1e12, exclude_min=True),
    )


@st.composite
def out_of_range(draw: st.DrawFn) -> tuple[list[list[Any]], str, int, int | float]:
    """1-5 valid records, one numeric value of one of them put outside its valid range."""
    rows = [list(RECORDS[i]) for i in draw(st.lists(st.integers(0, len(RECORDS) - 1), min_size=1, max_size=5))]
    name = draw(st.sampled_from(SPEC.numeric))
    low, high = SPEC.feature(name).valid_range or (0, 0)
    record = draw(st.integers(0, len(rows) - 1))
    value = draw(_outside(low, high))
    rows[record][SPEC.feature_names.index(name)] = value
    return rows, name, record, value


def test_a_value_outside_its_valid_range_is_always_a_400_naming_field_record_and_value(app: Served) -> None:
    assert all(SPEC.feature(name).valid_range is not None for name in SPEC.numeric)

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(case=out_of_range())
    def check(case: tuple[list[list[Any]], str, int, int | float]) -> None:
        rows, name, record, value = case
        body = json.dumps({"input_data": [{"fields": SPEC.feature_names, "values": rows}]})
        response = app.post(body.encode(), content_type="application/json")
        assert response.status_code == 400, (response.status_code, response.text[:300])
        message = response.json()["errors"][0]["message"]
        assert f"field {name!r}, record {record}: {value!r} is outside the valid range" in message, message

    check()
