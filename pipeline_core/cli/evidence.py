"""The evidence pack commands: ``evidence pack`` writes a model version's signed zip, ``evidence verify`` checks one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.identity import login
from pipeline_core.cli.registry import Declarations, arg
from pipeline_core.errors import ConfigError, DataError, ExitCode

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext

COMMANDS = Declarations()
EVIDENCE = COMMANDS.group("evidence", help="write a model version's evidence pack (a signed zip) or verify one")


@EVIDENCE.command(
    "pack",
    arg("model_version", type=int, help="the model version's id"),
    arg("--out", required=True, help="the zip file to write"),
    help="write the evidence pack of a model version: report, documentation, factsheet, tests, audit, Annex IV index",
)
def pack(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    data = governance.evidence_pack(ctx, login(ctx, args), args.model_version)
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"evidence pack file {args.out!r} cannot be written: {exc.strerror}") from exc
    out.write(f"evidence pack of model version {args.model_version} written to {args.out} ({len(data):,} bytes)\n")
    return ExitCode.OK


@EVIDENCE.command(
    "verify",
    arg("pack", help="the evidence pack's zip file"),
    help="verify an evidence pack: the manifest's signature and every file's sha256 (exit 2 naming what differs)",
)
def verify(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    try:
        data = Path(args.pack).read_bytes()
    except OSError as exc:
        raise ConfigError(f"evidence pack file {args.pack!r} cannot be read: {exc.strerror}") from exc
    try:
        verified = governance.verify_pack(ctx, login(ctx, args), data)
    except DataError as exc:
        raise DataError(f"{args.pack}: {exc}") from exc
    made = f"model version {verified.model_version_id}, made by {verified.created_by} at {verified.created_at}"
    if verified.ok:
        out.write(f"{args.pack}: intact ({verified.files} files and the signed manifest; {made})\n")
        return ExitCode.OK
    out.write(f"{args.pack}: FAILED ({len(verified.problems)} problems; the manifest says {made})\n")
    out.writelines(f"  {problem}\n" for problem in verified.problems)
    return ExitCode.BAD_INPUT
