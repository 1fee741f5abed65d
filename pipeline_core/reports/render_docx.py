"""A report ``Document`` as DOCX (python-docx): real headings (Heading 1 per section, Heading 2/3 within), real tables.

A reader's word processor builds its navigation pane and table of contents from those headings, and
the tables stay tables to edit or copy. The package's zip entries carry a fixed date, so the same
document gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import docx
from docx.shared import Inches, Pt

from pipeline_core.reports.document import Block, Document, Figure, KeyValues, Note, Paragraph, Section, Table

FIGURE_WIDTH = Inches(5.5)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the zip format's epoch: no build time in the file


def _grid(out: Any, rows: list[tuple[str, ...]], *, header: bool) -> None:
    table = out.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            cell = table.cell(r, c)
            cell.text = text
            bold = (header and r == 0) or (not header and c == 0)
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(8.5)
                    run.bold = bold or None


def _note(out: Any, text: str) -> None:
    run = out.add_paragraph().add_run(text)
    run.italic = True


def _block(out: Any, block: Block, depth: int) -> None:
    if isinstance(block, Paragraph):
        for part in block.text.split("\n\n"):
            if part.strip():
                out.add_paragraph(part.strip())
    elif isinstance(block, Note):
        _note(out, block.text)
    elif isinstance(block, KeyValues):
        if block.rows:
            _grid(out, list(block.rows), header=False)
    elif isinstance(block, Table):
        if block.caption:
            out.add_paragraph(block.caption, style="Caption")
        _grid(out, [block.headers, *block.rows], header=True)
    elif isinstance(block, Figure):
        out.add_picture(io.BytesIO(block.png), width=FIGURE_WIDTH)
        out.add_paragraph(block.caption, style="Caption")
    else:
        assert isinstance(block, Section)
        out.add_heading(block.title, level=min(depth + 1, 9))
        for inner in block.blocks:
            _block(out, inner, depth + 1)


def _fixed_dates(package: bytes) -> bytes:
    """The same zip with every entry dated ``_ZIP_DATE``, in the same order."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, _ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def render_docx(document: Document) -> bytes:
    """The document as DOCX bytes."""
    out = docx.Document()
    props = out.core_properties
    props.title, props.subject, props.author, props.last_modified_by = document.title, document.subtitle, "", ""
    out.add_heading(document.title, level=0)
    _note(out, document.subtitle)
    for section in document.sections:
        out.add_heading(section.title, level=1)
        for block in section.blocks:
            _block(out, block, 1)
    buffer = io.BytesIO()
    out.save(buffer)
    return _fixed_dates(buffer.getvalue())
