"""An artifact that fails its integrity check is refused before anything is recorded, and the refusal is an event.

Approving, deploying (dev, the pipeline's pre-prod), deploying an approved version and rolling
back all take the artifact through one check: its bytes are in the store, hash to the sha256 the
model version names, and load as a model. A failure writes nothing of the action it stops; it is
recorded on its own, an audit event ``model_version.integrity_failed`` (expected and found hash) and
one open alert, and the candidate stays in the review queue saying why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline_core.errors import ModelIntegrityError
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.audit import verify_chain
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import (
    Alert,
    Approval,
    AuditEvent,
    DeploymentRevision,
    DomainEvent,
    ModelVersion,
)
from pipeline_core.vocabulary import ModelState
from tests.services.helpers import plant_in_prod_history

INTEGRITY_FAILED = "model_version.integrity_failed"


def _sha(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.artifact_sha256


def _file(ctx: ServiceContext, sha: str) -> Path:
    """Where the local artifact store keeps ``sha`` (``root/ab/abcdef...``)."""
    return ctx.settings.artifact_dir / sha[:2] / sha


def _alter(ctx: ServiceContext, mv_id: int) -> tuple[str, str]:
    """Someone edits the artifact on disk; its (expected, found) hashes."""
    path = _file(ctx, _sha(ctx, mv_id))
    altered = path.read_bytes() + b"\x00tampered"
    path.write_bytes(altered)
    return _sha(ctx, mv_id), hashlib.sha256(altered).hexdigest()


def _delete(ctx: ServiceContext, mv_id: int) -> tuple[str, None]:
    """The artifact's file is gone."""
    _file(ctx, _sha(ctx, mv_id)).unlink()
    return _sha(ctx, mv_id), None


def _unloadable(ctx: ServiceContext, mv_id: int) -> tuple[str, str]:
    """The model version names intact bytes that are not a model (a stored dataset, say)."""
    sha = ctx.artifacts.put(b"LoanDuration,Risk\n12,No Risk\n")
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        mv.artifact_sha256 = sha
    return sha, sha


Breakage = Callable[[ServiceContext, int], tuple[str, str | None]]
BREAKAGES: dict[str, tuple[Breakage, str]] = {
    "altered": (_alter, "its stored bytes hash to [0-9a-f]{64}"),
    "missing": (_delete, "the artifact store holds no bytes under that hash"),
    "not a model": (_unloadable, r"its bytes do not load as a model \("),
}


def _events(ctx: ServiceContext, action: str = INTEGRITY_FAILED) -> list[AuditEvent]:
    with ctx.db.read() as session:
        return list(
            session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars()
        )


def _integrity_alerts(ctx: ServiceContext) -> list[Alert]:
    with ctx.db.read() as session:
        return list(
            session.execute(
                select(Alert).where(Alert.monitor == deployments.INTEGRITY_MONITOR).order_by(Alert.id)
            ).scalars()
        )


def _count(ctx: ServiceContext, table: type[object]) -> int:
    with ctx.db.read() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_approving_a_broken_artifact_is_refused_before_anything_is_recorded(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, breakage: str
) -> None:
    """The defect: the approval was recorded (the candidate left the queue) before the artifact check failed."""
    break_it, problem = BREAKAGES[breakage]
    expected, found = break_it(live_ctx, candidate)
    decisions, outbox = _count(live_ctx, Approval), _count(live_ctx, DomainEvent)
    with pytest.raises(
        ModelIntegrityError,
        match=rf"model version {candidate} failed its integrity check \(artifact sha256 {expected}\): {problem}",
    ):
        governance.approve(live_ctx, people["vera"], candidate, comment="looks fine", artifact_sha256=expected)
    # Nothing of the approval: no decision, no outbox event, no prod deployment; the candidate still awaits review.
    assert (_count(live_ctx, Approval), _count(live_ctx, DomainEvent)) == (decisions, outbox)
    assert [d.space for d in deployments.list_deployments(live_ctx, SYSTEM)] == ["preprod"]
    (queued,) = governance.review_queue(live_ctx, people["vera"])
    assert queued.model_version_id == candidate
    # The refusal, recorded on its own: an audit event naming version, expected and found hash, and an alert.
    (event,) = _events(live_ctx)
    (alert,) = _integrity_alerts(live_ctx)
    assert (event.actor, event.object_type, event.object_id) == ("vera", "model_version", str(candidate))
    assert event.details["expected_sha256"] == expected and event.details["found_sha256"] == found
    assert event.details["checkpoint"] == "approval" and event.details["alert_id"] == alert.id
    assert (alert.evaluation_id, alert.deployment_id, alert.model_version_id) == (None, None, candidate)
    assert alert.message.startswith(f"model version {candidate} failed its integrity check (artifact sha256 {expected}")
    assert alert.message.endswith("; the approval or prod deployment was refused")
    # ... which the queue and the alerts list show.
    assert [a.alert_id for a in queued.integrity_alerts] == [alert.id]
    assert queued.integrity_alerts[0].message == alert.message
    assert alert.id in [a.id for a in monitoring.list_alerts(live_ctx, people["max"])]
    with live_ctx.db.read() as session:
        assert verify_chain(session).ok


