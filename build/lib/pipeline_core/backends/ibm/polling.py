"""Waiting for an IBM service's asynchronous work (deployments, subscriptions, monitor runs) to finish.

The SDKs' own synchronous modes sleep five seconds before they first look and print
banners to stdout; we start their calls in background mode and poll here instead: at once,
then with a doubling delay capped at five seconds, until the state is final or the time is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from pipeline_core.errors import PipelineError


def wait_for(
    state: Callable[[], str],
    *,
    ready: Collection[str],
    failed: Collection[str],
    what: str,
    error: type[PipelineError],
    timeout: float = 600.0,
) -> str:
    """Poll ``state`` until it is in ``ready`` (returned); ``error`` naming ``what`` if it failed or timed out."""
    delay, deadline = 0.05, time.monotonic() + timeout
    while True:
        current = str(state())
        if current in ready:
            return current
        if current in failed:
            raise error(f"{what} ended in state {current!r}")
        if time.monotonic() > deadline:
            raise error(f"{what} is still {current!r} after {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
