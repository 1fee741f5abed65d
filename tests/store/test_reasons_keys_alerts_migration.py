"""Migration 0015_o: rollback reasons, key prefixes and revokers, alert comments and ``resolved``, on both engines.

An existing store keeps its rows through the upgrade, the new columns empty (a key issued before has
no prefix: its token was never stored); going down is refused, naming them, while resolved alerts
exist, and goes through once they are gone.
"""

from __future__ import annotations

import re

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from pipeline_core.errors import StoreError
from pipeline_core.store.db import MIGRATIONS, Database
from tests.store.test_vocabulary_migration import _populate

POPULATED_AT = "0007"  # the schema _populate writes through
REVISION = "0015_o"
NEW_COLUMNS = {
    "deployment_revisions": {"comment"},
    "deployment_keys": {"prefix", "revoked_by"},
    "alerts": {"acknowledged_at", "acknowledge_comment", "resolved_by", "resolved_at", "resolve_comment"},
}


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _downgrade(db: Database, revision: str) -> None:
    config = _config()
    with db.migration_connection() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _columns(db: Database, table: str) -> set[str]:
    return {str(c["name"]) for c in inspect(db.engine).get_columns(table)}


def _status_words(db: Database) -> set[str]:
    (check,) = [c for c in inspect(db.engine).get_check_constraints("alerts") if c["name"] == "ck_alerts_status"]
    return set(re.findall(r"'([^']*)'", check["sqltext"]))


def test_reasons_keys_and_alerts_up_and_down(fresh_url: str) -> None:
    before = ScriptDirectory.from_config(_config()).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    db = Database(fresh_url)
    db.migrate(POPULATED_AT)
    with db.write() as session:
        _populate(session)
    db.migrate(before)
    db.migrate(REVISION)
    for table, added in NEW_COLUMNS.items():
        assert added <= _columns(db, table), table
    assert _status_words(db) == {"open", "acknowledged", "resolved"}
    with db.read() as session:  # kept, and nothing said for them that nobody said
        (alert,) = session.execute(text("SELECT status, acknowledge_comment, resolved_by FROM alerts")).all()
        assert tuple(alert) == ("open", None, None)
        keys = session.execute(text("SELECT prefix, revoked_by FROM deployment_keys")).all()
        assert keys and all(tuple(k) == (None, None) for k in keys)
    with db.write() as session:
        session.execute(text("UPDATE alerts SET status = 'resolved', resolve_comment = 'the feed was fixed upstream'"))
        alert_id = session.execute(text("SELECT id FROM alerts")).scalar_one()
    with pytest.raises(StoreError, match=rf"alerts {alert_id} are resolved; .* migrate down again"):
        _downgrade(db, before)
    with db.read() as session:  # refused as a whole
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == REVISION
    with db.write() as session:
        session.execute(text("UPDATE alerts SET status = 'acknowledged'"))
    _downgrade(db, before)
    for table, added in NEW_COLUMNS.items():
        assert not added & _columns(db, table), table
    assert _status_words(db) == {"open", "acknowledged"}
    db.dispose()
