"""Publishes the product's facts to the external model inventory (IBM AI Factsheets) as models move.

With ``factsheet_backend = "ibm"``: after the pipeline's pre-prod evaluation the pre-prod
model asset is tracked in the AI use case (phase Validate, from its space) with the run's
facts; a decision adds the decision's facts to it; an approved model's production asset is
tracked too (phase Operate) with the same facts. The metadata store stays the source of
truth (the product's own factsheet). Each publication is a sink of the integrations' dispatcher
(``_dispatch``), which delivers the domain event after the commit of what it reports: a failure
to publish never undoes a decision; it is audited, retried, and listed as not yet in sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from pipeline_core.backends.base import ServedModel
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Deployment, ModelVersion
from pipeline_core.vocabulary import DeploymentStatus, Outcome, Space


def candidate_facts(
    *, results: Sequence[Any], model_tests: Sequence[Mapping[str, Any]], status: str, risk_level: str | None
) -> dict[str, Any]:
    """The facts of a candidate's pre-prod evaluation (its identity is added from the store when published)."""
    quality = next((r for r in results if r.monitor == "quality"), None)
    auc = next((m.value for m in quality.metrics if m.name == "roc_auc"), None) if quality is not None else None
    passed = sum(1 for t in model_tests if t.get("status") == "pass")
    return {
        "mlops_stage": "pre-prod evaluation",
        "mlops_roc_auc": auc,
        "mlops_model_tests": f"{passed} of {len(model_tests)} passed",
        "mlops_evaluation_status": status,
        "mlops_risk_level": risk_level,
    }


def _identity(ctx: ServiceContext, model_version_id: int) -> dict[str, str]:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, model_version_id)
        assert mv is not None  # callers pass a stored version
        return {
            "mlops_model_version": f"{mv.name} version {mv.version} (model version {mv.id})",
            "mlops_run_id": str(mv.run_id),
            "mlops_artifact_sha256": mv.artifact_sha256,
        }


def _served(ctx: ServiceContext, model_version_id: int, space: Space) -> ServedModel | None:
    with ctx.db.read() as session:
        dep = session.execute(
            select(Deployment).where(
                Deployment.model_version_id == model_version_id,
                Deployment.space == space,
                Deployment.status == DeploymentStatus.ACTIVE,
            )
        ).scalar_one_or_none()
        if dep is None or not dep.served:
            return None
        served = ServedModel.from_dict(dep.served)
    return served if served.backend != "local" else None


def publish_candidate(ctx: ServiceContext, model_version_id: int, facts: Mapping[str, Any]) -> str:
    """Track the pre-prod asset in the AI use case and set the candidate's facts; what was done.

    The dispatcher's AI Factsheets sink for a pre-prod evaluation (``_dispatch``): a ``PipelineError``
    from the service propagates for it to record, back off and retry.
    """
    if ctx.factsheets is None:
        return "not configured"
    served = _served(ctx, model_version_id, Space.PREPROD)
    if served is None:  # served locally, or replaced in pre-prod since: no asset of it to describe
        return f"no watsonx.ai asset serves model version {model_version_id} in pre-prod"
    facts = {**_identity(ctx, model_version_id), **facts}
    ctx.factsheets.track(served, comment=f"{facts['mlops_model_version']}: candidate from run {facts['mlops_run_id']}")
    ctx.factsheets.record(served, facts)
    return f"pre-prod asset {served.model_id} tracked with the candidate's facts"


def publish_decision(
    ctx: ServiceContext, model_version_id: int, *, approved: bool, actor: str, comment: str, decided_at: str
) -> str:
    """The decision's facts on the pre-prod asset; an approved model's prod asset tracked with them too.

    Whether the version reached prod is read from the store now: the prod deployment follows the
    decision's commit, and the caller delivers after it. ``decided_at`` is ISO 8601.
    """
    if ctx.factsheets is None:
        return "not configured"
    facts = {
        **_identity(ctx, model_version_id),
        "mlops_decision": (Outcome.APPROVED if approved else Outcome.REJECTED).value,  # a plain word for the service
        "mlops_decided_by": actor,
        "mlops_decision_comment": comment,
        "mlops_decided_at": decided_at,
    }
    done = []
    preprod = _served(ctx, model_version_id, Space.PREPROD)
    if preprod is not None:
        ctx.factsheets.record(preprod, {**facts, "mlops_stage": "decided"})
        done.append(f"decision's facts on pre-prod asset {preprod.model_id}")
    prod = _served(ctx, model_version_id, Space.PROD) if approved else None
    if prod is not None:
        ctx.factsheets.track(prod, comment=f"{facts['mlops_model_version']}: in production, approved by {actor}")
        ctx.factsheets.record(prod, {**facts, "mlops_stage": "production"})
        done.append(f"prod asset {prod.model_id} tracked")
    return "; ".join(done) or f"no watsonx.ai asset serves model version {model_version_id}"
