"""The alert channels the settings configure (e-mail, webhook), each able to send one ``AlertMessage``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pipeline_core.config import Settings
from pipeline_core.notify import formats, smtp, webhook
from pipeline_core.notify.message import AlertMessage
from pipeline_core.vocabulary import AlertChannel


class Channel(Protocol):
    """Sends a message once; what the server said, or ``NotificationError``."""

    @property
    def kind(self) -> AlertChannel: ...

    def send(self, message: AlertMessage) -> str: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class EmailChannel:
    account: smtp.SmtpAccount
    timeout: float
    kind: AlertChannel = AlertChannel.EMAIL

    def send(self, message: AlertMessage) -> str:
        return smtp.send(self.account, subject=message.subject, text=message.text, timeout=self.timeout)

    def describe(self) -> str:
        return f"e-mail to {', '.join(self.account.recipients)} via {self.account.host}:{self.account.port}"


@dataclass(frozen=True)
class WebhookChannel:
    url: str = field(repr=False)
    secret: str = field(repr=False)
    fmt: str
    timeout: float
    kind: AlertChannel = AlertChannel.WEBHOOK
    clock: Callable[[], float] | None = None  # the signing clock; None: the wall clock

    def send(self, message: AlertMessage) -> str:
        body = formats.body(message, self.fmt)
        if self.clock is None:
            return webhook.post(self.url, body, secret=self.secret, timeout=self.timeout)
        return webhook.post(self.url, body, secret=self.secret, timeout=self.timeout, clock=self.clock)

    def describe(self) -> str:
        return f"{self.fmt} webhook to {webhook.receiver(self.url)}"


def configured(settings: Settings) -> Mapping[AlertChannel, Channel]:
    """The channels ``settings`` set (validated when the settings were made), by kind; empty when none is."""
    found: dict[AlertChannel, Channel] = {}
    if settings.alert_smtp_host:
        account = smtp.SmtpAccount(
            host=settings.alert_smtp_host,
            port=settings.alert_smtp_port,
            sender=settings.alert_smtp_from,
            recipients=settings.alert_recipients(),
            username=settings.alert_smtp_username,
            password=settings.alert_smtp_password,
            ca_bundle=settings.alert_smtp_ca_bundle,
        )
        found[AlertChannel.EMAIL] = EmailChannel(account, settings.alert_delivery_timeout)
    if settings.alert_webhook_url:
        found[AlertChannel.WEBHOOK] = WebhookChannel(
            settings.alert_webhook_url,
            settings.alert_webhook_secret,
            settings.alert_webhook_format,
            settings.alert_delivery_timeout,
        )
    return found
