"""The serving gate as a service: ``approval_of_served`` names the approval that lets prod serve, or why not.

The one rule the scoring service, ``audit verify`` and the pages share; here its verdicts, its
recording (an audit event, one open alert), and who may ask.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text

from pipeline_core.errors import NotFoundError, PermissionDenied
from pipeline_core.services import deployments
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Alert, Approval, AuditEvent, ModelVersion
from pipeline_core.vocabulary import ModelState, Space
from tests.services.helpers import copy_version, point_revision_at


def _approval_id(ctx: ServiceContext, mv_id: int) -> int:
    with ctx.db.read() as session:
        return int(session.execute(select(Approval.id).where(Approval.model_version_id == mv_id)).scalar_one())


def test_prod_as_approved_is_allowed_and_names_its_approval(
    in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    prod = deployments.get_deployment(live_ctx, SYSTEM, in_prod)
    verdict = deployments.approval_of_served(live_ctx, people["max"], prod.id)  # any role may read it
    assert verdict == deployments.ServingVerdict(
        prod.id,
        Space.PROD,
        prod.model_version_id,
        prod.artifact_sha256,
        _approval_id(live_ctx, prod.model_version_id),
        None,
    )
    assert verdict.allowed
    assert {v.deployment_id: v.allowed for v in deployments.serving_verdicts(live_ctx, SYSTEM)} == {
        d.id: True for d in deployments.list_deployments(live_ctx, SYSTEM)
    }


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (
            "UPDATE model_versions SET state = 'rejected' WHERE id = {mv}",
            "model version {mv} is rejected, not approved",
        ),
        ("UPDATE approvals SET outcome = 'rejected' WHERE id = {approval}", "model version {mv} has no approval"),
        (
            "UPDATE approvals SET artifact_sha256 = '{zeros}' WHERE id = {approval}",
            "the approval of model version {mv} is for artifact {zeros}, not {sha}",
        ),
        (
            "UPDATE approvals SET decided_by = 'victor' WHERE id = {approval}",
            "approval {approval} of model version {mv} says decided by 'victor'; its audit event {seq} says 'vera'",
        ),
    ],
    ids=["version rejected", "approval reversed", "approval of other bytes", "decider changed"],
)
def test_an_edited_store_is_refused_naming_why(in_prod: int, live_ctx: ServiceContext, edit: str, reason: str) -> None:
    ctx = live_ctx
    prod = deployments.get_deployment(ctx, SYSTEM, in_prod)
    mv, approval = prod.model_version_id, _approval_id(ctx, prod.model_version_id)
    with ctx.db.read() as session:
        seq = session.execute(
            select(AuditEvent.seq).where(AuditEvent.action == "model_version.approved", AuditEvent.object_id == str(mv))
        ).scalar_one()
    names = {"mv": mv, "approval": approval, "zeros": "0" * 64, "sha": prod.artifact_sha256, "seq": seq}
    with ctx.db.write() as session:
        session.execute(text(edit.format(**names)))
    verdict = deployments.approval_of_served(ctx, SYSTEM, prod.id)
    assert (verdict.allowed, verdict.approval_id, verdict.refusal) == (False, None, reason.format(**names))


def test_a_refusal_is_recorded_with_one_open_alert(in_prod: int, live_ctx: ServiceContext) -> None:
    ctx = live_ctx
    prod = deployments.get_deployment(ctx, SYSTEM, in_prod)
    with ctx.db.write() as session:
        live = session.get(ModelVersion, prod.model_version_id)
        assert live is not None
        rejected = copy_version(session, live, state=ModelState.REJECTED).id
    point_revision_at(ctx, prod.id, rejected)
    for _ in range(2):
        verdict = deployments.approval_of_served(ctx, SYSTEM, prod.id, record=True)
    assert verdict.refusal == f"model version {rejected} is rejected, not approved"
    with ctx.db.read() as session:
        alerts = list(session.execute(select(Alert).where(Alert.monitor == deployments.APPROVAL_MONITOR)).scalars())
        events = list(
            session.execute(select(AuditEvent).where(AuditEvent.action == "deployment.serving_refused")).scalars()
        )
    # the test store's scoring service may have recorded it too; still one open alert
    assert [(a.deployment_id, a.model_version_id, a.message) for a in alerts] == [
        (prod.id, rejected, deployments.refusal_message(verdict))
    ]
    assert len(events) >= 2 and {e.details["alert_id"] for e in events} == {alerts[0].id}


def test_an_approval_whose_event_is_gone_is_refused(in_prod: int, live_ctx: ServiceContext) -> None:
    """The append-only triggers stop a DELETE through the product's connection; past them, the gate still holds."""
    ctx = live_ctx
    prod = deployments.get_deployment(ctx, SYSTEM, in_prod)
    approval = _approval_id(ctx, prod.model_version_id)
    with ctx.db.write() as session:
        triggers = session.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'")
        ).scalars()
        for name in list(triggers):
            session.execute(text(f"DROP TRIGGER {name}"))
        session.execute(delete(AuditEvent).where(AuditEvent.action == "model_version.approved"))
    verdict = deployments.approval_of_served(ctx, SYSTEM, prod.id)
    assert verdict.refusal == (
        f"approval {approval} of model version {prod.model_version_id} has no audit event recording it"
    )


def test_who_may_ask_and_what_does_not_exist(
    in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    with pytest.raises(NotFoundError, match="deployment 999 does not exist or was deleted"):
        deployments.approval_of_served(live_ctx, SYSTEM, 999)
    with pytest.raises(PermissionDenied):
        deployments.approval_of_served(live_ctx, Principal("nobody", "validator"), in_prod)
