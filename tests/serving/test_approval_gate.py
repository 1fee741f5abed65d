"""The scoring service serves in prod only a version with a valid approval, recorded in the audit chain.

The defect (issue 16, finding 6): pointing prod's deployment at a *rejected* version in the database
made the scoring service serve it within 3 s. Now the service asks the serving gate at every refresh:
a version without an approval of its artifact, or whose approval has no sealed audit event, is never
loaded; the deployment keeps serving the approved version it served (or answers 503 naming why when
this process had none), ``/health`` names deployment, version and reason, and an alert is raised once.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable

import httpx
import joblib
import pandas as pd
import pytest
from sqlalchemy import select, text

from pipeline_core.data.spec import DataSpec
from pipeline_core.model_io import load_model
from pipeline_core.services import audit, deployments
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.serving.server import BackgroundServer
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Alert, Approval, AuditEvent, ModelVersion
from pipeline_core.vocabulary import ModelState, Outcome
from tests.processes import wait_for
from tests.services.helpers import copy_version, point_revision_at

Tamper = Callable[[ServiceContext, ModelVersion, str], None]  # (ctx, the planted version, prod's artifact sha256)


def _plant(ctx: ServiceContext, live_id: int, state: ModelState) -> ModelVersion:
    """A next version of the live one in ``state``, stored as other bytes (so which one answers is visible)."""
    with ctx.db.read() as session:
        live = session.get(ModelVersion, live_id)
        assert live is not None
        session.expunge(live)
    buffer = io.BytesIO()
    joblib.dump(load_model(ctx.artifacts.get(live.artifact_sha256)), buffer, compress=1)
    sha = ctx.artifacts.put(buffer.getvalue())
    with ctx.db.write() as session:
        planted = copy_version(session, live, artifact_sha256=sha, state=state)
        session.expunge(planted)
    return planted


def _approval_row(ctx: ServiceContext, mv: ModelVersion, sha: str) -> int:
    """An approval row inserted straight into the table, as someone with the database's password could."""
    with ctx.db.write() as session:
        row = Approval(
            model_version_id=mv.id,
            artifact_sha256=sha,
            outcome=Outcome.APPROVED,
            comment="looks fine",
            evidence={},
            override_reason=None,
            decided_by="vera",
            decided_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return row.id


def _other_artifact(ctx: ServiceContext, mv: ModelVersion, prod_sha: str) -> None:
    _approval_row(ctx, mv, prod_sha)  # an approval of the bytes prod served, not of these


def _forged_row(ctx: ServiceContext, mv: ModelVersion, prod_sha: str) -> None:
    _approval_row(ctx, mv, mv.artifact_sha256)  # no audit event says it was ever decided


def _forged_event(ctx: ServiceContext, mv: ModelVersion, prod_sha: str) -> None:
    approval_id = _approval_row(ctx, mv, mv.artifact_sha256)
    details = {"approval_id": approval_id, "artifact_sha256": mv.artifact_sha256, "evidence": {}, "override": None}
    with ctx.db.write() as session:
        last = session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
        session.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor, action, object_type, object_id, details, prev_hash, hash) "
                "VALUES (:seq, :at, 'vera', 'model_version.approved', 'model_version', :mv, :details, :prev, :hash)"
            ),
            {
                "seq": last.seq + 1,
                "at": utcnow(),
                "mv": str(mv.id),
                "details": json.dumps(details),
                "prev": last.hash,
                "hash": "f" * 64,  # whatever was computed, it was not with the audit key
            },
        )


def _recorded(ctx: ServiceContext, mv: ModelVersion, prod_sha: str) -> None:
    """The approval as the product writes it: the row and its sealed event, in one transaction."""
    approval_id = _approval_row(ctx, mv, mv.artifact_sha256)
    with ctx.db.write() as session:
        audit.record(
            session,
            actor="vera",
            action="model_version.approved",
            object_type="model_version",
            object_id=mv.id,
            details={"approval_id": approval_id, "artifact_sha256": mv.artifact_sha256, "evidence": {}},
        )


def _body(applicants: pd.DataFrame, spec: DataSpec) -> dict[str, object]:
    records = applicants.iloc[:3][spec.feature_names]
    return {"input_data": [{"fields": spec.feature_names, "values": json.loads(records.to_json(orient="values"))}]}


def _approval_alerts(ctx: ServiceContext) -> list[Alert]:
    with ctx.db.read() as session:
        return list(session.execute(select(Alert).where(Alert.monitor == "approval").order_by(Alert.id)).scalars())


def _refusal_events(ctx: ServiceContext) -> list[AuditEvent]:
    with ctx.db.read() as session:
        return list(
            session.execute(select(AuditEvent).where(AuditEvent.action == "deployment.serving_refused")).scalars()
        )


