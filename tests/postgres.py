"""A throwaway PostgreSQL server on loopback for the store's tests: initdb in a temp folder, then pg_ctl.

Debian's server binaries (``apt-get install postgresql``; ``.ci/run`` installs them) live in
``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so as root the
cluster is owned by and started as the ``postgres`` system user. Authentication is
``trust`` on 127.0.0.1 only: the server lives as long as the test session and holds nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from pipeline_core.store.db import Database
from tests.processes import free_port

SUPERUSER = "mlops_test"


def server_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None when no server is installed."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and (Path(found).parent / "initdb").exists() else None


class PostgresServer:
    """``start()`` a private cluster, ``url(db)`` for a fresh database in it, ``stop()`` removes it all."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.root = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        self._databases = 0
        self._template = ""

    def _run(self, *args: str) -> None:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr or result.stdout}")

    def start(self) -> PostgresServer:
        if self._as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        return self

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _url(self, name: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def new_database(self, *, migrated: bool = False) -> str:
        """Create a database, empty or (``migrated``) at the newest schema; return its SQLAlchemy URL.

        A migrated one is a copy of a template migrated once per session (``CREATE DATABASE ...
        TEMPLATE``), so a test does not pay for the whole Alembic history each time.
        """
        self._databases += 1
        name = f"store_{self._databases}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if migrated:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(self._migrated_template()))
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(create)
        return self._url(name)

    def _migrated_template(self) -> str:
        if not self._template:
            name = "store_template"
            with psycopg.connect(self.admin_url, autocommit=True) as connection:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            database = Database(self._url(name))
            try:
                database.migrate()
            finally:
                database.dispose()  # a template must have no open connections when it is copied
            self._template = name
        return self._template

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
