"""Publishes the product's facts to the external model inventory (IBM AI Factsheets) as models move.

With ``factsheet_backend = "ibm"``: after the pipeline's pre-prod evaluation the pre-prod
model asset is tracked in the AI use case (phase Validate, from its space) with the run's
facts; a decision adds the decision's facts to it; an approved model's production asset is
tracked too (phase Operate) with the same facts. The metadata store stays the source of
truth (the product's own factsheet); a failure to publish never undoes a decision: it is
audited and returned as text for the caller to show.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from pipeline_core.backends.base import ServedModel
from pipeline_core.errors import PipelineError
from pipeline_core.services import audit
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Deployment, ModelVersion
from pipeline_core.vocabulary import DeploymentStatus, Outcome, Space

log = logging.getLogger(__name__)


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


def _failed(ctx: ServiceContext, model_version_id: int, actor: str, exc: PipelineError) -> str:
    log.error("facts of model version %s not published to AI Factsheets: %s", model_version_id, exc)
    with ctx.db.write() as session:
        audit.record(
            session,
            actor=actor,
            action="factsheet.not_published",
            object_type="model_version",
            object_id=model_version_id,
            details={"error": str(exc)},
        )
    return str(exc)


def publish_candidate(
    ctx: ServiceContext, model_version_id: int, facts: Mapping[str, Any], *, actor: str
) -> str | None:
    """Track the pre-prod asset in the AI use case and set the candidate's facts; the error text if that failed."""
    served = _served(ctx, model_version_id, Space.PREPROD) if ctx.factsheets is not None else None
    if served is None or ctx.factsheets is None:
        return None
    facts = {**_identity(ctx, model_version_id), **facts}
    try:
        ctx.factsheets.track(
            served, comment=f"{facts['mlops_model_version']}: candidate from run {facts['mlops_run_id']}"
        )
        ctx.factsheets.record(served, facts)
    except PipelineError as exc:
        return _failed(ctx, model_version_id, actor, exc)
    return None


def publish_decision(
    ctx: ServiceContext, model_version_id: int, *, approved: bool, actor: str, comment: str, decided_at: datetime
) -> str | None:
    """The decision's facts on the pre-prod asset; an approved model's prod asset tracked with them too."""
    if ctx.factsheets is None:
        return None
    facts = {
        **_identity(ctx, model_version_id),
        "mlops_decision": (Outcome.APPROVED if approved else Outcome.REJECTED).value,  # a plain word for the service
        "mlops_decided_by": actor,
        "mlops_decision_comment": comment,
        "mlops_decided_at": decided_at.isoformat(),
    }
    try:
        preprod = _served(ctx, model_version_id, Space.PREPROD)
        if preprod is not None:
            ctx.factsheets.record(preprod, {**facts, "mlops_stage": "decided"})
        prod = _served(ctx, model_version_id, Space.PROD) if approved else None
        if prod is not None:
            ctx.factsheets.track(prod, comment=f"{facts['mlops_model_version']}: in production, approved by {actor}")
            ctx.factsheets.record(prod, {**facts, "mlops_stage": "production"})
    except PipelineError as exc:
        return _failed(ctx, model_version_id, actor, exc)
    return None
