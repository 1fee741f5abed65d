"""What a person must never read on a dashboard page: a Python repr, a traceback, a lone None.

One check, ``first_problem``, for the browser test (text as Chromium renders it) and for the
AppTest page tests (``shown``: the text of every element of a page, each table cell apart).
"""

from __future__ import annotations

import math
import re
from typing import Any

# The Review page's tabs, in order: what the validator reads before deciding (page test and browser test).
REVIEW_TABS = (
    "Summary",
    "Quality",
    "Fairness",
    "Drift",
    "Explainability",
    "Model tests",
    "Documentation",
    "Findings",
    "Earlier versions",
    "Factsheet",
    "Compare with production",
)
# (what it is, how it shows): each one is Python talking, not the product.
REPRS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an object repr", re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>|\bobject at 0x[0-9a-fA-F]+")),
    ("Streamlit's DeltaGenerator", re.compile(r"DeltaGenerator")),
    ("a dict view", re.compile(r"\bdict_(?:keys|values|items)\(")),
    ("a pandas repr", re.compile(r"\b(?:Timestamp|Timedelta|Period|Series|DataFrame)\(|\bdtype: \w+|\bdtype='")),
    ("a numpy repr", re.compile(r"\bnumpy\.|\bnp\.\w+\(|\barray\(\[")),
    ("a Python dict repr", re.compile(r"\{'[^'\n]{1,60}': ")),
    ("a dataclass repr", re.compile(r"\b[A-Z][A-Za-z]+\((?:[a-z_]+)=")),
    ("a traceback", re.compile(r"Traceback \(most recent call last\)|\bFile \"[^\"]+\", line \d+")),
)
# A line (or a table cell) that is nothing but a missing value.
LONE = re.compile(r"^[\s`*_]*(?:None|nan|NaN|NaT)[\s`*_]*$")


def first_problem(texts: list[str]) -> str | None:
    """The first repr, traceback or lone None in ``texts`` (lines, cells), named with its context."""
    for text in texts:
        for line in text.splitlines() or [text]:
            if LONE.match(line):
                return f"a lone {line.strip(' `*_')!r} (a missing value shown as is)"
        for what, pattern in REPRS:
            found = pattern.search(text)
            if found:
                start, end = max(0, found.start() - 60), min(len(text), found.end() + 60)
                return f"{what}: …{text[start:end]}…"
    return None


def _cell(value: Any) -> str:
    """A table cell as the dashboard draws it: Streamlit writes a missing value as 'None'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "None"
    try:
        import pandas as pd

        if value is pd.NaT:
            return "None"
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(value)


def shown(at: Any) -> list[str]:
    """Every text an AppTest run shows: labels, values, messages, and each table cell on its own."""
    texts: list[str] = []

    def element(node: Any) -> None:
        kind = getattr(node, "type", "")
        for attribute in ("label", "body", "delta", "doc_string"):
            value = getattr(node, attribute, None)
            if isinstance(value, str) and value:
                texts.append(value)
        if kind == "plotly_chart":
            return  # the figure's JSON, not text on the page
        if kind == "arrow_data_frame" or kind == "dataframe":
            frame = node.value
            texts.extend(str(c) for c in frame.columns)
            texts.extend(_cell(v) for row in frame.itertuples(index=False) for v in row)
            return
        try:
            value = node.value
        except Exception:  # noqa: BLE001 - an element without a value (a container, a chart)
            value = None
        if isinstance(value, str) and value:
            texts.append(value)
        elif kind == "metric" and value is not None:
            texts.append(str(value))
        options = getattr(node, "options", None)
        if isinstance(options, list):
            texts.extend(str(o) for o in options)
        if kind == "exception":
            texts.extend(str(line) for line in getattr(node, "stack_trace", []))
            texts.append("Traceback (most recent call last)")  # an exception box is a traceback to a person

    def walk(node: Any) -> None:
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            label = getattr(node, "label", None)
            if isinstance(label, str) and label:
                texts.append(label)
            for child in children.values():
                walk(child)
        else:
            element(node)

    walk(at.main)
    walk(at.sidebar)
    return texts


def assert_readable(at: Any, where: object) -> None:
    """An AppTest run that raised nothing and shows the product: no Python repr, no traceback, no lone None."""
    assert not at.exception, (where, at.exception)
    problem = first_problem(shown(at))
    assert problem is None, f"{where}: {problem}"
