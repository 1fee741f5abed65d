"""The CSV loader: paths only from the allowed data folders; BOM accepted; every bad file named with its problem."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core.data.load import LoadedTable, frame_to_csv_bytes, parse_csv_bytes, read_csv_file
from pipeline_core.errors import DataError


def test_bom_is_accepted_and_hash_is_of_the_bytes(frame: pd.DataFrame) -> None:
    plain = frame_to_csv_bytes(frame)
    with_bom = b"\xef\xbb\xbf" + plain
    a = parse_csv_bytes(plain, name="a.csv")
    b = parse_csv_bytes(with_bom, name="b.csv")
    assert list(b.frame.columns) == list(frame.columns)  # no "\ufeffCheckingStatus"
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.sha256 != b.sha256  # the hash describes the exact bytes
    assert b.n_bytes == len(with_bom)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", r"'bad\.csv' is empty"),
        (b"   \n\n", r"'bad\.csv' is empty"),
        (b"a,b,c\n", r"'bad\.csv' has a header but no data rows"),
        (b"a,b,a\n1,2,3\n", r"column 'a' appears more than once"),
        (b"a,,c\n1,2,3\n", r"column 2 of the header has no name"),
        (b"a,b\n1,2\n3,4,5,6\n", r"'bad\.csv' is not a well-formed CSV.*line 3"),
        (b"a,b\n1,\xff\xfe\n", r"not UTF-8 text \(bad byte 0xff on line 2, offset 6\)"),
    ],
)
def test_bad_files_name_the_problem(content: bytes, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_csv_bytes(content, name="bad.csv")


# --- Paths: only from inside the allowed data folders, one refusal for everything else --------------------------

ONE_REFUSAL = (
    "data file <path> is not in an allowed data folder; training data is read by path only from: <roots> "
    "(setting data_roots). Put the file there, or upload it"
)


@pytest.fixture
def disk(tmp_path: Path, frame: pd.DataFrame) -> dict[str, Path]:
    """An allowed data folder with a CSV in it, and beside it a folder outside every root with a secret in it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "credit.csv").write_bytes(frame_to_csv_bytes(frame))
    (root / "sub" / "credit.csv").write_bytes(frame_to_csv_bytes(frame))
    (outside / "secret.csv").write_bytes(frame_to_csv_bytes(frame))
    (root / "escape.csv").symlink_to(outside / "secret.csv")  # a link inside the root to a file outside it
    (root / "escape-dir").symlink_to(outside, target_is_directory=True)  # ... and to a folder outside it
    (root / "dangling.csv").symlink_to(outside / "not-there.csv")
    (root / "inside.csv").symlink_to(root / "sub" / "credit.csv")  # a link that stays inside
    prefix = tmp_path / "root-evil"  # shares the root's name as a string prefix, and is not inside it
    prefix.mkdir()
    (prefix / "credit.csv").write_bytes(frame_to_csv_bytes(frame))
    return {"root": root, "outside": outside, "prefix": prefix}


OUTSIDE_PATHS = {
    "etc-shadow": lambda d: "/etc/shadow",
    "etc-passwd": lambda d: "/etc/passwd",
    "dot-dot-from-the-root": lambda d: f"{d['root']}/../../../../etc/shadow",
    "relative-dot-dot": lambda d: "../../../../etc/shadow",
    "symlink-to-a-file-outside": lambda d: str(d["root"] / "escape.csv"),
    "symlinked-folder-outside": lambda d: str(d["root"] / "escape-dir" / "secret.csv"),
    "dangling-symlink-outside": lambda d: str(d["root"] / "dangling.csv"),
    "missing-file-outside": lambda d: str(d["outside"] / "missing.csv"),
    "directory-outside": lambda d: str(d["outside"]),
    "readable-file-outside": lambda d: str(d["outside"] / "secret.csv"),
    "sibling-with-the-root-as-prefix": lambda d: str(d["prefix"] / "credit.csv"),
    "missing-folder": lambda d: "/nonexistent/folder/credit.csv",
    "nul-byte-in-the-path": lambda d: f"{d['root']}/credit.csv\x00.txt",
    "proc-self-environ": lambda d: "/proc/self/environ",
}


@pytest.mark.parametrize("where", OUTSIDE_PATHS.values(), ids=OUTSIDE_PATHS.keys())
def test_a_path_outside_the_roots_gets_the_one_refusal(disk: dict[str, Path], where: Any) -> None:
    path = where(disk)
    with pytest.raises(DataError, match=r"is not in an allowed data folder") as refused:
        read_csv_file(path, roots=[disk["root"]])
    # The same words whatever is (or is not) at the path: nothing in the message maps the disk.
    message = str(refused.value).replace(repr(path), "<path>").replace(str(disk["root"]), "<roots>")
    assert message == ONE_REFUSAL


