"""One signed POST of a webhook body; anything but a 2xx answer is a ``NotificationError`` naming the receiver.

The receiver is named by its scheme, host and port only: the path of a Slack or Teams webhook is its token.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from pipeline_core.errors import NotificationError
from pipeline_core.notify import signature

USER_AGENT = "mlops-governance-alerts/1"


def receiver(url: str) -> str:
    """What a message may say of ``url``: scheme, host and port, never the path or query."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def post(
    url: str,
    body: bytes,
    *,
    secret: str,
    timeout: float,
    clock: Callable[[], float] = time.time,
) -> str:
    """POST ``body`` (JSON) to ``url`` signed with ``secret`` at the time ``clock`` says; what the receiver answered."""
    sent_at = int(clock())
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signature.headers(secret, sent_at, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        raise NotificationError(f"webhook {receiver(url)} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotificationError(f"webhook {receiver(url)} could not be reached: {reason}") from None
    if not 200 <= status < 300:
        raise NotificationError(f"webhook {receiver(url)} answered HTTP {status}")
    return f"webhook {receiver(url)} answered HTTP {status}"
