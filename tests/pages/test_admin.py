"""The Admin page: disabling and enabling accounts, and the last enabled admin kept."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.pages.conftest import PageRunner


def _button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if getattr(b, "label", "") == label)


def test_an_admin_disables_and_enables_an_account(
    page: PageRunner, dash_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    at = page("admin", "admin")
    at.selectbox(key="account").set_value("vera")
    at.text_input(key="account-reason").set_value("left the bank")
    _button(at, "Disable account").click().run()
    assert not at.exception and [s.value for s in at.success] == ["vera is disabled."]
    assert ("vera", "validator", True) in governance.list_users(dash_ctx, people["admin"])
    at.run()  # the table shows it on the next run
    rows = at.dataframe[0].value.set_index("user")
    assert bool(rows.loc["vera", "disabled"]) and not bool(rows.loc["dora", "disabled"])
    at.selectbox(key="account").set_value("vera")
    _button(at, "Enable account").click().run()
    assert [s.value for s in at.success] == ["vera is enabled."]
    assert ("vera", "validator", False) in governance.list_users(dash_ctx, people["admin"])
    (disabled,) = governance.list_events(dash_ctx, people["admin"], action="user.disabled")
    assert disabled.actor == "ada" and disabled.details == {"reason": "left the bank"}


def test_the_last_enabled_admin_is_kept(
    page: PageRunner, dash_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    at = page("admin", "admin")
    at.selectbox(key="account").set_value("ada")
    _button(at, "Disable account").click().run()
    assert not at.success
    assert [e.value for e in at.error] == [
        "ConflictError: user 'ada' is the last enabled admin and cannot be disabled: make another user an admin first"
    ]
    at.selectbox(key="new-role").set_value("manager")
    _button(at, "Change role").click().run()
    assert "ConflictError: user 'ada' is the last enabled admin and cannot become a manager" in at.error[0].value
    assert governance.get_principal(dash_ctx, "ada") == Principal("ada", "admin")
