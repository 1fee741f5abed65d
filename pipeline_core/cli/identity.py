"""Who acts on the command line: signing in, new passwords, and the demo users ``demo`` and ``up`` create.

Every command that reads or acts on the store signs in first (``login``): there is no anonymous reader,
whatever the OS account can open. A sign-in from the CLI comes from the source ``cli:<OS user>``, so
failures from one account on the machine are throttled together, whichever product user they name.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from typing import TYPE_CHECKING, TextIO

from pipeline_core.errors import AuthError, NotFoundError
from pipeline_core.vocabulary import Role

if TYPE_CHECKING:
    from pipeline_core.services.authz import Principal
    from pipeline_core.services.context import ServiceContext

DEMO_SCIENTIST = "demo_scientist"
DEMO_USERS = (
    (DEMO_SCIENTIST, Role.DATA_SCIENTIST),
    ("demo_validator", Role.VALIDATOR),
    # A tier-1 model needs two independent validators (pipeline_core.policy): the demo has both.
    ("demo_validator_2", Role.VALIDATOR),
    ("demo_manager", Role.MANAGER),
    ("demo_admin", Role.ADMIN),
)


def login(ctx: ServiceContext, args: argparse.Namespace) -> Principal:
    """The acting user: --user or MLOPS_USER, password from MLOPS_PASSWORD or a prompt."""
    from pipeline_core.services import governance

    username = getattr(args, "user", None) or ctx.settings.user
    if not username:
        raise AuthError("name the acting user with --user or MLOPS_USER")
    password = ctx.settings.password
    if not password:
        if not sys.stdin.isatty():
            raise AuthError(f"no password for {username!r}: set MLOPS_PASSWORD or run from a terminal")
        password = getpass.getpass(f"password for {username}: ")
    return governance.authenticate(ctx, username, password, source=cli_source())


def cli_source() -> str:
    """Where a CLI sign-in comes from, for throttling and the audit record: the OS account running it."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container's bare uid): the uid still tells them apart
        who = f"uid {os.getuid()}"
    return f"cli:{who}"


def new_password(ctx: ServiceContext, args: argparse.Namespace) -> str:
    """From stdin (--password-stdin), MLOPS_NEW_PASSWORD, or a prompt; never an argument (ps shows those)."""
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    if ctx.settings.new_password:
        return ctx.settings.new_password
    if not sys.stdin.isatty():
        raise AuthError("give the new password on stdin with --password-stdin")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise AuthError("the two passwords differ")
    return first


def ensure_demo_users(ctx: ServiceContext, out: TextIO) -> None:
    """Create the demo users once, with passwords from MLOPS_DEMO_PASSWORD or generated and shown once."""
    from pipeline_core.services import governance

    if governance.user_count(ctx) > 0:
        return
    out.write("creating demo users (passwords are shown only now; they are stored as argon2 hashes):\n")
    admin: Principal | None = None
    # The admin first: on an empty store only the first user needs no admin to add it.
    for username, role in sorted(DEMO_USERS, key=lambda u: u[1] != Role.ADMIN):
        password = ctx.settings.demo_password or secrets.token_urlsafe(12)
        if admin is None:
            admin = governance.add_first_admin(ctx, username=username, password=password)
        else:
            governance.add_user(ctx, admin, username=username, role=role, password=password)
        shown = "(MLOPS_DEMO_PASSWORD)" if ctx.settings.demo_password else password
        out.write(f"  {username:<16} {role:<15} {shown}\n")


def demo_scientist(ctx: ServiceContext) -> Principal:
    from pipeline_core.services import governance

    try:
        return governance.get_principal(ctx, DEMO_SCIENTIST)
    except NotFoundError as exc:
        raise AuthError("the store has users but no demo_scientist; use `run --user ...` instead of demo") from exc
