"""Users: add, change password, authenticate, list. Passwords are stored as argon2 hashes."""

from __future__ import annotations

import re
from typing import NamedTuple

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from pipeline_core.errors import AuthError, ConfigError, ConflictError, NotFoundError
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import User
from pipeline_core.vocabulary import Role

MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ConfigError(f"role {role!r} is not one of {[r.value for r in Role]}") from None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(f"password: must be at least {MIN_PASSWORD_LENGTH} characters, got {len(password)}")


def user_count(ctx: ServiceContext) -> int:
    with ctx.db.read() as session:
        return int(session.execute(select(func.count()).select_from(User)).scalar() or 0)


def add_first_admin(ctx: ServiceContext, *, username: str, password: str) -> Principal:
    """The store's first user, an admin (bootstrap): refused once any user exists."""
    return _add(ctx, None, username=username, role=Role.ADMIN, password=password)


def add_user(ctx: ServiceContext, actor: Principal, *, username: str, role: str, password: str) -> Principal:
    """Add a user (admins only)."""
    require(actor, "manage_users")
    return _add(ctx, actor, username=username, role=role, password=password)


def _add(ctx: ServiceContext, actor: Principal | None, *, username: str, role: str, password: str) -> Principal:
    if not _USERNAME.match(username):
        raise ConfigError(f"username {username!r}: use 2-64 letters, digits or . _ @ -")
    checked = _role(role)
    _check_password(password)
    password_hash = ctx.password_hasher.hash(password)
    with ctx.db.write() as session:
        first = session.execute(select(func.count()).select_from(User)).scalar() == 0
        if actor is None and not first:
            raise AuthError("adding a user needs an admin once the first user exists")
        session.add(
            User(username=username, role=checked, password_hash=password_hash, disabled=False, created_at=utcnow())
        )
        try:
            session.flush()
        except SQLIntegrityError as exc:
            raise ConflictError(f"user {username!r} already exists") from exc
        audit.record(
            session,
            actor=actor.username if actor else "bootstrap",
            action="user.added",
            object_type="user",
            object_id=username,
            details={"role": checked},
        )
    return Principal(username, checked)


def set_password(ctx: ServiceContext, actor: Principal, *, username: str, password: str) -> None:
    """Change a password: an admin for anyone, a user for themselves."""
    if actor.username != username:
        require(actor, "manage_users")
    _check_password(password)
    with ctx.db.write() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} does not exist")
        user.password_hash = ctx.password_hasher.hash(password)
        audit.record(
            session, actor=actor.username, action="user.password_changed", object_type="user", object_id=username
        )


def authenticate(ctx: ServiceContext, username: str, password: str) -> Principal:
    """The principal for ``username`` if ``password`` is right; one message for every failure."""
    with ctx.db.read() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    refused = AuthError(f"login refused for {username!r}: unknown user or wrong password")
    if user is None or user.disabled or not user.password_hash:
        ctx.password_hasher.hash(password)  # same cost whether or not the user exists
        raise refused
    try:
        ctx.password_hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        raise refused from exc
    return Principal(user.username, user.role)


def get_principal(ctx: ServiceContext, username: str) -> Principal:
    """The principal of an already-authenticated identity (OIDC, a signed-in session)."""
    with ctx.db.read() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or user.disabled:
        raise NotFoundError(f"user {username!r} does not exist or is disabled")
    return Principal(user.username, user.role)


class UserInfo(NamedTuple):
    """An account as others see it: name, role, whether it is disabled (never its password hash)."""

    username: str
    role: Role
    disabled: bool


def list_users(ctx: ServiceContext, actor: Principal) -> list[UserInfo]:
    """Every account, by name."""
    require(actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(select(User.username, User.role, User.disabled).order_by(User.username)).all()
    return [UserInfo(str(u), Role(r), bool(d)) for u, r, d in rows]


def set_role(ctx: ServiceContext, actor: Principal, *, username: str, role: str) -> None:
    """Change a user's role (admins only)."""
    require(actor, "manage_users")
    checked = _role(role)
    with ctx.db.write() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} does not exist")
        old, user.role = user.role, checked
        audit.record(
            session,
            actor=actor.username,
            action="user.role_changed",
            object_type="user",
            object_id=username,
            details={"from": old, "to": checked},
        )
