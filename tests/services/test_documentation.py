"""Model documentation: written by a data scientist, carried forward per version, frozen once decided, audited."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.errors import ConfigError, ConflictError, NotFoundError, PermissionDenied
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance._documentation import MAX_TEXT, missing_required, sha256_of
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, ModelVersion
from pipeline_core.vocabulary import DocSection, Outcome
from tests.services.helpers import copy_version


def _name(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.name


def _next_version(ctx: ServiceContext, mv_id: int, *, model: str | None = None) -> int:
    """A next version of ``mv_id``'s model, or the first version of a model named ``model``."""
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        copy = copy_version(session, mv)
        if model is not None:
            copy.name, copy.version = model, 1
        return copy.id


def _decide(ctx: ServiceContext, mv_id: int) -> None:
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        session.add(
            Approval(
                model_version_id=mv_id,
                artifact_sha256=mv.artifact_sha256,
                outcome=Outcome.REJECTED,
                comment="planted",
                evidence={},
                decided_by="vera",
                decided_at=utcnow(),
            )
        )


def test_a_version_carries_forward_what_earlier_versions_wrote_and_keeps_what_was_decided(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    dora, name = people["dora"], "scorecard"
    v1 = _next_version(ctx, candidate, model=name)  # a model nobody has documented yet
    governance.write_documentation(ctx, dora, name, sections={DocSection.LIMITATIONS: "v1: thin data on the young"})
    _decide(ctx, v1)
    v2 = _next_version(ctx, v1)
    # Written after v1's decision, for the newest version (v2): v1 keeps what its validator read.
    wrote = governance.write_documentation(
        ctx, dora, name, sections={"limitations": "v2: retrained", "purpose": "credit decisions"}
    )
    assert wrote.written == (DocSection.PURPOSE, DocSection.LIMITATIONS)
    v1_doc = governance.documentation(ctx, people["vera"], name, model_version_id=v1)
    assert v1_doc.text(DocSection.LIMITATIONS) == "v1: thin data on the young"
    assert v1_doc.text(DocSection.PURPOSE) is None
    v3 = _next_version(ctx, v1)
    v3_doc = governance.documentation(ctx, people["max"], name, model_version_id=v3)
    assert v3_doc.text(DocSection.LIMITATIONS) == "v2: retrained"  # carried forward from v2
    section = v3_doc.section(DocSection.LIMITATIONS)
    assert (section.written_by, section.for_version) == ("dora", v3_doc.model_version - 1)  # type: ignore[operator]
    assert [s.section for s in v3_doc.sections] == list(DocSection)
    assert v3_doc.missing([DocSection.PURPOSE, DocSection.OVERSIGHT]) == [DocSection.OVERSIGHT]
    with ctx.db.read() as session:
        mv3 = session.get(ModelVersion, v3)
        assert mv3 is not None
        blocking = missing_required(session, mv3, required=[DocSection.LIMITATIONS, DocSection.OVERSIGHT])
    assert [(b.key, b.text, b.overridable) for b in blocking] == [
        ("documentation:oversight", "documentation section 'Human-oversight instructions' is not written", True)
    ]
    # The same text again is not a new revision.
    again = governance.write_documentation(ctx, dora, name, sections={DocSection.LIMITATIONS: "v2: retrained"})
    assert again.written == () and again.unchanged == (DocSection.LIMITATIONS,)
    events = governance.list_events(ctx, people["admin"], action="documentation.written")
    assert len(events) == 3  # the starting state documented the candidate
    newest = events[0]
    assert newest.object == f"model_version {v2}"
    assert newest.details["sections"]["limitations"]["sha256"] == sha256_of("v2: retrained")
    assert newest.details["sections"]["limitations"]["length"] == len("v2: retrained")
    assert "v2: retrained" not in str(newest.details)


@pytest.mark.parametrize(
    ("who", "sections", "version", "error", "match"),
    [
        ("vera", {DocSection.DATA: "x"}, None, PermissionDenied, "write documentation needs one of: data_scientist"),
        ("max", {DocSection.DATA: "x"}, None, PermissionDenied, "max is a manager"),
        ("admin", {DocSection.DATA: "x"}, None, PermissionDenied, "ada is a admin"),
        ("dora", {DocSection.DATA: "  \n "}, None, ConfigError, r"section 'data' \(Data sources and period\).*empty"),
        ("dora", {DocSection.DATA: "x" * (MAX_TEXT + 1)}, None, ConfigError, "'data'.*20,001 characters"),
        ("dora", {DocSection.DATA: "a\x00b"}, None, ConfigError, "'data'.*U\\+0000"),
        ("dora", {"lineage": "x"}, None, ConfigError, "section 'lineage' does not exist"),
        ("dora", {}, None, ConfigError, "no documentation section to write"),
        ("dora", {DocSection.DATA: "x"}, 999, NotFoundError, "model version 999 does not exist"),
        ("dora", {DocSection.DATA: "x"}, "decided", ConflictError, "was decided on .*write for the model's newest"),
    ],
    ids=["validator", "manager", "admin", "blank", "too-long", "nul", "unknown", "none", "no-version", "decided"],
)
def test_refused_writes_name_the_rule_and_write_nothing(
    ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    who: str,
    sections: dict[object, str],
    version: object,
    error: type[Exception],
    match: str,
) -> None:
    name = _name(ctx, candidate)
    if version == "decided":
        _decide(ctx, candidate)
        version = candidate
    before = governance.documentation(ctx, people["vera"], name)
    with pytest.raises(error, match=match):
        governance.write_documentation(
            ctx,
            people[who],
            name,
            sections=sections,  # type: ignore[arg-type]
            model_version_id=version,  # type: ignore[arg-type]
        )
    assert governance.documentation(ctx, people["vera"], name) == before


def test_an_unknown_model_is_not_found(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    with pytest.raises(NotFoundError, match="model 'nope' has no versions"):
        governance.documentation(ctx, people["vera"], "nope")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_is_stored_exactly_or_refused_by_name(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, text: str
) -> None:
    name = _name(ctx, candidate)
    controls = any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in text)
    if not text.strip() or controls:
        with pytest.raises(ConfigError, match="section 'assumptions'"):
            governance.write_documentation(ctx, people["dora"], name, sections={DocSection.ASSUMPTIONS: text})
        return
    governance.write_documentation(ctx, people["dora"], name, sections={DocSection.ASSUMPTIONS: text})
    assert governance.documentation(ctx, people["vera"], name).text(DocSection.ASSUMPTIONS) == text


def test_the_factsheet_shows_the_versions_documentation(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    name = _name(ctx, candidate)
    governance.write_documentation(ctx, people["dora"], name, sections={DocSection.LIMITATIONS: "Thin <25 & new"})
    sheet = governance.factsheet(ctx, people["max"], candidate)
    assert [d["section"] for d in sheet.documentation] == [s.heading for s in DocSection]
    (limits,) = [d for d in sheet.to_dict()["documentation"] if d["section"] == "Known limitations"]
    assert (limits["text"], limits["written_by"], limits["for_version"]) == ("Thin <25 & new", "dora", 1)
    page = governance.factsheet_html(sheet)
    assert "<h2>Documentation</h2>" in page and "<h3>Known limitations</h3>" in page
    assert "Thin &lt;25 &amp; new" in page
