"""Migration 0009: the outbox's tables (domain events, their deliveries), on both engines.

An existing store upgrades from 0008 keeping its rows; the new vocabulary columns (an event's
kind, a delivery's sink and status) refuse any word outside their enums, by named CHECK
constraints; a delivery is unique per event and sink; the revision goes down and up again.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import MIGRATIONS, Database, utcnow
from pipeline_core.store.models import Base, Dataset, DomainEvent, EventDelivery, ModelVersion, Run
from pipeline_core.vocabulary import DeliveryStatus, EventKind, ModelState, RunState, Sink
from tests.store.test_vocabulary_migration import _populate

BEFORE = "0008"
TABLES = ("domain_events", "event_deliveries")
WORDS: dict[tuple[str, str], type[StrEnum]] = {
    ("domain_events", "kind"): EventKind,
    ("event_deliveries", "sink"): Sink,
    ("event_deliveries", "status"): DeliveryStatus,
}


def _checks(db: Database, table: str) -> dict[str, set[str]]:
    return {
        str(c["name"]): set(re.findall(r"'([^']*)'", c["sqltext"]))
        for c in inspect(db.engine).get_check_constraints(table)
    }


def _alembic_downgrade(db: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.migration_connection() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _event_with_delivery(db: Database) -> tuple[int, int]:
    with db.write() as session:
        mv_id = session.execute(select(ModelVersion.id)).scalar_one()
        event = DomainEvent(
            kind=EventKind.DECISION_RECORDED, model_version_id=mv_id, actor="vera", payload={}, created_at=utcnow()
        )
        session.add(event)
        session.flush()
        delivery = EventDelivery(
            event_id=event.id, sink=Sink.FACTSHEETS, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=utcnow()
        )
        session.add(delivery)
        session.flush()
        return event.id, delivery.id


def test_a_store_with_rows_upgrades_and_the_new_columns_hold_exactly_their_words(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate(BEFORE)
    with db.write() as session:
        _populate(session)
    db.migrate()
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(ModelVersion)).scalar_one() == 1
    assert set(inspect(db.engine).get_table_names()) >= set(TABLES)
    for (table, column), words in WORDS.items():
        assert _checks(db, table)[f"ck_{table}_{column}"] == {w.value for w in words}, (table, column)
        length = Base.metadata.tables[table].c[column].type.length  # type: ignore[attr-defined]
        assert max(map(len, words)) <= length, (table, column)
    event_id, delivery_id = _event_with_delivery(db)
    for (table, column), words in WORDS.items():
        row = event_id if table == "domain_events" else delivery_id
        for word in words:  # every word is taken ...
            with db.write() as session:
                session.execute(text(f"UPDATE {table} SET {column} = :w WHERE id = :id"), {"w": word.value, "id": row})
        # ... and any other refused by the database itself
        with pytest.raises(SQLAlchemyError, match=f"ck_{table}_{column}"), db.write() as session:
            session.execute(text(f"UPDATE {table} SET {column} = 'bogus' WHERE id = :id"), {"id": row})
    db.dispose()


def _one_model_version(session: Session) -> None:
    """A dataset, its run and the model version it registered, through the models (the newest schema)."""
    now = utcnow()
    dataset = Dataset(name="d", sha256="d" * 64, spec_name="german_credit", spec={}, schema={}, n_rows=1, n_columns=1)
    dataset.source, dataset.created_by, dataset.created_at = "s", "dora", now
    session.add(dataset)
    session.flush()
    run = Run(status=RunState.SUCCEEDED, dataset_id=dataset.id, params={}, created_by="dora", created_at=now)
    session.add(run)
    session.flush()
    session.add(
        ModelVersion(
            name="german_credit",
            version=1,
            run_id=run.id,
            dataset_id=dataset.id,
            artifact_sha256="a" * 64,
            training_data_sha256="d" * 64,
            model_type="logistic",
            params={},
            metrics={},
            lineage={},
            state=ModelState.AWAITING_REVIEW,
            created_by="dora",
            created_at=now,
        )
    )


def test_a_delivery_is_unique_per_event_and_sink(ctx: ServiceContext) -> None:
    with ctx.db.write() as session:
        _one_model_version(session)
    event_id, _ = _event_with_delivery(ctx.db)
    with pytest.raises(SQLAlchemyError, match=r"uq_event_deliveries_event_id_sink|UNIQUE"), ctx.db.write() as session:
        session.add(EventDelivery(event_id=event_id, sink=Sink.FACTSHEETS, status=DeliveryStatus.PENDING, attempts=0))
    with ctx.db.write() as session:  # another sink of the same event is another delivery
        session.add(EventDelivery(event_id=event_id, sink=Sink.OPENSCALE, status=DeliveryStatus.PENDING, attempts=0))


def test_the_migration_goes_down_and_up_again(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate()
    _alembic_downgrade(db, BEFORE)
    assert not set(TABLES) & set(inspect(db.engine).get_table_names())
    with db.read() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == BEFORE
    db.migrate()
    assert _checks(db, "event_deliveries")["ck_event_deliveries_status"] == {s.value for s in DeliveryStatus}
    db.dispose()
