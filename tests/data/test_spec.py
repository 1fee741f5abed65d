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


def test_german_credit_declares_valid_ranges_that_hold_every_value_of_the_generated_data(spec: DataSpec) -> None:
    from pipeline_core.data.german_credit import generate_german_credit

    assert spec.feature("Age").valid_range == (18, 100)
    assert spec.feature("LoanDuration").valid_range == (1, 120)
    assert all(spec.feature(name).valid_range is not None for name in spec.numeric)
    frame = generate_german_credit(5000, seed=0)
    for name in spec.numeric:
        assert frame[name].map(spec.feature(name).is_valid).all(), name


@pytest.mark.parametrize(
    ("feature", "match"),
    [
        ({"name": "Age", "kind": "numeric", "valid_range": [100, 18]}, r"feature 'Age': valid range min 100 is above"),
        ({"name": "Sex", "kind": "categorical", "valid_range": [0, 1]}, r"feature 'Sex': a valid range is for numeric"),
        ({"name": "Age", "kind": "numeric", "valid_range": [18]}, r"feature 'Age': valid range \[18\] is not a pair"),
        ({"name": "Age", "kind": "numeric", "valid_range": 18}, r"feature 'Age': valid range 18 is not a pair"),
        ({"name": "Age", "kind": "numeric", "valid_range": ["a", 9]}, r"feature 'Age': valid range min 'a' is not a"),
        ({"name": "Age", "kind": "numeric", "valid_range": [0, True]}, r"feature 'Age': valid range max True is not"),
        (
            {"name": "Age", "kind": "numeric", "valid_range": [0, float("inf")]},
            r"feature 'Age': valid range max inf is not a finite number",
        ),
    ],
    ids=["min-above-max", "categorical", "one-end", "not-a-list", "not-a-number", "bool", "infinite"],
)
def test_bad_valid_ranges_are_named_when_the_spec_is_loaded(
    spec: DataSpec, feature: dict[str, Any], match: str
) -> None:
    data = spec.to_dict()
    data["features"] = [feature if f["name"] == feature["name"] else f for f in data["features"]]
    with pytest.raises(DataError, match=match):
        DataSpec.from_dict(data)


def test_a_spec_stored_without_valid_ranges_still_loads(spec: DataSpec) -> None:
    data = spec.to_dict()
    for f in data["features"]:
        f.pop("valid_range")
    assert DataSpec.from_dict(data).feature("Age").valid_range is None
    assert DataSpec.from_dict(data).feature("Age").is_valid(-5)
