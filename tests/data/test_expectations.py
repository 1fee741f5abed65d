"""Expectations declared in a spec: defaults, round trip, and every bad declaration refused by name."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pipeline_core.data.expectations import DEFAULT_CRITICAL, Case, Expectations, Invariance, Monotone, Robustness
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DataError


def test_the_credit_spec_declares_cases_invariances_and_directions(spec: DataSpec) -> None:
    exp = spec.expectations
    assert [c.expected for c in exp.cases] == ["No Risk", "Risk"]
    assert [i.feature for i in exp.invariant] == ["Telephone", "Sex"]
    assert [(m.feature, m.direction) for m in exp.monotone] == [("LoanAmount", "increases_risk"),
                                                                ("LoanDuration", "increases_risk")]
    assert exp.critical == DEFAULT_CRITICAL
    assert DataSpec.from_dict(spec.to_dict()).expectations == exp


def test_a_spec_stored_before_expectations_existed_gets_the_empty_defaults(spec: DataSpec) -> None:
    old = spec.to_dict()
    del old["expectations"]
    assert DataSpec.from_dict(old).expectations == Expectations()


@pytest.mark.parametrize(
    ("expectations", "match"),
    [
        (Expectations(cases=(Case("c", {"Colour": "red"}, "Risk"),)), r"case 'c': feature 'Colour' is not in the spec"),
        (Expectations(cases=(Case("c", {"Housing": "castle"}, "Risk"),)),
         r"case 'c': Housing = 'castle' is not one of \['free', 'own', 'rent'\]"),
        (Expectations(cases=(Case("c", {"LoanAmount": "lots"}, "Risk"),)), r"case 'c': LoanAmount = 'lots' is not a number"),
        (Expectations(cases=(Case("c", {"Age": 30}, "Maybe"),)), r"case 'c': expected 'Maybe' is not one of"),
        (Expectations(cases=(Case("c", {}, "Risk"),)), r"case 'c': 'given' names no feature"),
        (Expectations(invariant=(Invariance("Religion"),)), r"invariant feature 'Religion' is not in the spec"),
        (Expectations(monotone=(Monotone("Housing"),)), r"monotone feature 'Housing' is not numeric"),
    ],
    ids=["unknown-feature", "unknown-category", "text-for-number", "unknown-label", "empty-case", "invariant",
         "monotone-categorical"],
)
def test_declarations_that_do_not_fit_the_spec_are_refused(spec: DataSpec, expectations: Expectations,
                                                           match: str) -> None:
    with pytest.raises(DataError, match=f"spec 'german_credit': expectations: {match}"):
        replace(spec, expectations=expectations)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"slice_tolerance": 1.5}, r"slice_tolerance = 1.5 is not a number in \[0, 1\]"),
        ({"invariant": (Invariance("Sex", tolerance=-0.1),)}, r"invariant\[Sex\].tolerance = -0.1 is not"),
        ({"monotone": (Monotone("Age", direction="sideways"),)},  # type: ignore[arg-type]
         r"monotone\[Age\].direction 'sideways' is not"),
        ({"monotone": (Monotone("Age", step=0),)}, r"monotone\[Age\].step 0 is not a positive number"),
        ({"robustness": Robustness(repeats=0)}, r"robustness.repeats = 0 is not a whole number >= 1"),
        ({"max_records": True}, r"max_records = True is not a whole number"),
        ({"critical": ("convergence", "vibes")}, r"critical names unknown model test\(s\) \['vibes'\]"),
        ({"cases": (Case("same", {"Age": 1}, "Risk"), Case("same", {"Age": 2}, "Risk"))}, r"two cases share a name"),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(DataError, match=f"expectations: {match}"):
        Expectations(**kwargs)


def test_malformed_expectations_in_a_stored_spec_are_named(spec: DataSpec) -> None:
    data = spec.to_dict()
    data["expectations"] = {"cases": [{"name": "no given"}]}
    with pytest.raises(DataError, match="expectations are malformed: KeyError"):
        DataSpec.from_dict(data)
