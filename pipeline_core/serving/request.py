"""Turn a scoring request's headers and body into a JSON document, or refuse it with a 4xx that says why.

What a body may be is bounded before anything is scored: its size (413, the body unread when
``Content-Length`` says so), its media type (415 unless ``application/json``), and as JSON
(400): valid UTF-8, nesting depth, no duplicate keys, no ``NaN``/``Infinity``, integers of a
bounded number of digits, numbers within a magnitude, strings of bounded length that are
valid Unicode (no lone surrogates). Each refusal names where in the document it is (the
JSON path, or the field and record of a value) and the value, shortened.

None of these checks recurses on the body's shape before the depth is known: the depth is
counted on the raw bytes first (vectorised, linear), so no payload can reach Python's
recursion limit, int() on thousands of digits, or a quadratic path.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.requests import ClientDisconnect, Request

from pipeline_core.config import Settings
from pipeline_core.errors import ScoringInputError

SHOWN = 60  # characters of a refused value quoted back in a message


class BodyRefused(ScoringInputError):
    """A request body refused before its payload is looked at; ``code`` is the error code in the answer."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_json") -> None:
        super().__init__(message, status=status)
        self.code = code


@dataclass(frozen=True)
class RequestLimits:
    """What one scoring request may hold (the settings of the same names)."""

    max_bytes: int = 8 * 1024 * 1024
    max_rows: int = 10_000
    max_fields: int = 1_000
    max_string_chars: int = 1_000
    max_depth: int = 32
    max_number_digits: int = 20
    max_number_magnitude: float = 1e15

    @classmethod
    def from_settings(cls, settings: Settings, *, max_rows: int | None = None) -> RequestLimits:
        return cls(
            max_bytes=settings.max_request_bytes,
            max_rows=max_rows or settings.max_scoring_rows,
            max_fields=settings.max_scoring_fields,
            max_string_chars=settings.max_string_chars,
            max_depth=settings.max_json_depth,
            max_number_digits=settings.max_number_digits,
            max_number_magnitude=settings.max_number_magnitude,
        )


def shown(value: Any) -> str:
    """``repr(value)``, shortened: a refused 2 MB string is never echoed back."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def shown_number(literal: str) -> str:
    """A number literal of thousands of digits as its first and last ten."""
    return literal if len(literal) <= 24 else f"{literal[:10]}...{literal[-10:]}"


def shown_int(value: int) -> str:
    """An integer (at most ``max_number_digits`` digits, so str() is cheap), shortened like ``shown_number``."""
    text = str(value)
    return text if len(text) <= 24 else f"{text[:10]}...{text[-10:]} ({len(text)} digits)"


# --- headers and body --------------------------------------------------------------------------------------


def check_content_type(header: str | None) -> None:
    """``application/json``, optionally with ``charset=utf-8``; anything else (or nothing) is a 415."""
    if not header:
        raise BodyRefused(
            "no Content-Type; send the body as 'Content-Type: application/json'",
            status=415,
            code="unsupported_media_type",
        )
    media, *params = (part.strip() for part in header.split(";"))
    problem = "" if media.lower() == "application/json" else f"media type {shown(media)}"
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset":
            problem = problem or f"parameter {shown(param)}"
        elif value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            problem = problem or f"charset {shown(value.strip())}"
    if problem:
        raise BodyRefused(
            f"Content-Type {shown(header)} is not accepted ({problem}); "
            "send 'application/json' (UTF-8, an optional 'charset=utf-8')",
            status=415,
            code="unsupported_media_type",
        )


def _too_large(what: str, limit: int) -> BodyRefused:
    return BodyRefused(f"{what}; the limit is {limit:,} bytes", status=413, code="payload_too_large")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, read in chunks up to ``max_bytes``: 413 from ``Content-Length`` alone, or as soon as it overflows."""
    declared = request.headers.get("content-length")
    # The server (h11) has already refused a malformed Content-Length; a number above the limit is
    # answered without reading a byte of the body.
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(f"the body is {int(declared):,} bytes (Content-Length)", max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(f"the body is more than {max_bytes:,} bytes", max_bytes)
            chunks.append(chunk)
    except ClientDisconnect as exc:  # nobody is left to answer; refused rather than an unhandled error
        raise BodyRefused("the client disconnected before the body was complete", code="incomplete_body") from exc
    return b"".join(chunks)


# --- the JSON text -----------------------------------------------------------------------------------------

_STRUCTURAL = np.zeros(256, dtype=bool)
_STRUCTURAL[list(b'"[]{}')] = True
_NESTING = np.zeros(256, dtype=np.int8)
_NESTING[list(b"[{")] = 1
_NESTING[list(b"]}")] = -1
_QUOTE = ord('"')
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)


