"""The decision form under the tier's policy: what it says of the tier, a condition typed on it, a countersign."""

from __future__ import annotations

from datetime import timedelta

from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.vocabulary import ModelState, Tier
from tests.pages.conftest import PageRunner
from tests.services.helpers import set_test_tier


def test_a_tier_1_approval_with_a_condition_then_a_second_validators_countersign(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    set_test_tier(live_ctx, candidate, tier=Tier.HIGH)
    at = page("review", "vera")
    assert not at.exception
    assert any(
        c.value.startswith("Tier 1: approval needs two independent validators (an approval and a countersign)")
        for c in at.caption
    )
    next(n for n in at.number_input if n.label == "Conditions of approval").set_value(1).run()
    due = utcnow().date() + timedelta(days=30)
    next(t for t in at.text_input if t.label == "Condition 1: what must be done").set_value("Re-run fairness on Q1")
    next(t for t in at.text_input if t.label == "Owner (account)").set_value("dora")
    next(d for d in at.date_input if d.label == "Due date").set_value(due)
    next(t for t in at.text_area if t.label == "Comment (required)").set_value("Holds, with one condition.")
    next(b for b in at.button if b.key == "approve").click().run()
    confirm = next(b for b in at.button if b.key == "confirm")
    assert confirm.label == "Confirm approval"  # tier 1: nothing deploys on the first signature
    confirm.click().run()
    assert not at.exception
    (queued,) = governance.review_queue(live_ctx, people["max"])
    assert queued.state == ModelState.AWAITING_COUNTERSIGN and queued.pending is not None
    [condition] = governance.list_conditions(live_ctx, people["max"])
    assert (condition.text, condition.owner, condition.due_date) == ("Re-run fairness on Q1", "dora", due)

    second = page("review", "victor")
    assert any("is the first of the 2 independent approvals its tier needs" in w.value for w in second.warning)
    assert not [n for n in second.number_input if n.label == "Conditions of approval"]  # set with the approval
    next(t for t in second.text_area if t.label == "Comment (required)").set_value("Agreed, countersigned.")
    next(b for b in second.button if b.key == "approve").click().run()
    next(b for b in second.button if b.key == "confirm").click().run()
    assert not second.exception
    check = governance.production_check(live_ctx, people["max"], candidate)
    assert check.passed, check.reasons


def test_a_condition_without_a_due_date_is_refused_naming_it(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    at = page("review", "vera")
    next(n for n in at.number_input if n.label == "Conditions of approval").set_value(1).run()
    next(t for t in at.text_input if t.label == "Condition 1: what must be done").set_value("Re-run fairness")
    next(t for t in at.text_input if t.label == "Owner (account)").set_value("dora")
    next(t for t in at.text_area if t.label == "Comment (required)").set_value("Holds.")
    next(b for b in at.button if b.key == "approve").click().run()
    next(b for b in at.button if b.key == "confirm").click().run()
    assert any("condition 1: due date None is not a date" in e.value for e in at.error)
    assert governance.review_queue(live_ctx, people["max"])[0].state == ModelState.AWAITING_REVIEW
