"""Columnar blocks: a round trip keeps values and types; blocks join with one dictionary; bad bytes are named."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline_core.data.columnar import decode_frames, encode_frame
from pipeline_core.errors import DataError


def test_round_trip_and_shared_dictionaries() -> None:
    first = pd.DataFrame({"Job": ["skilled", "unskilled"], "Age": [30, 41], "probability": [0.25, 0.5]})
    second = pd.DataFrame({"Job": ["management", "skilled"], "Age": [52.5, 19], "probability": [0.75, 0.0]})
    blocks = [encode_frame(first, categorical=["Job"]), encode_frame(second, categorical=["Job"])]
    frame = decode_frames(blocks)
    assert list(frame["Job"].astype(str)) == ["skilled", "unskilled", "management", "skilled"]
    assert isinstance(frame["Job"].dtype, pd.CategoricalDtype) and len(frame["Job"].cat.categories) == 3
    assert frame["Age"].tolist() == [30.0, 41.0, 52.5, 19.0]  # int and float blocks promote to float
    assert frame["probability"].tolist() == [0.25, 0.5, 0.75, 0.0]
    assert decode_frames(blocks, columns=["Age"]).columns.tolist() == ["Age"]
    assert decode_frames([]).empty


@pytest.mark.parametrize(
    ("blocks", "match"),
    [
        ([b"not arrow at all"], r"columnar block 0 cannot be read"),
        ([encode_frame(pd.DataFrame({"a": [1]})), b"\x00" * 8], r"columnar block 1 cannot be read"),
        (
            [encode_frame(pd.DataFrame({"a": [1]})), encode_frame(pd.DataFrame({"a": ["x"]}))],
            r"columnar blocks do not share one schema",
        ),
    ],
    ids=["garbage", "truncated-second", "incompatible-types"],
)
def test_bad_blocks_are_named(blocks: list[bytes], match: str) -> None:
    with pytest.raises(DataError, match=match):
        decode_frames(blocks)
