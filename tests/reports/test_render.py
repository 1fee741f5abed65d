"""The validation report in each format: PDF text and charts (pypdf, pdftoppm), DOCX headings, HTML sections."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import docx
import pypdf
import pytest

from pipeline_core.errors import ConfigError
from pipeline_core.reports.formats import FORMATS, format_of, render
from pipeline_core.reports.render_docx import render_docx
from pipeline_core.reports.render_html import render_html, slug
from pipeline_core.reports.render_pdf import render_pdf
from pipeline_core.reports.validation import SECTION_TITLES, DecisionRecord, build_validation_report
from tests.reports.inputs import inputs, model

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_pdf(build_validation_report(inputs()))


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_the_pdf_has_every_section_and_the_decision_record(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = _pdf_text(pdf)
    for title in SECTION_TITLES:
        assert title in text, title
    for word in ("vera", "2026-11-20 09:30 UTC", "victor", "2026-11-21 14:05 UTC", "Re-check disparate impact"):
        assert word in text, word
    # The sections are the outline a reader jumps by; the charts are images on the pages.
    assert [o.title for o in reader.outline if not isinstance(o, list)] == list(SECTION_TITLES)
    assert sum(len(page.images) for page in reader.pages) == 6  # ROC, PR, calibration, scores, two per group
    assert reader.metadata is not None and reader.metadata.title == "Validation report: german_credit v2"


def test_the_pdf_keeps_text_the_base_fonts_lack() -> None:
    given = inputs()
    (approval,) = given.decision.approvals
    comment = "Sound → approve; Zürich ≥ 0.8 … ok"
    document = build_validation_report(
        replace(given, decision=replace(given.decision, approvals=(replace(approval, comment=comment),)))
    )
    assert comment in _pdf_text(render_pdf(document)).replace("\n", " ")


def test_the_pdf_renders_to_png(pdf: bytes, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: scripts/test-deps installs it")
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "3", str(source), str(ARTIFACTS / "validation-report")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pages = sorted(ARTIFACTS.glob("validation-report-*.png"))
    assert len(pages) >= 3 and all(p.read_bytes().startswith(b"\x89PNG") for p in pages)


def test_the_docx_has_real_headings_and_tables() -> None:
    data = render_docx(build_validation_report(inputs()))
    document = docx.Document(io.BytesIO(data))
    headings = [p.text for p in document.paragraphs if p.style is not None and p.style.name == "Heading 1"]
    assert headings == list(SECTION_TITLES)
    assert {"Discrimination", "Calibration", "Stability across segments"} <= {
        p.text for p in document.paragraphs if p.style is not None and p.style.name == "Heading 2"
    }
    cells = {c.text for t in document.tables for row in t.rows for c in row.cells}
    assert {"vera", "victor", "2026-11-20 09:30 UTC", "Re-check disparate impact on age in 3 months"} <= cells
    assert len(document.inline_shapes) == 6
    assert document.core_properties.title == "Validation report: german_credit v2"
    assert {i.date_time for i in zipfile.ZipFile(io.BytesIO(data)).infolist()} == {(1980, 1, 1, 0, 0, 0)}


class _Checker(HTMLParser):
    """Balanced tags (void elements aside), and the ids present."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.extend(v for k, v in attrs if k == "id" and v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()


def test_the_html_is_valid_self_contained_and_has_every_section() -> None:
    given = inputs(model=model(name="credit <test>"))
    html = render_html(build_validation_report(given))
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>")
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert checker.ids == [slug(t) for t in SECTION_TITLES]
    assert "credit &lt;test&gt;" in html and "credit <test>" not in html  # every value is escaped
    assert html.count('src="data:image/png;base64,') == 6 and "<script" not in html and "http" not in html


def test_an_empty_decision_record_says_so_in_every_format() -> None:
    document = build_validation_report(inputs(decision=DecisionRecord()))
    said = "No decision has been recorded for this model version yet."
    assert said in render_html(document)
    assert said in _pdf_text(render_pdf(document)).replace("\n", " ")
    assert said in [p.text for p in docx.Document(io.BytesIO(render_docx(document))).paragraphs]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_document_gives_the_same_bytes(fmt: str) -> None:
    document = build_validation_report(inputs())
    assert render(document, format_of(fmt)) == render(document, format_of(fmt))


@pytest.mark.parametrize("fmt", ["HTML", "xlsx", "", None, 3])
def test_an_unknown_format_is_refused_by_name(fmt: object) -> None:
    with pytest.raises(ConfigError, match=r"report format .* is not one of html, pdf, docx"):
        format_of(fmt)
