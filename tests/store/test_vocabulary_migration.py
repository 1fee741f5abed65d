"""Migration 0008: every vocabulary column refuses a word outside ``pipeline_core.vocabulary``, on both engines.

An existing store keeps every row through the upgrade (SQLite rebuilds the tables, with foreign
keys off so that no child row goes with its parent), and the database itself then refuses an
unknown state, space, role or status, whoever writes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import CheckConstraint, MetaData, String, func, insert, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pipeline_core.errors import StoreError
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import MIGRATIONS, Database, utcnow
from pipeline_core.store.models import Base, ModelVersion, StageResult, User
from pipeline_core.vocabulary import (
    AlertChannel,
    AlertNotice,
    AlertStatus,
    ApprovalKind,
    CheckStatus,
    ConditionState,
    DeliveryStatus,
    DeploymentStatus,
    DocSection,
    EvidenceKind,
    FindingSeverity,
    FindingState,
    ModelState,
    Outcome,
    RetrainingStatus,
    RevisionReason,
    Role,
    RunState,
    Space,
    StageState,
)

BEFORE = "0007"
# Every column that holds a word of the vocabulary, and the enum that says which words.
VOCABULARY: dict[tuple[str, str], type[StrEnum]] = {
    ("users", "role"): Role,
    ("runs", "status"): RunState,
    ("run_stages", "status"): StageState,
    ("model_versions", "state"): ModelState,
    ("deployments", "space"): Space,
    ("deployments", "status"): DeploymentStatus,
    ("deployment_revisions", "reason"): RevisionReason,
    ("evaluations", "space"): Space,
    ("evaluations", "status"): CheckStatus,
    ("model_test_runs", "status"): CheckStatus,
    ("approvals", "outcome"): Outcome,
    ("alerts", "status"): AlertStatus,
    ("retraining_requests", "status"): RetrainingStatus,
}
# Vocabulary columns added after 0007's rebuild (0016_p, 0016_d, 0016_f): checked on a fresh store, not on 0007's rows.
LATER_VOCABULARY: dict[tuple[str, str], type[StrEnum]] = {
    ("model_documentation", "section"): DocSection,
    ("approvals", "kind"): ApprovalKind,
    ("approval_conditions", "state"): ConditionState,
    ("findings", "severity"): FindingSeverity,
    ("findings", "state"): FindingState,
    ("findings", "evidence_kind"): EvidenceKind,
    ("alert_deliveries", "notice"): AlertNotice,
    ("alert_deliveries", "channel"): AlertChannel,
    ("alert_deliveries", "status"): DeliveryStatus,
}
# CHECKs over numbers, not words: a model's materiality tier is 1, 2, 3 or not yet set.
NUMBER_CHECKS = {"ck_models_tier"}
TABLES = sorted(
    {table for table, _ in VOCABULARY} | {"datasets", "deployment_keys", "feedback_records", "audit_events"}
)


def _words(sqltext: str) -> set[str]:
    """The quoted words of a CHECK (column IN (...)) as either engine reflects it."""
    return set(re.findall(r"'([^']*)'", sqltext))


def _checks(db: Database, table: str) -> dict[str, set[str]]:
    return {str(c["name"]): _words(c["sqltext"]) for c in inspect(db.engine).get_check_constraints(table)}


def _counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {table: session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in TABLES}


def _populate(session: Session) -> None:
    """One row (two stages) in every table the migration rebuilds, and children of each rebuilt parent.

    Written through the tables as the database has them (at ``BEFORE``), not through the models: the
    models are the newest schema, and later migrations change these tables (0010 drops columns).
    """
    now = utcnow()
    connection = session.connection()
    steps: list[list[tuple[str, dict[str, object]]]] = [  # each step before the next: parents before children
        [
            ("users", {"id": 1, "username": "dora", "role": Role.DATA_SCIENTIST, "disabled": False, "created_at": now}),
            (
                "datasets",
                {
                    "id": 1,
                    "name": "d",
                    "sha256": "d" * 64,
                    "spec_name": "german_credit",
                    "spec": {},
                    "schema": {},
                    "n_rows": 1,
                    "n_columns": 1,
                    "source": "s",
                    "created_by": "dora",
                    "created_at": now,
                },
            ),
        ],
        [
            (
                "runs",
                {
                    "id": 1,
                    "status": RunState.SUCCEEDED,
                    "dataset_id": 1,
                    "params": {},
                    "created_by": "dora",
                    "created_at": now,
                    "cancel_requested": False,
                },
            )
        ],
        [
            (
                "run_stages",
                {
                    "run_id": 1,
                    "name": "validate",
                    "position": 0,
                    "status": StageState.SUCCEEDED,
                    "log": [],
                    "outputs": {},
                },
            ),
            (
                "run_stages",
                {"run_id": 1, "name": "train", "position": 1, "status": StageState.SUCCEEDED, "log": [], "outputs": {}},
            ),
            (
                "model_versions",
                {
                    "id": 1,
                    "name": "german_credit",
                    "version": 1,
                    "run_id": 1,
                    "dataset_id": 1,
                    "artifact_sha256": "a" * 64,
                    "training_data_sha256": "d" * 64,
                    "model_type": "hgb",
                    "params": {},
                    "metrics": {},
                    "lineage": {},
                    "state": ModelState.IN_PRODUCTION,
                    "created_by": "dora",
                    "created_at": now,
                },
            ),
        ],
        [
            (
                "deployments",
                {
                    "id": 1,
                    "name": "german_credit-prod",
                    "model_version_id": 1,
                    "space": Space.PROD,
                    "status": DeploymentStatus.ACTIVE,
                    "created_by": "vera",
                    "created_at": now,
                },
            ),
            (
                "model_test_runs",
                {
                    "model_version_id": 1,
                    "run_id": 1,
                    "status": CheckStatus.PASS,
                    "seconds": 1.0,
                    "results": {},
                    "created_by": "dora",
                    "created_at": now,
                },
            ),
            (
                "approvals",
                {
                    "model_version_id": 1,
                    "artifact_sha256": "a" * 64,
                    "outcome": Outcome.APPROVED,
                    "comment": "ok",
                    "evidence": {},
                    "decided_by": "vera",
                    "decided_at": now,
                },
            ),
        ],
        [
            (
                "deployment_keys",
                {"deployment_id": 1, "key_hash": "k" * 64, "label": "l", "created_by": "vera", "created_at": now},
            ),
            (
                "deployment_revisions",
                {
                    "deployment_id": 1,
                    "model_version_id": 1,
                    "artifact_sha256": "a" * 64,
                    "reason": RevisionReason.APPROVAL,
                    "actor": "vera",
                    "started_at": now,
                },
            ),
            (
                "feedback_records",
                {
                    "deployment_id": 1,
                    "batch_id": "b",
                    "features": {},
                    "label": "Risk",
                    "uploaded_by": "vera",
                    "created_at": now,
                },
            ),
            (
                "evaluations",
                {
                    "id": 1,
                    "model_version_id": 1,
                    "deployment_id": 1,
                    "space": Space.PROD,
                    "data_window": {},
                    "results": {},
                    "status": CheckStatus.FAIL,
                    "created_at": now,
                },
            ),
        ],
        [
            (
                "alerts",
                {
                    "evaluation_id": 1,
                    "deployment_id": 1,
                    "model_version_id": 1,
                    "monitor": "quality",
                    "metric": "roc_auc",
                    "message": "m",
                    "status": AlertStatus.OPEN,
                    "created_at": now,
                },
            ),
            (
                "retraining_requests",
                {
                    "deployment_id": 1,
                    "model_version_id": 1,
                    "evaluation_id": 1,
                    "reason": "r",
                    "drifted_records": [],
                    "status": RetrainingStatus.OPEN,
                    "created_at": now,
                },
            ),
            (
                "audit_events",
                {
                    "seq": 1,
                    "at": now,
                    "actor": "dora",
                    "action": "a",
                    "object_type": "run",
                    "object_id": "1",
                    "details": {},
                    "prev_hash": "0" * 64,
                    "hash": "h" * 64,
                },
            ),
        ],
    ]
    tables = MetaData()
    tables.reflect(connection)
    for step in steps:
        for table, row in step:
            connection.execute(insert(tables.tables[table]).values(**row))


def test_every_vocabulary_column_holds_exactly_its_words(ctx: ServiceContext) -> None:
    """The models, the migrated database and the vocabulary agree; a new word needs a new migration."""
    declared = {
        str(c.name)
        for table in Base.metadata.tables.values()
        for c in table.constraints
        if isinstance(c, CheckConstraint)
    }
    words_checked = {**VOCABULARY, **LATER_VOCABULARY}
    assert declared == {f"ck_{table}_{column}" for table, column in words_checked} | NUMBER_CHECKS
    for (table, column), words in words_checked.items():
        expected = {w.value for w in words}
        assert _checks(ctx.db, table).get(f"ck_{table}_{column}") == expected, (table, column)
        length = Base.metadata.tables[table].c[column].type
        assert isinstance(length, String) and length.length is not None
        assert max(map(len, expected)) <= length.length, (table, column)  # every word fits its column


def test_a_store_with_rows_upgrades_and_then_refuses_words_outside_the_vocabulary(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate(BEFORE)
    with db.write() as session:
        _populate(session)
    before = _counts(db)
    db.migrate()
    assert _counts(db) == before and before["run_stages"] == 2  # no child went with its rebuilt parent
    with db.read() as session:
        assert session.execute(select(ModelVersion.state)).scalar_one() == "in_production"
    for (table, column), words in VOCABULARY.items():
        for word in words:  # every word of the vocabulary is taken ...
            with db.write() as session:
                session.execute(text(f"UPDATE {table} SET {column} = :w"), {"w": word.value})
        # ... and any other word is refused by the database itself
        with pytest.raises(SQLAlchemyError, match=f"ck_{table}_{column}"), db.write() as session:
            session.execute(text(f"UPDATE {table} SET {column} = 'bogus'"))
    db.dispose()


def _alembic(db: Database, action: Callable[[Config, str], None], revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.migration_connection() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def test_the_migration_goes_down_and_up_again(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate()
    _alembic(db, command.downgrade, BEFORE)
    assert all(not _checks(db, table) for table, _ in VOCABULARY)
    status = next(c["type"] for c in inspect(db.engine).get_columns("evaluations") if c["name"] == "status")
    assert isinstance(status, String) and status.length == 8
    db.migrate()
    assert _checks(db, "runs") == {"ck_runs_status": {s.value for s in RunState}}
    db.dispose()


def test_a_stored_word_outside_the_vocabulary_stops_the_migration_by_name(fresh_url: str) -> None:
    db = Database(fresh_url)
    db.migrate(BEFORE)
    with db.write() as session:
        # The users table as it is at 0007 (the head's model has columns it does not).
        session.execute(
            text("INSERT INTO users (username, role, disabled, created_at) VALUES ('root', 'superuser', false, :at)"),
            {"at": utcnow()},
        )
    with pytest.raises(StoreError, match=r"users\.role = 'superuser'.*Correct them, then migrate again"):
        db.migrate()
    with db.read() as session:  # nothing changed: still 0007, the row still there
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == BEFORE
        assert session.execute(select(User.role)).scalar() == "superuser"
    db.dispose()


def test_on_sqlite_the_migration_refuses_foreign_keys_on_rather_than_lose_rows(tmp_path: Path) -> None:
    """Rebuilding ``runs`` with foreign keys on would delete its stages (ON DELETE CASCADE): refused instead."""
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate(BEFORE)
    with db.write() as session:
        _populate(session)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with pytest.raises(StoreError, match="run it with foreign keys off"), db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with db.read() as session:
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(select(func.count()).select_from(StageResult)).scalar() == 2
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == BEFORE
    db.dispose()
