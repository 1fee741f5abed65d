"""Migration 0016_d: the model documentation table, append-only on both engines, and its way back down."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from pipeline_core.store.db import Database
from tests.store.migrating import downgrade
from tests.store.test_vocabulary_migration import _populate

POPULATED_AT = "0007"
BEFORE = "0016_p"
THIS = "0016_d"


def test_documentation_table_up_append_only_and_down(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate(POPULATED_AT)
    with db.write() as session:
        _populate(session)
    db.migrate(THIS)
    with db.write() as session:
        mv = session.execute(text("SELECT id FROM model_versions")).scalar_one()
        session.execute(
            text(
                "INSERT INTO model_documentation (model_name, section, text, text_sha256, model_version_id, "
                "written_by, written_at) VALUES ('m', 'limitations', 't', 'h', :mv, 'dora', '2026-12-02 10:00:00')"
            ),
            {"mv": mv},
        )
    for change in ("UPDATE model_documentation SET text = 'other'", "DELETE FROM model_documentation"):
        with pytest.raises(SQLAlchemyError, match="append-only"), db.write() as session:
            session.execute(text(change))
    with pytest.raises(SQLAlchemyError, match="ck_model_documentation_section"), db.write() as session:
        session.execute(
            text(
                "INSERT INTO model_documentation (model_name, section, text, text_sha256, model_version_id, "
                "written_by, written_at) VALUES ('m', 'lineage', 't', 'h', :mv, 'dora', '2026-12-02 10:00:00')"
            ),
            {"mv": mv},
        )
    downgrade(db, BEFORE)
    assert "model_documentation" not in inspect(db.engine).get_table_names()
    db.migrate(THIS)
    assert "model_documentation" in inspect(db.engine).get_table_names()
    db.dispose()
