"""Loopback stand-ins for the alert channels: an SMTP server with STARTTLS and sign-in, a webhook receiver.

The SMTP server (aiosmtpd) offers STARTTLS with a certificate of a CA made for the test (trustme),
refuses to authenticate before TLS, and accepts one account. The webhook receiver verifies each body's
signature and timestamp as a real receiver would (``notify.signature.verify``), answers 401 to a bad
one, and can be told to fail its first N requests with a 503.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline_core.errors import SignatureError
from pipeline_core.notify import signature
from tests.processes import free_port

SMTP_USER = "alerts@bank.example"
SMTP_PASSWORD = "correct horse battery staple"


@dataclass
class Inbox:
    """What the SMTP server received, and the sign-ins it saw."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        raw = envelope.original_content or envelope.content
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    ca_bundle: Path
    inbox: Inbox


@contextmanager
def smtp_server(folder: Path, *, starttls: bool = True) -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 offering STARTTLS (unless ``starttls`` is false) and sign-in after it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_path = folder / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    inbox = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        inbox.logins.append((auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?", ok))
        return AuthResult(success=ok, handled=False)  # unhandled: aiosmtpd answers 535 itself

    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context if starttls else None,
        require_starttls=starttls,
        authenticator=authenticate,
        auth_require_tls=starttls,
        auth_required=starttls,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, ca_path, inbox)
    finally:
        controller.stop()


@dataclass
class Received:
    """A request the webhook receiver took: its body, headers, and whether it verified."""

    body: bytes
    headers: dict[str, str]
    verified: bool
    refusal: str | None


@dataclass
class Receiver:
    url: str
    secret: str
    received: list[Received] = field(default_factory=list)
    fail_first: int = 0  # answer 503 to this many requests before verifying any
    clock: Any = time.time  # the receiver's clock, against which timestamps are judged

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.verified]


@contextmanager
def webhook_receiver(secret: str, *, fail_first: int = 0) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 that verifies signatures (401 if not), failing its first ``fail_first`` requests."""
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hooks/alerts", secret, fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items()}
            if receiver.fail_first > 0:
                receiver.fail_first -= 1
                receiver.received.append(Received(body, headers, False, "failing on purpose"))
                self._answer(503)
                return
            try:
                signature.verify(
                    receiver.secret,
                    timestamp=self.headers.get(signature.TIMESTAMP_HEADER),
                    signature=self.headers.get(signature.SIGNATURE_HEADER),
                    body=body,
                    now=receiver.clock(),
                )
            except SignatureError as exc:
                receiver.received.append(Received(body, headers, False, str(exc)))
                self._answer(401)
                return
            receiver.received.append(Received(body, headers, True, None))
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
