"""The channels against loopback servers: SMTP with STARTTLS and sign-in (aiosmtpd), a webhook receiver that checks
signatures; every failure is a ``NotificationError`` naming the server and never the secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline_core.config import Settings
from pipeline_core.errors import NotificationError
from pipeline_core.notify import channels, smtp, webhook
from pipeline_core.vocabulary import AlertChannel
from tests.notify.servers import SMTP_PASSWORD, SMTP_USER, smtp_server, webhook_receiver
from tests.notify.test_formats import RAISED

SECRET = "webhook-shared-secret"


def _account(host: str, port: int, ca: Path | str, **changes: object) -> smtp.SmtpAccount:
    values: dict[str, object] = {
        "host": host,
        "port": port,
        "sender": "mlops@bank.example",
        "recipients": ("risk@bank.example", "validators@bank.example"),
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "ca_bundle": str(ca),
    }
    values.update(changes)
    return smtp.SmtpAccount(**values)  # type: ignore[arg-type]


def test_an_email_goes_over_starttls_signed_in(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        said = smtp.send(
            _account(server.host, server.port, server.ca_bundle), subject=RAISED.subject, text=RAISED.text, timeout=10
        )
    assert said == (
        f"SMTP server 127.0.0.1:{server.port} accepted the mail for risk@bank.example, validators@bank.example"
    )
    (mail,) = server.inbox.messages
    assert mail["Subject"].strip() == RAISED.subject and mail["From"] == "mlops@bank.example"
    assert "german-credit v3" in mail.get_content()
    assert server.inbox.envelopes == [("mlops@bank.example", ["risk@bank.example", "validators@bank.example"])]
    assert server.inbox.logins == [(SMTP_USER, True)]


def test_smtp_failures_name_the_server_never_the_password(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        account = _account(server.host, server.port, server.ca_bundle, password="wrong password")
        with pytest.raises(NotificationError, match=f"127.0.0.1:{server.port} refused the sign-in of") as wrong:
            smtp.send(account, subject="s", text="t", timeout=10)
        untrusted = _account(server.host, server.port, "")  # the system's trust store does not know the test CA
        with pytest.raises(NotificationError, match=r"SSLCertVerificationError|CERTIFICATE_VERIFY_FAILED"):
            smtp.send(untrusted, subject="s", text="t", timeout=10)
    assert "wrong password" not in str(wrong.value)
    assert server.inbox.messages == []
    with pytest.raises(NotificationError, match=f"SMTP server 127.0.0.1:{server.port}: ConnectionRefusedError"):
        smtp.send(account, subject="s", text="t", timeout=5)


def test_a_server_without_starttls_is_never_sent_to_in_clear(tmp_path: Path) -> None:
    refused = pytest.raises(NotificationError, match="does not offer STARTTLS; alerts are never sent in clear")
    with smtp_server(tmp_path, starttls=False) as server, refused:
        smtp.send(_account(server.host, server.port, server.ca_bundle), subject="s", text="t", timeout=10)
    assert server.inbox.messages == [] and server.inbox.logins == []


def test_a_signed_webhook_is_verified_by_the_receiver() -> None:
    with webhook_receiver(SECRET) as receiver:
        channel = channels.WebhookChannel(receiver.url, SECRET, "slack", 10)
        assert channel.send(RAISED) == f"webhook {webhook.receiver(receiver.url)} answered HTTP 204"
    (got,) = receiver.accepted
    assert json.loads(got.body)["text"] == RAISED.subject
    assert got.headers["Content-Type"] == "application/json"


def test_a_stale_or_wrongly_signed_webhook_is_refused_by_the_receiver() -> None:
    with webhook_receiver(SECRET) as receiver:
        receiver.clock = lambda: 1_800_000_600.0
        stale = channels.WebhookChannel(receiver.url, SECRET, "json", 10, clock=lambda: 1_800_000_000.0)
        with pytest.raises(NotificationError, match="answered HTTP 401"):
            stale.send(RAISED)
        forged = channels.WebhookChannel(receiver.url, "not the secret", "json", 10, clock=lambda: 1_800_000_590.0)
        with pytest.raises(NotificationError, match="answered HTTP 401"):
            forged.send(RAISED)
    stale_refusal, forged_refusal = (r.refusal for r in receiver.received)
    assert stale_refusal is not None and stale_refusal.endswith("is 600 s from now (more than 300 s)")
    assert forged_refusal == "webhook body refused: the signature does not match the body and timestamp"
    assert receiver.accepted == []


def test_webhook_failures_name_the_receiver_but_not_its_path() -> None:
    unavailable = pytest.raises(NotificationError, match=r"webhook http://127\.0\.0\.1:\d+ answered HTTP 503")
    with webhook_receiver(SECRET, fail_first=1) as receiver, unavailable as failed:
        webhook.post(receiver.url, b"{}", secret=SECRET, timeout=10)
    assert "/hooks/alerts" not in str(failed.value)
    with pytest.raises(NotificationError, match=r"webhook http://127\.0\.0\.1:\d+ could not be reached"):
        webhook.post(receiver.url, b"{}", secret=SECRET, timeout=5)


def test_the_settings_configure_the_channels(tmp_path: Path) -> None:
    assert channels.configured(Settings(data_dir=tmp_path)) == {}
    found = channels.configured(
        Settings(
            data_dir=tmp_path,
            alert_smtp_host="smtp.bank.example",
            alert_smtp_from="mlops@bank.example",
            alert_smtp_to="risk@bank.example, validators@bank.example",
            alert_webhook_url="https://hooks.slack.example/services/T000/B000/XXXX",
            alert_webhook_secret=SECRET,
            alert_webhook_format="slack",
        )
    )
    assert list(found) == [AlertChannel.EMAIL, AlertChannel.WEBHOOK]
    assert found[AlertChannel.EMAIL].describe() == (
        "e-mail to risk@bank.example, validators@bank.example via smtp.bank.example:587"
    )
    assert found[AlertChannel.WEBHOOK].describe() == "slack webhook to https://hooks.slack.example"
    assert SECRET not in repr(found[AlertChannel.WEBHOOK]) and "XXXX" not in repr(found[AlertChannel.WEBHOOK])
