"""DataSpec: serialisation round trip and declared constraints."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pipeline_core.data.spec import DataSpec, FeatureSpec, GroupSpec, ProtectedAttribute
from pipeline_core.errors import DataError


def test_round_trip(spec: DataSpec) -> None:
    again = DataSpec.from_dict(spec.to_dict())
    assert again == spec
    assert spec.positive_label == "Risk"
    assert spec.thresholds.min_roc_auc == 0.60 and spec.thresholds.disparate_impact == 0.95
    age = next(p for p in spec.protected if p.name == "Age")
    assert age.monitored.range == (18, 25) and age.reference.range == (26, 75)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"favourable_label": "Maybe"}, r"favourable label 'Maybe' is not one of"),
        ({"target": "Age"}, r"target 'Age' is also listed as a feature"),
        ({"protected": (ProtectedAttribute("Race", GroupSpec(("a",)), GroupSpec(("b",))),)},
         r"protected attribute 'Race' is not a feature"),
    ],
)
def test_bad_specs_are_named(spec: DataSpec, change: dict[str, Any], match: str) -> None:
    with pytest.raises(DataError, match=match):
        replace(spec, **change)


def test_bad_feature_kind_and_malformed_dict() -> None:
    with pytest.raises(DataError, match="feature 'x': kind must be numeric or categorical"):
        FeatureSpec("x", "text")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="spec 'broken' is malformed"):
        DataSpec.from_dict({"name": "broken"})
