"""Overview inventory: a manager reads the overdue first; a validator sets a tier with a reason, an owner, a use."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, Deployment, Evaluation, ModelVersion
from pipeline_core.vocabulary import Tier
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.services.helpers import copy_version

REASON = "decides a mid-sized book of consumer loans, so the middle tier"
FORM_SUBHEADER = "Tier, owner and business use"


def _button(at: AppTest, label: str) -> AppTest:
    (button,) = [b for b in at.button if b.label == label]
    return button.click().run()


def _second_model(ctx: ServiceContext, dep_id: int) -> str:
    """Another model beside the one in prod (a copy of its facts under another name), awaiting review."""
    with ctx.db.write() as session:
        dep = session.get(Deployment, dep_id)
        assert dep is not None
        live = session.get(ModelVersion, dep.model_version_id)
        assert live is not None
        other = copy_version(session, live)
        other.name, other.version, other.state = "scorecard_b", 1, "awaiting_review"
        return live.name


def test_a_manager_reads_the_overdue_model_first_and_has_no_forms(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    name = _second_model(live_ctx, in_prod)
    (decision,) = governance.decisions(live_ctx, people["max"])
    expired = utcnow() - timedelta(days=3)
    with live_ctx.db.write() as session:
        session.execute(update(Approval).where(Approval.id == decision.approval_id).values(expires_at=expired))
    at = page("overview", "max")
    assert_readable(at, ("overview", "max"))
    rows = at.dataframe[0].value.to_dict(orient="records")
    # tier 3 and overdue comes before the untiered (tier 1) model that is not
    assert [(r["model"], r["tier"], r["overdue"]) for r in rows] == [
        (name, "3 (low)", 1),
        ("scorecard_b", "untiered", 0),
    ]
    assert rows[0]["revalidate by"] == f"{expired:%Y-%m-%d}" and rows[0]["in prod"] == "v1"
    assert rows[1]["state"] == "v1 awaiting review" and rows[1]["waiting"] != "–"
    (error,) = at.error
    assert error.value == (
        f"Overdue or due soon:\n- **{name}** (tier 3): approval {decision.approval_id} of v1 expired on "
        f"{expired:%Y-%m-%d}: revalidation due"
    )
    assert ("overdue", "1") in [(m.label, m.value) for m in at.metric]
    assert FORM_SUBHEADER not in [s.value for s in at.subheader] and not at.button
    assert any("A validator or an administrator sets a model's tier" in c.value for c in at.caption)


def test_a_validator_sets_the_tier_with_a_reason_then_the_owner_and_use(
    page: PageRunner, candidate: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    (info,) = governance.inventory(live_ctx, people["vera"])
    name = info.name
    at = page("overview", "vera")
    assert FORM_SUBHEADER in [s.value for s in at.subheader]
    at.selectbox(key=f"tier-{name}").set_value(2)
    at.text_area(key=f"tier-reason-{name}").input("too short")
    at = _button(at, "Set tier")
    (refused,) = at.error
    assert refused.value.startswith(f"ConfigError: the reason for model {name!r}'s tier must be at least a sentence")
    assert governance.inventory(live_ctx, people["vera"])[0].tier == Tier.LOW  # nothing was written

    at.text_area(key=f"tier-reason-{name}").input(REASON)
    at = _button(at, "Set tier")
    assert [s.value for s in at.success] == [f"{name} is tier 2 now.", "No open alerts."]
    assert at.dataframe[0].value.to_dict(orient="records")[0]["tier"] == "2 (medium)"  # the table shows it at once
    told = governance.inventory(live_ctx, people["max"])[0]
    assert (told.tier, told.tier_reason) == (Tier.MEDIUM, REASON)

    at.selectbox(key=f"owner-{name}").set_value("dan")
    at.text_area(key=f"use-{name}").input("Retail loan origination, every application")
    at = _button(at, "Save owner and business use")
    assert f"{name}'s owner and business use are saved." in [s.value for s in at.success]
    row = at.dataframe[1].value.to_dict(orient="records")[0]  # the owners' table
    assert (row["owner"], row["business use"]) == ("dan", "Retail loan origination, every application")


def test_a_data_scientist_sets_the_owner_but_not_the_tier(
    page: PageRunner, candidate: int, live_ctx: ServiceContext
) -> None:
    at = page("overview", "dora")
    labels = [b.label for b in at.button]
    assert labels == ["Save owner and business use"]
    assert any(c.value == "A validator or an administrator sets a model's tier, with a reason." for c in at.caption)


def test_a_validator_renews_an_expired_approval_from_the_overview(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    with live_ctx.db.write() as session:
        session.execute(update(Approval).values(expires_at=utcnow() - timedelta(days=3)))
        dep = session.get(Deployment, in_prod)
        assert dep is not None
        newest = (
            session.execute(select(Evaluation).where(Evaluation.model_version_id == dep.model_version_id))
            .scalars()
            .first()
        )
        assert newest is not None
        session.add(
            Evaluation(
                model_version_id=dep.model_version_id,
                deployment_id=in_prod,
                space="prod",
                results=newest.results,
                data_window=newest.data_window,
                status=newest.status,
                created_at=utcnow(),
            )
        )
    at = page("overview", "victor")
    assert not at.exception
    assert any("EXPIRED" in e.value for e in at.error)
    at.radio[0].set_value("renew")
    next(t for t in at.text_area if t.label == "Why (at least a sentence; audited)").set_value(
        "The quarter's production evaluation holds; renewed."
    )
    _button(at, "Decide the revalidation")
    assert not at.exception
    assert any("Revalidation" in s.value and "the approval now expires on" in s.value for s in at.success)
    assert governance.production_check(live_ctx, people["max"], dep.model_version_id).passed
    manager = page("overview", "max")
    assert not [s for s in manager.subheader if s.value == "Revalidate a production model"]
