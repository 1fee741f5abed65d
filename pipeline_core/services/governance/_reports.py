"""The validation report of a model version: its newest evaluation and model tests rendered as one HTML file."""

from __future__ import annotations

from sqlalchemy import select

from pipeline_core.errors import NotFoundError
from pipeline_core.monitors.report import render_validation_report
from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.services import lookup, runs
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Evaluation


def validation_report(
    ctx: ServiceContext, actor: Principal, model_version_id: int, *, evaluation_id: int | None = None
) -> str:
    """HTML of ``evaluation_id`` (default: the model version's newest evaluation) with the version's facts."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        query = select(Evaluation).where(Evaluation.model_version_id == model_version_id)
        if evaluation_id is not None:
            query = query.where(Evaluation.id == evaluation_id)
        evaluation = session.execute(query.order_by(Evaluation.id.desc()).limit(1)).scalar_one_or_none()
        if evaluation is None:
            raise NotFoundError(
                f"model version {model_version_id} has no evaluation"
                + (f" {evaluation_id}" if evaluation_id is not None else "")
            )
        facts = {
            "model": f"{mv.name} v{mv.version} (model version {mv.id})",
            "state": mv.state,
            "model type": mv.model_type,
            "artifact sha256": mv.artifact_sha256,
            "training data sha256": mv.training_data_sha256,
            "created by": mv.created_by,
            "created at": mv.created_at.isoformat(),
            "run": mv.run_id,
            "parameters": mv.params,
            "training metrics": {k: round(v, 4) for k, v in mv.metrics.items() if isinstance(v, float)},
        }
        # Read from the row, not through the monitoring area: governance has no edge to it among the service areas.
        report = EvaluationReport.from_dict(evaluation.results)
        info = {
            "id": evaluation.id,
            "space": evaluation.space,
            "created_at": evaluation.created_at.isoformat(),
            "data_window": evaluation.data_window,
        }
    tested = runs.latest_model_tests(ctx, actor, model_version_id)
    return render_validation_report(
        title=f"Validation report: {mv.name} v{mv.version}",
        model=facts,
        evaluation=info,
        report=report,
        model_tests=tested.report.entries() if tested else (),
    )
