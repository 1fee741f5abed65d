"""The report's document model: typed blocks every renderer (HTML, PDF, DOCX) walks the same way.

A renderer never sees raw dictionaries: facts are ``KeyValues`` rows of text, tables hold text
cells, so the three formats say the same thing and none prints a ``{...}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Note:
    """A remark set apart: "none recorded", "not stored", a caveat."""

    text: str


@dataclass(frozen=True)
class KeyValues:
    rows: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, facts: Mapping[str, object]) -> KeyValues:
        """Facts as readable rows; a nested mapping or list becomes ``key: value`` text, never a raw dict."""
        return cls(tuple((str(k), readable(v)) for k, v in facts.items()))


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.headers):
                raise ValueError(f"table {self.caption!r}: row {i} has {len(row)} cells, {len(self.headers)} headers")


@dataclass(frozen=True)
class Figure:
    png: bytes = field(repr=False)
    caption: str
    alt: str


Block: TypeAlias = "Paragraph | Note | KeyValues | Table | Figure | Section"


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    sections: tuple[Section, ...]

    def section(self, title: str) -> Section:
        return next(s for s in self.sections if s.title == title)


def readable(value: object) -> str:
    """One value as text a reader reads: floats to 4 places, mappings as ``key: value; ...``, lists joined."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {readable(v)}" for k, v in value.items()) or "–"
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return ", ".join(readable(v) for v in value) or "–"
    return str(value)
