"""Migration 0013: every existing account gets its key; two accounts of one name stop it, both named."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from pipeline_core.errors import StoreError
from pipeline_core.store.db import Database, utcnow

BEFORE = "0012"


def _with_users(url: str, *names: str) -> Database:
    db = Database(url)
    db.migrate(BEFORE)
    with db.write() as session:
        for name in names:
            session.execute(
                text("INSERT INTO users (username, role, disabled, created_at) VALUES (:n, 'manager', false, :at)"),
                {"n": name, "at": utcnow()},
            )
    return db


def test_existing_accounts_get_their_keys(fresh_url: str) -> None:
    db = _with_users(fresh_url, "Sam_Sci", "bob")
    db.migrate()
    with db.read() as session:
        rows = session.execute(text("SELECT username, username_key, failed_sign_ins FROM users ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("Sam_Sci", "sam_sci", 0), ("bob", "bob", 0)]
    db.dispose()


def test_two_accounts_of_one_name_stop_the_migration_by_name(fresh_url: str) -> None:
    db = _with_users(fresh_url, "sam_sci", "SAM_SCI")
    with pytest.raises(StoreError, match=r"users 'sam_sci' and 'SAM_SCI' are one name.*then migrate again"):
        db.migrate()
    with db.read() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == BEFORE
    db.dispose()
