"""Deployments record revisions, and nothing else: what a deployment serves and where a version is follow from them.

``deployments`` writes no served state on a model version and no version on a deployment; the
revision it opens is the move the state table allowed, read back before the transaction commits.
A version whose state migration 0010 kept as stored (served before revisions existed) gives way
to its decision when a deployment moves it.
"""

from __future__ import annotations

from sqlalchemy import select, text

from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, Deployment, DeploymentRevision, ModelVersion
from pipeline_core.vocabulary import ModelState
from tests.services.helpers import copy_version

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
