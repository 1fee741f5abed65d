"""Read CSV files into DataFrames: by path only from the allowed data folders, every bad file named.

A path is read only when its real location (symlinks followed, ``..`` applied) is inside one
of the data folders it is given; anything else, whether or not it exists, gets one and the same
refusal, so that the message maps nothing of the disk. Inside a folder the messages are precise.

Accepts a UTF-8 byte-order mark (Excel writes one). Every problem of the bytes is a
``DataError`` naming the file, and where it is the line and field: not UTF-8, a NUL byte, a
line too long, another separator than the comma, a header that does not fit its rows. The
content hash of a dataset is the sha256 of the exact bytes that were parsed, so the hash in
the store always describes what the model saw.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline_core.errors import DataError

# The csv module's default field limit: the header is read with it, and a longer line is no table
# of credit applicants (it is a dump, a binary file, or an attempt to make the loader fall over).
MAX_LINE_CHARS = 131_072
# Separators a spreadsheet may have written instead of the comma (';' where the comma is the decimal mark).
OTHER_SEPARATORS = (";", "\t", "|")
_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tabs", "|": "'|'"}
_SHOWN_PATH_CHARS = 200


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


def not_allowed(path: str | Path, roots: Sequence[Path]) -> DataError:
    """The one refusal of a path outside the data folders: it says nothing of what is (or is not) there."""
    text = str(path)
    shown = text if len(text) <= _SHOWN_PATH_CHARS else text[:_SHOWN_PATH_CHARS] + "…"
    folders = ", ".join(str(r) for r in roots) or "(none)"
    return DataError(
        f"data file {shown!r} is not in an allowed data folder; training data is read by path only from: "
        f"{folders} (setting data_roots). Put the file there, or upload it"
    )


def resolve_data_path(path: str | Path, roots: Sequence[Path]) -> Path:
    """The real path of ``path`` if it lies inside one of ``roots``; else the ``not_allowed`` refusal.

    A relative path is taken from the first root (a person on the dashboard does not know the
    server's working folder). Symlinks are followed before the check, so a link inside a root
    that points outside it is outside.
    """
    allowed = [Path(os.path.realpath(root)) for root in roots]
    if not allowed:
        raise not_allowed(path, roots)
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = allowed[0] / candidate
    try:
        real = Path(os.path.realpath(candidate))
    except (ValueError, OSError) as exc:  # a NUL byte in the path, a name too long
        raise not_allowed(path, roots) from exc
    if not any(real.is_relative_to(root) for root in allowed):
        raise not_allowed(path, roots)
    return real


def read_csv_file(path: str | Path, *, roots: Sequence[Path]) -> LoadedTable:
    """Read ``path`` from inside ``roots``; outside them, or missing, unreadable, empty or malformed: ``DataError``."""
    real = resolve_data_path(path, roots)
    name = str(real)
    # O_NOFOLLOW: the checked path's last component cannot have become a link since; O_NONBLOCK: a FIFO
    # put in a data folder opens at once (and is refused below) instead of hanging the dashboard.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except FileNotFoundError as exc:
        raise DataError(f"data file {name!r} does not exist") from exc
    except IsADirectoryError as exc:
        raise DataError(f"data file {name!r} is a directory, not a CSV file") from exc
    except OSError as exc:
        raise DataError(f"data file {name!r} cannot be read: {exc.strerror}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise DataError(f"data file {name!r} is a directory, not a CSV file")
        if not stat.S_ISREG(mode):
            raise DataError(f"data file {name!r} is not a regular file")
        _still_inside(fd, path, roots)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise DataError(f"data file {name!r} cannot be read: {exc.strerror}") from exc
    finally:
        os.close(fd)
    return parse_csv_bytes(data, name=name)


def _still_inside(fd: int, path: str | Path, roots: Sequence[Path]) -> None:
    """What was opened is inside the roots: a folder on the way swapped for a link after the check is caught here.

    Linux names an open file's real path in /proc; elsewhere the check before opening stands alone.
    """
    link = f"/proc/self/fd/{fd}"
    try:
        opened = os.readlink(link)
    except OSError:
        return
    if not any(Path(opened).is_relative_to(os.path.realpath(root)) for root in roots):
        raise not_allowed(path, roots)


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
    # Lines as pandas counts them: "\r\n", "\r" (old Macintosh exports) and "\n" each end one.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    _check_lines(lines, name)
    _check_nul(lines, name)
    names = _header(text, name)
    _check_separator(lines[0], names, name)
    try:
        # round_trip: Python's own float parser. pandas 2.x's default ("high") overflows an int on an
        # exponent past 2**31 ("1e2147483648") and the process dies of SIGSEGV (pandas-dev/pandas#62617).
        frame = pd.read_csv(io.StringIO(text), skipinitialspace=True, float_precision="round_trip")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError, OverflowError) as exc:
        # pandas' C tokenizer names the line in its message ("Expected 2 fields in line 3, saw 4").
        raise DataError(f"data file {name!r} is not a well-formed CSV: {_first_line(exc)}") from exc
    if not isinstance(frame.index, pd.RangeIndex):
        second = _field_count(lines[1], ",") if len(lines) > 1 else 0
        # pandas takes the extra leading fields of rows longer than the header as an index: values would shift.
        raise DataError(
            f"data file {name!r}: the rows have more fields than the header's {len(names)} columns "
            f"(line 2 has {second}); a column name is missing, or each row ends with a separator"
        )
    if frame.shape[1] != len(names):
        raise DataError(
            f"data file {name!r}: the header has {len(names)} columns as the csv module reads it, "
            f"{frame.shape[1]} as pandas does; check its quoting"
        )
    frame.columns = names
    if frame.empty:
        raise DataError(f"data file {name!r} has a header but no data rows")
    return LoadedTable(name=name, frame=frame, sha256=hashlib.sha256(data).hexdigest(), raw=data)


def _check_lines(lines: list[str], name: str) -> None:
    lengths = [len(line) for line in lines]
    longest = max(lengths)
    if longest > MAX_LINE_CHARS:
        line = lengths.index(longest) + 1
        raise DataError(
            f"data file {name!r}: line {line} is {longest:,} characters long, over the limit of "
            f"{MAX_LINE_CHARS:,}; this is not a table of records (a binary file, or a missing line break?)"
        )


def _check_nul(lines: list[str], name: str) -> None:
    """A NUL byte is never CSV text; pandas and the csv module would each drop or keep it in their own way."""
    line = next((i for i, text in enumerate(lines) if "\x00" in text), None)
    if line is None:
        return
    at = lines[line].index("\x00")
    field = max(1, _field_count(lines[line][:at], ","))  # the fields before it, the last one holding it
    where = f"line {line + 1}, field {field}, character {at + 1}"
    if line == 0:
        where += " (the header)"
    else:
        column = [h.strip() for h in _fields(lines[0], ",")]
        if field <= len(column):
            where += f" (column {column[field - 1]!r})"
    raise DataError(
        f"data file {name!r} holds a NUL byte (0x00) on {where}; a CSV file is text and holds none "
        "(was it exported as UTF-16 or a binary format?)"
    )


def _header(text: str, name: str) -> list[str]:
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as exc:  # a quoted header field running on past the field limit
        raise DataError(f"data file {name!r}: the header (line 1) cannot be read: {exc}") from exc
    names = [h.strip() for h in header]
    if not any(names):
        raise DataError(f"data file {name!r} has no header row")
    blank = [i + 1 for i, h in enumerate(names) if not h]
    if blank:
        raise DataError(f"data file {name!r}: column {blank[0]} of the header has no name")
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        raise DataError(f"data file {name!r}: column {dupes[0]!r} appears more than once in the header")
    return names


def _check_separator(first: str, names: list[str], name: str) -> None:
    """A header that splits into more columns at ';', tabs or '|' than at ',' was written with that separator."""
    counts = {sep: _field_count(first, sep) for sep in OTHER_SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    if counts[best] > len(names):
        raise DataError(
            f"data file {name!r} seems to be separated by {_SEPARATOR_NAMES[best]}, not ',': its header has "
            f"{counts[best]} columns at {_SEPARATOR_NAMES[best]} and {len(names)} at ','. Save it as CSV "
            "with commas (Excel: 'CSV UTF-8 (Comma delimited)')"
        )


def _fields(line: str, separator: str) -> list[str]:
    """The fields of one physical line (lines are within the field limit by now; a stray quote ends early)."""
    try:
        return next(csv.reader([line], delimiter=separator), [])
    except csv.Error:
        return []


def _field_count(line: str, separator: str) -> int:
    return len(_fields(line, separator))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def frame_to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The canonical CSV bytes of a frame (no index, UTF-8, ``\\n`` line ends)."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