def test_the_refusal_lists_every_root(disk: dict[str, Path], tmp_path: Path) -> None:
    roots = [disk["root"], tmp_path / "second"]
    with pytest.raises(DataError, match=re.escape(f"only from: {roots[0]}, {roots[1]} (setting data_roots)")):
        read_csv_file("/etc/shadow", roots=roots)
    with pytest.raises(DataError, match="is not in an allowed data folder"):
        read_csv_file(disk["root"] / "credit.csv", roots=[])


@pytest.mark.parametrize(
    "where",
    [
        lambda d: d["root"] / "credit.csv",
        lambda d: "credit.csv",  # relative: from the first root
        lambda d: "sub/../credit.csv",
        lambda d: d["root"] / "inside.csv",  # a link that stays inside the root
        lambda d: d["root"] / "escape-dir" / ".." / "root" / "credit.csv",  # out through a link, back in
    ],
    ids=["absolute", "relative-to-the-root", "dot-dot-inside", "symlink-inside", "out-and-back-in"],
)
def test_a_path_inside_a_root_loads(disk: dict[str, Path], where: Any, frame: pd.DataFrame) -> None:
    table = read_csv_file(where(disk), roots=[disk["root"]])
    assert table.frame.shape == frame.shape


def test_a_root_that_is_a_symlink_is_its_real_folder(disk: dict[str, Path], tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(disk["root"], target_is_directory=True)
    assert read_csv_file(alias / "credit.csv", roots=[alias]).name == str(disk["root"] / "credit.csv")
    with pytest.raises(DataError, match="is not in an allowed data folder"):
        read_csv_file(alias / "escape.csv", roots=[alias])


@pytest.mark.parametrize(
    ("where", "match"),
    [
        (lambda d: d["root"] / "nope.csv", r"root/nope\.csv' does not exist"),
        (lambda d: d["root"] / "sub", r"root/sub' is a directory, not a CSV file"),
        (lambda d: d["root"], r"root' is a directory, not a CSV file"),
    ],
    ids=["missing", "directory", "the-root-itself"],
)
def test_inside_a_root_the_messages_stay_precise(disk: dict[str, Path], where: Any, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_csv_file(where(disk), roots=[disk["root"]])


def test_a_fifo_in_a_root_is_refused_without_hanging(disk: dict[str, Path]) -> None:
    os.mkfifo(disk["root"] / "pipe.csv")
    with pytest.raises(DataError, match=r"pipe\.csv' is not a regular file"):
        read_csv_file(disk["root"] / "pipe.csv", roots=[disk["root"]])


# --- The bytes: every problem a DataError naming the file and where, never a traceback -------------------------


def _nul_at_start_of_line(data: bytes, line: int) -> bytes:
    lines = data.split(b"\n")
    lines[line - 1] = b"\x00" + lines[line - 1]
    return b"\n".join(lines)


def _german(frame: pd.DataFrame, separator: str) -> bytes:
    return frame.to_csv(index=False, sep=separator, lineterminator="\n").encode("utf-8")


BAD_CONTENT: dict[str, tuple[Any, str]] = {
    "long-data-line": (
        lambda f: frame_to_csv_bytes(f) + b"x" * 200_000 + b"\n",
        r"'bad\.csv': line 602 is 200,000 characters long, over the limit of 131,072",
    ),
    "long-header": (
        lambda f: b"a" * 200_000 + b",b\n1,2\n",
        r"'bad\.csv': line 1 is 200,002 characters long, over the limit of 131,072",
    ),
    "long-quoted-header-across-lines": (
        lambda f: b'"' + b"a\n" * 70_000 + b'",b\n1,2\n',
        r"'bad\.csv': the header \(line 1\) cannot be read: field larger than field limit \(131072\)",
    ),
    "nul-in-the-header": (
        lambda f: frame_to_csv_bytes(f).replace(b"Risk", b"Ri\x00sk", 1),
        r"'bad\.csv' holds a NUL byte \(0x00\) on line 1, field 21, character \d+ \(the header\)",
    ),
    "nul-in-a-data-row": (
        lambda f: _nul_at_start_of_line(frame_to_csv_bytes(f), 4),
        r"'bad\.csv' holds a NUL byte \(0x00\) on line 4, field 1, character 1 \(column 'CheckingStatus'\)",
    ),
    "nul-in-a-later-field": (
        lambda f: b"a,b,c\n1,2,3\n4,5\x006,7\n",
        r"NUL byte \(0x00\) on line 3, field 2, character 4 \(column 'b'\)",
    ),
    "semicolons": (
        lambda f: _german(f, ";"),
        r"'bad\.csv' seems to be separated by ';', not ',': its header has 21 columns at ';' and 1 at ','",
    ),
    "tabs": (
        lambda f: _german(f, "\t"),
        r"'bad\.csv' seems to be separated by tabs, not ',': its header has 21 columns at tabs and 1 at ','",
    ),
    "pipes": (lambda f: _german(f, "|"), r"seems to be separated by '\|', not ','"),
    "rows-longer-than-the-header": (
        lambda f: b"a,b\n1,2,3\n4,5,6\n",
        r"the rows have more fields than the header's 2 columns \(line 2 has 3\)",
    ),
    "unclosed-quote": (lambda f: b'a,b\n1,"2\n', r"'bad\.csv' is not a well-formed CSV: Error tokenizing data"),
}


@pytest.mark.parametrize(("make", "match"), BAD_CONTENT.values(), ids=BAD_CONTENT.keys())
def test_each_problem_of_the_bytes_is_named(frame: pd.DataFrame, make: Any, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_csv_bytes(make(frame), name="bad.csv")


def test_a_semicolon_file_with_decimal_commas_is_named_as_such(frame: pd.DataFrame) -> None:
    """The German credit file as a German Excel saves it: ';' between fields, ',' as the decimal mark."""
    german = frame.assign(LoanAmount=frame["LoanAmount"] + 0.5)
    data = german.to_csv(index=False, sep=";", decimal=",", lineterminator="\n").encode("utf-8")
    with pytest.raises(DataError, match=r"seems to be separated by ';', not ','"):
        parse_csv_bytes(data, name="german.csv")


def test_old_macintosh_line_ends_are_lines(frame: pd.DataFrame) -> None:
    """A file of "\\r" line ends is many short lines, not one long one."""
    table = parse_csv_bytes(frame_to_csv_bytes(frame).replace(b"\n", b"\r"), name="mac.csv")
    assert table.frame.shape == frame.shape


@pytest.mark.parametrize("exponent", ["2147483648", "4009999999", "99999999999999999999"])
def test_a_huge_exponent_is_a_value_not_a_crash(exponent: str) -> None:
    """pandas 2.x's default float parser dies of SIGSEGV on these (the whole dashboard with it)."""
    table = parse_csv_bytes(f"a,b\n1e{exponent},2\n".encode(), name="exp.csv")
    assert table.frame.shape == (1, 2)


# Bytes a CSV is made of, and the ones that broke loaders before: NUL, quotes, BOMs, separators, huge exponents.
_PIECES = [
    b"a",
    b"b",
    b"1",
    b"-",
    b".",
    b" ",
    b",",
    b";",
    b"\t",
    b"|",
    b"\n",
    b"\r",
    b"\r\n",
    b'"',
    b"'",
    b"\\",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3\xa9",
    b"e5",
    b"1e2147483648",
    b"99999999999999999999",
    b"nan",
    b"NA",
    b"#",
    b"a,b\n",
    b"x" * 1000,
]
_BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(_PIECES), max_size=80).map(b"".join),
    st.lists(st.sampled_from(_PIECES), max_size=80).map(lambda parts: b"h1,h2\n" + b"".join(parts)),
)


@settings(max_examples=500, derandomize=True, deadline=None, database=None)
@given(data=_BYTES)
def test_any_bytes_give_a_table_or_a_data_error(data: bytes) -> None:
    try:
        table = parse_csv_bytes(data, name="any.csv")
    except DataError as exc:
        assert "'any.csv'" in str(exc)
    else:
        assert isinstance(table, LoadedTable) and not table.frame.empty


def test_a_relative_path_is_taken_from_the_first_root(disk: dict[str, Path], tmp_path: Path) -> None:
    second = tmp_path / "second"
    second.mkdir()
    (second / "only-here.csv").write_bytes((disk["root"] / "credit.csv").read_bytes())
    assert read_csv_file(second / "only-here.csv", roots=[disk["root"], second]).name == str(second / "only-here.csv")
    with pytest.raises(DataError, match=r"root/only-here\.csv' does not exist"):
        read_csv_file("only-here.csv", roots=[disk["root"], second])
