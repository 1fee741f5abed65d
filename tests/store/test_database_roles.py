"""The README's two PostgreSQL roles: the product's own login cannot rewrite or unguard its audit log.

Finding 14 of issue 16: the product's database user owned ``audit_events`` and could disable its
append-only triggers. With the owner running migrations and the product connecting as a role that
may only read and insert there, PostgreSQL itself refuses the rewrite, while the product works.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pipeline_core.services import audit
from pipeline_core.services.context import open_context
from pipeline_core.store.db import Database
from tests.credentials import AUDIT_KEY
from tests.postgres import SUPERUSER, PostgresServer
from tests.states import add_people, quick_settings

# The README's statements, run as the owner once the schema is current.
GRANTS = (
    "GRANT USAGE ON SCHEMA public TO mlops_app",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO mlops_app",
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM mlops_app",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO mlops_app",
)


@pytest.mark.parametrize(
    "rewrite",
    [
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "UPDATE audit_events SET actor = 'someone_else'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
def test_the_products_role_works_but_cannot_rewrite_the_audit_log(
    pg_server: PostgresServer, tmp_path: Path, rewrite: str
) -> None:
    owner_url = pg_server.new_database()
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'mlops_app'").fetchone()
        if exists is None:
            admin.execute("CREATE ROLE mlops_app LOGIN")
    owner = Database(owner_url)
    owner.migrate()
    with owner.engine.begin() as connection:
        for statement in GRANTS:
            connection.execute(text(statement))
    owner.dispose()
    app_url = owner_url.replace(f"://{SUPERUSER}@", "://mlops_app@", 1)
    assert app_url != owner_url
    ctx = open_context(quick_settings(tmp_path / "data", database_url=app_url, audit_key=AUDIT_KEY))
    try:
        people = add_people(ctx)  # the product writes, audits, and reads as its own role
        assert people["vera"].role == "validator"
        with ctx.db.read() as session:
            assert audit.verify_chain(session).ok
        refused = r"must be owner of table audit_events|permission denied for table audit_events"
        with pytest.raises(DBAPIError, match=refused), ctx.db.engine.begin() as connection:
            connection.execute(text(rewrite))
        with ctx.db.read() as session:
            status = audit.verify_chain(session)
        assert status.ok and status.events > len(people)
    finally:
        ctx.close()
