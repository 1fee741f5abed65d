"""Ports: the protocols every backend implements (artifact storage for now)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class ArtifactStore(Protocol):
    """Content-addressed blob storage: bytes go in, their sha256 comes back."""

    def put(self, data: bytes) -> str:
        """Store ``data`` atomically; return its sha256 (idempotent)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, verified; ``NotFoundError`` / ``IntegrityError``."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether bytes are stored under ``sha256``."""
        ...
