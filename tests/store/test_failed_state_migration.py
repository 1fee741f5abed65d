"""Migration 0015_C: a model version may be failed and a revision may be for ``run_failed``, on both engines.

An existing store keeps its rows (SQLite rebuilds both tables); at head both words are taken; going
down is refused, naming the rows, while any holds one, and goes through once none does.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from pipeline_core.errors import StoreError
from pipeline_core.store.db import Database
from pipeline_core.store.models import ModelVersion
from tests.store.migrating import downgrade
from tests.store.test_vocabulary_migration import _populate

POPULATED_AT = "0007"  # the schema _populate writes through
BEFORE = "0015_o"
THIS = "0015_C"


def _words(db: Database, table: str, column: str) -> set[str]:
    (check,) = [c for c in inspect(db.engine).get_check_constraints(table) if c["name"] == f"ck_{table}_{column}"]
    return set(re.findall(r"'([^']*)'", check["sqltext"]))


def test_failed_versions_and_run_failed_revisions_up_and_down(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate(POPULATED_AT)
    with db.write() as session:
        _populate(session)
    db.migrate(BEFORE)
    assert "failed" not in _words(db, "model_versions", "state")
    db.migrate(THIS)
    assert {"failed", "trained"} <= _words(db, "model_versions", "state")
    assert {"run_failed", "pipeline"} <= _words(db, "deployment_revisions", "reason")
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(ModelVersion)).scalar_one() == 1  # kept
    with db.write() as session:
        mv = session.execute(text("SELECT id FROM model_versions")).scalar_one()
        session.execute(text("UPDATE model_versions SET state = 'failed'"))
        session.execute(text("UPDATE deployment_revisions SET reason = 'run_failed'"))
        revisions = ", ".join(str(i) for i in session.execute(text("SELECT id FROM deployment_revisions")).scalars())
    with pytest.raises(
        StoreError,
        match=rf"model_versions {mv} \(state 'failed'\); deployment_revisions {revisions} \(reason 'run_failed'\)",
    ):
        downgrade(db, BEFORE)
    with db.read() as session:  # refused as a whole: still at this revision
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == THIS
    with db.write() as session:
        session.execute(text("UPDATE model_versions SET state = 'rejected'"))
        session.execute(text("UPDATE deployment_revisions SET reason = 'rollback'"))
    downgrade(db, BEFORE)
    assert "failed" not in _words(db, "model_versions", "state")
    with pytest.raises(SQLAlchemyError, match="ck_model_versions_state"), db.write() as session:
        session.execute(text("UPDATE model_versions SET state = 'failed'"))
    db.dispose()
