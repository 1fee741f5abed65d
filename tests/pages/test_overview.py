"""Overview page: empty states, then the inventory, prod history, alerts and decisions."""

from __future__ import annotations

from tests.pages.conftest import PageRunner


def test_empty_store_says_what_to_do_next(page: PageRunner) -> None:
    at = page("overview", "max")
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    assert "No model versions yet" in infos and "Nothing is in production yet" in infos
    assert at.success[0].value == "No open alerts."
