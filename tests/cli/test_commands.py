"""Each command is declared once, shows in the help, and the parser runs the handler it was declared with."""

from __future__ import annotations

import argparse
import importlib
from typing import TextIO

import pytest

from pipeline_core.cli import build_parser, main
from pipeline_core.cli.parser import GROUP_MODULES, commands, declarations
from pipeline_core.cli.registry import Command, Declarations, arg
from pipeline_core.services.context import ServiceContext

DECLARED = list(commands())
PATHS = [" ".join(path) for path, _ in DECLARED]
# The command line as it was before it became a package: the same names must keep working.
KNOWN = {
    "demo",
    "run",
    "runs list",
    "runs show",
    "runs cancel",
    "models list",
    "worker",
    "generate",
    "audit",
    "up",
    "serve",
    "users add",
    "users passwd",
    "users list",
    "users disable",
    "users enable",
    "deployments",
    "deploy",
    "keys issue",
    "keys list",
    "keys revoke",
    "score",
    "feedback",
    "review",
    "approve",
    "countersign",
    "reject",
    "rollback",
    "evaluate",
    "evaluations",
    "alerts list",
    "alerts ack",
    "alerts resolve",
    "alerts deliveries",
    "alerts deliver",
    "retrain",
    "test-model",
    "report",
    "integrations pending",
    "integrations sync",
    "documentation show",
    "documentation write",
    "evidence pack",
    "evidence verify",
    "model tier",
    "model info",
    "conditions list",
    "conditions met",
    "revalidation show",
    "revalidation decide",
    "due sweep",
    "findings list",
    "findings show",
    "findings raise",
    "findings remediate",
    "findings close",
    "findings accept-risk",
    "history",
    "shadow start",
    "shadow stop",
    "shadow list",
    "shadow compare",
}


def _subparser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in path:
        (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = action.choices[name]
    return parser


def test_every_command_is_declared_once_and_the_old_names_all_are() -> None:
    assert len(PATHS) == len(set(PATHS))
    assert set(PATHS) == KNOWN


@pytest.mark.parametrize(("path", "command"), DECLARED, ids=PATHS)
def test_a_declared_command_is_in_the_help_and_runs_its_handler(path: tuple[str, ...], command: Command) -> None:
    parser = build_parser()
    parent = _subparser(parser, path[:-1])
    listed = parent.format_help()
    assert path[-1] in listed
    leaf = _subparser(parser, path)
    assert leaf.get_default("handler") is command.handler
    assert callable(command.handler)
    # The options every command takes, after its name as well as before it.
    assert "--user" in leaf.format_help() and "--log-level" in leaf.format_help()


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for top in {path[0] for path, _ in DECLARED}:
        assert f"    {top} " in shown or f"    {top}\n" in shown, top


def test_each_group_module_declares_commands_and_nothing_twice() -> None:
    groups = list(declarations())
    assert len(groups) == len(GROUP_MODULES)
    tops = [child.name for group in groups for child in group.children]
    assert len(tops) == len(set(tops))
    for name in GROUP_MODULES:
        assert isinstance(importlib.import_module(name).COMMANDS, Declarations)


def test_declaring_a_name_twice_is_refused() -> None:
    declared = Declarations()

    @declared.command("twice", arg("--x"))
    def first(_ctx: ServiceContext, _args: argparse.Namespace, _out: TextIO) -> int:
        return 0

    with pytest.raises(ValueError, match="'twice' is declared twice"):
        declared.command("twice")(first)


def test_choices_come_from_the_vocabulary() -> None:
    from pipeline_core.vocabulary import Role, RunState, Space

    parser = build_parser()

    def choices(path: tuple[str, ...], dest: str) -> list[str]:
        (action,) = [a for a in _subparser(parser, path)._actions if a.dest == dest]
        return list(action.choices or [])

    assert choices(("runs", "list"), "status") == [s.value for s in RunState]
    assert choices(("deploy",), "space") == [s.value for s in Space]
    assert choices(("users", "add"), "role") == [r.value for r in Role]
