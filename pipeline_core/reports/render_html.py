"""A report ``Document`` as one self-contained HTML file: escaped text, tables, PNG charts inlined as data URIs.

Nothing is fetched when it opens (no script, no stylesheet or image by address), so the file a
validator files with the decision reads the same offline and years later. Each top-level section is a
``<section>`` whose id is its title's slug; the same document gives the same bytes.
"""

from __future__ import annotations

import base64
import html
import re

from pipeline_core.reports.document import Block, Document, Figure, KeyValues, Note, Paragraph, Section, Table

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#202124}
h1{font-size:1.6rem} h2{border-bottom:1px solid #dadce0;padding-bottom:.3rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem} td,th{border:1px solid #dadce0;padding:.3rem .6rem;
text-align:left;vertical-align:top} th{background:#f1f3f4} caption{text-align:left;font-weight:600;padding:.2rem 0}
.note{color:#5f6368;font-style:italic} .subtitle{color:#5f6368} figure{margin:1rem 0} img{max-width:100%}
figcaption{color:#5f6368;font-size:.85rem} .kv th{width:16rem}
"""


def slug(title: str) -> str:
    """The section's anchor: lower case, words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _e(text: str) -> str:
    return html.escape(text)


def _paragraphs(text: str) -> str:
    """A written text's blank-line paragraphs as paragraphs, its single line breaks kept."""
    return "".join(f"<p>{_e(p).replace(chr(10), '<br>')}</p>" for p in re.split(r"\n\s*\n", text.strip()) if p)


def _block(block: Block, depth: int) -> str:
    if isinstance(block, Paragraph):
        return _paragraphs(block.text)
    if isinstance(block, Note):
        return f'<p class="note">{_e(block.text)}</p>'
    if isinstance(block, KeyValues):
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in block.rows)
        return f'<table class="kv"><tbody>{rows}</tbody></table>'
    if isinstance(block, Table):
        caption = f"<caption>{_e(block.caption)}</caption>" if block.caption else ""
        head = "".join(f"<th>{_e(h)}</th>" for h in block.headers)
        body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Figure):
        data = base64.b64encode(block.png).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(block.alt)}">'
            f"<figcaption>{_e(block.caption)}</figcaption></figure>"
        )
    assert isinstance(block, Section)
    level = min(depth + 2, 6)
    inner = "".join(_block(b, depth + 1) for b in block.blocks)
    return f"<h{level}>{_e(block.title)}</h{level}>{inner}"


def render_html(document: Document) -> str:
    """The document as a complete HTML page."""
    nav = " · ".join(f'<a href="#{slug(s.title)}">{_e(s.title)}</a>' for s in document.sections)
    sections = "\n".join(
        f'<section id="{slug(s.title)}"><h2>{_e(s.title)}</h2>{"".join(_block(b, 1) for b in s.blocks)}</section>'
        for s in document.sections
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(document.title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{_e(document.title)}</h1>"
        f'<p class="subtitle">{_e(document.subtitle)}</p><nav>{nav}</nav>\n{sections}</body></html>'
    )
