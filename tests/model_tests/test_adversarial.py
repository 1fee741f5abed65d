"""The adversarial test: a fragile model is flipped by what an applicant can change, within the budget, and
nothing else ever moves."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from pipeline_core.data.expectations import Adversarial
from pipeline_core.data.spec import DataSpec
from pipeline_core.model_tests.adversarial import adversarial
from pipeline_core.model_tests.behaviour import risk_and_decision
from pipeline_core.model_tests.results import Verdict
from tests.model_tests.conftest import Credit, Trained


def attack(model: Pipeline, credit: Credit, spec: DataSpec, **budget: Any) -> Verdict:
    cfg = replace(spec.expectations.adversarial, **budget)
    return adversarial(
        model,
        spec=spec,
        held_out=credit.test,
        reference=credit.train,
        expectations=replace(spec.expectations, adversarial=cfg),
    )


def all_flips(verdict: Verdict) -> list[dict[str, Any]]:
    return [*verdict.evidence["smallest_flips"], *verdict.evidence["smallest_reverse_flips"]]


def test_a_model_deciding_on_one_mutable_feature_at_a_dense_threshold_fails_naming_it(
    fragile: Pipeline, credit: Credit, spec: DataSpec
) -> None:
    verdict = attack(fragile, credit, spec)
    e = verdict.evidence
    assert verdict.status == "fail", verdict.summary
    assert e["flip_rate"] > e["tolerance"] == 0.10
    assert e["flips_by_feature"] == {"LoanDuration": e["flipped_records"]}
    assert f"{e['flipped_records']} of {e['flipped_records']} flips change LoanDuration" in verdict.summary
    # By hand: the tree refuses above 21 months; 5% of the training range (4-64 months) is 3 months, so
    # exactly the refusals at 22, 23 and 24 months can ask for few enough months to be granted.
    low, high = credit.train["LoanDuration"].min(), credit.train["LoanDuration"].max()
    assert 0.05 * (high - low) == 3
    durations = credit.test["LoanDuration"]
    assert e["records_attacked"] == 100 < int((durations > 21).sum())
    every = attack(fragile, credit, spec, records=1000).evidence
    assert every["records_attacked"] == int((durations > 21).sum())
    assert every["flipped_records"] == int(durations.between(22, 24).sum()) > 0
    assert every["reverse_flipped_records"] == int(durations.between(19, 21).sum())
    for flip in e["smallest_flips"]:
        (change,) = flip["changes"]
        assert 22 <= change["from"] <= 24 and change["to"] == 21 and flip["decision_after"] == "No Risk"
    assert e["smallest_flips"][0]["budget_used"] == pytest.approx(1 / 3, abs=1e-4)  # 22 -> 21: one of 3 months


def test_a_model_of_immutable_features_cannot_be_flipped_and_passes(
    immutable_only: Pipeline, credit: Credit, spec: DataSpec
) -> None:
    verdict = attack(immutable_only, credit, spec, max_features=4, max_relative_change=1.0, margin=0.0)
    e = verdict.evidence
    assert verdict.status == "pass", verdict.summary
    assert e["records_attacked"] > 0 and e["reverse_records_attacked"] > 0
    assert e["flip_rate"] == 0 == e["reverse_flip_rate"]
    assert e["smallest_flips"] == [] == e["smallest_reverse_flips"] and e["flips_by_feature"] == {}
    assert {"Age", "Sex", "ForeignWorker", "CreditHistory"} <= set(e["held_fixed"])
    assert "turns 0.0% of" in verdict.summary


@pytest.mark.parametrize(
    "budget",
    [{}, {"max_features": 3, "max_relative_change": 0.3, "margin": 0.0}, {"max_features": 1, "margin": 0.05}],
    ids=["spec-budget", "wide", "one-feature"],
)
@pytest.mark.parametrize("name", ["sound", "fragile", "telephone_dependent"])
def test_every_reported_flip_is_real_changes_only_mutable_features_and_stays_within_the_valid_values(
    request: pytest.FixtureRequest, credit: Credit, spec: DataSpec, name: str, budget: dict[str, Any]
) -> None:
    found = request.getfixturevalue(name)
    model = found.model if isinstance(found, Trained) else found
    verdict = attack(model, credit, spec, **budget)
    cfg = replace(spec.expectations.adversarial, **budget)
    flips = all_flips(verdict)
    assert flips and verdict.evidence["model_queries"] > len(credit.test)
    for flip in flips:
        assert 1 <= flip["features_changed"] == len(flip["changes"]) <= cfg.max_features
        record = credit.test.loc[[flip["record"]]]
        changed = record.copy()
        for change in flip["changes"]:
            feature, to = change["feature"], change["to"]
            assert feature in cfg.mutable, flip
            assert change["from"] == record[feature].iloc[0] != to
            column = credit.train[feature]
            if feature in spec.categorical:
                assert to in set(column.astype(str))
            else:
                low, high = column.min(), column.max()
                assert low <= to <= high
                assert abs(to - change["from"]) <= cfg.max_relative_change * (high - low) + 1e-9
                assert isinstance(to, int)  # the credit columns hold whole numbers
            changed[feature] = to
        risk, decision = risk_and_decision(model, record, spec)
        assert decision[0] == flip["decision_before"] and abs(risk[0] - 0.5) >= cfg.margin
        risk, decision = risk_and_decision(model, changed, spec)
        assert decision[0] == flip["decision_after"] != flip["decision_before"]
        assert risk[0] == pytest.approx(flip["risk_after"], abs=1e-4)
    assert list(changed.columns) == list(credit.test.columns)


def test_the_smallest_flips_come_first(telephone_dependent: Pipeline, credit: Credit, spec: DataSpec) -> None:
    verdict = attack(telephone_dependent, credit, spec, max_features=2, max_relative_change=0.3, margin=0.0)
    flips = verdict.evidence["smallest_flips"]
    assert len(flips) == 10
    keys = [(f["features_changed"], f["budget_used"]) for f in flips]
    assert keys == sorted(keys)
    # Getting a telephone is the one-feature change that uses the whole budget; none is smaller here.
    assert verdict.evidence["flips_by_feature"]["Telephone"] >= verdict.evidence["flipped_records"] * 0.9


def test_the_attack_is_seeded(sound: Trained, credit: Credit, spec: DataSpec) -> None:
    first = attack(sound.model, credit, spec, margin=0.05)
    again = attack(sound.model, credit, spec, margin=0.05)
    assert first == again
    assert first.evidence["seed"] == 20260604


def test_records_are_sampled_per_decision_and_bounded(sound: Trained, credit: Credit, spec: DataSpec) -> None:
    verdict = attack(sound.model, credit, spec, records=7, margin=0.0)
    assert verdict.evidence["records_attacked"] == 7 == verdict.evidence["reverse_records_attacked"]
    risk, decision = risk_and_decision(sound.model, credit.test, spec)
    wide = attack(sound.model, credit, spec, records=1000, margin=0.2)
    assert wide.evidence["records_attacked"] == int(((decision == "Risk") & (risk >= 0.7)).sum())
    assert wide.evidence["reverse_records_attacked"] == int(((decision == "No Risk") & (risk <= 0.3)).sum())


def test_a_spec_without_mutable_features_skips_the_test(sound: Trained, credit: Credit, spec: DataSpec) -> None:
    verdict = attack(sound.model, credit, spec, mutable=())
    assert verdict.status == "skip" and "declares no mutable feature" in verdict.summary


def test_a_whole_number_whose_budget_is_under_one_unit_cannot_move(
    fragile: Pipeline, credit: Credit, spec: DataSpec
) -> None:
    # InstallmentPercent runs 1-6 in training: 5% of that range is a quarter of a unit.
    assert credit.train["InstallmentPercent"].agg(["min", "max"]).tolist() == [1, 6]
    e = attack(fragile, credit, spec).evidence
    assert e["mutable"] == ["LoanAmount", "LoanDuration", "Telephone"]
    assert e["cannot_move_within_budget"] == ["InstallmentPercent"]
    assert "InstallmentPercent" not in e["held_fixed"] and "Age" in e["held_fixed"]
    wider = attack(fragile, credit, spec, max_relative_change=0.2).evidence
    assert "InstallmentPercent" in wider["mutable"] and wider["cannot_move_within_budget"] == []


def test_a_mutable_number_that_never_varies_in_training_cannot_move(
    sound: Trained, credit: Credit, spec: DataSpec
) -> None:
    flat = Credit(credit.train.assign(LoanAmount=1000), credit.test)
    verdict = attack(sound.model, flat, spec, mutable=("LoanAmount",))
    assert verdict.status == "skip" and "can move within the budget in the training data" in verdict.summary


def test_missing_values_are_not_moved(fragile: Pipeline, credit: Credit, spec: DataSpec) -> None:
    test = credit.test.astype({"LoanDuration": float})
    test.loc[test.index[:200], "LoanDuration"] = np.nan
    verdict = adversarial(fragile, spec=spec, held_out=test, reference=credit.train, expectations=spec.expectations)
    assert all(f["record"] >= 200 for f in all_flips(verdict))


def test_the_default_spec_declares_the_applicants_changes_and_holds_age_sex_and_foreign_worker(spec: DataSpec) -> None:
    cfg = spec.expectations.adversarial
    assert cfg == Adversarial(("LoanAmount", "LoanDuration", "InstallmentPercent", "Telephone"))
    assert not {"Age", "Sex", "ForeignWorker"} & set(cfg.mutable)


def test_evidence_is_plain_json(fragile: Pipeline, credit: Credit, spec: DataSpec) -> None:
    import json

    verdict = attack(fragile, credit, spec)
    assert json.loads(json.dumps(verdict.to_dict())) == verdict.to_dict()
    assert isinstance(pd.Series(verdict.evidence["valid_values"]["LoanDuration"]).iloc[0], int | np.integer)
