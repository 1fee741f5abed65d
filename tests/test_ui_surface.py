"""The pages, the dashboard and the CLI use the typed service surface: no store, no raw result JSON, no state strings.

Read from the source (the AST), so a new page or command is checked the day it is written:

- no import of ``pipeline_core.store`` (or SQLAlchemy);
- no ``<x>.results[...]``, ``<x>.results.get(...)`` or ``["results"]`` (nor a monitor's raw ``.details``): evaluation
  documents are read through ``EvaluationReport``;
- no comparison of a state, status, space, role or outcome with a string literal: the vocabulary's enums name them.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY_WORDS = ("state", "status", "space", "role", "outcome")
# Untyped JSON documents kept in the store: an evaluation's results, a monitor's details.
RAW_DOCUMENTS = ("results", "details")


def _ui_files() -> list[Path]:
    files = [*sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "dashboard").glob("*.py"))]
    cli = ROOT / "pipeline_core" / "cli"
    files += sorted(cli.rglob("*.py")) if cli.is_dir() else [ROOT / "pipeline_core" / "cli.py"]
    return [f for f in files if f.name != "__init__.py" or f.stat().st_size > 200]


def _names_vocabulary(node: ast.expr) -> bool:
    """``x.status``, ``status``, ``run_state``, ``row["space"]``: an expression that holds a vocabulary word."""
    if isinstance(node, ast.Attribute):
        name = node.attr
    elif isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        name = node.slice.value
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        arg = node.args[0] if node.args else None
        name = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else ""
    else:
        return False
    return any(name == w or name.endswith(f"_{w}") for w in VOCABULARY_WORDS)


def _string_literals(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return bool(node.elts) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
    return False


def _problems(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            modules = []
        for module in modules:
            if module.startswith(("pipeline_core.store", "sqlalchemy")):
                yield f"{where}:{getattr(node, 'lineno', 0)}: imports {module}"
        if isinstance(node, ast.Subscript):
            value = node.value
            if isinstance(value, ast.Attribute) and value.attr in RAW_DOCUMENTS:
                yield f"{where}:{node.lineno}: indexes .{value.attr}[...]"
            if isinstance(node.slice, ast.Constant) and node.slice.value == "results":
                yield f"{where}:{node.lineno}: indexes ['results']"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in RAW_DOCUMENTS
        ):
            yield f"{where}:{node.lineno}: reads .{node.func.value.attr}.get(...)"
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for left, right in itertools.pairwise(operands):
                for a, b in ((left, right), (right, left)):
                    if _names_vocabulary(a) and _string_literals(b):
                        yield f"{where}:{node.lineno}: compares {ast.unparse(a)} with {ast.unparse(b)}"
        if isinstance(node, ast.Match) and _names_vocabulary(node.subject):
            for case in node.cases:
                if isinstance(case.pattern, ast.MatchValue) and _string_literals(case.pattern.value):
                    yield f"{where}:{case.pattern.lineno}: matches {ast.unparse(node.subject)} with a string"


@pytest.mark.parametrize("path", _ui_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_ui_code_uses_the_typed_service_surface(path: Path) -> None:
    assert list(_problems(path)) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from pipeline_core.store.models import User", "imports pipeline_core.store.models"),
        ("from pipeline_core.store import db", "imports pipeline_core.store"),
        ("import sqlalchemy", "imports sqlalchemy"),
        ("x = ev.results['monitors']", "indexes .results[...]"),
        ("x = row['results']", "indexes ['results']"),
        ("x = ev.results.get('checks', [])", "reads .results.get(...)"),
        ("x = drift.details['features']", "indexes .details[...]"),
        ("ok = run.status == 'succeeded'", "compares run.status with 'succeeded'"),
        ("ok = 'prod' != dep.space", "compares dep.space with 'prod'"),
        ("ok = mv.state in ('approved', 'retired')", "compares mv.state with ('approved', 'retired')"),
        ("ok = row['status'] == 'fail'", "compares row['status'] with 'fail'"),
        ("ok = r.get('risk_level') == 'high' or user_role == 'admin'", "compares user_role with 'admin'"),
    ],
)
def test_the_check_finds_each_kind_of_problem(tmp_path: Path, source: str, found: str) -> None:
    page = tmp_path / "planted.py"
    page.write_text(source + "\n")
    problems = list(_problems(page))
    assert any(found in p for p in problems), problems


def test_enum_comparisons_pass(tmp_path: Path) -> None:
    page = tmp_path / "planted.py"
    page.write_text("ok = run.status == RunState.SUCCEEDED and dep.space in (Space.PROD,)\n")
    assert list(_problems(page)) == []
