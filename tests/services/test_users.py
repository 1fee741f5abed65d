"""Users: argon2 hashes, bootstrap, authentication and its throttling, password rules, disabling, the last admin."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from pipeline_core.config import Settings
from pipeline_core.errors import AuthError, ConfigError, ConflictError, NotFoundError, PermissionDenied
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.governance import _users
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import AuditEvent, User
from pipeline_core.vocabulary import Role
from tests.credentials import PASSWORD


def test_first_user_bootstraps_then_only_admins_add(ctx: ServiceContext) -> None:
    admin = governance.add_first_admin(ctx, username="root_admin", password=PASSWORD)
    with pytest.raises(AuthError, match="needs an admin once the first user exists"):
        governance.add_first_admin(ctx, username="sneaky", password=PASSWORD)
    ds = governance.add_user(ctx, admin, username="ds", role="data_scientist", password=PASSWORD)
    with pytest.raises(PermissionDenied, match="ds is a data_scientist"):
        governance.add_user(ctx, ds, username="friend", role="admin", password=PASSWORD)
    with pytest.raises(ConflictError, match="user 'ds' already exists"):
        governance.add_user(ctx, admin, username="ds", role="validator", password=PASSWORD)


def test_passwords_are_argon2_hashes_and_never_audited(ctx: ServiceContext) -> None:
    governance.add_first_admin(ctx, username="ada", password=PASSWORD)
    with ctx.db.read() as session:
        stored = session.execute(select(User.password_hash)).scalar_one()
        details = [e.details for e in session.execute(select(AuditEvent)).scalars()]
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PASSWORD not in str(details)


def test_the_product_hashes_at_argon2s_rfc_9106_cost(settings: Settings) -> None:
    """The suite's stores use a cheap hasher; a context opened as the product opens it keeps the full cost."""
    product = open_context(settings)
    try:
        governance.add_first_admin(product, username="ada", password=PASSWORD)
        with product.db.read() as session:
            stored = session.execute(select(User.password_hash)).scalar_one()
        assert stored is not None and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert governance.authenticate(product, "ada", PASSWORD) == Principal("ada", "admin")
    finally:
        product.close()


