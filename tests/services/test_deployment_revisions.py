"""Deployments record revisions, and nothing else: what a deployment serves and where a version is follow from them.

``deployments`` writes no served state on a model version and no version on a deployment; the
revision it opens is the move the state table allowed, read back before the transaction commits.
A version whose state migration 0010 kept as stored (served before revisions existed) gives way
to its decision when a deployment moves it. A rollback takes a person's reason, kept on the revision
it opens, and goes back only to a version that holds an approval of its artifact.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from pipeline_core.errors import ConfigError, ConflictError, DeploymentError
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, Deployment, DeploymentRevision, ModelVersion
from pipeline_core.vocabulary import ModelState
from tests.services.helpers import copy_version, plant_in_prod_history

S = ModelState


def _states(ctx: ServiceContext, *ids: int) -> list[tuple[str, str]]:
    """(stored decision, state) of each model version."""
    with ctx.db.read() as session:
        found = {mv.id: mv for mv in session.execute(select(ModelVersion).where(ModelVersion.id.in_(ids))).scalars()}
        return [(found[i].review_state, found[i].state) for i in ids]


def test_serving_in_prod_stores_only_the_decision(live_ctx: ServiceContext, in_prod: int) -> None:
    with live_ctx.db.read() as session:
        mv = session.execute(select(ModelVersion)).scalar_one()
        dep = session.get(Deployment, in_prod)
        assert dep is not None
        revision = session.execute(
            select(DeploymentRevision).where(
                DeploymentRevision.deployment_id == in_prod, DeploymentRevision.ended_at.is_(None)
            )
        ).scalar_one()
        preprod = session.execute(select(Deployment).where(Deployment.space == "preprod")).scalar_one()
        raw = session.execute(text("SELECT state FROM model_versions WHERE id = :id"), {"id": mv.id}).scalar()
    assert (raw, mv.review_state, mv.deployed_state, mv.state) == (
        S.APPROVED,
        S.APPROVED,
        S.IN_PRODUCTION,
        S.IN_PRODUCTION,
    )
    assert dep.model_version_id == revision.model_version_id == mv.id
    assert (dep.model_name, dep.name, preprod.name) == (mv.name, f"{mv.name}-prod", f"{mv.name}-preprod")
    assert (
        deployments.get_deployment(live_ctx, SYSTEM, in_prod).scoring_path
        == dep.endpoint
        == f"/ml/v4/deployments/{in_prod}/predictions"
    )


def _kept_from_before_revisions(ctx: ServiceContext, template_id: int, state: ModelState) -> int:
    """An approved copy of ``template_id`` whose state migration 0010 kept as stored: no revision says where it was."""
    now = utcnow()
    with ctx.db.write() as session:
        live = session.get(ModelVersion, template_id)
        assert live is not None
        old = copy_version(session, live)
        old.review_state = state  # as 0010 leaves a served word it cannot derive (the setter takes decisions only)
        session.add(
            Approval(
                model_version_id=old.id,
                artifact_sha256=old.artifact_sha256,
                outcome="approved",
                comment="approved before revisions were recorded",
                evidence={"evaluation_ids": []},
                decided_by="victor",
                decided_at=now,
            )
        )
        return old.id


def test_a_state_kept_from_before_revisions_gives_way_to_its_decision_when_a_deployment_moves_it(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    serving = deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id
    old = _kept_from_before_revisions(live_ctx, serving, S.RETIRED)
    assert _states(live_ctx, old, serving) == [(S.RETIRED, S.RETIRED), (S.APPROVED, S.IN_PRODUCTION)]
    info = governance.deploy_approved(live_ctx, people["vera"], old)  # retired -> in production: a legal move
    assert (info.id, info.model_version_id) == (in_prod, old)
    assert _states(live_ctx, old, serving) == [(S.APPROVED, S.IN_PRODUCTION), (S.APPROVED, S.RETIRED)]
    result = deployments.rollback(
        live_ctx, people["vera"], reason="the new version misjudges young applicants; back to the last approved one"
    )  # and back along the revisions it now has
    assert result.deployment.model_version_id == serving
    assert _states(live_ctx, old, serving) == [(S.APPROVED, S.RETIRED), (S.APPROVED, S.IN_PRODUCTION)]


REASON = "the new version misjudges young applicants; back to the last approved one"


def _earlier_approved(ctx: ServiceContext, deployment_id: int, *, approved: bool = True) -> int:
    """An approved copy of what prod serves, in prod's history (closed revision), with an approval of its artifact."""
    return plant_in_prod_history(
        ctx, deployment_id, state=S.APPROVED, artifact_sha256=None, actor="victor", approved=approved
    )