def test_each_refused_attempt_is_audited_under_one_open_alert_and_a_restored_artifact_is_approved(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    path = _file(live_ctx, _sha(live_ctx, candidate))
    original = path.read_bytes()
    expected, _ = _alter(live_ctx, candidate)
    for who in ("vera", "victor"):
        with pytest.raises(ModelIntegrityError):
            governance.approve(live_ctx, people[who], candidate, comment="ok", artifact_sha256=expected)
    assert [e.actor for e in _events(live_ctx)] == ["vera", "victor"]
    assert len(_integrity_alerts(live_ctx)) == 1  # the same failure, still open: one alert
    path.write_bytes(original)  # restored from a backup
    outcome = governance.approve(live_ctx, people["vera"], candidate, comment="restored", artifact_sha256=expected)
    assert outcome.error is None and outcome.deployment is not None and outcome.deployment.space == "prod"
    assert len(_events(live_ctx)) == 2


def test_the_production_check_reports_a_broken_artifact_and_records_nothing(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    mv_id = deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id
    expected, found = _alter(live_ctx, mv_id)
    check = governance.production_check(live_ctx, people["max"], mv_id)
    assert not check.passed
    assert check.reasons == [
        f"artifact check: model version {mv_id} failed its integrity check (artifact sha256 {expected}): "
        f"its stored bytes hash to {found}"
    ]
    assert _events(live_ctx) == [] and _integrity_alerts(live_ctx) == []  # a read-only look


def test_redeploying_an_approved_version_with_a_broken_artifact_is_refused_and_recorded(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    mv_id = deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id
    revisions = _count(live_ctx, DeploymentRevision)
    _delete(live_ctx, mv_id)
    with pytest.raises(ModelIntegrityError, match="holds no bytes under that hash"):
        governance.deploy_approved(live_ctx, people["vera"], mv_id)
    with pytest.raises(ModelIntegrityError, match="holds no bytes under that hash"):
        deployments.deploy_to_production(live_ctx, people["vera"], mv_id)
    assert _count(live_ctx, DeploymentRevision) == revisions
    assert [(e.actor, e.details["checkpoint"]) for e in _events(live_ctx)] == [("vera", "approval")] * 2


@pytest.mark.parametrize(
    ("deploy", "actor", "checkpoint"),
    [
        (lambda ctx, who, mv: deployments.deploy(ctx, who, mv, space="dev"), "dora", "deploy"),
        (lambda ctx, who, mv: deployments.deploy(ctx, who, mv, space="preprod"), "dora", "deploy"),
        (deployments.deploy_candidate, "system", "pipeline"),
    ],
    ids=["dev", "preprod", "pipeline"],
)
def test_deploying_a_broken_artifact_is_refused_before_the_target_or_the_store_is_touched(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    deploy: Callable[[ServiceContext, Principal, int], object],
    actor: str,
    checkpoint: str,
) -> None:
    who = SYSTEM if actor == "system" else people[actor]
    before = deployments.list_deployments(live_ctx, SYSTEM)
    served = deployments.served_model(live_ctx, SYSTEM, before[0].id)
    revisions = _count(live_ctx, DeploymentRevision)
    expected, found = _alter(live_ctx, candidate)
    with pytest.raises(ModelIntegrityError, match=f"model version {candidate} failed its integrity check"):
        deploy(live_ctx, who, candidate)
    assert deployments.list_deployments(live_ctx, SYSTEM) == before
    assert deployments.served_model(live_ctx, SYSTEM, before[0].id) == served
    assert _count(live_ctx, DeploymentRevision) == revisions
    (event,) = _events(live_ctx)
    assert (event.actor, event.details["checkpoint"]) == (who.username, checkpoint)
    assert (event.details["expected_sha256"], event.details["found_sha256"]) == (expected, found)


def _approved_copy_in_prod_history(ctx: ServiceContext, deployment_id: int) -> int:
    """An approved earlier version of what prod serves, in prod's history, whose artifact is not in the store."""
    lost = hashlib.sha256(b"the earlier model's bytes, lost").hexdigest()
    return plant_in_prod_history(
        ctx, deployment_id, state=ModelState.APPROVED, artifact_sha256=lost, actor="victor", approved=True
    )


def test_rolling_back_to_a_version_whose_artifact_is_gone_is_refused_and_recorded(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    serving = deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id
    earlier = _approved_copy_in_prod_history(live_ctx, in_prod)
    with pytest.raises(ModelIntegrityError, match=f"model version {earlier} failed its integrity check"):
        deployments.rollback(
            live_ctx, people["vera"], reason="the new version misjudges young applicants; back to the last approved one"
        )
    assert deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id == serving
    (event,) = _events(live_ctx)
    assert (event.object_id, event.details["checkpoint"], event.details["found_sha256"]) == (
        str(earlier),
        "rollback",
        None,
    )


def test_verify_artifact_returns_the_model_of_an_intact_artifact(live_ctx: ServiceContext, candidate: int) -> None:
    verified = deployments.verify_artifact(live_ctx, SYSTEM, candidate, at=deployments.Checkpoint.SERVING)
    assert verified.artifact_sha256 == _sha(live_ctx, candidate) == hashlib.sha256(verified.artifact).hexdigest()
    assert hasattr(verified.model, "predict_proba")
    assert _events(live_ctx) == []
