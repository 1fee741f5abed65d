"""The report's document model: readable values, tables that refuse ragged rows."""

from __future__ import annotations

import pytest

from pipeline_core.reports.document import KeyValues, Table, readable


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (0.123456, "0.1235"),
        ({"max_depth": 3, "lr": 0.1}, "max_depth: 3; lr: 0.1000"),
        (["a", "b"], "a, b"),
        ({}, "–"),
        ("text", "text"),
    ],
)
def test_readable_never_prints_a_raw_dict(value: object, text: str) -> None:
    assert readable(value) == text


def test_key_values_of_nested_facts() -> None:
    kv = KeyValues.of({"parameters": {"C": 1.0}})
    assert kv.rows == (("parameters", "C: 1.0000"),)
    assert "{" not in kv.rows[0][1]


def test_table_refuses_a_ragged_row() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 cells, 2 headers"):
        Table(("a", "b"), (("x",),), caption="t")