def nesting_depth(body: bytes, limit: int) -> tuple[int, int]:
    """The deepest ``[``/``{`` nesting outside strings, and the byte offset where it first passes ``limit`` (-1).

    Linear, in numpy, never recursive. Escaped backslashes and then escaped quotes are blanked out
    (left to right, as a JSON parser pairs them), so every quote left opens or closes a string and
    a bracket counts when an even number of quotes precede it. On text that is not JSON the count
    can only be too high, never lower than what a parser would recurse through before failing.
    """
    cleaned = body.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    raw = np.frombuffer(cleaned, dtype=np.uint8)
    where = np.flatnonzero(_STRUCTURAL[raw])
    if where.size == 0:
        return 0, -1
    marks = raw[where]
    in_string = (np.cumsum(marks == _QUOTE, dtype=np.int64) & 1).astype(bool)
    steps = _NESTING[marks]
    steps[in_string] = 0
    depth = np.cumsum(steps, dtype=np.int64)
    deepest = int(depth.max())
    return deepest, int(where[int(np.argmax(depth > limit))]) if deepest > limit else -1


def _longest_digit_run_exceeds(body: bytes, digits: int) -> bool:
    """Whether some run of more than ``digits`` ASCII digits occurs anywhere (a cheap, C-speed necessary test)."""
    return body.translate(_DIGITS_AS_ZERO).find(b"0" * (digits + 1)) >= 0


# A number written with an exponent (1e5, 2.5E+20): its magnitude is not read off its digits.
_EXPONENT = re.compile(rb"[0-9.][eE][+-]?[0-9]")


def _nothing_to_walk_for(body: bytes, limits: RequestLimits) -> bool:
    """Whether the raw bytes alone show that no value can be beyond the limits (C-speed tests only).

    The walk visits every value in Python, several times the cost of parsing a large batch. It
    is needed only if some string might be too long or not plain ASCII, or some number too big:
    - a string's decoded length is at most its raw length, so no run of more than
      ``max_string_chars`` bytes between two quotes (and no escaped quote that could hide one)
      means no string is too long;
    - ASCII bytes without a ``\\u`` escape decode to ASCII strings, which are valid Unicode;
    - a number without an exponent whose digit runs are shorter than the magnitude limit's is
      below it.
    Any doubt takes the walk, which then names the value.
    """
    if not body.isascii() or b"\\u" in body or b'\\"' in body:
        return False
    if max(map(len, body.split(b'"'))) > limits.max_string_chars:
        return False
    magnitude = limits.max_number_magnitude
    digits = len(str(int(magnitude))) - 1 if magnitude >= 1 else 0
    return not _longest_digit_run_exceeds(body, digits) and _EXPONENT.search(body) is None


