"""Build candidates (model versions awaiting review) through the real pipeline; plant histories it never writes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.monitors.suite import SuiteConfig
from pipeline_core.params import RunParams
from pipeline_core.services import governance
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _documentation as governance_doc
from pipeline_core.services.governance._inventory import tier_of
from pipeline_core.services.runs import RunWorker, launch_file_run, model_version_for_run
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, Deployment, DeploymentRevision, ModelVersion, Run, User
from pipeline_core.vocabulary import DocSection, ModelState, Outcome, RevisionReason, Role, RunState, Tier

FAST = RunParams(max_iter=30, cv_folds=3)


def make_candidate(
    ctx: ServiceContext, actor: Principal, folder: Path, *, seed: int = 7, rows: int = 600, governed: bool = True
) -> int:
    """Run the pipeline on generated data; return the model version now awaiting review.

    ``governed``: its model is documented (by ``actor``) and tiered 3 unless already tiered (``govern``), so
    that one validator's approval is final; a test of the tier or documentation rules passes False or
    tiers it itself."""
    path = folder / f"credit_{seed}_{rows}.csv"
    path.write_bytes(frame_to_csv_bytes(generate_german_credit(rows, seed=seed)))
    run = launch_file_run(ctx, actor, str(path), spec=german_credit_spec(), params=FAST)
    worker = RunWorker(ctx)
    assert worker.claim(run.id)
    status = worker.execute(run.id)
    worker.stop()
    assert status == "succeeded", status
    mv = model_version_for_run(ctx, SYSTEM, run.id)
    assert mv is not None and mv.state == "awaiting_review"
    if governed:
        govern(ctx, actor, mv.id)
    return mv.id


def write_all_documentation(ctx: ServiceContext, actor: Principal, model_version_id: int) -> None:
    """Every documentation section of the version's model, written by ``actor`` (a data scientist)."""
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, model_version_id)
        assert mv is not None
        name = mv.name
    texts = {section: f"{section.heading} of {name}, as the test suite documents it." for section in DocSection}
    governance.write_documentation(ctx, actor, name, sections=texts, model_version_id=model_version_id)


def set_test_tier(ctx: ServiceContext, model_version_id: int, *, tier: Tier = Tier.LOW) -> None:
    """Tier the version's model through the service, as the store's first admin."""
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, model_version_id)
        admin = session.execute(select(User).where(User.role == Role.ADMIN).order_by(User.id).limit(1)).scalar_one()
        assert mv is not None
        name, admin_name = mv.name, admin.username
    reason = "The test suite tiers the models it builds itself."
    governance.set_tier(ctx, Principal(admin_name, Role.ADMIN), name, tier=int(tier), reason=reason)


def govern(ctx: ServiceContext, actor: Principal, model_version_id: int) -> None:
    """What a governed model has before review: its documentation written (where not yet) and a tier (3, where
    none was set)."""
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, model_version_id)
        assert mv is not None
        documented = not governance_doc.read(session, mv.name, mv).missing(tuple(DocSection))
        tiered = tier_of(session, mv.name) is not None
    if not documented:
        write_all_documentation(ctx, actor, model_version_id)
    if not tiered:
        set_test_tier(ctx, model_version_id)


def copy_version(
    session: Session, live: ModelVersion, *, artifact_sha256: str | None = None, state: ModelState | None = None
) -> ModelVersion:
    """A next version of ``live``'s model with its facts, from a run of its own, added and flushed."""
    now = utcnow()
    run = Run(status=RunState.SUCCEEDED, dataset_id=live.dataset_id, params={}, created_by="dan", created_at=now)
    session.add(run)
    session.flush()
    newest = session.execute(select(func.max(ModelVersion.version)).where(ModelVersion.name == live.name)).scalar()
    copy = ModelVersion(
        name=live.name,
        version=int(newest or live.version) + 1,  # after every version of the model, so that two copies differ
        run_id=run.id,
        dataset_id=live.dataset_id,
        artifact_sha256=artifact_sha256 or live.artifact_sha256,
        training_data_sha256=live.training_data_sha256,
        model_type=live.model_type,
        params=live.params,
        metrics=live.metrics,
        lineage=live.lineage,
        created_by="dan",
        created_at=now,
        **({"state": state} if state is not None else {}),
    )
    session.add(copy)
    session.flush()
    return copy


