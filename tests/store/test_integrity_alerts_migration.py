"""Migration 0012: an alert may have no evaluation (an integrity failure), on both engines.

An existing store keeps its alerts, and their CHECK of the status words, through the upgrade
(SQLite rebuilds ``alerts``); at head an alert without an evaluation is stored; going down is
refused, naming them, while such alerts exist, and goes through once they are gone.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from pipeline_core.errors import StoreError
from pipeline_core.store.db import Database, utcnow
from pipeline_core.store.models import Alert
from pipeline_core.vocabulary import AlertStatus
from tests.store.migrating import downgrade
from tests.store.test_vocabulary_migration import _populate

POPULATED_AT = "0007"  # the schema _populate writes through
BEFORE = "0010"
# The alert words at 0012 (0015_o adds "resolved").
AT_0012 = {"open", "acknowledged"}


def _nullable(db: Database) -> bool:
    return bool(next(c for c in inspect(db.engine).get_columns("alerts") if c["name"] == "evaluation_id")["nullable"])


def _status_words(db: Database) -> set[str]:
    (check,) = [c for c in inspect(db.engine).get_check_constraints("alerts") if c["name"] == "ck_alerts_status"]
    return set(re.findall(r"'([^']*)'", check["sqltext"]))


def test_alerts_without_an_evaluation_up_and_down(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate(POPULATED_AT)
    with db.write() as session:
        _populate(session)
    db.migrate(BEFORE)
    assert not _nullable(db)
    db.migrate("0012")
    assert _nullable(db) and _status_words(db) == AT_0012
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(Alert)).scalar_one() == 1  # kept
    # Through the table as 0012 has it, not the model: the model is the newest schema (0015_o adds columns).
    with db.write() as session:
        session.execute(
            text(
                "INSERT INTO alerts (evaluation_id, deployment_id, model_version_id, monitor, metric, message, status, "
                "created_at) VALUES (NULL, 1, 1, 'integrity', 'artifact_sha256', "
                "'model version 1 failed its integrity check', :open, :now)"
            ),
            {"open": AlertStatus.OPEN.value, "now": utcnow()},
        )
        integrity_id = session.execute(text("SELECT max(id) FROM alerts")).scalar_one()
    with pytest.raises(StoreError, match=rf"alerts {integrity_id} have no evaluation .* migrate down again"):
        downgrade(db, BEFORE)
    with db.read() as session:  # refused as a whole: still at 0012, the alert still there
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0012"
        assert (
            session.execute(text("SELECT id FROM alerts WHERE id = :i"), {"i": integrity_id}).scalar() == integrity_id
        )
    with db.write() as session:
        session.execute(delete(Alert).where(Alert.id == integrity_id))
    downgrade(db, BEFORE)
    assert not _nullable(db) and _status_words(db) == AT_0012
    with pytest.raises(SQLAlchemyError), db.write() as session:
        session.execute(
            text(
                "INSERT INTO alerts (deployment_id, model_version_id, monitor, metric, message, status, created_at) "
                "VALUES (1, 1, 'integrity', 'artifact_sha256', 'm', 'open', :now)"
            ),
            {"now": utcnow()},
        )
    db.dispose()
