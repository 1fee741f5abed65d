"""Users: add, change password or role, disable and enable, authenticate (throttled, audited), list.

Passwords are stored as argon2 hashes. A name is one account whatever its case or Unicode form
(``store.models.username_key``): ``SAM_SCI`` cannot be created beside ``sam_sci``, and signs in as it.
Wrong passwords are counted per account; after ``sign_in_max_failures`` in a row the account refuses
sign-in for ``sign_in_lock_seconds``. Failures are counted per source too (where the attempt came
from: a client address, a CLI's OS user): after ``sign_in_source_max_failures`` within
``sign_in_source_window_seconds`` every sign-in from that source is refused until older failures
leave the window, so guessing across many names from one place is slowed as well. Every failed,
throttled sign-in and every lock is audited; the message is the same whatever failed, so it tells
nobody which names exist. The store always keeps one enabled admin: the last cannot be demoted or
disabled.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.orm import Session

from pipeline_core.errors import AuthError, ConfigError, ConflictError, NotFoundError
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import AuditEvent, User, username_key
from pipeline_core.vocabulary import Role

MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def by_name(username: str) -> Any:
    """The query for the account ``username`` means (compared by ``username_key``)."""
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
        user = session.execute(by_name(username)).scalar_one_or_none()
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
    failures = _source_failures(ctx, source, since=now - timedelta(seconds=settings.sign_in_source_window_seconds))
    if failures >= settings.sign_in_source_max_failures:
        # Refused before the password is looked at: guessing from this source is what is being stopped.
        _sign_in_throttled(ctx, username, source, failures=failures)
        raise refused
    with ctx.db.read() as session:
        user = session.execute(by_name(username)).scalar_one_or_none()
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
            found = session.execute(by_name(username)).scalar_one()
            found.failed_sign_ins, found.locked_until = 0, None
    return Principal(user.username, user.role)


def _source_failures(ctx: ServiceContext, source: str, *, since: datetime) -> int:
    """Failed sign-ins from ``source`` since ``since``, counted in the audit log (each carries its source)."""
    with ctx.db.read() as session:
        found = session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "user.sign_in_failed",
                AuditEvent.at >= since,
                AuditEvent.details["source"].as_string() == source[:128],
            )
        ).scalar()
    return int(found or 0)


def _sign_in_throttled(ctx: ServiceContext, username: str, source: str, *, failures: int) -> None:
    """Audit a sign-in refused because its source failed too often lately (the account is not touched)."""
    settings = ctx.settings
    with ctx.db.write() as session:
        audit.record(
            session,
            actor="anonymous",
            action="user.sign_in_throttled",
            object_type="source",
            object_id=source[:64],
            details={
                "source": source[:128],
                "username": username[:64],
                "failures": failures,
                "window_seconds": settings.sign_in_source_window_seconds,
            },
        )


def _sign_in_failed(ctx: ServiceContext, username: str, source: str, *, reason: str, count: bool = False) -> None:
    """Audit a refused sign-in; a wrong password also counts towards the account's lock."""
    settings = ctx.settings
    with ctx.db.write() as session:
        details: dict[str, Any] = {"reason": reason, "source": source[:128]}
        user = session.execute(by_name(username)).scalar_one_or_none() if count else None
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
        user = session.execute(by_name(username)).scalar_one_or_none()
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
    """Change a user's role (admins only); the last enabled admin keeps theirs."""
    require(ctx, actor, "manage_users")
    checked = _role(role)
    with ctx.db.write() as session:
        user = session.execute(by_name(username)).scalar_one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} does not exist")
        if checked != Role.ADMIN:
            _keep_an_admin(session, user, f"cannot become a {checked}")
        old, user.role = user.role, checked
        audit.record(
            session,
            actor=actor.username,
            action="user.role_changed",
            object_type="user",
            object_id=user.username,
            details={"from": old, "to": checked},
        )


def disable_user(ctx: ServiceContext, actor: Principal, *, username: str, reason: str | None = None) -> UserInfo:
    """Disable an account (admins only): it can neither sign in nor act, whatever session it has open.

    Disabling a disabled account changes nothing and records nothing. The last enabled admin cannot be
    disabled: the store would have nobody left to manage it.
    """
    require(ctx, actor, "manage_users")
    return _set_disabled(ctx, actor, username, disabled=True, reason=reason)


def enable_user(ctx: ServiceContext, actor: Principal, *, username: str, reason: str | None = None) -> UserInfo:
    """Enable a disabled account again (admins only), with the role it had."""
    require(ctx, actor, "manage_users")
    return _set_disabled(ctx, actor, username, disabled=False, reason=reason)


def _set_disabled(
    ctx: ServiceContext, actor: Principal, username: str, *, disabled: bool, reason: str | None
) -> UserInfo:
    reason = (reason or "").strip()
    with ctx.db.write() as session:
        user = session.execute(by_name(username)).scalar_one_or_none()
        if user is None:
            raise NotFoundError(f"user {username!r} does not exist")
        if bool(user.disabled) != disabled:
            if disabled:
                _keep_an_admin(session, user, "cannot be disabled")
            user.disabled = disabled
            if not disabled:  # a fresh start: an old lock or failure count is not held against the re-enabled account
                user.failed_sign_ins, user.locked_until = 0, None
            audit.record(
                session,
                actor=actor.username,
                action="user.disabled" if disabled else "user.enabled",
                object_type="user",
                object_id=user.username,
                details={"reason": reason[:500]} if reason else {},
            )
        return UserInfo(user.username, Role(user.role), bool(user.disabled))


def _keep_an_admin(session: Session, user: User, change: str) -> None:
    """Refuse a change that would leave the store without an enabled admin (called inside the write)."""
    if user.role != Role.ADMIN or user.disabled:
        return
    others = session.execute(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN, User.disabled.is_(False), User.id != user.id)
    ).scalar()
    if not others:
        raise ConflictError(
            f"user {user.username!r} is the last enabled admin and {change}: make another user an admin first"
        )
