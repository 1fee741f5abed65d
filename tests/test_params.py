"""Run parameters: declared constraints, parsing of k=v strings."""

from __future__ import annotations

import pytest

from pipeline_core.errors import ConfigError
from pipeline_core.params import RunParams


def test_parse_and_round_trip() -> None:
    p = RunParams.from_strings(["model_type=logistic", "C=0.5", "max_iter=300", "max_depth=none"])
    assert (p.model_type, p.C, p.max_iter, p.max_depth) == ("logistic", 0.5, 300, None)
    assert RunParams.from_dict(p.to_dict()) == p


@pytest.mark.parametrize(
    ("pairs", "match"),
    [
        (["model_type=xgboost"], r"model_type: 'xgboost' is not one of \['hgb', 'logistic', 'random_forest'\]"),
        (["max_iter=ten"], r"max_iter: 'ten' is not a valid int"),
        (["max_iter=0"], r"max_iter: 0 is outside \[1, 10000\]"),
        (["learning_rate=2"], r"learning_rate: 2.0 is outside"),
        (["test_size=0.9"], r"test_size: 0.9 is outside \[0.05, 0.5\]"),
        (["depth=3"], r"unknown parameter 'depth'; known parameters: \["),
        (["max_iter"], r"parameter 'max_iter': expected key=value"),
    ],
)
def test_bad_parameters_are_named(pairs: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RunParams.from_strings(pairs)
