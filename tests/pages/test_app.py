"""The entry point: sign-in against the store, and each role gets only its pages."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.conftest import REPO
from tests.processes import PASSWORD

APP = str(REPO / "dashboard" / "app.py")


@pytest.mark.parametrize(
    ("user", "pages"),
    [
        ("dora", ["runs", "overview", "deployments", "monitoring", "factsheets", "audit"]),
        ("vera", ["review", "overview", "deployments", "monitoring", "factsheets", "audit"]),
        ("max", ["overview", "deployments", "factsheets", "audit"]),
        ("ada", ["overview", "runs", "deployments", "monitoring", "factsheets", "audit", "admin"]),
    ],
)
def test_sign_in_registers_the_roles_pages(
    dash_ctx: ServiceContext, people: dict[str, Principal], user: str, pages: list[str]
) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and at.session_state["pages"] == []  # nothing registered before sign-in
    at.text_input[0].set_value(user)
    at.text_input[1].set_value(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["principal"] == people[user if user != "ada" else "admin"]
    assert at.session_state["pages"] == pages
    assert f"**{user}**" in at.sidebar.markdown[0].value


def test_a_wrong_password_is_refused(dash_ctx: ServiceContext, people: dict[str, Principal]) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].set_value("vera")
    at.text_input[1].set_value("not the password")
    at.button[0].click().run()
    assert "principal" not in at.session_state and "login refused" in at.error[0].value


def test_sign_out(dash_ctx: ServiceContext, people: dict[str, Principal]) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["principal"] = people["max"]
    at.run()
    at.sidebar.button[0].click().run()
    assert "principal" not in at.session_state and at.session_state["pages"] == []


def test_sso_is_offered_only_when_configured(dash_ctx: ServiceContext, people: dict[str, Principal]) -> None:
    plain = AppTest.from_file(APP, default_timeout=60).run()
    assert [b.label for b in plain.button] == ["Sign in"]
    sso = AppTest.from_file(APP, default_timeout=60)
    sso.secrets["auth"] = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "test-only",
        "client_id": "x",
        "client_secret": "y",
        "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration",
    }
    sso.run()
    assert not sso.exception and [b.label for b in sso.button] == ["Sign in", "Sign in with SSO"]
