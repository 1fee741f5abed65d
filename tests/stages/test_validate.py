"""Validate stage: each bad input closes the gate with a report naming column and value."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from pipeline_core.data.spec import DataSpec
from pipeline_core.stages.validate import infer_schema, validate


def _set(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value  # type: ignore[call-overload]
        return frame

    return mutate


def _few_risk(frame: pd.DataFrame) -> pd.DataFrame:
    keep = (frame["Risk"] == "No Risk") | (frame.index.isin(frame.index[frame["Risk"] == "Risk"][:5]))
    return frame[keep]


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.drop(columns=["Age"]), r"missing_column: column 'Age': required by the spec"),
        (lambda f: f.drop(columns=["Risk"]), r"missing_column: column 'Risk'"),
        (_set("Age", 3, "forty"), r"wrong_type: column 'Age': expected numbers, .*'forty' \(e\.g\. lines 5\)"),
        (_set("LoanAmount", 0, "1,200"), r"wrong_type: column 'LoanAmount'.*'1,200'"),
        (_set("Sex", 0, "femal"), r"unseen_category: column 'Sex': 1 value\(s\) not among .*spec: 'femal'"),
        (_set("Risk", 1, "Maybe"), r"label_outside_spec: column 'Risk': 1 label\(s\) not in \['No Risk', 'Risk'\]"),
        (_set("Risk", 2, None), r"missing_label: column 'Risk': 1 row\(s\) have no label \(e\.g\. lines 4\)"),
        (_few_risk, r"too_few_rows: column 'Risk': 5 row\(s\) labelled 'Risk'"),
        (
            lambda f: _set("Age", 7, 250)(_set("Age", 3, -5)(f)),
            r"outside_valid_range: column 'Age': 2 value\(s\) outside the valid range \[18, 100\] of spec "
            r"'german_credit', such as -5, 250 \(e\.g\. lines 5, 9\)",
        ),
        (_set("LoanDuration", 0, 0), r"outside_valid_range: column 'LoanDuration'.*\[1, 120\].*\(e\.g\. lines 2\)"),
    ],
    ids=[
        "missing-feature",
        "missing-target",
        "wrong-type",
        "thousands-separator",
        "unseen-category",
        "label-outside-spec",
        "missing-label",
        "too-few-rows",
        "age-outside-valid-range",
        "loan-duration-0",
    ],
)
def test_blocking_anomalies_close_the_gate(
    spec: DataSpec, frame: pd.DataFrame, mutate: Callable[[pd.DataFrame], pd.DataFrame], match: str
) -> None:
    result = validate(mutate(frame), spec=spec)
    assert not result.gate.passed
    assert result.blocking
    assert result.train_index.size == 0
    assert re.search(match, result.gate.reason), result.gate.reason


def test_warnings_do_not_block(spec: DataSpec, frame: pd.DataFrame) -> None:
    reference = infer_schema(frame, spec)
    new = frame.copy()
    new["Comment"] = "x"
    new = pd.concat([new, new.iloc[200:203]], ignore_index=True)
    new.loc[0, "Age"] = 99  # outside the reference data, inside the valid range
    new["Telephone"] = new["Telephone"].astype(object)
    new.loc[new.index[:100], "Telephone"] = None
    result = validate(new, spec=spec, reference=reference)
    kinds = {a.kind: a for a in result.anomalies}
    assert result.gate.passed, result.gate.reason
    assert set(kinds) == {"extra_column", "duplicates", "out_of_range", "null_rate_jump"}
    assert kinds["out_of_range"].column == "Age" and "outside the reference range" in kinds["out_of_range"].detail
    assert kinds["duplicates"].count == 3
    assert kinds["null_rate_jump"].column == "Telephone"


def test_statistics_and_schema(spec: DataSpec, frame: pd.DataFrame) -> None:
    result = validate(frame, spec=spec)
    assert result.stats["Age"]["min"] == frame["Age"].min()
    assert result.stats["Sex"]["distinct"] == frame["Sex"].nunique()
    age = result.schema.column("Age")
    assert age is not None and age.max == frame["Age"].max()
    assert result.schema.to_dict() == type(result.schema).from_dict(result.schema.to_dict()).to_dict()


def test_split_is_seeded_stratified_and_disjoint(spec: DataSpec, frame: pd.DataFrame) -> None:
    a = validate(frame, spec=spec, seed=1, test_size=0.25)
    b = validate(frame, spec=spec, seed=1, test_size=0.25)
    c = validate(frame, spec=spec, seed=2, test_size=0.25)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    assert not np.array_equal(a.test_index, c.test_index)
    assert not set(a.train_index) & set(a.test_index)
    assert a.train_index.size + a.test_index.size == len(frame)
    rate = (frame["Risk"] == "Risk").mean()
    assert abs((frame["Risk"].iloc[a.test_index] == "Risk").mean() - rate) < 0.01


def test_numeric_looking_categories_and_spaces_are_normalised(spec: DataSpec, frame: pd.DataFrame) -> None:
    frame["Sex"] = " " + frame["Sex"]
    result = validate(frame, spec=spec)
    assert result.gate.passed, result.gate.reason
    assert result.clean is not None and set(result.clean["Sex"]) == {"female", "male"}