class _Refused:
    """What a parse hook returns for a value it refuses: the walk that follows names its place."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Refused:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return _Refused(f"key {shown(key)} appears more than once in one object")
        seen.add(key)
    return obj  # unreachable: fewer keys than pairs means a repeat


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a JSON number (send a finite number, or leave the record out)")


def parse_json(body: bytes, limits: RequestLimits) -> Any:
    """The document in ``body``, or ``BodyRefused`` (400) naming the first thing in it beyond ``limits``."""
    try:
        text = body.decode("utf-8")  # strict: invalid bytes and UTF-8-encoded surrogates are refused here
    except UnicodeDecodeError as exc:
        raise BodyRefused(
            f"the body is not valid JSON: it is not UTF-8 at byte {exc.start} ({exc.reason})", code="malformed_json"
        ) from exc
    depth, offset = nesting_depth(body, limits.max_depth)
    if depth > limits.max_depth:
        raise BodyRefused(
            f"the body nests arrays/objects {depth:,} levels deep (level {limits.max_depth + 1} at byte "
            f"{offset}); the limit is {limits.max_depth}",
            code="too_deep",
        )
    digits = limits.max_number_digits

    def integer(literal: str) -> int | _Refused:
        n = len(literal) - literal.startswith("-")
        if n > digits:
            return _Refused(f"an integer of {n:,} digits ({shown_number(literal)}); the limit is {digits} digits")
        return int(literal)

    # Only a body with a long run of digits somewhere needs the per-integer hook; every other body's
    # integers are short enough for the C parser's own int(), which is about twice as fast.
    parse_int = integer if _longest_digit_run_exceeds(body, digits) else None
    refused: list[_Refused] = []  # what the hooks refused: the walk below names where

    def objects(pairs: list[tuple[str, Any]]) -> Any:
        found = _object(pairs)
        if isinstance(found, _Refused):
            refused.append(found)
        return found

    def constants(literal: str) -> Any:
        found = _constant(literal)
        if isinstance(found, _Refused):
            refused.append(found)
        return found

    try:
        document = json.loads(text, object_pairs_hook=objects, parse_constant=constants, parse_int=parse_int)
    except json.JSONDecodeError as exc:
        raise BodyRefused(
            f"the body is not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", code="malformed_json"
        ) from exc
    if refused or parse_int is not None or not _nothing_to_walk_for(body, limits):
        _Walk(limits, document).check(document)
    return document


class _Walk:
    """Visit every value once (the depth is already bounded) and refuse the first one beyond the limits."""

    def __init__(self, limits: RequestLimits, document: Any) -> None:
        self.limits = limits
        self.document = document
        self.path: list[str | int] = []
        self.magnitude = limits.max_number_magnitude

    def check(self, node: Any) -> None:
        kind = type(node)
        if kind is dict:
            for key, value in node.items():
                self.path.append(key)
                self._string(key, "key")
                if type(value) in (dict, list):
                    self.check(value)
                else:
                    self._scalar(value)
                self.path.pop()
        elif kind is list:
            for i, value in enumerate(node):
                if type(value) in (dict, list):
                    self.path.append(i)
                    self.check(value)
                    self.path.pop()
                else:
                    self._scalar(value, i)
        else:
            self._scalar(node)

    def _scalar(self, value: Any, index: int | None = None) -> None:
        kind = type(value)
        if kind is str:
            if len(value) > self.limits.max_string_chars or not value.isascii():
                self._string(value, "string", index)
        elif kind is int or kind is float:
            # Comparisons are False for NaN, so this refuses NaN, the infinities and anything too big.
            if not -self.magnitude <= value <= self.magnitude:
                if kind is int:
                    self._refuse(f"{shown_int(value)} is beyond the limit of ±{self.magnitude:g}", index)
                what = "is beyond the limit of" if math.isfinite(value) else "is not a finite number within"
                self._refuse(f"{value!r} {what} ±{self.magnitude:g}", index)
        elif kind is _Refused:
            self._refuse(value.reason, index)

    def _string(self, text: str, what: str, index: int | None = None) -> None:
        if len(text) > self.limits.max_string_chars:
            self._refuse(
                f"a {what} of {len(text):,} characters ({shown(text)}); the limit is {self.limits.max_string_chars:,}",
                index,
            )
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                self._refuse(
                    f"the {what} {shown(text)} is not valid Unicode (a lone surrogate {shown(text[exc.start])} "
                    f"at character {exc.start}; pair it or leave it out)",
                    index,
                )

    def _refuse(self, problem: str, index: int | None = None) -> None:
        path = [*self.path, index] if index is not None else list(self.path)
        raise BodyRefused(f"{describe(path, self.document)}: {problem}")


def describe(path: list[str | int], document: Any) -> str:
    """``field 'Age', record 3`` for a value of a WML payload's records, else the JSON path (``$.a[0].b``)."""
    if (
        len(path) == 5
        and path[:3] == ["input_data", 0, "values"]
        and isinstance(path[3], int)
        and isinstance(path[4], int)
    ):
        record, column = path[3], path[4]
        try:
            name = document["input_data"][0]["fields"][column]
        except (TypeError, KeyError, IndexError):
            name = None
        if isinstance(name, str) and len(name) <= SHOWN:
            return f"field {name!r}, record {record}"
        return f"record {record}, value {column}"
    where = "$"
    for step in path:
        if isinstance(step, int):
            where += f"[{step}]"
        else:
            where += f".{step}" if step.isidentifier() and len(step) <= SHOWN else f"[{shown(step)}]"
    return f"at {where}"
