"""The CSV loader: BOM accepted, every bad file named with its problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline_core.data.load import frame_to_csv_bytes, parse_csv_bytes, read_csv_file
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


def test_missing_file_and_directory_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv' does not exist"):
        read_csv_file(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_csv_file(tmp_path)
