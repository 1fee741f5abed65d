"""Users: argon2 hashes, bootstrap, authentication, password rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline_core.config import Settings
from pipeline_core.errors import AuthError, ConfigError, ConflictError, PermissionDenied
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
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
