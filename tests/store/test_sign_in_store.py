"""Sign-in throttling per source and the last enabled admin, on every metadata store (the JSON lookup differs)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline_core.errors import AuthError, ConflictError
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.credentials import PASSWORD


def test_failures_are_counted_per_source_in_the_audit_log(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    ctx.settings = replace(ctx.settings, sign_in_source_max_failures=2)
    for name in ("vera", "ghost"):
        with pytest.raises(AuthError):
            governance.authenticate(ctx, name, "not the password", source="cli:mallory")
    with pytest.raises(AuthError, match="login refused for 'dora'"):
        governance.authenticate(ctx, "dora", PASSWORD, source="cli:mallory")
    assert governance.authenticate(ctx, "dora", PASSWORD, source="cli:dora").username == "dora"
    (throttled,) = governance.list_events(ctx, people["admin"], action="user.sign_in_throttled")
    assert throttled.details["source"] == "cli:mallory" and throttled.details["failures"] == 2


def test_the_last_enabled_admin_stays(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    with pytest.raises(ConflictError, match="'ada' is the last enabled admin"):
        governance.disable_user(ctx, people["admin"], username="ada")
    with pytest.raises(ConflictError, match="'ada' is the last enabled admin"):
        governance.set_role(ctx, people["admin"], username="ada", role="validator")
