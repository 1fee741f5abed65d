"""Read CSV files into DataFrames, with errors that name the file, line and column.

Accepts a UTF-8 byte-order mark (Excel writes one). The content hash of a dataset is the
sha256 of the exact bytes that were parsed, so the hash in the store always describes
what the model saw.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline_core.errors import DataError


@dataclass(frozen=True)
class LoadedTable:
    """A parsed table with the name and sha256 of the bytes it came from."""

    name: str
    frame: pd.DataFrame
    sha256: str
    raw: bytes

    @property
    def n_bytes(self) -> int:
        return len(self.raw)


def read_csv_file(path: str | Path) -> LoadedTable:
    """Read ``path``; a missing, unreadable, empty or malformed file raises ``DataError``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"data file {str(p)!r} does not exist") from exc
    except IsADirectoryError as exc:
        raise DataError(f"data file {str(p)!r} is a directory, not a CSV file") from exc
    except OSError as exc:
        raise DataError(f"data file {str(p)!r} cannot be read: {exc.strerror}") from exc
    return parse_csv_bytes(data, name=str(p))


def parse_csv_bytes(data: bytes, *, name: str) -> LoadedTable:
    """Parse CSV ``data``; ``name`` is used in every error message."""
    if not data.strip():
        raise DataError(f"data file {name!r} is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"data file {name!r} is not UTF-8 text (bad byte 0x{data[exc.start]:02x} on line {line}, "
            f"offset {exc.start}); save it as UTF-8"
        ) from exc
    if not text.strip():
        raise DataError(f"data file {name!r} is empty (it holds only a byte-order mark)")
    header = next(csv.reader(io.StringIO(text)), [])
    names = [h.strip() for h in header]
    if not any(names):
        raise DataError(f"data file {name!r} has no header row")
    blank = [i + 1 for i, h in enumerate(names) if not h]
    if blank:
        raise DataError(f"data file {name!r}: column {blank[0]} of the header has no name")
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        raise DataError(f"data file {name!r}: column {dupes[0]!r} appears more than once in the header")
    try:
        frame = pd.read_csv(io.StringIO(text), skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise DataError(f"data file {name!r} is not a well-formed CSV: {exc}") from exc
    frame.columns = names
    if frame.empty:
        raise DataError(f"data file {name!r} has a header but no data rows")
    return LoadedTable(name=name, frame=frame, sha256=hashlib.sha256(data).hexdigest(), raw=data)


def frame_to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The canonical CSV bytes of a frame (no index, UTF-8, ``\\n`` line ends)."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
