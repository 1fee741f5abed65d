"""The store's contract suite runs against every metadata store: SQLite and a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_core.config import Settings
from tests.credentials import AUDIT_KEY
from tests.states import quick_settings

STORES = ("sqlite", "postgresql")


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def fresh_url(store_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of this kind, not yet migrated."""
    if store_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("pg_server").new_database()
    return url


@pytest.fixture
def settings(store_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The root ``settings`` with the metadata store of this kind (artifacts stay in the temp folder)."""
    url = "" if store_kind == "sqlite" else request.getfixturevalue("pg_server").new_database(migrated=True)
    return quick_settings(tmp_path / "data", database_url=url, audit_key=AUDIT_KEY if url else "")
