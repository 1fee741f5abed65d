"""``main``: parse the command line, configure logging, open the services, run the command, map errors to exit codes."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pipeline_core import logs
from pipeline_core.cli.parser import build_parser
from pipeline_core.errors import PipelineError, exit_code

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run one command; its exit code (``pipeline_core.errors.EXIT_CODES`` for every error)."""
    args = build_parser().parse_args(argv)
    # Only now: --help and usage errors then answer without loading the store (sqlalchemy, argon2).
    from pipeline_core.config import Settings
    from pipeline_core.services.context import open_context

    if args.log_level is not None:  # so that loading the settings can already log
        logs.configure(args.log_level)
    try:
        settings = Settings.load()
        if args.log_level is None:
            logs.configure(settings.log_level)
        ctx = open_context(settings)
    except PipelineError as exc:
        return _failed(exc)
    try:
        return int(args.handler(ctx, args, out))
    except PipelineError as exc:
        return _failed(exc)
    except KeyboardInterrupt as exc:
        sys.stderr.write("interrupted\n")
        return exit_code(exc)
    finally:
        ctx.close()


def _failed(exc: PipelineError) -> int:
    log.debug("%s", type(exc).__name__, exc_info=exc)  # the traceback, for --log-level debug
    sys.stderr.write(f"error: {exc}\n")
    return exit_code(exc)
