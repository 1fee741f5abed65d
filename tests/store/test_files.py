"""The product's files are its owner's alone: data folder and artifact folders 0700, database and artifacts 0600.

The SQLite store holds password and key hashes and the applicants' scored records; under the
usual umask (022) they used to be created 0644, readable by every local account. They are now
created private, and a store left looser by an older version is tightened when it is opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pipeline_core.config import Settings
from pipeline_core.services.context import open_context
from pipeline_core.store.artifacts import LocalArtifactStore
from pipeline_core.store.db import Database
from tests.credentials import CHEAP_HASHER


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most accounts have, whatever this test process was started with."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_store_is_created_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ctx = open_context(Settings(data_dir=data), password_hasher=CHEAP_HASHER)
    try:
        sha = ctx.artifacts.put(b"model bytes")
        with ctx.db.write() as session:  # a write: SQLite now has its -wal and -shm beside the file
            session.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            session.execute(text("INSERT INTO t VALUES (1)"))
        database = data / "mlops.db"
        files = [database, data / "mlops.db-wal", data / "mlops.db-shm", data / "artifacts" / sha[:2] / sha]
        folders = [data, data / "artifacts", data / "artifacts" / sha[:2]]
        assert {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in files + folders} == {
            **{str(p.relative_to(tmp_path)): oct(0o600) for p in files},
            **{str(p.relative_to(tmp_path)): oct(0o700) for p in folders},
        }
    finally:
        ctx.close()


def test_a_store_left_readable_is_tightened_when_opened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_context(Settings(data_dir=data), password_hasher=CHEAP_HASHER).close()
    (data / "mlops.db-wal").write_bytes(b"")  # as an older version's crash could leave them
    (data / "mlops.db-shm").write_bytes(b"")
    loose = {
        data: 0o755,
        data / "mlops.db": 0o644,
        data / "mlops.db-wal": 0o644,
        data / "mlops.db-shm": 0o664,
        data / "artifacts": 0o755,
    }
    for path, mode in loose.items():
        os.chmod(path, mode)
    ctx = open_context(Settings(data_dir=data), password_hasher=CHEAP_HASHER)
    try:  # looked at while open: SQLite removes an empty write-ahead log when the last connection closes
        assert {p.name: oct(_mode(p)) for p in loose} == {
            "data": oct(0o700),
            "mlops.db": oct(0o600),
            "mlops.db-wal": oct(0o600),
            "mlops.db-shm": oct(0o600),
            "artifacts": oct(0o700),
        }
    finally:
        ctx.close()


def test_only_group_and_other_bits_are_taken_away(tmp_path: Path) -> None:
    database = tmp_path / "read-only.db"
    Database(f"sqlite:///{database}").dispose()
    os.chmod(database, 0o444)  # the owner made it read-only: it stays so, for the owner alone
    Database(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o400


def test_an_artifact_folder_of_its_own_is_private_too(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "elsewhere" / "artifacts")
    sha = store.put(b"bytes")
    assert (_mode(store.root), _mode(store.root / sha[:2]), _mode(store.root / sha[:2] / sha)) == (0o700, 0o700, 0o600)
