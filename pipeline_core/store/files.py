"""Private files and folders: what the product stores is for the account that runs it alone (0600 / 0700).

The metadata database holds password and key hashes and the applicants' scored records; the
artifact store holds the models. The process's umask (commonly 022) would leave them readable
by every local account, so they are created private, and an existing one that is not is
tightened when it is opened. The umask itself is left alone: it is the process's, and other
libraries' files (and a test's temporary ones) are not ours to decide.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from pipeline_core.errors import StoreError

FOLDER_MODE = 0o700
FILE_MODE = 0o600
log = logging.getLogger(__name__)


def tighten(path: Path) -> None:
    """Take group and others' permissions off ``path`` if it has any; a path we do not own is logged, not fatal.

    Not fatal: a command run by another OS account may open a store it can read but does not own
    (its user still signs in before reading anything); the owner's next start tightens it.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            os.chmod(path, mode & 0o700)
        except OSError as exc:
            log.warning("%s stays open beyond its owner (mode %o): %s", path, mode, exc.strerror)


def private_folder(path: Path, *, what: str) -> None:
    """``path`` (and missing parents) as a folder only its owner may enter; ``what`` names it in the error."""
    try:
        path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{what} {str(path)!r} cannot be created: {exc.strerror}") from exc
    tighten(path)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists, then tighten it; a missing folder is left to the caller.

    Created before anyone else writes it (SQLite, say), so it is never readable by others even for a moment.
    """
    if path.parent.is_dir() and not path.exists():
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))
        except OSError as exc:
            raise StoreError(f"{str(path)!r} cannot be created: {exc.strerror}") from exc
    tighten(path)
