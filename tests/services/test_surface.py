"""Every service entry point takes the acting Principal, checks it first, and returns typed values.

An entry point is a function an area's public module exports that reaches the store (its first
parameter is the ``ServiceContext``). Pure helpers (formatting, hashing, parsing) touch nothing and
are not entry points. The few functions that establish who acts (signing in) are listed, with why.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline_core.errors import PermissionDenied
from pipeline_core.services.authz import PERMISSIONS, SYSTEM, Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.governance import AuditEventInfo, list_events
from tests.credentials import CHEAP_HASHER
from tests.states import quick_settings

AREAS = ("runs", "governance", "monitoring", "deployments", "integrations", "datasets")
# They establish the principal; nobody acts yet when they are called.
ESTABLISH_WHO_ACTS = {
    "governance.add_first_admin": "bootstrap: the store's first user, refused once any user exists",
    "governance.authenticate": "signing in: checks a password and returns the principal",
    "governance.get_principal": "reads a signed-in user's role and account state from the store, at each action",
    "governance.user_count": "first start: whether an admin must be created, before anyone can sign in",
}
# A return type naming an untyped document or a store row: callers would parse it again.
UNTYPED = re.compile(r"\bdict\[|\bDict\b|\bMapping\b|\bAny\b|\bSession\b|\bstore\.models\b")
STORE_ROWS = {"Run", "ModelVersion", "Dataset", "Deployment", "Evaluation", "Alert", "User", "Approval", "AuditEvent"}
NOBODY = Principal("nobody", "no-such-role")


def _entry_points() -> Iterator[tuple[str, Callable[..., Any]]]:
    for area in AREAS:
        module = importlib.import_module(f"pipeline_core.services.{area}")
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.isfunction(obj):
                continue
            params = list(inspect.signature(obj).parameters.values())
            if params and params[0].annotation in ("ServiceContext", ServiceContext):
                yield f"{area}.{name}", obj


ENTRY_POINTS = dict(_entry_points())
CHECKED = {k: v for k, v in ENTRY_POINTS.items() if k not in ESTABLISH_WHO_ACTS}


def test_there_are_entry_points_in_every_area() -> None:
    assert {name.split(".")[0] for name in CHECKED} == set(AREAS)
    assert set(ESTABLISH_WHO_ACTS) <= set(ENTRY_POINTS)


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_entry_point_takes_the_acting_principal_second(name: str) -> None:
    params = list(inspect.signature(CHECKED[name]).parameters.values())
    assert len(params) >= 2 and params[1].name == "actor", f"{name}: the second parameter must be `actor`"
    assert params[1].annotation in ("Principal", Principal), f"{name}: `actor` must be a Principal"
    assert params[1].default is inspect.Parameter.empty, f"{name}: `actor` must be passed, not defaulted"


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_entry_point_returns_typed_values(name: str) -> None:
    returns = str(inspect.signature(CHECKED[name]).return_annotation)
    assert not UNTYPED.search(returns), f"{name} returns {returns}: return a frozen DTO"
    assert not set(re.findall(r"\w+", returns)) & STORE_ROWS, f"{name} returns a store row ({returns})"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceContext]:
    """One empty store for every refusal below (each leaves only its audit event)."""
    context = open_context(quick_settings(tmp_path_factory.mktemp("surface") / "data"), password_hasher=CHEAP_HASHER)
    yield context
    context.close()


def _refusals(ctx: ServiceContext) -> list[AuditEventInfo]:
    return list_events(ctx, SYSTEM, action="action.refused", limit=10_000)


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_entry_point_checks_the_principal_before_anything_else(name: str, store: ServiceContext) -> None:
    """A principal with no role is refused, and the refusal audited, before the call reads its arguments."""
    function = CHECKED[name]
    params = list(inspect.signature(function).parameters.values())[2:]
    untouched = object()  # any use of an argument fails with something other than refusal
    args = [untouched for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
    kwargs = {p.name: untouched for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty}
    before = len(_refusals(store))
    with pytest.raises(PermissionDenied, match="nobody is a no-such-role"):
        function(store, NOBODY, *args, **kwargs)
    after = _refusals(store)
    assert len(after) == before + 1
    assert after[0].actor == "nobody" and "no-such-role" in str(after[0].details)


def test_every_checked_action_is_declared() -> None:
    """The refusal above names an action from the matrix, not an unknown one."""
    for name, function in CHECKED.items():
        source = inspect.getsource(function)
        for action in re.findall(r"require\(\s*ctx,\s*actor,\s*\"(\w+)\"", source):
            assert action in PERMISSIONS, f"{name} checks an undeclared action {action!r}"
