"""The artifact store contract, run against every backend."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from pipeline_core.backends.base import ArtifactStore
from pipeline_core.backends.s3 import S3ArtifactStore, s3_client
from pipeline_core.errors import IntegrityError, NotFoundError, StoreError
from pipeline_core.store.artifacts import LocalArtifactStore

BACKENDS = ("local", "s3")
_BUCKETS = itertools.count(1)


def new_bucket(endpoint: str) -> S3ArtifactStore:
    """A store over a new, empty bucket of the loopback S3 server (test-only HMAC keys)."""
    client = s3_client(endpoint=endpoint, region="us-east-1", access_key_id="test", secret_access_key="test")
    bucket = f"mlops-test-{next(_BUCKETS)}"
    client.create_bucket(Bucket=bucket)
    return S3ArtifactStore(client, bucket=bucket, prefix="artifacts/")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "artifacts")
    return new_bucket(request.getfixturevalue("s3_endpoint"))


def test_put_get_round_trip_by_sha256(store: ArtifactStore) -> None:
    data = b"model bytes \x00\x01" * 1000
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.exists(digest)
    assert store.get(digest) == data
    assert store.put(data) == digest  # idempotent


def test_missing_and_malformed_ids(store: ArtifactStore) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(missing)
    with pytest.raises(NotFoundError, match=missing):
        store.get(missing)
    with pytest.raises(StoreError, match=r"'\.\./etc/passwd' is not a sha256"):
        store.get("../etc/passwd")


def test_local_read_verifies_the_hash(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    digest = store.put(b"original")
    (tmp_path / digest[:2] / digest).write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match=f"artifact {digest} is corrupt"):
        store.get(digest)


def test_local_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    store = LocalArtifactStore(tmp_path)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StoreError, match="No space left on device"):
        store.put(b"payload")
    digest = hashlib.sha256(b"payload").hexdigest()
    assert not store.exists(digest)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no temp file left behind