def test_authenticate(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    assert governance.authenticate(ctx, "vera", PASSWORD) == Principal("vera", "validator")
    for name, password in [("vera", "wrong password!!"), ("nobody", PASSWORD)]:
        with pytest.raises(AuthError, match=f"login refused for '{name}': unknown user or wrong password"):
            governance.authenticate(ctx, name, password)


def test_password_changes(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    governance.set_password(ctx, people["vera"], username="vera", password="a much newer secret")
    assert governance.authenticate(ctx, "vera", "a much newer secret").role == "validator"
    with pytest.raises(PermissionDenied, match="vera is a validator"):
        governance.set_password(ctx, people["vera"], username="dora", password="taking over dora")
    governance.set_password(ctx, people["admin"], username="dora", password="reset by the admin")
    assert governance.authenticate(ctx, "dora", "reset by the admin").username == "dora"


@pytest.mark.parametrize(
    ("username", "role", "password", "match"),
    [
        ("x", "admin", PASSWORD, "username 'x': use 2-64"),
        ("bob smith", "admin", PASSWORD, "username 'bob smith'"),
        ("bob", "boss", PASSWORD, "role 'boss' is not one of"),
        ("bob", "admin", "short", "password: must be at least 12 characters, got 5"),
    ],
)
def test_bad_user_fields_are_named(ctx: ServiceContext, username: str, role: str, password: str, match: str) -> None:
    admin = governance.add_first_admin(ctx, username="root_admin", password=PASSWORD)
    with pytest.raises(ConfigError, match=match):
        governance.add_user(ctx, admin, username=username, role=role, password=password)


@pytest.mark.parametrize("other", ["SAM_SCI", "Sam_Sci", "ｓａｍ＿ｓｃｉ"])
def test_a_name_is_one_account_whatever_its_case_or_form(
    ctx: ServiceContext, people: dict[str, Principal], other: str
) -> None:
    governance.add_user(ctx, people["admin"], username="sam_sci", role="data_scientist", password=PASSWORD)
    with pytest.raises(ConflictError, match="already exists"):
        governance.add_user(ctx, people["admin"], username=other, role="validator", password=PASSWORD)
    assert governance.authenticate(ctx, other, PASSWORD) == Principal("sam_sci", "data_scientist")


def test_wrong_passwords_lock_the_account_and_every_refusal_is_audited(
    ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    limit = ctx.settings.sign_in_max_failures
    messages = set()
    for _ in range(limit):
        with pytest.raises(AuthError) as refused:
            governance.authenticate(ctx, "vera", "not the password", source="test")
        messages.add(str(refused.value))
    # Locked: the right password is refused now, in the very words a wrong one or an unknown name gets.
    with pytest.raises(AuthError) as locked:
        governance.authenticate(ctx, "vera", PASSWORD, source="test")
    with pytest.raises(AuthError) as unknown:
        governance.authenticate(ctx, "nobody_here", PASSWORD, source="test")
    assert {str(locked.value).replace("'vera'", "'x'"), str(unknown.value).replace("'nobody_here'", "'x'")} == {
        m.replace("'vera'", "'x'") for m in messages
    }
    events = governance.list_events(ctx, people["admin"], action="user.")
    failed = [e for e in events if e.action == "user.sign_in_failed"]
    assert len(failed) == limit + 2 and {e.details["reason"] for e in failed} == {
        "wrong password",
        "locked",
        "unknown or disabled account",
    }
    (lock,) = [e for e in events if e.action == "user.locked"]
    assert lock.object == "user vera" and lock.details["after"] == limit
    # The lock ends: moved past it, the right password signs in and the count starts again.
    with ctx.db.write() as session:
        session.execute(
            update(User).where(User.username == "vera").values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert governance.authenticate(ctx, "vera", PASSWORD).role == "validator"
    with ctx.db.read() as session:
        assert session.execute(select(User.failed_sign_ins).where(User.username == "vera")).scalar() == 0


def test_a_disabled_account_can_neither_sign_in_nor_act_until_enabled(
    ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    """Finding 2: an admin disables a signed-in validator; the open session is refused at once, and so is sign-in."""
    vera = governance.authenticate(ctx, "vera", PASSWORD)
    shown = governance.disable_user(ctx, people["admin"], username="VERA", reason="left the bank")
    assert shown == governance.UserInfo("vera", Role.VALIDATOR, True)
    assert ("vera", Role.VALIDATOR, True) in governance.list_users(ctx, people["max"])
    with pytest.raises(PermissionDenied, match="the account 'vera' is disabled; approve refused"):
        governance.approve(ctx, vera, 1, comment="ok", artifact_sha256="x")
    with pytest.raises(AuthError, match="login refused for 'vera'"):
        governance.authenticate(ctx, "vera", PASSWORD)
    with pytest.raises(NotFoundError, match="user 'vera' does not exist or is disabled"):
        governance.get_principal(ctx, "vera")
    governance.disable_user(ctx, people["admin"], username="vera")  # already disabled: nothing changes
    assert governance.enable_user(ctx, people["admin"], username="vera").disabled is False
    assert governance.authenticate(ctx, "vera", PASSWORD) == Principal("vera", "validator")
    events = [e for e in governance.list_events(ctx, people["admin"], action="user.") if e.object == "user vera"]
    changes = [(e.action, e.actor, e.details) for e in events if e.action in ("user.disabled", "user.enabled")]
    assert changes == [("user.enabled", "ada", {}), ("user.disabled", "ada", {"reason": "left the bank"})]


def test_enabling_an_account_clears_its_lock(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    for _ in range(ctx.settings.sign_in_max_failures):
        with pytest.raises(AuthError):
            governance.authenticate(ctx, "dora", "not the password", source="test")
    governance.disable_user(ctx, people["admin"], username="dora")
    governance.enable_user(ctx, people["admin"], username="dora", reason="back from leave")
    assert governance.authenticate(ctx, "dora", PASSWORD).username == "dora"


@pytest.mark.parametrize(
    ("who", "call", "error", "match"),
    [
        ("vera", lambda ctx, p: governance.disable_user(ctx, p, username="dora"), PermissionDenied, "vera is a"),
        ("max", lambda ctx, p: governance.enable_user(ctx, p, username="dora"), PermissionDenied, "max is a manager"),
        ("admin", lambda ctx, p: governance.disable_user(ctx, p, username="ghost"), NotFoundError, "'ghost' does not"),
        ("admin", lambda ctx, p: governance.enable_user(ctx, p, username="ghost"), NotFoundError, "'ghost' does not"),
        (
            "admin",
            lambda ctx, p: governance.disable_user(ctx, p, username="ada"),
            ConflictError,
            "user 'ada' is the last enabled admin and cannot be disabled",
        ),
        (
            "admin",
            lambda ctx, p: governance.set_role(ctx, p, username="ADA", role="manager"),
            ConflictError,
            "user 'ada' is the last enabled admin and cannot become a manager",
        ),
    ],
    ids=["validator-disables", "manager-enables", "disable-unknown", "enable-unknown", "last-admin", "last-demoted"],
)
def test_account_changes_that_are_refused(
    ctx: ServiceContext, people: dict[str, Principal], who: str, call: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call(ctx, people[who])
    assert {(u.username, u.role, u.disabled) for u in governance.list_users(ctx, people["max"])} == {
        (p.username, p.role, False) for p in people.values()
    }


def test_the_store_keeps_one_enabled_admin(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    """Finding 2: the last admin demoted themselves and left none. A disabled admin does not count as one."""
    ada = people["admin"]
    governance.add_user(ctx, ada, username="abe", role="admin", password=PASSWORD)
    governance.disable_user(ctx, ada, username="abe")
    with pytest.raises(ConflictError, match="'ada' is the last enabled admin"):
        governance.set_role(ctx, ada, username="ada", role="validator")
    governance.enable_user(ctx, ada, username="abe")
    governance.set_role(ctx, ada, username="ada", role="manager")  # abe is still an admin
    abe = governance.authenticate(ctx, "abe", PASSWORD)
    with pytest.raises(ConflictError, match="'abe' is the last enabled admin and cannot be disabled"):
        governance.disable_user(ctx, abe, username="abe")
    governance.disable_user(ctx, abe, username="ada")  # a manager now: no admin is lost
    governance.set_role(ctx, abe, username="abe", role="admin")  # staying an admin is no demotion


def test_failures_from_one_source_throttle_every_sign_in_from_it(
    ctx: ServiceContext, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 7: 20 wrong passwords met no throttling. Guessing across names from one source is stopped too."""
    ctx.settings = replace(ctx.settings, sign_in_source_max_failures=3, sign_in_source_window_seconds=600)
    for name in ("vera", "dora", "nobody_here"):  # one failure each: no account reaches its own lock
        with pytest.raises(AuthError) as failed:
            governance.authenticate(ctx, name, "not the password", source="dashboard:203.0.113.7")
    with pytest.raises(AuthError) as throttled:
        governance.authenticate(ctx, "max", PASSWORD, source="dashboard:203.0.113.7")
    # The one refusal message, whatever was refused; another source signs in as usual.
    assert str(throttled.value).replace("'max'", "'x'") == str(failed.value).replace("'nobody_here'", "'x'")
    assert governance.authenticate(ctx, "max", PASSWORD, source="cli:someone").role == "manager"
    (event,) = governance.list_events(ctx, people["admin"], action="user.sign_in_throttled")
    assert (event.actor, event.object) == ("anonymous", "source dashboard:203.0.113.7")
    assert event.details == {
        "source": "dashboard:203.0.113.7",
        "username": "max",
        "failures": 3,
        "window_seconds": 600,
    }
    with ctx.db.read() as session:  # refused before the password was looked at: max's own count is untouched
        assert session.execute(select(User.failed_sign_ins).where(User.username == "max")).scalar() == 0
    # The window passes: the source may try again.
    later = utcnow() + timedelta(seconds=601)
    monkeypatch.setattr(_users, "utcnow", lambda: later)
    assert governance.authenticate(ctx, "max", PASSWORD, source="dashboard:203.0.113.7").role == "manager"


def test_the_source_limit_defaults_to_20_in_15_minutes(settings: Settings) -> None:
    assert (settings.sign_in_source_max_failures, settings.sign_in_source_window_seconds) == (20, 900)
