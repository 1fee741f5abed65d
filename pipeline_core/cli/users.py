"""Commands on accounts: users add, users passwd, users list, users disable, users enable."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.identity import login, new_password
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ConfigError, ExitCode
from pipeline_core.vocabulary import Role

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext

COMMANDS = Declarations()
USERS = COMMANDS.group("users", help="add users, change passwords, list, disable or enable users")
USERNAME = arg("username")
REASON = arg("--reason", default=None, help="why, for the audit record")


@USERS.command(
    "add",
    USERNAME,
    arg("--role", required=True, choices=[r.value for r in Role]),
    arg("--password-stdin", action="store_true", help="read the new password from stdin"),
    help="add a user (the first needs no login, later ones an admin)",
)
def users_add(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    if governance.user_count(ctx) == 0:
        if args.role != Role.ADMIN:
            raise ConfigError(f"the first user must be an admin (to add the others), not a {args.role}")
        added = governance.add_first_admin(ctx, username=args.username, password=new_password(ctx, args))
    else:
        actor = login(ctx, args)
        added = governance.add_user(
            ctx, actor, username=args.username, role=args.role, password=new_password(ctx, args)
        )
    out.write(f"user {added.username} added as {added.role}\n")
    return ExitCode.OK


@USERS.command("passwd", USERNAME, arg("--password-stdin", action="store_true"), help="change a user's password")
def users_passwd(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    actor = login(ctx, args)
    governance.set_password(ctx, actor, username=args.username, password=new_password(ctx, args))
    out.write(f"password of {args.username} changed\n")
    return ExitCode.OK


@USERS.command("list", help="every user with their role")
def users_list(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    for username, role, disabled in governance.list_users(ctx, login(ctx, args)):
        out.write(f"{username:<24} {role:<15}{' (disabled)' if disabled else ''}\n")
    return ExitCode.OK


@USERS.command("disable", USERNAME, REASON, help="disable an account: it can no longer sign in or act (admins)")
def users_disable(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    user = governance.disable_user(ctx, login(ctx, args), username=args.username, reason=args.reason)
    out.write(f"user {user.username} ({user.role}) disabled\n")
    return ExitCode.OK


@USERS.command("enable", USERNAME, REASON, help="enable a disabled account again, with its role (admins)")
def users_enable(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    user = governance.enable_user(ctx, login(ctx, args), username=args.username, reason=args.reason)
    out.write(f"user {user.username} ({user.role}) enabled\n")
    return ExitCode.OK
