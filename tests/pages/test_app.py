"""The entry point: sign-in against the store, and each role gets only its pages."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from dashboard.navigation import CATALOGUE
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
    principal = people[user if user != "ada" else "admin"]
    assert at.session_state["principal"] == principal
    assert at.session_state["pages"] == pages
    assert f"**{user}**" in at.sidebar.markdown[0].value
    assert at.sidebar.markdown[0].value == f"**{user}** · {principal.role.replace('_', ' ')}"
    assert at.title[0].value == CATALOGUE[pages[0]][1]  # the role's home page opens first
    assert "User name" not in [t.label for t in at.text_input]  # the sign-in form is gone


def test_a_wrong_password_is_refused(dash_ctx: ServiceContext, people: dict[str, Principal]) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].set_value("vera")
    at.text_input[1].set_value("not the password")
    at.button[0].click().run()
    assert "principal" not in at.session_state and "login refused" in at.error[0].value
    assert [e.value for e in at.error] == [
        "login refused for 'vera': unknown user or wrong password "
        "(after 5 failures in a row an account is locked for 15 minutes)"
    ]
    assert at.session_state["pages"] == [] and at.title[0].value == "Model governance"


def test_sign_out(dash_ctx: ServiceContext, people: dict[str, Principal]) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["principal"] = people["max"]
    at.run()
    assert at.title[0].value == "Overview"  # a manager's home page
    at.sidebar.button[0].click().run()
    assert "principal" not in at.session_state and at.session_state["pages"] == []
    assert at.title[0].value == "Model governance" and [t.label for t in at.text_input] == ["User name", "Password"]


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


def test_streamlit_magic_is_off_for_the_app_and_for_these_tests() -> None:
    """The repo's config turns magic off, and the page tests run with it (Streamlit reads it from the working
    directory, the repository root, as `python -m pipeline_core up` does for the dashboard)."""
    settings = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["runner"]["magicEnabled"] is False
    assert streamlit_config.get_option("runner.magicEnabled") is False, "run pytest from the repository root"


def _magic_writes(path: Path) -> list[str]:
    """Statements Streamlit's magic would write to the page: expressions that are not calls (nor docstrings)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {
        id(node.body[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.body
    }
    return [
        f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)[:80]}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and not isinstance(node.value, ast.Call | ast.Await | ast.Yield | ast.YieldFrom)
        and id(node) not in docstrings
    ]


def test_no_page_relies_on_magic() -> None:
    """With magic off, such a statement draws nothing; with it on, it draws a value (a DeltaGenerator's help)."""
    sources = sorted((REPO / "pages").glob("*.py")) + sorted((REPO / "dashboard").glob("*.py"))
    assert len(sources) > 8
    found = [line for path in sources for line in _magic_writes(path)]
    assert not found, "make these real statements (if/else, a call):\n" + "\n".join(found)
