"""The scoring service and a model whose artifact fails its integrity check: 503 with the reason, not 404.

The defect: the artifact of the model prod serves was altered on disk; a restarted scoring
service dropped the deployment from its snapshot and answered prod "404 deployment does not
exist", and nothing recorded why. Now the deployment stays known as refused: its requests get
503 ``integrity_failed`` naming the version and the hashes, ``/health`` says "degraded" and lists
it, the other deployments are served, the failure is recorded once (not at every refresh), and a
restored artifact is served again without a restart.
"""

from __future__ import annotations

import hashlib
import io
import json

import httpx
import joblib
import pandas as pd
from sqlalchemy import select

from pipeline_core.data.spec import DataSpec
from pipeline_core.model_io import load_model
from pipeline_core.services import deployments
from pipeline_core.services.audit import verify_chain
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.serving.server import BackgroundServer
from pipeline_core.store.models import Alert, AuditEvent, ModelVersion
from tests.processes import wait_for
from tests.services.helpers import copy_version


def _copy_with_other_bytes(ctx: ServiceContext, mv_id: int) -> int:
    """Another model version of the same model, stored as other bytes (the same pipeline, compressed less)."""
    with ctx.db.read() as session:
        live = session.get(ModelVersion, mv_id)
        assert live is not None
        session.expunge(live)
    buffer = io.BytesIO()
    joblib.dump(load_model(ctx.artifacts.get(live.artifact_sha256)), buffer, compress=1)
    sha = ctx.artifacts.put(buffer.getvalue())
    assert sha != live.artifact_sha256
    with ctx.db.write() as session:
        return copy_version(session, live, artifact_sha256=sha).id


def _integrity_events(ctx: ServiceContext) -> list[AuditEvent]:
    with ctx.db.read() as session:
        return list(
            session.execute(
                select(AuditEvent).where(AuditEvent.action == "model_version.integrity_failed").order_by(AuditEvent.seq)
            ).scalars()
        )


def _alerts(ctx: ServiceContext) -> list[Alert]:
    with ctx.db.read() as session:
        return list(session.execute(select(Alert).where(Alert.monitor == "integrity").order_by(Alert.id)).scalars())


def test_a_restarted_service_refuses_an_altered_model_with_503_and_serves_the_others(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, applicants: pd.DataFrame, spec: DataSpec
) -> None:
    ctx, dora = live_ctx, people["dora"]
    prod = deployments.get_deployment(ctx, SYSTEM, in_prod)
    preprod = next(d for d in deployments.list_deployments(ctx, SYSTEM) if d.space == "preprod")
    prod_key = deployments.issue_key(ctx, dora, prod.id, label="integrity test")
    dev = deployments.deploy(ctx, dora, _copy_with_other_bytes(ctx, prod.model_version_id), space="dev")
    assert dev.api_key is not None
    artifact = ctx.settings.artifact_dir / prod.artifact_sha256[:2] / prod.artifact_sha256
    original = artifact.read_bytes()
    artifact.write_bytes(original[:-16])  # edited on disk while the service was down
    found = hashlib.sha256(original[:-16]).hexdigest()
    message = (
        f"model version {prod.model_version_id} failed its integrity check (artifact sha256 {prod.artifact_sha256}): "
        f"its stored bytes hash to {found}"
    )
    records = applicants.iloc[:3][spec.feature_names]
    body = {"input_data": [{"fields": spec.feature_names, "values": json.loads(records.to_json(orient="values"))}]}

    with BackgroundServer(ctx) as restarted, httpx.Client(base_url=restarted.url, timeout=30) as client:
        answer = client.post(prod.scoring_path, json=body, headers={"Authorization": f"Bearer {prod_key}"})
        assert answer.status_code == 503, answer.text
        assert answer.json() == {"errors": [{"code": "integrity_failed", "message": message}]}
        other = client.post(dev.deployment.scoring_path, json=body, headers={"Authorization": f"Bearer {dev.api_key}"})
        assert other.status_code == 200, other.text
        assert other.json()["model_version_id"] == dev.deployment.model_version_id
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["deployments"] == 1  # dev is served
        assert health["integrity_failed"] == [
            {
                "deployment_id": d.id,
                "model_version_id": prod.model_version_id,
                "artifact_sha256": prod.artifact_sha256,
                "message": message,
            }
            for d in sorted((preprod, prod), key=lambda d: d.id)
        ]
        registry = restarted.app.state.registry
        for _ in range(3):  # refreshes check again, and record nothing more
            registry.refresh()
        events = _integrity_events(ctx)
        assert sorted(int(e.details["deployment_id"]) for e in events) == sorted((preprod.id, prod.id))
        assert {(e.actor, e.details["checkpoint"], e.details["found_sha256"]) for e in events} == {
            ("system", "serving", found)
        }
        alerts = _alerts(ctx)
        assert sorted(a.deployment_id or 0 for a in alerts) == sorted((preprod.id, prod.id))
        assert all(a.message.startswith(message) and a.evaluation_id is None for a in alerts)

    # Started again: it sees the failure again (audited), and raises no second alert while the first is open.
    with BackgroundServer(ctx) as again, httpx.Client(base_url=again.url, timeout=30) as client:
        assert client.get("/health").json()["status"] == "degraded"
        assert len(_alerts(ctx)) == 2 and len(_integrity_events(ctx)) == 4
        artifact.write_bytes(original)  # restored from a backup: served at the next refresh, no restart
        wait_for(
            lambda: client.post(
                prod.scoring_path, json=body, headers={"Authorization": f"Bearer {prod_key}"}
            ).status_code
            == 200,
            timeout=10,
            what="the restored model to be served",
        )
        assert client.get("/health").json() | {"payload_pending": 0} == {
            "status": "ok",
            "deployments": 3,
            "integrity_failed": [],
            "approval_refused": [],
            "payload_pending": 0,
            "payload_quarantined": 0,
            "problems": [],
        }
    with ctx.db.read() as session:
        assert verify_chain(session).ok
