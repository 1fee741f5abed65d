"""Taking a test database back down the migrations: what every migration test's way down shares."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from pipeline_core.store.db import MIGRATIONS, Database


def downgrade(db: Database, revision: str) -> None:
    """Migrate ``db`` down to ``revision`` on its own migration connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.migration_connection() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
