"""What the Review page reads beside a version's evidence: earlier versions' decisions, the documentation required."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import delete, select

from pipeline_core.config import Settings
from pipeline_core.errors import NotFoundError
from pipeline_core.policy import DEFAULT_POLICIES
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Evaluation, ModelRecord, ModelVersion
from pipeline_core.vocabulary import ApprovalKind, DocSection, ModelState, Outcome, Tier
from tests.services.helpers import copy_version

REJECTED = "The young applicants' disparate impact is too low; retrain with more of them."


def rejected_then_next_version(ctx: ServiceContext, people: dict[str, Principal], candidate: int) -> int:
    """vera rejects the candidate (v1); v2 of the same model awaits review with a copy of v1's pre-prod evidence."""
    with ctx.db.read() as session:
        v1 = session.get(ModelVersion, candidate)
        assert v1 is not None
        sha = v1.artifact_sha256
    governance.reject(ctx, people["vera"], candidate, comment=REJECTED, artifact_sha256=sha)
    with ctx.db.write() as session:
        v1 = session.get(ModelVersion, candidate)
        assert v1 is not None
        v2 = copy_version(session, v1, state=ModelState.AWAITING_REVIEW)
        for e in session.execute(select(Evaluation).where(Evaluation.model_version_id == candidate)).scalars().all():
            session.add(
                Evaluation(
                    model_version_id=v2.id,
                    deployment_id=e.deployment_id,
                    space=e.space,
                    data_window=e.data_window,
                    results=e.results,
                    status=e.status,
                    created_at=e.created_at,
                    created_by=e.created_by,
                )
            )
        return v2.id


def test_earlier_versions_decisions_with_who_when_and_comment(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    v2 = rejected_then_next_version(live_ctx, people, candidate)
    (decided,) = governance.version_decisions(live_ctx, people["max"], "german_credit", before_version=2)
    assert (decided.version, decided.model_version_id, decided.state) == (1, candidate, ModelState.REJECTED)
    assert (decided.outcome, decided.kind, decided.decided_by) == (Outcome.REJECTED, ApprovalKind.APPROVAL, "vera")
    assert decided.comment == REJECTED and decided.decided_at is not None and decided.countersigned_by == ""
    # Every version, newest first: v2 is undecided and listed once, its state beside it.
    undecided, first = governance.version_decisions(live_ctx, people["max"], "german_credit")
    assert (undecided.version, undecided.model_version_id, undecided.outcome) == (2, v2, None)
    assert undecided.state == ModelState.AWAITING_REVIEW and first == decided


def test_a_first_version_has_no_earlier_decision(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    assert governance.version_decisions(live_ctx, people["vera"], "german_credit", before_version=1) == []


def test_a_model_without_versions_is_not_found(ctx: ServiceContext, people: dict[str, Principal]) -> None:
    with pytest.raises(NotFoundError, match="model 'no such model' has no versions"):
        governance.version_decisions(ctx, people["vera"], "no such model")


def test_required_documentation_follows_the_models_tier_in_the_settings_policies(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lenient = {
        **DEFAULT_POLICIES,
        Tier.LOW: replace(DEFAULT_POLICIES[Tier.LOW], required_documentation=(DocSection.PURPOSE,)),
    }
    monkeypatch.setattr(Settings, "policies", lambda self: lenient)
    governance.set_tier(live_ctx, people["vera"], "german_credit", tier=3, reason="A low-stakes pilot model.")
    low = governance.required_documentation(live_ctx, people["max"], "german_credit")
    assert (low.model_name, low.tier, low.sections) == ("german_credit", Tier.LOW, (DocSection.PURPOSE,))
    governance.set_tier(live_ctx, people["vera"], "german_credit", tier=1, reason="It decides consumer loans.")
    high = governance.required_documentation(live_ctx, people["max"], "german_credit")
    assert (high.tier, high.sections) == (Tier.HIGH, tuple(DocSection))
    with live_ctx.db.write() as session:  # a model nobody tiered: its inventory row not made yet
        session.execute(delete(ModelRecord).where(ModelRecord.name == "german_credit"))
    untiered = governance.required_documentation(live_ctx, people["max"], "german_credit")
    assert (untiered.tier, untiered.sections) == (None, tuple(DocSection))  # tier 1's
