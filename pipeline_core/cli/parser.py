"""The argument parser, built from the command groups' declarations (nothing is declared here twice).

``GROUP_MODULES`` names the modules that declare commands; each is imported to read its
``COMMANDS`` (cheap: their handlers import the services). Options every command takes (``--user``,
``--log-level``) are added here to the top-level parser and to each runnable command, so they may
stand before or after the command's name.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator

from pipeline_core.cli.registry import Command, Declarations, Group, walk
from pipeline_core.errors import ExitCode
from pipeline_core.logs import LEVELS

PROG = "python -m pipeline_core"
# The exit codes named from pipeline_core.errors.ExitCode, so the help cannot drift from the table.
DESCRIPTION = (
    "The command line: ``python -m pipeline_core COMMAND`` (demo, run, runs, models, worker, ...). Exit codes: "
    + ", ".join(f"{code.value} {code.name.lower().replace('_', ' ')}" for code in ExitCode)
    + " (the README's table says which error exits how)."
)
# In the order the help lists them.
GROUP_MODULES = (
    "pipeline_core.cli.runs",
    "pipeline_core.cli.up",
    "pipeline_core.cli.users",
    "pipeline_core.cli.deployments",
    "pipeline_core.cli.shadow",
    "pipeline_core.cli.governance",
    "pipeline_core.cli.documentation",
    "pipeline_core.cli.policy",
    "pipeline_core.cli.evidence",
    "pipeline_core.cli.findings",
    "pipeline_core.cli.history",
    "pipeline_core.cli.monitoring",
    "pipeline_core.cli.integrations",
)


def declarations() -> Iterator[Declarations]:
    """Each command-group module's declarations, in ``GROUP_MODULES`` order."""
    for name in GROUP_MODULES:
        declared = importlib.import_module(name).COMMANDS
        if not isinstance(declared, Declarations):
            raise TypeError(f"{name}.COMMANDS is not a Declarations")
        yield declared


def commands() -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every runnable command with its path (``("runs", "list")``), across all groups."""
    for declared in declarations():
        yield from walk(declared.children)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    seen: set[str] = set()
    for declared in declarations():
        for child in declared.children:
            if child.name in seen:
                raise ValueError(f"command {child.name!r} is declared by two modules")
            seen.add(child.name)
            _add(sub, child)
    _add_globals(parser, default=None)
    return parser


def _add(sub: argparse._SubParsersAction[argparse.ArgumentParser], child: Command | Group) -> None:
    parser = sub.add_parser(child.name, help=child.help, description=child.help)
    if isinstance(child, Group):
        nested = parser.add_subparsers(dest=child.dest, required=True)
        for grandchild in child.children:
            _add(nested, grandchild)
        return
    for argument in child.arguments:
        argument.add_to(parser)
    parser.set_defaults(handler=child.handler)
    # SUPPRESS: given after the command it overrides, absent it leaves the top-level value alone.
    _add_globals(parser, default=argparse.SUPPRESS)


def _add_globals(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    parser.add_argument("--user", default=default, help="acting user (default MLOPS_USER); password: MLOPS_PASSWORD")
    parser.add_argument(
        "--log-level",
        default=default,
        choices=list(LEVELS),
        help="log lines on stderr from this level up (default MLOPS_LOG_LEVEL, else warning)",
    )
