"""The metadata database: engine set-up, sessions, and migrations at start-up.

SQLite gets WAL, foreign keys (off only while it migrates: ``migration_connection``) and
a busy timeout, and its write transactions start with ``BEGIN IMMEDIATE`` so that two
processes never both read a state and then both write from it (the claim of a run, the
head of the audit chain, the decision on a candidate). On PostgreSQL every write
transaction first takes one transaction-scoped advisory lock, the same guarantee across
processes and machines: writers queue, readers never wait (MVCC), and the services'
read-then-write transactions need no per-table locking. The services issue no SQLite-only
SQL; the same models and migrations run on both. A SQLite file (and its -wal and -shm, which
SQLite creates with the file's own mode) is its owner's alone: created 0600, tightened if it was
not (``store.files``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pipeline_core.errors import StoreError
from pipeline_core.store.files import private_file, tighten

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key of the single writer lock ("mlops" in ASCII).
WRITE_LOCK = 0x6D6C6F7073


def utcnow() -> datetime:
    """Naive UTC now: what every timestamp column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


class Database:
    """An engine plus read and write session factories."""

    def __init__(self, url: str, *, echo: bool = False, session_info: dict[str, Any] | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgresql = url.startswith("postgresql")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"cannot open metadata database {self.safe_url}: {exc}") from exc
        if self.is_sqlite:
            _private_sqlite_files(self.engine)
            _configure_sqlite(self.engine)
        self._write_engine = self.engine.execution_options(sqlite_immediate=True)
        # ``session_info``: what every session carries for the layers above (the audit log's seal).
        self._reader = sessionmaker(self.engine, expire_on_commit=False, info=dict(session_info or {}))
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False, info=dict(session_info or {}))

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages and logs."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; closing it ends its transaction without committing."""
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed as one transaction, or not at all."""
        with self._writer() as session, session.begin():
            if self.is_postgresql:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
            yield session

    def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the schema to ``revision`` (the newest Alembic revision by default).

        Every process calls this at start-up; a read-only look at the current revision comes
        first, so an up-to-date store is not locked for writing just to learn that.
        """
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            target = ScriptDirectory.from_config(config).get_current_head() if revision == "head" else revision
            with self.engine.connect() as connection:
                if MigrationContext.configure(connection).get_current_revision() == target:
                    return
            with self.migration_connection() as connection:
                if self.is_postgresql:  # two processes starting at once: one migrates, the other waits
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})
                    if MigrationContext.configure(connection).get_current_revision() == target:
                        return
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        except SQLAlchemyError as exc:
            raise StoreError(f"migrating metadata database {self.safe_url} failed: {exc}") from exc

    @contextmanager
    def migration_connection(self) -> Iterator[Connection]:
        """A connection in one write transaction for Alembic to migrate on (``config.attributes["connection"]``).

        On SQLite, foreign keys are off while it migrates and checked before the commit. A batch
        migration rebuilds a table (copy, drop, rename); with foreign keys on, dropping a table
        that others refer to fails, or worse, deletes its children (run_stages' ON DELETE
        CASCADE). SQLite takes the pragma only outside a transaction, hence before BEGIN.
        """
        with self._write_engine.connect() as connection:
            raw = connection.connection.driver_connection if self.is_sqlite else None
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    yield connection
                    if raw is not None:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            shown = ", ".join(
                                f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in broken[:5]
                            )
                            raise StoreError(f"migrating {self.safe_url} would break foreign keys: {shown}")
            finally:
                if raw is not None:  # the pooled connection goes back as every other: foreign keys on
                    raw.execute("PRAGMA foreign_keys=ON")

    def dispose(self) -> None:
        self.engine.dispose()


def _private_sqlite_files(engine: Engine) -> None:
    """The database file created 0600 before SQLite first opens it (it would take the umask's 0644), and tightened.

    SQLite gives its -wal and -shm the database file's mode; ones left by an older, looser start
    are tightened too. An in-memory database has no file.
    """
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    private_file(path)
    for suffix in ("-wal", "-shm"):
        tighten(path.with_name(path.name + suffix))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN is ours (SQLAlchemy's recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