@pytest.mark.parametrize(
    ("state", "tamper", "reason"),
    [
        (ModelState.REJECTED, None, "model version {mv} is rejected, not approved"),
        (ModelState.APPROVED, None, "model version {mv} has no approval"),
        (ModelState.APPROVED, _other_artifact, "the approval of model version {mv} is for artifact {prod_sha}, not "),
        (ModelState.APPROVED, _forged_row, "approval {approval} of model version {mv} has no audit event recording it"),
        (ModelState.APPROVED, _forged_event, r"the audit event \d+ of approval {approval} was not written with the"),
    ],
    ids=["rejected", "no approval", "approval of other bytes", "approval row without its event", "forged event"],
)
def test_prod_pointed_at_an_unapproved_version_keeps_serving_the_approved_one(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    in_prod: int,
    applicants: pd.DataFrame,
    spec: DataSpec,
    state: ModelState,
    tamper: Tamper | None,
    reason: str,
) -> None:
    ctx = live_ctx
    prod = deployments.get_deployment(ctx, SYSTEM, in_prod)
    key = deployments.issue_key(ctx, people["dora"], prod.id, label="gate test")
    planted = _plant(ctx, prod.model_version_id, state)
    if tamper is not None:
        tamper(ctx, planted, prod.artifact_sha256)
    with ctx.db.read() as session:
        approval = session.execute(select(Approval.id).where(Approval.model_version_id == planted.id)).scalar()
    expected = re.escape(f"deployment {prod.id} (prod) may not serve model version {planted.id}: ") + reason.format(
        mv=planted.id, prod_sha=prod.artifact_sha256, approval=approval
    )
    headers = {"Authorization": f"Bearer {key}"}
    body = _body(applicants, spec)

    with BackgroundServer(ctx) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert (
            client.post(prod.scoring_path, json=body, headers=headers).json()["model_version_id"]
            == prod.model_version_id
        )
        point_revision_at(ctx, prod.id, planted.id)  # finding 6: one UPDATE of the open revision
        registry = server.app.state.registry
        for _ in range(3):  # every refresh judges again; the refusal is recorded once
            registry.refresh()
        answer = client.post(prod.scoring_path, json=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["model_version_id"] == prod.model_version_id
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        [refused] = health["approval_refused"]
        assert (refused["deployment_id"], refused["model_version_id"], refused["serving_model_version_id"]) == (
            prod.id,
            planted.id,
            prod.model_version_id,
        )
        assert re.match(expected, refused["message"]), refused["message"]
        assert any(p.startswith(refused["message"]) and "serves model version" in p for p in health["problems"])
        [alert] = _approval_alerts(ctx)
        assert (alert.deployment_id, alert.model_version_id, alert.message) == (prod.id, planted.id, refused["message"])
        # One event per service that saw it: this one, and the test store's own (live_ctx), at its next refresh.
        wait_for(lambda: len(_refusal_events(ctx)) == 2, timeout=10, what="both services to record the refusal")
        for _ in range(3):
            registry.refresh()
        events = _refusal_events(ctx)
        assert len(events) == 2 and {(e.details["model_version_id"], e.details["alert_id"]) for e in events} == {
            (planted.id, alert.id)
        }

    # A service started after the edit never had the approved version: it answers 503, naming why.
    with BackgroundServer(ctx) as restarted, httpx.Client(base_url=restarted.url, timeout=30) as client:
        answer = client.post(prod.scoring_path, json=body, headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["errors"][0]["code"] == "not_approved"
        assert answer.json()["errors"][0]["message"] == refused["message"]
        assert client.get("/health").json()["approval_refused"][0]["serving_model_version_id"] is None
    assert len(_approval_alerts(ctx)) == 1  # the same refusal, still open: audited again, no second alert
    assert len(_refusal_events(ctx)) == 3


def test_an_approval_recorded_as_the_product_records_it_is_served(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, applicants: pd.DataFrame, spec: DataSpec
) -> None:
    """The gate's control: the row and its sealed event together let prod serve the version, at once."""
    ctx = live_ctx
    prod = deployments.get_deployment(ctx, SYSTEM, in_prod)
    key = deployments.issue_key(ctx, people["dora"], prod.id, label="gate test")
    planted = _plant(ctx, prod.model_version_id, ModelState.APPROVED)
    _recorded(ctx, planted, prod.artifact_sha256)
    point_revision_at(ctx, prod.id, planted.id)
    with BackgroundServer(ctx) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.post(
            prod.scoring_path, json=_body(applicants, spec), headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200 and answer.json()["model_version_id"] == planted.id
        health = client.get("/health").json()
        assert health["approval_refused"] == [] and health["status"] == "ok"
    assert _approval_alerts(ctx) == []


def test_a_repaired_store_is_served_again_without_a_restart(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, applicants: pd.DataFrame, spec: DataSpec
) -> None:
    ctx = live_ctx
    prod = deployments.get_deployment(ctx, SYSTEM, in_prod)
    key = deployments.issue_key(ctx, people["dora"], prod.id, label="gate test")
    planted = _plant(ctx, prod.model_version_id, ModelState.REJECTED)
    point_revision_at(ctx, prod.id, planted.id)
    headers = {"Authorization": f"Bearer {key}"}
    with BackgroundServer(ctx) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.post(prod.scoring_path, json=_body(applicants, spec), headers=headers).status_code == 503
        point_revision_at(ctx, prod.id, prod.model_version_id)  # the database administrator undoes the edit
        wait_for(
            lambda: client.post(prod.scoring_path, json=_body(applicants, spec), headers=headers).status_code == 200,
            timeout=10,
            what="the approved version to be served again",
        )
        assert client.get("/health").json()["approval_refused"] == []
