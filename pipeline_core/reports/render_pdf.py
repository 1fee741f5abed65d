"""A report ``Document`` as PDF (reportlab platypus): real text a reader can select and search, PNG charts embedded.

The text is set in DejaVu Sans, the TrueType face matplotlib ships (a pinned dependency, so no system
font is looked up): it has the dashes, arrows and accents a comment may hold, which the PDF base fonts
lack. Each top-level section is an entry of the PDF's outline. ``invariant`` mode leaves out the
creation date and the random document id, so the same document gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as PdfTable

from pipeline_core.reports.document import Block, Document, Figure, KeyValues, Note, Section, Table
from pipeline_core.reports.document import Paragraph as TextBlock

FONT = "DejaVuSans"
_FACES = {
    FONT: "DejaVuSans.ttf",
    f"{FONT}-Bold": "DejaVuSans-Bold.ttf",
    f"{FONT}-Oblique": "DejaVuSans-Oblique.ttf",
    f"{FONT}-BoldOblique": "DejaVuSans-BoldOblique.ttf",
}
PAGE = A4
MARGIN = 18 * mm
WIDTH = PAGE[0] - 2 * MARGIN
FIGURE_WIDTH = 115 * mm
_CELL_SIZE = 8
_CELL_PADDING = 4
_GRID = colors.HexColor("#dadce0")
_HEAD = colors.HexColor("#f1f3f4")
_GREY = colors.HexColor("#5f6368")


def _register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name, file in _FACES.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=f"{FONT}-Bold", italic=f"{FONT}-Oblique", boldItalic=f"{FONT}-BoldOblique"
    )


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, spaceAfter=5, alignment=TA_LEFT)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=f"{FONT}-Bold", fontSize=18, leading=22, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", parent=body, textColor=_GREY, spaceAfter=10),
        "h1": ParagraphStyle(
            "h1",
            parent=body,
            fontName=f"{FONT}-Bold",
            fontSize=14,
            leading=18,
            spaceBefore=14,
            spaceAfter=6,
            keepWithNext=1,
        ),
        "h2": ParagraphStyle(
            "h2",
            parent=body,
            fontName=f"{FONT}-Bold",
            fontSize=11.5,
            leading=15,
            spaceBefore=10,
            spaceAfter=4,
            keepWithNext=1,
        ),
        "h3": ParagraphStyle(
            "h3",
            parent=body,
            fontName=f"{FONT}-Bold",
            fontSize=10,
            leading=13,
            spaceBefore=8,
            spaceAfter=3,
            keepWithNext=1,
        ),
        "body": body,
        "note": ParagraphStyle("note", parent=body, fontName=f"{FONT}-Oblique", textColor=_GREY),
        "cell": ParagraphStyle("cell", parent=body, fontSize=_CELL_SIZE, leading=10, spaceAfter=0),
        "head": ParagraphStyle(
            "head", parent=body, fontName=f"{FONT}-Bold", fontSize=_CELL_SIZE, leading=10, spaceAfter=0
        ),
        "caption": ParagraphStyle(
            "caption", parent=body, fontName=f"{FONT}-Oblique", fontSize=8, leading=10, textColor=_GREY, spaceAfter=8
        ),
    }


def _text(text: str) -> str:
    """Plain text as reportlab's paragraph markup: escaped, line breaks kept."""
    return escape(text).replace("\n", "<br/>")


class _Heading(Paragraph):
    """A section title that becomes an entry of the PDF outline."""

    def __init__(self, text: str, style: ParagraphStyle, level: int) -> None:
        super().__init__(_text(text), style)
        self.outline = (text, level)


class _Template(SimpleDocTemplate):
    def afterFlowable(self, flowable: Flowable) -> None:  # noqa: N802 (reportlab's hook)
        outline = getattr(flowable, "outline", None)
        if outline is None:
            return
        text, level = outline
        key = f"s{self.seq.nextf('heading')}"
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)


