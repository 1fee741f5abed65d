"""The webhook body of an ``AlertMessage`` in each format: plain JSON, Slack-compatible, Teams-compatible."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pipeline_core.notify.message import AlertMessage
from pipeline_core.vocabulary import AlertNotice

# Red while it fails, green once resolved: the colour a chat client draws beside the card.
_COLOUR = {AlertNotice.RAISED: "D93F0B", AlertNotice.RESOLVED: "2EA043"}


def plain(message: AlertMessage) -> dict[str, Any]:
    """Every fact of the message, and its subject and text (what a receiver of our own reads)."""
    return {**message.to_dict(), "subject": message.subject, "text": message.text}


def slack(message: AlertMessage) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` (the notification's fallback) and ``blocks`` (what is shown)."""
    return {
        "text": message.subject,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message.text}},
        ],
    }


def teams(message: AlertMessage) -> dict[str, Any]:
    """An Office 365 connector ``MessageCard``: a title, the colour of the notice, the figures as facts."""
    facts = [
        ("Model", message.model),
        ("Where", message.where),
        ("Check", f"{message.monitor} {message.metric}"),
        ("Value", "none" if message.value is None else f"{message.value:.4f}"),
        ("Threshold", "none" if message.threshold is None else f"{message.threshold:.4f}"),
        ("Occurrences", str(message.occurrences)),
    ]
    if message.comment:
        facts.append(("Resolved", message.comment))
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": message.subject,
        "themeColor": _COLOUR[message.notice],
        "title": message.subject,
        "sections": [{"text": message.summary, "facts": [{"name": n, "value": v} for n, v in facts]}],
    }


FORMATS: Mapping[str, Callable[[AlertMessage], dict[str, Any]]] = {"json": plain, "slack": slack, "teams": teams}


def body(message: AlertMessage, fmt: str) -> bytes:
    """The UTF-8 JSON body of ``message`` in format ``fmt`` (one of ``FORMATS``), exactly the bytes that are signed."""
    return json.dumps(FORMATS[fmt](message), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
