"""The formats a report is exported in: each one's renderer, media type and file extension."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from pipeline_core.errors import ConfigError
from pipeline_core.reports.document import Document
from pipeline_core.reports.render_docx import render_docx
from pipeline_core.reports.render_html import render_html
from pipeline_core.reports.render_pdf import render_pdf

Format = Literal["html", "pdf", "docx"]
FORMATS: tuple[Format, ...] = get_args(Format)
MEDIA_TYPES: dict[Format, str] = {
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_BINARY: dict[Format, Callable[[Document], bytes]] = {"pdf": render_pdf, "docx": render_docx}


def format_of(value: object) -> Format:
    """``value`` as a format, or a ``ConfigError`` naming it and the formats there are."""
    for known in FORMATS:
        if value == known:
            return known
    raise ConfigError(f"report format {str(value)[:32]!r} is not one of {', '.join(FORMATS)}")


def render(document: Document, fmt: Format) -> str | bytes:
    """The document in ``fmt``: text for HTML, bytes for PDF and DOCX."""
    return render_html(document) if fmt == "html" else _BINARY[fmt](document)
