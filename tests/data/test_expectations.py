"""Expectations declared in a spec: defaults, round trip, and every bad declaration refused by name."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_core.data.expectations import (
    DEFAULT_CRITICAL,
    Adversarial,
    Case,
    Expectations,
    Invariance,
    Monotone,
    Robustness,
)
from pipeline_core.data.german_credit import german_credit_spec
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


def test_the_credit_spec_declares_what_an_applicant_can_change(spec: DataSpec) -> None:
    cfg = spec.expectations.adversarial
    assert cfg.mutable == ("LoanAmount", "LoanDuration", "InstallmentPercent", "Telephone")
    assert (cfg.max_features, cfg.max_relative_change, cfg.margin, cfg.tolerance, cfg.records) == (2, 0.05, 0.2, 0.1, 100)
    assert DataSpec.from_dict(spec.to_dict()).expectations.adversarial == cfg


def test_a_spec_stored_before_the_adversarial_test_declares_no_threat_model(spec: DataSpec) -> None:
    old = spec.to_dict()
    del old["expectations"]["adversarial"]
    assert DataSpec.from_dict(old).expectations.adversarial == Adversarial()
    assert Adversarial().mutable == ()


@pytest.mark.parametrize(
    ("adversarial", "match"),
    [
        ({"mutable": ["Colour"]}, r"expectations: adversarial.mutable feature 'Colour' is not in the spec"),
        ({"mutable": ["LoanAmount", "Sex"]}, r"adversarial.mutable names protected attribute 'Sex'; an applicant cannot"),
        ({"mutable": ["Age"]}, r"adversarial.mutable names protected attribute 'Age'"),
        ({"mutable": "LoanAmount"}, r"adversarial.mutable = 'LoanAmount' is not a list of feature names"),
        ({"mutable": [3]}, r"adversarial.mutable = \(3,\) is not a list of feature names"),
        ({"mutable": ["Telephone", "Telephone"]}, r"adversarial.mutable \['Telephone', 'Telephone'\] names a feature twice"),
        ({"tolerance": 1.5}, r"adversarial.tolerance = 1.5 is not a number in \[0, 1\]"),
        ({"tolerance": -0.1}, r"adversarial.tolerance = -0.1 is not a number in \[0, 1\]"),
        ({"tolerance": "0.1"}, r"adversarial.tolerance = '0.1' is not a number in \[0, 1\]"),
        ({"tolerance": None}, r"adversarial.tolerance = None is not a number in \[0, 1\]"),
        ({"max_relative_change": 2}, r"adversarial.max_relative_change = 2 is not a number in \[0, 1\]"),
        ({"margin": 0.5}, r"adversarial.margin = 0.5 is not below 0.5"),
        ({"margin": True}, r"adversarial.margin = True is not a number in \[0, 1\]"),
        ({"max_features": 0}, r"adversarial.max_features = 0 is not a whole number >= 1"),
        ({"records": 2.5}, r"adversarial.records = 2.5 is not a whole number >= 1"),
        ({"budget": 3}, r"expectations are malformed: TypeError.*'budget'"),
        ("all of them", r"expectations: adversarial 'all of them' is not a mapping"),
    ],
    ids=["unknown-feature", "protected-sex", "protected-age", "string-not-list", "number-not-name", "twice",
         "tolerance-high", "tolerance-negative", "tolerance-text", "tolerance-null", "change-high", "margin-half",
         "margin-bool", "no-features", "fractional-records", "unknown-key", "not-a-mapping"],
)
def test_a_stored_spec_with_a_bad_threat_model_is_refused_naming_the_field(
    spec: DataSpec, adversarial: Any, match: str
) -> None:
    data = spec.to_dict()
    data["expectations"]["adversarial"] = (
        {**data["expectations"]["adversarial"], **adversarial} if isinstance(adversarial, dict) else adversarial
    )
    with pytest.raises(DataError, match=match):
        DataSpec.from_dict(data)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["mutable", "max_features", "max_relative_change", "margin", "tolerance", "records", "x"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-3, 300),
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(max_size=12),
            st.lists(st.sampled_from(["LoanAmount", "Telephone", "Sex", "Age", "Colour", ""]), max_size=4),
        ),
    )
)
def test_any_threat_model_is_either_valid_or_refused_with_a_data_error(raw: dict[str, Any]) -> None:
    data = german_credit_spec().to_dict()
    data["expectations"]["adversarial"] = raw
    try:
        cfg = DataSpec.from_dict(data).expectations.adversarial
    except DataError as exc:
        assert "adversarial" in str(exc) or "malformed" in str(exc)
        return
    assert set(cfg.mutable) <= {"LoanAmount", "Telephone"} and len(set(cfg.mutable)) == len(cfg.mutable)
    assert 0 <= cfg.tolerance <= 1 and 0 <= cfg.max_relative_change <= 1 and 0 <= cfg.margin < 0.5
    assert isinstance(cfg.max_features, int) and cfg.max_features >= 1 and cfg.records >= 1
