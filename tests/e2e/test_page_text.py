"""The check every page goes through (tests/e2e/page_text.py): what it flags, and what it lets through."""

from __future__ import annotations

import pytest

from tests.e2e.page_text import first_problem


@pytest.mark.parametrize(
    "text",
    [
        "DeltaGenerator(_provided_cursor=LockedCursor(_index=4), _parent=DeltaGenerator())",
        "<pipeline_core.store.models.Run object at 0x7f4cf6785f50>",
        "dict_keys(['roc_auc', 'pr_auc'])",
        "trained at Timestamp('2026-12-01 22:12:08')",
        "value numpy.float64(0.5)",
        "value np.float64(0.5)",
        "array([0.1, 0.2])",
        "details {'approval_id': 1, 'override': None}",
        "Principal(username='max', role='manager')",
        'Traceback (most recent call last):\n  File "pages/review.py", line 12, in <module>',
        "None",
        "`None`",
        "  nan ",
        "first line\nNone\nthird line",
    ],
)
def test_python_on_a_page_is_flagged(text: str) -> None:
    assert first_problem(["fine", text]) is not None


@pytest.mark.parametrize(
    "text",
    [
        "No Risk (probability of Risk 0.123); scoring id 9128057f-243",
        "override: none",
        "No decision yet: the candidate awaits a validator's review.",
        "roc_auc = 0.0000 fails its critical threshold 0.6000 (prod, evaluation 3)",
        "login refused for 'vera': unknown user or wrong password",
        "evidence: (evaluation ids: 2); override: –",
        '-d \'{"input_data": [{"fields": ["CheckingStatus"]}]}\'',
        "–",
        "Nothing is in production yet: approve a candidate on the Review page.",
    ],
)
def test_the_product_speaking_passes(text: str) -> None:
    assert first_problem([text]) is None
