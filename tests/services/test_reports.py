"""The validation report service: the store's approvals, conditions, documentation and tier in HTML, PDF and DOCX."""

from __future__ import annotations

import io
from datetime import date, timedelta

import docx
import pypdf
import pytest
from sqlalchemy import select

from pipeline_core.errors import ConfigError, NotFoundError
from pipeline_core.reports.validation import SECTION_TITLES
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _inventory
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, ApprovalCondition, ModelVersion
from pipeline_core.vocabulary import DocSection
from tests.states import State


def _pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages).replace("\n", " ")


def test_the_report_of_a_version_in_production_carries_its_decision_record(
    ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State
) -> None:
    mv_id = starting_state.model_version_id
    assert mv_id is not None
    with ctx.db.write() as session:
        approval = session.execute(select(Approval).where(Approval.model_version_id == mv_id)).scalar_one()
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        name = mv.name
        decided_at = approval.decided_at.strftime("%Y-%m-%d %H:%M UTC")
        for text, due, state in (
            ("Re-check disparate impact on age", date.today() + timedelta(days=90), "open"),
            ("Label the thin segment", date(2020, 1, 1), "open"),
        ):
            session.add(
                ApprovalCondition(
                    approval_id=approval.id,
                    model_version_id=mv_id,
                    model_name=name,
                    text=text,
                    owner="dora",
                    due_date=due,
                    state=state,
                    created_at=utcnow(),
                )
            )
    pdf = governance.validation_report(ctx, people["max"], mv_id, fmt="pdf")
    text = _pdf_text(pdf)
    for title in SECTION_TITLES:
        assert title in text, title
    assert "vera" in text and decided_at in text and "Re-check disparate impact on age" in text
    assert "overdue" in text  # the condition past its due date, derived: never stored
    assert "This model version is the one in production." in text
    with ctx.db.read() as session:
        tier = _inventory.tier_of(session, name)
        policy = _inventory.policy_for(session, name, ctx.settings.policies())
    shown = "untiered (governed as tier 1)" if tier is None else f"{int(tier)} ({tier.name.lower()})"
    assert f"Materiality tier {shown}" in text and f"every {policy.revalidation_months} months" in text

    document = docx.Document(io.BytesIO(governance.validation_report(ctx, people["max"], mv_id, fmt="docx")))
    assert [p.text for p in document.paragraphs if p.style is not None and p.style.name == "Heading 1"] == list(
        SECTION_TITLES
    )


def test_the_report_of_a_candidate_shows_its_documentation_and_no_production_model(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        name = mv.name
    governance.write_documentation(
        ctx, people["dora"], name, sections={DocSection.PURPOSE: "Scores consumer credit applications."}
    )
    html = governance.validation_report(ctx, people["vera"], candidate)
    assert isinstance(html, str) and html.startswith("<!DOCTYPE html>")
    assert "Scores consumer credit applications." in html
    assert f"No model {name} is in production: there is nothing to compare with." in html
    assert "No decision has been recorded for this model version yet." in html


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fmt": "xlsx"}, ConfigError, r"report format 'xlsx' is not one of html, pdf, docx"),
        ({"fmt": "PDF"}, ConfigError, r"report format 'PDF' is not one of"),
        ({"evaluation_id": 999, "fmt": "pdf"}, NotFoundError, r"model version \d+ has no evaluation 999"),
    ],
    ids=["unknown-format", "format-is-case-sensitive", "unknown-evaluation"],
)
def test_a_bad_request_is_refused_by_name(
    ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    kwargs: dict[str, object],
    error: type,
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        governance.validation_report(ctx, people["vera"], candidate, **kwargs)  # type: ignore[call-overload]
