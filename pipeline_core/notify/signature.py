"""Webhook signatures: HMAC-SHA256 with the shared secret over ``"<timestamp>.<body>"``, and how a receiver checks it.

The sender puts the Unix time in seconds in ``X-MLOps-Timestamp`` and ``sha256=<hex digest>`` in
``X-MLOps-Signature``. A receiver recomputes the digest over the timestamp header, a dot and the raw
body, compares in constant time, and refuses a timestamp further than ``tolerance`` seconds from its
clock, so that a body captured once cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

from pipeline_core.errors import SignatureError

TIMESTAMP_HEADER = "X-MLOps-Timestamp"
SIGNATURE_HEADER = "X-MLOps-Signature"
SCHEME = "sha256="
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header's value for ``body`` sent with the timestamp header ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return SCHEME + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers a signed body is sent with."""
    return {TIMESTAMP_HEADER: str(int(timestamp)), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> int:
    """The verified timestamp; ``SignatureError`` saying why if a header is missing, malformed, stale or wrong."""
    if not timestamp or not signature:
        missing = TIMESTAMP_HEADER if not timestamp else SIGNATURE_HEADER
        raise SignatureError(f"webhook body refused: header {missing} is missing")
    text = timestamp.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise SignatureError(f"webhook body refused: header {TIMESTAMP_HEADER} {timestamp[:40]!r} is not Unix seconds")
    sent = int(text)
    if abs(now - sent) > tolerance:
        raise SignatureError(
            f"webhook body refused: timestamp {sent} is {abs(now - sent):.0f} s from now (more than {tolerance:.0f} s)"
        )
    if not signature.startswith(SCHEME):
        raise SignatureError(f"webhook body refused: header {SIGNATURE_HEADER} does not start with {SCHEME!r}")
    expected = sign(secret, text, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        raise SignatureError("webhook body refused: the signature does not match the body and timestamp")
    return sent
