"""Model tests of a model version: gather its inputs, run the suite, store the report with the version.

The suite (``pipeline_core.model_tests``) is pure; this module supplies what it needs from
the stores: the stored artifact (read back through the artifact store, which verifies its
hash), the training and test splits the run used, the learning curve its train stage
recorded, and the model now in production under the same spec (for slice regression).
Every stored report is an audit event; the pipeline's *model tests* stage and
``test-model`` both end here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.data.spec import DataSpec
from pipeline_core.model_io import load_model
from pipeline_core.model_tests.results import ModelTestReport
from pipeline_core.model_tests.suite import StoredArtifact, run_model_tests
from pipeline_core.services import audit, lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.jsonable import jsonable
from pipeline_core.services.monitoring import model_frames
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Deployment, ModelTestRun, ModelVersion, StageResult
from pipeline_core.vocabulary import DeploymentStatus, Space


@dataclass(frozen=True)
class StoredModelTests:
    """A stored model test report."""

    id: int
    model_version_id: int
    run_id: int | None
    report: ModelTestReport
    created_by: str
    created_at: str


def stored_artifact(ctx: ServiceContext, sha256: str) -> StoredArtifact:
    return StoredArtifact(sha256, lambda: ctx.artifacts.get(sha256))


def production_model(ctx: ServiceContext, spec_name: str, *, other_than: int) -> tuple[Any, str] | None:
    """The model serving the spec's prod deployment (not ``other_than``), with a name for the evidence."""
    with ctx.db.read() as session:
        found = session.execute(
            select(ModelVersion)
            .join(Deployment, Deployment.model_version_id == ModelVersion.id)
            .where(
                Deployment.space == Space.PROD,
                Deployment.status == DeploymentStatus.ACTIVE,
                ModelVersion.name == spec_name,
                ModelVersion.id != other_than,
            )
            .order_by(Deployment.updated_at.desc().nulls_last(), Deployment.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if found is None:
            return None
        mv_id, version, sha = found.id, found.version, found.artifact_sha256
    return load_model(ctx.artifacts.get(sha)), f"production model {spec_name} v{version} (model version {mv_id})"


def run_in_pipeline(
    ctx: ServiceContext,
    *,
    model: Any,
    model_version_id: int,
    run_id: int,
    spec: DataSpec,
    held_out: pd.DataFrame,
    reference: pd.DataFrame,
    learning_curve: dict[str, list[float]],
) -> tuple[int, ModelTestReport]:
    """The pipeline's stage: the in-memory model against its stored artifact; the report stored with the version."""
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        sha, name = mv.artifact_sha256, mv.name
    return _test_and_store(
        ctx,
        model,
        spec=spec,
        held_out=held_out,
        reference=reference,
        learning_curve=learning_curve,
        model_version_id=model_version_id,
        name=name,
        sha=sha,
        run_id=run_id,
        actor="pipeline",
    )


def run_on_version(ctx: ServiceContext, actor: Principal, model_version_id: int) -> StoredModelTests:
    """Run the suite on a stored model version (its artifact, its run's splits and curve) and store the report."""
    require(ctx, actor, "run_model_tests")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        name, sha = mv.name, mv.artifact_sha256
        train = session.execute(
            select(StageResult.outputs).where(StageResult.run_id == mv.run_id, StageResult.name == "train")
        ).scalar_one_or_none()
    frames = model_frames(ctx, actor, model_version_id)
    _test_and_store(
        ctx,
        frames.model,
        spec=frames.spec,
        held_out=frames.held_out,
        reference=frames.reference,
        learning_curve=(train or {}).get("learning_curve"),
        model_version_id=model_version_id,
        name=name,
        sha=sha,
        run_id=None,
        actor=actor.username,
    )
    found = latest(ctx, actor, model_version_id)
    assert found is not None  # just written
    return found


def _test_and_store(
    ctx: ServiceContext,
    model: Any,
    *,
    spec: DataSpec,
    held_out: pd.DataFrame,
    reference: pd.DataFrame,
    learning_curve: dict[str, list[float]] | None,
    model_version_id: int,
    name: str,
    sha: str,
    run_id: int | None,
    actor: str,
) -> tuple[int, ModelTestReport]:
    """The suite against the spec's production model (if any), the report stored in one transaction."""
    production, production_name = production_model(ctx, name, other_than=model_version_id) or (None, "")
    report = run_model_tests(
        model,
        spec=spec,
        held_out=held_out,
        reference=reference,
        learning_curve=learning_curve,
        artifact=stored_artifact(ctx, sha),
        production=production,
        production_name=production_name,
    )
    with ctx.db.write() as session:
        test_id = _store(session, model_version_id=model_version_id, run_id=run_id, report=report, actor=actor)
    return test_id, report


def latest(ctx: ServiceContext, actor: Principal, model_version_id: int) -> StoredModelTests | None:
    """The newest stored model test report of a model version, or None if it was never tested."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        row = session.execute(
            select(ModelTestRun)
            .where(ModelTestRun.model_version_id == model_version_id)
            .order_by(ModelTestRun.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row is None:
            return None
        return StoredModelTests(
            row.id,
            row.model_version_id,
            row.run_id,
            ModelTestReport.from_dict(row.results),
            row.created_by,
            row.created_at.isoformat(timespec="seconds"),
        )


def _store(session: Session, *, model_version_id: int, run_id: int | None, report: ModelTestReport, actor: str) -> int:
    row = ModelTestRun(
        model_version_id=model_version_id,
        run_id=run_id,
        status=report.status,
        seconds=report.seconds,
        results=jsonable(report.to_dict()),
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="model_version.tested",
        object_type="model_version",
        object_id=model_version_id,
        details={"model_test_run_id": row.id, "status": report.status, "failed": [v.name for v in report.failed]},
    )
    return row.id
