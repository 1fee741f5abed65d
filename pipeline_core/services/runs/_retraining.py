"""Retraining: a new run on the training data plus labelled feedback, launched from a retraining request.

The new training set is the deployed model's training data with every feedback record
of the deployment appended, each with the true label someone uploaded; the model's own
predictions are never used as labels. The set is registered as a dataset (so its bytes
and lineage are kept like any other), and the run goes through the whole pipeline and
ends in review like any run. The request's records to label (its evaluation's one list) are returned with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select, update

from pipeline_core.data.load import frame_to_csv_bytes, parse_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ConflictError, NotFoundError
from pipeline_core.params import RunParams
from pipeline_core.results.evidence import RecordsToLabel
from pipeline_core.services import audit, monitoring
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import load_frame, register_dataset
from pipeline_core.services.monitoring import feedback_frame
from pipeline_core.services.runs._launch import launch_run
from pipeline_core.store.models import Dataset, Deployment, ModelVersion, RetrainingRequest, Run
from pipeline_core.vocabulary import RetrainingStatus


@dataclass
class RetrainOutcome:
    """The run launched; ``to_label`` is the request's evaluation's list of records to label (empty without one),
    ``drifted_records`` its records in their stored form."""

    run_id: int
    request_id: int | None
    dataset_id: int
    training_records: int
    feedback_records: int
    drifted_records: list[dict[str, Any]]
    to_label: RecordsToLabel = field(default_factory=RecordsToLabel)


def retrain(
    ctx: ServiceContext,
    actor: Principal,
    *,
    deployment_id: int | None = None,
    request_id: int | None = None,
    params: RunParams | None = None,
) -> RetrainOutcome:
    """Launch a retraining run for ``request_id`` (or the newest open request of ``deployment_id``).

    Without any open request a deployment can still be retrained on demand.
    """
    require(ctx, actor, "launch_run")
    if deployment_id is None and request_id is None:
        raise NotFoundError("retrain needs a deployment id or a retraining request id")
    with ctx.db.read() as session:
        request = None
        if request_id is not None:
            request = session.get(RetrainingRequest, request_id)
            if request is None:
                raise NotFoundError(f"retraining request {request_id} does not exist")
            if request.status != RetrainingStatus.OPEN:
                raise ConflictError(f"retraining request {request_id} is {request.status} (run {request.run_id})")
            deployment_id = request.deployment_id
        else:
            request = session.execute(
                select(RetrainingRequest)
                .where(
                    RetrainingRequest.deployment_id == deployment_id, RetrainingRequest.status == RetrainingStatus.OPEN
                )
                .order_by(RetrainingRequest.id.desc())
                .limit(1)
            ).scalar_one_or_none()
        dep = session.get(Deployment, deployment_id)
        if dep is None:
            raise NotFoundError(f"deployment {deployment_id} does not exist")
        mv = session.get(ModelVersion, dep.model_version_id)
        assert mv is not None  # foreign key
        dataset = session.get(Dataset, mv.dataset_id)
        run = session.get(Run, mv.run_id)
        assert dataset is not None  # foreign key
        assert run is not None  # foreign key
        found_request_id = request.id if request is not None else None
    # The same list the evaluation shows and the request holds, read from the one place it is stored.
    to_label = (
        monitoring.retraining_request(ctx, actor, found_request_id).to_label
        if found_request_id is not None
        else RecordsToLabel()
    )
    spec = DataSpec.from_dict(dataset.spec)
    training = load_frame(ctx, actor, dataset)
    feedback = feedback_frame(ctx, actor, dep.id, spec)[[*spec.feature_names, spec.target]]
    combined = pd.concat([training[[*spec.feature_names, spec.target]], feedback], ignore_index=True)
    name = f"retrain-deployment-{dep.id}-model-{mv.id}-feedback-{len(feedback)}.csv"
    table = parse_csv_bytes(frame_to_csv_bytes(combined), name=name)
    source = f"{dataset.name} + {len(feedback)} feedback records of deployment {dep.id}"
    new_dataset = register_dataset(ctx, actor, table, spec=spec, source=source)
    if found_request_id is not None:
        _set_request(
            ctx, found_request_id, frm=RetrainingStatus.OPEN, to=RetrainingStatus.LAUNCHED, actor=actor.username
        )
    try:
        new_run = launch_run(ctx, actor, dataset=new_dataset, params=params or RunParams.from_dict(dict(run.params)))
    except Exception:
        if found_request_id is not None:  # back to open, so the request is not lost
            _set_request(ctx, found_request_id, frm=RetrainingStatus.LAUNCHED, to=RetrainingStatus.OPEN, actor=None)
        raise
    with ctx.db.write() as session:
        if found_request_id is not None:
            session.execute(
                update(RetrainingRequest).where(RetrainingRequest.id == found_request_id).values(run_id=new_run.id)
            )
        audit.record(
            session,
            actor=actor.username,
            action="retraining.launched",
            object_type="run",
            object_id=new_run.id,
            details={"deployment_id": dep.id, "request_id": found_request_id, "feedback_records": len(feedback)},
        )
    drifted = [r.to_dict() for r in to_label.records]
    return RetrainOutcome(new_run.id, found_request_id, new_dataset.id, len(training), len(feedback), drifted, to_label)


def _set_request(
    ctx: ServiceContext, request_id: int, *, frm: RetrainingStatus, to: RetrainingStatus, actor: str | None
) -> None:
    with ctx.db.write() as session:
        result = session.execute(
            update(RetrainingRequest)
            .where(RetrainingRequest.id == request_id, RetrainingRequest.status == frm)
            .values(status=to, launched_by=actor)
        )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(f"retraining request {request_id} is no longer {frm}: someone else launched it meanwhile")
