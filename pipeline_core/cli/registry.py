"""Command declarations: each command is declared once, with its name, help, arguments and handler.

A command group's module (``pipeline_core.cli.runs``, ...) holds one ``Declarations`` and declares its
commands with the ``command`` decorator (and nested ones, ``runs list``, with ``group``); the parser
(``pipeline_core.cli.parser``) is built from these declarations alone. Declaring must stay cheap: a
handler imports the services it needs inside its body.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext

# What a command runs: the opened services, the parsed arguments, where to write; returns the exit code.
Handler: TypeAlias = Callable[["ServiceContext", argparse.Namespace, TextIO], int]


@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call: the flags (or the positional name) and argparse's keyword options."""

    flags: tuple[str, ...]
    options: Mapping[str, Any]

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.flags, **self.options)


@dataclass(frozen=True)
class OneOf:
    """Arguments of which at most one (with ``required``, exactly one) may be given."""

    args: tuple[Arg, ...]
    required: bool = False

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group(required=self.required)
        for a in self.args:
            group.add_argument(*a.flags, **a.options)


Argument: TypeAlias = Arg | OneOf


def arg(*flags: str, **options: Any) -> Arg:
    """An argument, spelled like ``parser.add_argument(*flags, **options)``."""
    return Arg(flags, options)


def one_of(*args: Arg, required: bool = False) -> OneOf:
    return OneOf(args, required)


@dataclass(frozen=True)
class Command:
    """A command that runs: ``demo``, or ``list`` under the ``runs`` group."""

    name: str
    help: str | None
    arguments: tuple[Argument, ...]
    handler: Handler


@dataclass
class _Container:
    """Declares commands and groups, in the order the help lists them."""

    children: list[Command | Group] = field(default_factory=list)

    def command(self, name: str, *arguments: Argument, help: str | None = None) -> Callable[[Handler], Handler]:
        """Declare ``name`` with its arguments; the decorated function is its handler (returned unchanged)."""

        def declare(handler: Handler) -> Handler:
            self._add(Command(name, help, arguments, handler))
            return handler

        return declare

    def group(self, name: str, *, help: str | None = None) -> Group:
        """Declare ``name`` as a group of subcommands (``runs list``, ``runs show``, ...)."""
        group = Group(name=name, help=help)
        self._add(group)
        return group

    def _add(self, child: Command | Group) -> None:
        if any(c.name == child.name for c in self.children):
            raise ValueError(f"command {child.name!r} is declared twice")
        self.children.append(child)


@dataclass
class Group(_Container):
    """A command with subcommands; the chosen one lands in ``<name>_command`` (``runs_command``)."""

    name: str = ""
    help: str | None = None

    @property
    def dest(self) -> str:
        return f"{self.name.replace('-', '_')}_command"


@dataclass
class Declarations(_Container):
    """The commands of one command-group module, at the top level of the command line."""


def walk(children: list[Command | Group], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every runnable command under ``children`` with its path, e.g. ``(("runs", "list"), <Command list>)``."""
    for child in children:
        if isinstance(child, Group):
            yield from walk(child.children, (*prefix, child.name))
        else:
            yield (*prefix, child.name), child