def plant_in_prod_history(
    ctx: ServiceContext,
    deployment_id: int,
    *,
    state: ModelState,
    artifact_sha256: str | None,
    actor: str,
    approved: bool = False,
) -> int:
    """A copy of the version a deployment serves, in ``state``, with a closed revision saying it once served there.

    What the services never write (a tampered or pre-revision history): ``artifact_sha256`` None keeps the
    served artifact, else names one that may not be in the store. ``approved``: with an approval of that
    artifact by ``actor`` too, so that a rollback takes it (and meets what else is wrong with it).
    """
    with ctx.db.write() as session:
        dep = session.get(Deployment, deployment_id)
        assert dep is not None
        live = session.get(ModelVersion, dep.model_version_id)
        assert live is not None
        planted = copy_version(session, live, artifact_sha256=artifact_sha256, state=state)
        session.add(
            DeploymentRevision(
                deployment_id=deployment_id,
                model_version_id=planted.id,
                artifact_sha256=planted.artifact_sha256,
                reason=RevisionReason.APPROVAL,
                actor=actor,
                started_at=planted.created_at,
                ended_at=planted.created_at,
            )
        )
        if approved:
            session.add(
                Approval(
                    model_version_id=planted.id,
                    artifact_sha256=planted.artifact_sha256,
                    outcome=Outcome.APPROVED,
                    comment="planted beside the history",
                    evidence={"evaluation_ids": []},
                    decided_by=actor,
                    decided_at=planted.created_at,
                )
            )
        return planted.id


def point_revision_at(ctx: ServiceContext, deployment_id: int, model_version_id: int) -> None:
    """Make the deployment's open revision name another version, in SQL, as an edit outside the product would."""
    with ctx.db.write() as session:
        changed = session.execute(
            text(
                "UPDATE deployment_revisions SET model_version_id = :mv WHERE deployment_id = :dep AND ended_at IS NULL"
            ),
            {"mv": model_version_id, "dep": deployment_id},
        )
        assert changed.rowcount == 1  # type: ignore[attr-defined]


def evaluate_drifted_traffic(
    ctx: ServiceContext, actor: Principal, deployment_id: int, *, records: int = 600, config: SuiteConfig | None = None
) -> int:
    """Prod's newest window made drifted and partly inconsistent, with feedback that contradicts the model, then
    evaluated by ``actor``: the evaluation fails (ROC AUC) and raises a retraining request. Returns its id.

    The payload is stored as the logger would (no scoring service), so the test needs only the ``in_prod`` state.
    """
    from datetime import timedelta

    from pipeline_core.services import deployments, monitoring
    from pipeline_core.services.datasets import store_payload_frame

    dep = deployments.get_deployment(ctx, SYSTEM, deployment_id)
    frames = monitoring.model_frames(ctx, SYSTEM, dep.model_version_id)
    spec = frames.spec
    traffic = generate_german_credit(records, seed=41)
    traffic["LoanAmount"] = (traffic["LoanAmount"] * 2.5).round().astype(int)  # inflation: many out of range
    traffic["Housing"] = "rent"
    scored = monitoring.score_frame(frames.model, traffic, spec)
    store_payload_frame(
        ctx,
        SYSTEM,
        deployment_id=deployment_id,
        model_version_id=dep.model_version_id,
        frame=scored[[*spec.feature_names, "prediction", "probability"]],
        request_id="drifted-traffic",
        created_at=utcnow() + timedelta(seconds=1),
    )
    feedback = traffic.iloc[:150].copy()
    feedback["Risk"] = ["No Risk" if p == "Risk" else "Risk" for p in scored["prediction"].iloc[:150]]
    monitoring.upload_feedback(ctx, actor, deployment_id, feedback[[*spec.feature_names, spec.target]])
    return monitoring.evaluate_deployment(ctx, actor, deployment_id, config=config).evaluation_id
