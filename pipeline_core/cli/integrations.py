"""Commands on the external services kept in step (OpenScale, AI Factsheets): integrations pending, sync."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.identity import login
from pipeline_core.cli.registry import Declarations
from pipeline_core.errors import ExitCode, GateFailed, exit_code_for

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext

COMMANDS = Declarations()
INTEGRATIONS = COMMANDS.group("integrations", help="what the external services do not have yet; deliver it now")
# Something still not delivered is a check that says no, as for a failed evaluation (1).
NOT_IN_SYNC = exit_code_for(GateFailed)


@INTEGRATIONS.command("pending", help="the updates an external service does not have yet (exit 1 if any)")
def integrations_pending(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import integrations

    pending = integrations.not_in_sync(ctx, login(ctx, args))
    if not pending:
        out.write("every update was delivered\n")
        return ExitCode.OK
    for d in pending:
        when = "on demand only" if d.next_attempt_at is None else f"next {d.next_attempt_at:%Y-%m-%d %H:%M:%S}"
        out.write(
            f"{d.sink_label}: {d.what} of {d.model} (model version {d.model_version_id}) {d.status}, "
            f"{d.attempts} attempt(s), {when}: {d.last_error or 'not tried yet'}\n"
        )
    return NOT_IN_SYNC


@INTEGRATIONS.command("sync", help="deliver every pending or failed update now (exit 1 if one still fails)")
def integrations_sync(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import integrations

    failures = integrations.sync_now(ctx, login(ctx, args))
    for f in failures:
        out.write(f"{f.summary}\n")
    out.write("every update was delivered\n" if not failures else f"{len(failures)} update(s) still not delivered\n")
    return NOT_IN_SYNC if failures else ExitCode.OK
