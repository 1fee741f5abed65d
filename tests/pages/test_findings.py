"""Findings page: validators raise, close and accept risk; the owner remediates; managers read; overdue first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _findings
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ModelVersion
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.services.helpers import copy_version

REASON = "The weakness is mitigated by a manual review of every young applicant."


def _raise(ctx: ServiceContext, who: Principal, mv_id: int, title: str, days: int) -> governance.FindingInfo:
    return governance.raise_finding(
        ctx,
        who,
        mv_id,
        title=title,
        description="Few defaults among *young* applicants.",
        severity="medium",
        evidence_kind="free",
        evidence_ref="",
        owner="dora",
        due_date=utcnow().date() + timedelta(days=days),
    )


def _button(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()


def test_an_empty_store_says_what_to_do(page: PageRunner) -> None:
    at = page("findings", "max")
    assert_readable(at, "findings")
    assert [i.value for i in at.info] == [
        "No models yet. A data scientist's run registers a model; validators raise its findings here."
    ]


def test_a_validator_raises_a_finding_and_a_refusal_names_the_field(
    page: PageRunner, candidate: int, ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    at = page("findings", "vera")
    assert_readable(at, "findings")
    assert at.info[0].value == "No findings match. Raise one below."
    at.text_input(key="raise-title").set_value("Unstable below age 25")
    at.text_area(key="raise-description").set_value("The young segment's AUC is well below the portfolio's.")
    at.selectbox(key="raise-severity").set_value("high")
    at.text_input(key="raise-owner").set_value("nobody")
    _button(at, "Raise finding")
    assert "finding owner 'nobody' is not an account" in at.error[0].value
    at.text_input(key="raise-owner").set_value("dora")
    _button(at, "Raise finding")
    assert_readable(at, "raised")
    assert at.success[0].value.startswith("Finding ") and "raised on" in at.success[0].value
    (finding,) = governance.list_findings(ctx, people["max"])
    assert (finding.title, finding.severity, finding.owner, finding.raised_by) == (
        "Unstable below age 25",
        "high",
        "dora",
        "vera",
    )
    table = at.dataframe[0].value
    assert list(table["Title"]) == ["Unstable below age 25"] and list(table["State"]) == ["open"]
    # The raiser may not accept its risk: the refusal names the rule.
    at.text_area(key="accept-reason").set_value(REASON)
    _button(at, "Accept the risk")
    assert "its risk is accepted by a validator other than the one who raised it" in at.error[0].value


def test_overdue_first_the_owner_remediates_and_a_second_validator_closes_on_a_later_version(
    page: PageRunner,
    candidate: int,
    ctx: ServiceContext,
    people: dict[str, Principal],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    far = _raise(ctx, people["vera"], candidate, "Far off", 60)
    late = _raise(ctx, people["vera"], candidate, "Late one", 1)
    later = utcnow() + timedelta(days=3)
    monkeypatch.setattr(_findings, "utcnow", lambda: later)
    manager = page("findings", "max")
    assert_readable(manager, "manager")
    table = manager.dataframe[0].value
    assert list(table["Finding"]) == [late.id, far.id]
    assert [due.endswith(" (overdue)") for due in table["Due"]] == [True, False]
    assert manager.caption[0].value == "2 findings, 1 overdue; overdue first, then by due date."
    assert not manager.text_area and not manager.button  # a manager reads
    dora = page("findings", "dora")
    dora.text_area(key="remediation").set_value("Added 2025 applications to the sample.")
    _button(dora, "Propose remediation")
    assert_readable(dora, "remediated")
    assert dora.success[0].value == f"Remediation of finding {late.id} proposed."
    assert not [b for b in dora.button if b.label == "Close finding"]  # a data scientist never closes
    victor = page("findings", "victor")
    assert any("No later version of" in c.value for c in victor.caption)
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        copy_version(session, mv)
    victor = page("findings", "victor")
    victor.text_area(key="verification").set_value("The young segment holds on version 2.")
    _button(victor, "Close finding")
    assert_readable(victor, "closed")
    assert victor.success[0].value == f"Finding {late.id} closed on version 2."
    assert governance.get_finding(ctx, people["max"], late.id).closed_by == "victor"
    assert list(victor.dataframe[0].value["Finding"]) == [far.id]  # open only, by default
