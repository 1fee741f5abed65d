"""The evidence pack button's builder: the pack on click; a refusal keeps its message, a bug names no code."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest

from dashboard import evidence
from pipeline_core.errors import PermissionDenied
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext


def test_the_builder_makes_the_pack_only_when_called(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = governance.evidence_pack

    def counted(c: ServiceContext, w: Principal, mv: int) -> bytes:
        calls.append(mv)
        return real(c, w, mv)

    monkeypatch.setattr(governance, "evidence_pack", counted)
    build = evidence.pack_builder(ctx, people["vera"], candidate)
    assert calls == []
    with zipfile.ZipFile(BytesIO(build())) as zf:
        assert "manifest.json" in zf.namelist()
    assert calls == [candidate]


def test_a_refusal_keeps_its_message_and_a_bug_names_no_code(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(PermissionDenied, match="dora is a data_scientist; export evidence needs one of"):
        evidence.pack_builder(ctx, people["dora"], candidate)()

    def broken(*_: object) -> bytes:
        raise KeyError("/srv/app/pipeline_core/secret_internal.py")

    monkeypatch.setattr(governance, "evidence_pack", broken)
    with pytest.raises(RuntimeError, match=r"^the evidence pack could not be built; its details are in the dashboard"):
        evidence.pack_builder(ctx, people["vera"], candidate)()
