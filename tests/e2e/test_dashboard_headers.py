"""The real dashboard, as ``up`` starts it, refuses to be framed: every response says so.

``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors 'none'`` on the page,
a static asset, ``/_stcore/health``, an unknown path and the websocket's handshake (``/_stcore/stream``),
so that no other site can lay the dashboard under its own page and have a validator click Approve.
"""

from __future__ import annotations

import base64
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from pipeline_core.cli import supervise
from pipeline_core.services.context import ServiceContext
from tests.processes import free_port

pytestmark = pytest.mark.slow  # a Streamlit process
FRAME_HEADERS = {"x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'"}


@pytest.fixture
def dashboard(ctx: ServiceContext) -> Iterator[str]:
    """The dashboard over an empty store, on a free loopback port, started the one way the product starts it."""
    ctx.settings = replace(ctx.settings, serve_host="127.0.0.1", dashboard_port=free_port())
    proc, url = supervise.start_dashboard(ctx)
    yield url
    supervise.stop_dashboard(proc)


def _frame_headers(headers: httpx.Headers | dict[str, str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    return {k: lowered.get(k, "(missing)") for k in FRAME_HEADERS}


def _handshake(url: str, path: str) -> tuple[str, dict[str, str]]:
    """The status line and headers of a websocket upgrade of ``path``, read off the socket."""
    host, port = re.match(r"http://([^:]+):(\d+)", url).groups()  # type: ignore[union-attr]
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {url}\r\n"
        "Sec-WebSocket-Protocol: streamlit\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    status, *lines = answer.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return status, dict(line.split(": ", 1) for line in lines)


def test_every_dashboard_response_refuses_framing(dashboard: str) -> None:
    with httpx.Client(base_url=dashboard, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        asset = re.search(r'src="\.?/?(static/js/[^"]+\.js)"', page.text)
        assert asset is not None, page.text[:500]
        responses = {
            "/": page,
            asset.group(1): client.get("/" + asset.group(1)),
            "/_stcore/health": client.get("/_stcore/health"),
            "/_stcore/host-config": client.get("/_stcore/host-config"),
            "/no-such-page.js": client.get("/no-such-page.js"),
        }
    assert responses["/_stcore/health"].text == "ok"
    assert responses[asset.group(1)].status_code == 200
    for path, response in responses.items():
        assert _frame_headers(response.headers) == FRAME_HEADERS, path
    status, headers = _handshake(dashboard, "/_stcore/stream")
    assert status == "HTTP/1.1 101 Switching Protocols"
    assert _frame_headers(headers) == FRAME_HEADERS