def test_rollback_keeps_its_reason_on_the_revision_and_in_its_audit_event(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    serving = deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id
    earlier = _earlier_approved(live_ctx, in_prod)
    target = deployments.rollback_target(live_ctx, people["max"], deployment_id=in_prod)
    assert (target.serving, target.model_version_id) == (serving, earlier)
    assert target.explanation.startswith(f"deployment {in_prod} would serve model version {earlier} (german_credit v2)")
    result = deployments.rollback(live_ctx, people["vera"], reason=f"  {REASON}  ", deployment_id=in_prod)
    assert result.deployment.model_version_id == earlier
    *_, opened = deployments.revisions(live_ctx, people["max"], in_prod)
    assert (opened.model_version_id, opened.reason, opened.actor, opened.comment) == (
        earlier,
        "rollback",
        "vera",
        REASON,  # as said, its outer spaces gone
    )
    assert all(r.comment is None for r in deployments.revisions(live_ctx, people["max"], in_prod)[:-1])
    (event,) = governance.list_events(live_ctx, people["max"], action="deployment.replaced", limit=1)
    assert (event.actor, event.details["reason"], event.details["comment"]) == ("vera", "rollback", REASON)


@pytest.mark.parametrize(
    "reason",
    ["", "   ", "x", "rollback", "roll back now pls", "a" * 40, "no. no. no. no.", "\t\n"],
    ids=["empty", "blank", "one letter", "one word", "short", "one long word", "short words", "whitespace"],
)
def test_rollback_without_a_sentence_of_reason_is_refused_and_changes_nothing(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, reason: str
) -> None:
    earlier = _earlier_approved(live_ctx, in_prod)
    before = deployments.revisions(live_ctx, people["max"], in_prod)
    events = len(governance.list_events(live_ctx, people["max"], limit=10_000))
    with pytest.raises(ConfigError, match="the reason for a rollback must be at least a sentence"):
        deployments.rollback(live_ctx, people["vera"], reason=reason)
    assert deployments.revisions(live_ctx, people["max"], in_prod) == before
    assert deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id != earlier
    assert len(governance.list_events(live_ctx, people["max"], limit=10_000)) == events


def test_nothing_to_roll_back_to_is_said_before_and_refused_at_the_rollback(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    serving = deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id
    target = deployments.rollback_target(live_ctx, people["max"], deployment_id=in_prod)
    said = f"deployment {in_prod} has nothing to roll back to: it has served only model version {serving}"
    assert (target.model_version_id, target.explanation) == (None, said)
    with pytest.raises(ConflictError, match=f"^{said}$"):
        deployments.rollback(live_ctx, people["vera"], reason=REASON)


def test_rollback_passes_over_a_version_without_an_approval_of_its_artifact(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    """A history edited out of band (a revision of a version nobody approved) is not a road back to prod."""
    approved = _earlier_approved(live_ctx, in_prod)
    unapproved = _earlier_approved(live_ctx, in_prod, approved=False)  # the newer one: rollback meets it first
    target = deployments.rollback_target(live_ctx, people["vera"], deployment_id=in_prod)
    assert target.model_version_id == approved
    assert f"(passed over: model version {unapproved} has no approval of its artifact " in target.explanation
    assert deployments.rollback(live_ctx, people["vera"], reason=REASON).deployment.model_version_id == approved
    # Back where it was, the unapproved one still passed over: only the approved ones remain to go back to.
    again = deployments.rollback_target(live_ctx, people["vera"], deployment_id=in_prod)
    assert again.model_version_id != unapproved


@pytest.mark.parametrize(
    ("where", "match"),
    [
        ({"deployment_id": 9999}, "cannot roll back: no active prod deployment 9999"),
        ({"model_name": "no_such_model"}, "cannot roll back: no active prod deployment of model 'no_such_model'"),
        ({"deployment_id": "preprod"}, r"cannot roll back: no active prod deployment \d+$"),
    ],
    ids=["unknown id", "unknown model", "a pre-prod deployment"],
)
def test_rolling_back_what_is_not_a_prod_deployment_names_it(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, where: dict[str, object], match: str
) -> None:
    if where.get("deployment_id") == "preprod":
        (preprod,) = [d for d in deployments.list_deployments(live_ctx, SYSTEM) if d.space == "preprod"]
        where = {"deployment_id": preprod.id}
    with pytest.raises(DeploymentError, match=match):
        deployments.rollback_target(live_ctx, people["vera"], **where)  # type: ignore[arg-type]
    with pytest.raises(DeploymentError, match=match):
        deployments.rollback(live_ctx, people["vera"], reason=REASON, **where)  # type: ignore[arg-type]
