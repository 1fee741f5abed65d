"""One e-mail over SMTP with STARTTLS (never in clear), signed in when an account is given.

A server that does not offer STARTTLS, a certificate that does not verify, a refused sign-in or
recipient: each is a ``NotificationError`` naming the server, never the password.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage

from pipeline_core.errors import NotificationError


@dataclass(frozen=True)
class SmtpAccount:
    """Where and as whom e-mail is sent."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str = ""
    password: str = field(default="", repr=False)
    ca_bundle: str = ""  # PEM of the server's CA; empty: the system's trust store

    @property
    def server(self) -> str:
        return f"SMTP server {self.host}:{self.port}"


def compose(account: SmtpAccount, *, subject: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = account.sender
    mail["To"] = ", ".join(account.recipients)
    mail["Subject"] = subject
    mail.set_content(text)
    return mail


def send(account: SmtpAccount, *, subject: str, text: str, timeout: float) -> str:
    """Send one e-mail; what the server accepted (``NotificationError`` otherwise)."""
    context = ssl.create_default_context(cafile=account.ca_bundle or None)
    try:
        with smtplib.SMTP(account.host, account.port, timeout=timeout) as client:
            client.ehlo()
            if not client.has_extn("starttls"):
                raise NotificationError(f"{account.server} does not offer STARTTLS; alerts are never sent in clear")
            client.starttls(context=context)
            client.ehlo()
            if account.username:
                client.login(account.username, account.password)
            refused = client.send_message(compose(account, subject=subject, text=text))
    except smtplib.SMTPAuthenticationError as exc:
        raise NotificationError(
            f"{account.server} refused the sign-in of {account.username!r}: {exc.smtp_code}"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotificationError(f"{account.server} refused every recipient: {sorted(exc.recipients)}") from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise NotificationError(f"{account.server}: {type(exc).__name__}: {exc}") from None
    accepted = [r for r in account.recipients if r not in refused]
    partly = f"; refused {', '.join(sorted(refused))}" if refused else ""
    return f"{account.server} accepted the mail for {', '.join(accepted)}{partly}"
