"""Users: argon2 hashes, bootstrap, authentication, password rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from pipeline_core.config import Settings
from pipeline_core.errors import AuthError, ConfigError, ConflictError, PermissionDenied
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import AuditEvent, User
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
