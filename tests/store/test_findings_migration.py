"""Migration 0016_f: the findings table, its vocabulary CHECKs on both engines, and its way back down."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from pipeline_core.store.db import Database
from tests.store.migrating import downgrade
from tests.store.test_vocabulary_migration import _populate

POPULATED_AT = "0007"
BEFORE = "0016_d"
THIS = "0016_f"
INSERT = (
    "INSERT INTO findings (model_name, raised_on_model_version_id, title, description, severity, state, "
    "evidence_kind, evidence_ref, owner, due_date, raised_by, raised_at, updated_at) VALUES ('m', :mv, 't', 'd', "
    ":severity, 'open', 'check', 'quality:roc_auc', 'dora', '2027-01-01', 'vera', '2026-12-02 10:00:00', "
    "'2026-12-02 10:00:00')"
)


def test_findings_table_up_checked_and_down(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate(POPULATED_AT)
    with db.write() as session:
        _populate(session)
    db.migrate(THIS)
    with db.write() as session:
        mv = session.execute(text("SELECT id FROM model_versions")).scalar_one()
        session.execute(text(INSERT), {"mv": mv, "severity": "high"})
    with pytest.raises(SQLAlchemyError, match="ck_findings_severity"), db.write() as session:
        session.execute(text(INSERT), {"mv": mv, "severity": "critical"})
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM findings")).scalar_one() == 1
    downgrade(db, BEFORE)
    assert "findings" not in inspect(db.engine).get_table_names()
    db.migrate(THIS)
    assert "findings" in inspect(db.engine).get_table_names()
    db.dispose()