def _widths(headers: Sequence[str], rows: Sequence[Sequence[str]], total: float) -> list[float]:
    """Column widths: every column as wide as its longest word, the rest shared by how much more each holds.

    So a header or a date is never broken inside a word while a comment column takes the room it needs.
    """
    pad = 2 * _CELL_PADDING + 1

    def width(text: str, font: str) -> float:
        return float(pdfmetrics.stringWidth(text, font, _CELL_SIZE))

    columns = list(zip(headers, *rows, strict=True))
    fonts = [f"{FONT}-Bold", *(FONT for _ in rows)]
    # A word longer than half the table (a sha256) is broken rather than squeezing every other column.
    least = [
        min(
            max(width(word, font) for text, font in zip(column, fonts, strict=True) for word in text.split() or [""]),
            total / 2,
        )
        + pad
        for column in columns
    ]
    natural = [max(width(text, font) for text, font in zip(column, fonts, strict=True)) + pad for column in columns]
    if sum(least) >= total:  # too many columns for their words: shrink alike, words may then break
        return [total * w / sum(least) for w in least]
    spare, wanted = total - sum(least), [n - w for n, w in zip(natural, least, strict=True)]
    if sum(wanted) <= spare:  # everything fits on one line: share the rest by the natural widths
        return [total * n / sum(natural) for n in natural]
    return [w + spare * extra / sum(wanted) for w, extra in zip(least, wanted, strict=True)]


def _grid(data: list[list[Any]], widths: list[float], *, header: bool) -> PdfTable:
    table = PdfTable(data, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    style.append(("BACKGROUND", (0, 0), (-1, 0), _HEAD) if header else ("BACKGROUND", (0, 0), (0, -1), _HEAD))
    table.setStyle(TableStyle(style))
    return table


def _flowables(block: Block, depth: int, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    if isinstance(block, TextBlock):
        return [Paragraph(_text(p.strip()), styles["body"]) for p in block.text.split("\n\n") if p.strip()]
    if isinstance(block, Note):
        return [Paragraph(_text(block.text), styles["note"])]
    if isinstance(block, KeyValues):
        data = [[Paragraph(_text(k), styles["head"]), Paragraph(_text(v), styles["cell"])] for k, v in block.rows]
        return [_grid(data, [WIDTH * 0.3, WIDTH * 0.7], header=False), Spacer(1, 6)]
    if isinstance(block, Table):
        head = [Paragraph(_text(h), styles["head"]) for h in block.headers]
        body = [[Paragraph(_text(c), styles["cell"]) for c in row] for row in block.rows]
        out: list[Flowable] = []
        if block.caption:
            out.append(Paragraph(_text(block.caption), styles["h3"]))
        out.extend([_grid([head, *body], _widths(block.headers, block.rows, WIDTH), header=True), Spacer(1, 6)])
        return out
    if isinstance(block, Figure):
        width, height = ImageReader(io.BytesIO(block.png)).getSize()
        shown = min(FIGURE_WIDTH, WIDTH)
        image = Image(io.BytesIO(block.png), width=shown, height=shown * height / width, hAlign="LEFT")
        return [KeepTogether([image, Paragraph(_text(block.caption), styles["caption"])])]
    assert isinstance(block, Section)
    heading = _Heading(block.title, styles["h2" if depth <= 1 else "h3"], level=min(depth, 2))
    return [heading, *(f for b in block.blocks for f in _flowables(b, depth + 1, styles))]


def render_pdf(document: Document) -> bytes:
    """The document as PDF bytes."""
    _register_fonts()
    styles = _styles()
    buffer = io.BytesIO()
    template = _Template(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=document.title,
        subject=document.subtitle,
        author="",
        creator="mlops-governance",
        invariant=1,
    )
    story: list[Flowable] = [Paragraph(_text(document.title), styles["title"])]
    story.append(Paragraph(_text(document.subtitle), styles["subtitle"]))
    for section in document.sections:
        story.append(_Heading(section.title, styles["h1"], level=0))
        story.extend(f for b in section.blocks for f in _flowables(b, 1, styles))

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(_GREY)
        canvas.drawString(MARGIN, MARGIN / 2, document.title)
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2, f"page {doc.page}")
        canvas.restoreState()

    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
