"""Metadata database: migrations at start-up, SQLite settings, atomic writes, the audit chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from pipeline_core.errors import StoreError
from pipeline_core.services import audit
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import MIGRATIONS, WRITE_LOCK, Database, utcnow
from pipeline_core.store.models import AuditEvent, Base, User

TABLES = {
    "datasets",
    "runs",
    "run_stages",
    "model_versions",
    "deployments",
    "evaluations",
    "approvals",
    "audit_events",
    "users",
    "workers",
}


def test_migrations_create_every_table_at_head(ctx: ServiceContext) -> None:
    names = set(inspect(ctx.db.engine).get_table_names())
    assert names >= TABLES and "alembic_version" in names
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with ctx.db.read() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    ctx.db.migrate()  # idempotent at start-up


def test_migrations_match_the_models(ctx: ServiceContext) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with ctx.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_writers_are_serialised_and_foreign_keys_enforced(ctx: ServiceContext, store_kind: str) -> None:
    if store_kind == "sqlite":
        with ctx.db.read() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    else:
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :low AND granted"
        with ctx.db.write() as session:
            assert session.execute(text(held), {"low": WRITE_LOCK & 0xFFFFFFFF}).scalar() == 1
        with ctx.db.read() as session:  # a reader takes no lock, and the writer's ended with its transaction
            assert session.execute(text(held), {"low": WRITE_LOCK & 0xFFFFFFFF}).scalar() == 0
    with pytest.raises(SQLAlchemyError), ctx.db.write() as session:
        session.execute(
            text(
                "INSERT INTO runs (status, dataset_id, params, created_by, created_at, cancel_requested) "
                "VALUES ('queued', 999, '{}', 'x', '2026-11-26 10:00:00', false)"
            )
        )


def test_a_failed_write_leaves_nothing_behind(ctx: ServiceContext) -> None:
    with pytest.raises(RuntimeError), ctx.db.write() as session:
        session.add(User(username="half", role="validator", created_at=utcnow()))
        session.flush()
        raise RuntimeError("crash mid-transaction")
    with ctx.db.read() as session:
        assert session.execute(select(User)).first() is None


def test_unopenable_database_is_named(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/missing-dir/x.db")
    with pytest.raises(StoreError, match=r"migrating metadata database sqlite:///.*missing-dir/x\.db failed"):
        db.migrate()


def test_audit_chain_detects_tampering(ctx: ServiceContext) -> None:
    with ctx.db.write() as session:
        for i in range(5):
            audit.record(
                session, actor="alice", action="thing.done", object_type="thing", object_id=i, details={"i": i}
            )
    with ctx.db.read() as session:
        status = audit.verify_chain(session)
    assert status.ok and status.events == 5
    # The database refuses edits and deletions outright ...
    for statement in (
        update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"),
        delete(AuditEvent).where(AuditEvent.seq == 3),
    ):
        with pytest.raises(SQLAlchemyError, match="audit events are append-only"), ctx.db.write() as session:
            session.execute(statement)
    # ... and someone who drops the guard first is caught by the chain.
    with ctx.db.write() as session:
        guard = "audit_events_no_update" if ctx.db.is_sqlite else "audit_events_no_change ON audit_events"
        session.execute(text(f"DROP TRIGGER {guard}"))
        session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))
    with ctx.db.read() as session:
        status = audit.verify_chain(session)
    assert not status.ok and status.first_bad_seq == 3 and "altered" in status.reason


def test_on_sqlite_a_migration_runs_with_foreign_keys_off_and_checked_before_it_commits(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate()
    orphan = (
        "INSERT INTO run_stages (run_id, name, position, status, log, outputs) "
        "VALUES (99, 'validate', 0, 'pending', '[]', '{}')"
    )
    refused = pytest.raises(StoreError, match="would break foreign keys: run_stages row 1 -> runs")
    with refused, db.migration_connection() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0  # a rebuilt table keeps its children
        connection.execute(text(orphan))
    with db.read() as session:  # rolled back, and the connection went back to the pool with foreign keys on
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("SELECT count(*) FROM run_stages")).scalar() == 0
    db.dispose()
