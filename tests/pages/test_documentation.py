"""Documentation page: each section with who wrote it when; a data scientist edits, others read; refusals shown."""

from __future__ import annotations

from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.vocabulary import DocSection
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner


def test_an_empty_store_says_what_to_do(page: PageRunner) -> None:
    at = page("documentation", "vera")
    assert_readable(at, "documentation")
    assert [i.value for i in at.info] == [
        "No models yet. A data scientist's run registers a model; its documentation is written here."
    ]


def test_readers_see_every_section_and_no_form(page: PageRunner, candidate: int) -> None:
    for who in ("vera", "max"):
        at = page("documentation", who)
        assert_readable(at, ("documentation", who))
        assert [s.value for s in at.subheader] == [s.heading for s in DocSection]
        assert not at.text_area and not at.button
        assert any("Written by dora" in c.value and "for version 1" in c.value for c in at.caption)


def test_a_data_scientist_saves_a_changed_section_and_sees_a_refusal(
    page: PageRunner, candidate: int, ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    at = page("documentation", "dora")
    assert_readable(at, "documentation")
    assert [t.label for t in at.text_area] == [s.heading for s in DocSection]
    limits = next(t for t in at.text_area if t.label == "Known limitations")
    assert "thin segments" in (limits.help or "")
    limits.set_value("Weak on applicants under 25: few defaults in the sample.")
    at.button[0].click().run()
    assert_readable(at, "documentation saved")
    assert at.success[0].value == "Saved: Known limitations."
    (name,) = {m for m in at.selectbox[0].options}
    doc = governance.documentation(ctx, people["vera"], name)
    assert doc.text(DocSection.LIMITATIONS) == "Weak on applicants under 25: few defaults in the sample."
    next(t for t in at.text_area if t.label == "Assumptions").set_value("   ")
    at.button[0].click().run()
    assert_readable(at, "documentation refused")
    assert "section 'assumptions' (Assumptions): the text is empty" in at.error[0].value
