"""The entry point: sign-in against the store, and each role gets only its pages."""

from __future__ import annotations

import ast
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from dashboard.navigation import CATALOGUE
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.conftest import REPO
from tests.processes import PASSWORD

APP = str(REPO / "dashboard" / "app.py")


@pytest.mark.parametrize(
    ("user", "pages"),
    [
        ("dora", ["runs", "documentation", "findings", "overview", "deployments", "monitoring", "factsheets", "audit"]),
        (
            "vera",
            ["review", "documentation", "findings", "overview", "deployments", "monitoring", "factsheets", "audit"],
        ),
        ("max", ["overview", "documentation", "findings", "deployments", "factsheets", "audit"]),
        ("ada", ["overview", "deployments", "monitoring", "factsheets", "audit", "admin"]),
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


def _sign_in(at: AppTest, user: str, password: str = PASSWORD) -> AppTest:
    at.text_input[0].set_value(user)
    at.text_input[1].set_value(password)
    return at.button[0].click().run()


def test_a_demoted_admin_loses_the_admin_page_at_once(dash_ctx: ServiceContext, people: dict[str, Principal]) -> None:
    """Finding 2: roles were read at sign-in, never again; a demoted admin kept the Admin page."""
    governance.add_user(dash_ctx, people["admin"], username="abe", role="admin", password=PASSWORD)
    at = _sign_in(AppTest.from_file(APP, default_timeout=60).run(), "abe")
    assert "admin" in at.session_state["pages"]
    at.switch_page(str(REPO / "pages" / "admin.py")).run()
    assert not at.exception and at.title[0].value == "Admin"
    governance.set_role(dash_ctx, people["admin"], username="abe", role="manager")
    at.run()  # abe's next click
    assert not at.exception
    assert at.session_state["pages"] == ["overview", "documentation", "findings", "deployments", "factsheets", "audit"]
    assert at.session_state["principal"] == Principal("abe", "manager")
    assert at.sidebar.markdown[0].value == "**abe** · manager"
    assert at.title[0].value == "Overview"  # the Admin page is no longer registered: the home page opens
    assert [w.value for w in at.warning][:1] == [
        "Your role changed from admin to manager: you see the pages it has, and an action your old role "
        "allowed was not carried out."
    ]
    at.run()
    assert not any("Your role changed" in w.value for w in at.warning)  # said once


def test_a_disabled_account_is_signed_out_with_a_message(
    dash_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    at = _sign_in(AppTest.from_file(APP, default_timeout=60).run(), "vera")
    assert at.title[0].value == "Review"
    governance.disable_user(dash_ctx, people["admin"], username="vera", reason="left the bank")
    at.run()
    assert not at.exception and "principal" not in at.session_state and at.session_state["pages"] == []
    assert [w.value for w in at.warning] == ["You were signed out: the account 'vera' is disabled or no longer exists."]
    assert at.title[0].value == "Model governance" and [t.label for t in at.text_input] == ["User name", "Password"]
    _sign_in(at, "vera")  # and cannot sign in again
    assert "principal" not in at.session_state and "login refused for 'vera'" in at.error[0].value


def test_failed_sign_ins_from_one_source_throttle_the_dashboard(
    dash_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    """Finding 7: many wrong passwords met no throttling; one browser guessing many names is stopped too."""
    dash_ctx.settings = replace(dash_ctx.settings, sign_in_source_max_failures=2)
    at = AppTest.from_file(APP, default_timeout=60).run()
    for name in ("vera", "dora"):
        _sign_in(at, name, "not the password")
    refused = at.error[0].value
    _sign_in(at, "max")  # the right password, from the same source
    assert "principal" not in at.session_state
    assert at.error[0].value.replace("'max'", "'x'") == refused.replace("'dora'", "'x'")
    (throttled,) = governance.list_events(dash_ctx, people["admin"], action="user.sign_in_throttled")
    # AppTest's runtime knows no client address: the source is the dashboard at large.
    assert throttled.details["source"] == "dashboard" and throttled.details["username"] == "max"


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
