"""Users: add, change password, authenticate (throttled, audited), list. Passwords are stored as argon2 hashes.

A name is one account whatever its case or Unicode form (``store.models.username_key``): ``SAM_SCI`` cannot be
created beside ``sam_sci``, and signs in as it. Wrong passwords are counted per account; after
``sign_in_max_failures`` in a row the account refuses sign-in for ``sign_in_lock_seconds``.
Every failed sign-in and every lock is audited; the message is the same whatever failed, so it
tells nobody which names exist.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Any, NamedTuple

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from pipeline_core.errors import AuthError, ConfigError, ConflictError, NotFoundError
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import User, username_key
from pipeline_core.vocabulary import Role

MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def _by_name(username: str) -> Any:
    return select(User).where(User.username_key == username_key(username))


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
    require(ctx, actor, "manage_users")
    return _add(ctx, actor, username=username, role=role, password=password)


def _add(ctx: ServiceContext, actor: Principal | None, *, username: str, role: str, password: str) -> Principal:
    username = unicodedata.normalize("NFKC", username)
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
            User(
                username=username,
                username_key=username_key(username),
                role=checked,
                password_hash=password_hash,
                disabled=False,
                created_at=utcnow(),
            )
        )
        try:
            session.flush()
        except SQLIntegrityError as exc:
            raise ConflictError(
                f"user {username!r} already exists (names are one account whatever their case)"
            ) from exc
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
        require(ctx, actor, "manage_users")
    _check_password(password)
    with ctx.db.write() as session:
        user = session.execute(_by_name(username)).scalar_one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} does not exist")
        user.password_hash = ctx.password_hasher.hash(password)
        audit.record(
            session, actor=actor.username, action="user.password_changed", object_type="user", object_id=user.username
        )


def authenticate(ctx: ServiceContext, username: str, password: str, *, source: str = "") -> Principal:
    """The principal for ``username`` if ``password`` is right and the account is not locked; else refused, audited.

    ``source`` says where the attempt came from (the dashboard and the client's address, the CLI),
    for the audit record.
    """
    settings = ctx.settings
    limit = settings.sign_in_max_failures
    refused = AuthError(
        f"login refused for {username[:64]!r}: unknown user or wrong password "
        f"(after {limit} failures in a row an account is locked for {settings.sign_in_lock_seconds / 60:g} minutes)"
    )
    now = utcnow()
    with ctx.db.read() as session:
        user = session.execute(_by_name(username)).scalar_one_or_none()
    if user is None or user.disabled or not user.password_hash:
        ctx.password_hasher.hash(password)  # same cost whether or not the user exists
        _sign_in_failed(ctx, username, source, reason="unknown or disabled account")
        raise refused
    if user.locked_until is not None and user.locked_until > now:
        ctx.password_hasher.hash(password)  # a locked account answers as slowly as any other
        _sign_in_failed(ctx, user.username, source, reason="locked")
        raise refused
    try:
        ctx.password_hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        _sign_in_failed(ctx, user.username, source, reason="wrong password", count=True)
        raise refused from exc
    if user.failed_sign_ins or user.locked_until is not None:
        with ctx.db.write() as session:
            found = session.execute(_by_name(username)).scalar_one()
            found.failed_sign_ins, found.locked_until = 0, None
    return Principal(user.username, user.role)


def _sign_in_failed(ctx: ServiceContext, username: str, source: str, *, reason: str, count: bool = False) -> None:
    """Audit a refused sign-in; a wrong password also counts towards the account's lock."""
    settings = ctx.settings
    with ctx.db.write() as session:
        details: dict[str, Any] = {"reason": reason, "source": source[:128]}
        user = session.execute(_by_name(username)).scalar_one_or_none() if count else None
        if user is not None:
            user.failed_sign_ins += 1
            details["failures_in_a_row"] = user.failed_sign_ins
        audit.record(
            session,
            actor="anonymous",
            action="user.sign_in_failed",
            object_type="user",
            object_id=username[:64],
            details=details,
        )
        if user is not None and user.failed_sign_ins >= settings.sign_in_max_failures:
            user.locked_until = utcnow() + timedelta(seconds=settings.sign_in_lock_seconds)
            user.failed_sign_ins = 0  # the next run of failures after the lock counts afresh
            audit.record(
                session,
                actor="system",
                action="user.locked",
                object_type="user",
                object_id=user.username,
                details={
                    "until": user.locked_until.isoformat(timespec="seconds"),
                    "after": details["failures_in_a_row"],
                },
            )


def get_principal(ctx: ServiceContext, username: str) -> Principal:
    """The principal of an already-authenticated identity (OIDC, a signed-in session)."""
    with ctx.db.read() as session:
        user = session.execute(_by_name(username)).scalar_one_or_none()
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
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        rows = session.execute(select(User.username, User.role, User.disabled).order_by(User.username)).all()
    return [UserInfo(str(u), Role(r), bool(d)) for u, r, d in rows]


def set_role(ctx: ServiceContext, actor: Principal, *, username: str, role: str) -> None:
    """Change a user's role (admins only)."""
    require(ctx, actor, "manage_users")
    checked = _role(role)
    with ctx.db.write() as session:
        user = session.execute(_by_name(username)).scalar_one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} does not exist")
        old, user.role = user.role, checked
        audit.record(
            session,
            actor=actor.username,
            action="user.role_changed",
            object_type="user",
            object_id=user.username,
            details={"from": old, "to": checked},
        )
