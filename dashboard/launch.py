"""What ``streamlit run`` starts: the dashboard (``app.py``) on Streamlit's server, every response refusing framing.

Streamlit's config has no option for response headers. Its server is Starlette (since the
``st.App`` API), and ``st.App`` takes ASGI middleware that runs before Streamlit's own, so
every answer passes through ``FrameGuard``: the page, its static assets, ``/_stcore/health``,
the websocket's handshake and the error pages alike. ``streamlit run dashboard/launch.py``
finds the ``app`` below and serves it with the command line's flags (``cli/supervise.py``).
A page that cannot be framed by another site cannot be clicked through an invisible frame
(clickjacking): a validator's Approve button is exactly what such an attack would aim at.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The old header for the browsers that know only it, and its CSP successor for the rest.
FRAME_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)


class FrameGuard:
    """ASGI middleware: adds ``FRAME_HEADERS`` to every HTTP response and websocket handshake."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def guarded(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                names = {FRAME_HEADERS[0][0], FRAME_HEADERS[1][0]}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *FRAME_HEADERS]}
            await send(message)

        await self.app(scope, receive, guarded)


# Absolute: Streamlit resolves a relative script against whichever main script it was handed first.
app = st.App(Path(__file__).resolve().parent / "app.py", middleware=[Middleware(FrameGuard)])
