"""Local content-addressed artifact store: ``root/ab/abcdef...`` named by sha256.

Writes go to a temporary file in the same folder, are flushed to disk, then renamed into
place, so a reader never sees half a file and a crash leaves at most a stray temp file.
Every read recomputes the hash. The folders are created 0700 and the files 0600 (``store.files``):
the models are the product's, not every local account's.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from pipeline_core.errors import ArtifactCorrupt, NotFoundError, StoreError
from pipeline_core.store.files import FOLDER_MODE, private_folder

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LocalArtifactStore:
    """Artifacts in a local folder, addressed by the sha256 of their bytes."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        private_folder(self.root, what="artifact folder")

    def _path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise StoreError(f"{sha256!r} is not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self._path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        # mkstemp creates the file 0600, and the rename keeps its mode.
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StoreError(f"writing artifact {digest} to {str(self.root)!r} failed: {exc.strerror}") from exc
        return digest

    def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"artifact {sha256} is not in {str(self.root)!r}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            message = f"artifact {sha256} is corrupt: its bytes hash to {actual}"
            raise ArtifactCorrupt(message, sha256=sha256, found=actual)
        return data

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()
