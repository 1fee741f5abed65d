"""Migration 0017_a: alerts gain their occurrences (existing ones seen once, when raised), the alert_deliveries
table with its vocabulary CHECKs on both engines, and the way back down."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from pipeline_core.store.db import Database
from tests.store.migrating import downgrade
from tests.store.test_vocabulary_migration import _populate

POPULATED_AT = "0007"
BEFORE = "0017_c"
THIS = "0017_a"
INSERT = (
    "INSERT INTO alert_deliveries (alert_id, notice, channel, message, status, attempts, created_at) "
    "VALUES (:alert, 'raised', :channel, '{}', 'pending', 0, '2026-12-02 10:00:00')"
)


def test_alerts_counted_deliveries_checked_and_down(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate(POPULATED_AT)
    with db.write() as session:
        _populate(session)
    db.migrate(THIS)
    with db.read() as session:
        alert, occurrences, seen, created, last_evaluation, evaluation = session.execute(
            text("SELECT id, occurrences, last_seen_at, created_at, last_evaluation_id, evaluation_id FROM alerts")
        ).one()
    assert occurrences == 1 and seen == created and last_evaluation == evaluation
    with db.write() as session:
        session.execute(text(INSERT), {"alert": alert, "channel": "webhook"})
    with pytest.raises(SQLAlchemyError, match="ck_alert_deliveries_channel"), db.write() as session:
        session.execute(text(INSERT), {"alert": alert, "channel": "pigeon"})
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM alert_deliveries")).scalar_one() == 1
    downgrade(db, BEFORE)
    assert "alert_deliveries" not in inspect(db.engine).get_table_names()
    assert "occurrences" not in {c["name"] for c in inspect(db.engine).get_columns("alerts")}
    db.migrate(THIS)
    assert "alert_deliveries" in inspect(db.engine).get_table_names()
    db.dispose()
