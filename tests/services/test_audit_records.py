"""The audit log agrees with the records it describes, and its key stays outside the database.

Edits a database administrator might make to an approved model's records (SQLite starting states;
the chain itself is tried on every store in tests/store/test_audit_chain.py).
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.store.models import (
    Approval,
    AuditEvent,
    Deployment,
    DeploymentRevision,
    ModelVersion,
    SpecThresholds,
    User,
)
from pipeline_core.vocabulary import ModelState
from tests.services.helpers import copy_version
from tests.store.test_audit_chain import last_seq, record_events, verify


def test_an_approved_model_s_record_verifies_with_its_anchors(ctx: ServiceContext, in_prod: int) -> None:
    status = verify(ctx)
    assert status.ok, status.problems
    assert status.events > 10 and status.anchors >= 5  # every committed change anchored its head
    anchors = [json.loads(line) for line in ctx.settings.audit_anchor_path.read_text().splitlines()]
    assert anchors[-1]["seq"] == last_seq(ctx) and set(anchors[-1]) == {"seq", "hash", "at", "mac"}


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (update(Approval).values(decided_by="someone_else"), r"approval \d+ says decided by 'someone_else'"),
        (update(Approval).values(artifact_sha256="e" * 64), r"approval \d+'s artifact differs from its event"),
        (update(User).where(User.username == "max").values(role="validator"), r"user 'max' is a validator; the audit"),
        (update(Approval).values(countersigned_by="victor"), r"approval \d+ says countersigned by 'victor'; its event"),
        (update(Approval).values(outcome="rejected"), r"approval \d+ names model version \d+ rejected; its event"),
    ],
)
def test_records_edited_outside_the_product_are_named(
    ctx: ServiceContext, in_prod: int, edit: object, found: str
) -> None:
    assert verify(ctx).ok
    with ctx.db.write() as session:
        session.execute(edit)  # type: ignore[call-overload]
    problems = verify(ctx).problems
    assert any(re.search(found, p) for p in problems), problems


def test_prod_made_to_serve_a_rejected_version_in_the_database_is_named(ctx: ServiceContext, in_prod: int) -> None:
    """Finding 6: prod's model version changed in the database to a rejected one; verify said "intact"."""
    with ctx.db.write() as session:
        prod = session.execute(select(Deployment).where(Deployment.space == "prod")).scalar_one()
        live = session.get(ModelVersion, prod.model_version_id)
        assert live is not None
        rejected = copy_version(session, live, state=ModelState.REJECTED).id
        newest = max(r.id for r in session.execute(select(DeploymentRevision)).scalars() if r.deployment_id == prod.id)
        session.execute(
            update(DeploymentRevision).where(DeploymentRevision.id == newest).values(model_version_id=rejected)
        )
    problems = verify(ctx).problems
    assert any(
        re.search(rf"deployment {prod.id} revision 1 \(model version {rejected}\) has no audit event", p)
        for p in problems
    ), problems


def test_a_threshold_changed_outside_the_product_is_named(ctx: ServiceContext, in_prod: int) -> None:
    with ctx.db.write() as session:
        row = session.execute(select(SpecThresholds)).scalars().first()
        assert row is not None  # the test store's admin set its minimums (tests/states.py)
        session.execute(update(SpecThresholds).values(thresholds={**row.thresholds, "min_roc_auc": 0.1}))
    problems = verify(ctx).problems
    assert any(re.search(r"thresholds of spec 'german_credit' differ from the last audit event", p) for p in problems)


def test_an_approval_written_outside_the_product_is_named(ctx: ServiceContext, in_prod: int) -> None:
    with ctx.db.write() as session:
        row = session.execute(select(Approval)).scalars().first()
        assert row is not None
        session.execute(
            insert(Approval).values(
                model_version_id=row.model_version_id,
                artifact_sha256=row.artifact_sha256,
                outcome="approved",
                comment="looks fine",
                evidence={},
                decided_by="vera",
                decided_at=row.decided_at,
            )
        )
    assert any("has no audit event" in p for p in verify(ctx).problems)


def test_the_embedded_default_keeps_its_key_outside_the_database_0600(ctx: ServiceContext) -> None:
    key_file = ctx.settings.data_dir / "audit" / "key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_text().strip()) == 64
    record_events(ctx, 1)
    assert stat.S_IMODE(ctx.settings.audit_anchor_path.stat().st_mode) == 0o600
    with ctx.db.read() as session:
        stored = json.dumps([list(r) for r in session.execute(select(AuditEvent.details)).all()])
    assert key_file.read_text().strip() not in stored


def test_a_shared_store_does_not_open_without_an_audit_key(tmp_path: Path) -> None:
    shared = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://mlops@127.0.0.1:1/none")
    with pytest.raises(ConfigError, match="the audit key is not set: set MLOPS_AUDIT_KEY"):
        open_context(shared)
    with pytest.raises(ConfigError, match="must be at least 32 characters"):
        open_context(Settings(data_dir=tmp_path, audit_key="short"))
    assert not (tmp_path / "audit" / "key").exists()  # no key file made for a shared store
