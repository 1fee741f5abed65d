"""Explainability on models whose answers are known: a rule on one number, a rule on one category."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.explain import (
    ExplainConfig,
    contrastive,
    explainability,
    global_importance,
    local_explanation,
    production_importance,
)


class Rule:
    """Risk probability from a hand-written rule over the raw records."""

    classes_ = np.array(["No Risk", "Risk"], dtype=object)

    def __init__(self, risk: Any) -> None:
        self.risk = risk

    def fit(self, *_: Any) -> Rule:
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = np.asarray(self.risk(frame), dtype=float)
        return np.column_stack([1 - p, p])


AMOUNT = Rule(lambda f: np.where(pd.to_numeric(f["LoanAmount"]) > 5000, 0.9, 0.1))
RENT = Rule(lambda f: np.where(f["Housing"].astype(str) == "rent", 0.8, 0.3))


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    frame = generate_german_credit(400, seed=3)
    # Labels that the amount rule predicts perfectly, so only LoanAmount carries information.
    frame["Risk"] = np.where(frame["LoanAmount"] > 5000, "Risk", "No Risk")
    return frame


CONFIG = ExplainConfig(n_repeats=3, background_records=30, max_evals=200)


def test_global_importance_finds_the_only_feature_used(labelled: pd.DataFrame, spec: DataSpec) -> None:
    found = global_importance(AMOUNT, labelled, spec=spec, config=CONFIG)
    assert found[0]["feature"] == "LoanAmount" and found[0]["importance"] > 0.3
    # Shuffling a feature the rule never reads changes nothing: exactly zero.
    assert all(r["importance"] == 0.0 and r["std"] == 0.0 for r in found[1:])
    assert {r["feature"] for r in found} == set(spec.feature_names)


def test_local_shap_values_add_up_and_credit_only_the_used_feature(labelled: pd.DataFrame, spec: DataSpec) -> None:
    record = labelled[labelled["Housing"] == "rent"].iloc[0]
    found = local_explanation(RENT, record, labelled, spec=spec, config=CONFIG)
    shap_sum = sum(c["shap"] for c in found["contributions"])
    assert found["probability"] == pytest.approx(0.8)
    assert shap_sum == pytest.approx(found["probability"] - found["base_value"], abs=1e-9)
    top, *rest = found["contributions"]
    assert top["feature"] == "Housing" and top["value"] == "rent"
    # Base value: mean risk over the background; the record's rent adds 0.8 - base, nothing else adds anything.
    assert top["shap"] == pytest.approx(0.8 - found["base_value"])
    assert all(c["shap"] == pytest.approx(0.0, abs=1e-9) for c in rest)


def test_contrastive_finds_the_smallest_flip(labelled: pd.DataFrame, spec: DataSpec) -> None:
    record = labelled.iloc[0].copy()
    record["LoanAmount"] = 9000  # risk 0.9 under the amount rule
    found = contrastive(AMOUNT, record, labelled, spec=spec, config=CONFIG)
    assert found["decision"] == "Risk" and found["flipped"] and found["new_decision"] == "No Risk"
    (change,) = found["changes"]
    assert change["feature"] == "LoanAmount" and change["from"] == 9000
    # The closest reference quantile at or below 5000 is the cheapest flip.
    grid = np.unique(np.quantile(labelled["LoanAmount"], np.linspace(0, 1, CONFIG.quantiles + 1)))
    assert change["to"] == round(max(v for v in grid if v <= 5000)) and found["new_probability"] == pytest.approx(0.1)


def test_contrastive_on_a_category_and_when_nothing_flips(labelled: pd.DataFrame, spec: DataSpec) -> None:
    record = labelled[labelled["Housing"] == "rent"].iloc[0]
    found = contrastive(
        Rule(lambda f: np.where(f["Housing"].astype(str) == "rent", 0.8, 0.2)),
        record,
        labelled,
        spec=spec,
        config=CONFIG,
    )
    assert found["flipped"] and [c["feature"] for c in found["changes"]] == ["Housing"]
    assert found["changes"][0]["to"] in ("own", "free") and found["changes"][0]["cost"] == 1.0
    stubborn = Rule(lambda f: np.full(len(f), 0.9))
    found = contrastive(stubborn, record, labelled, spec=spec, config=CONFIG)
    assert not found["flipped"] and found["new_decision"] == "Risk" and len(found["changes"]) == CONFIG.max_changes


def test_monitor_result_and_insufficient_data(labelled: pd.DataFrame, spec: DataSpec) -> None:
    result = explainability(
        labelled.head(5),
        labelled,
        spec=spec,
        model=AMOUNT,
        config=ExplainConfig(n_repeats=2, background_records=20, max_evals=100, explained_records=2),
    )
    assert result.metrics[0].name == "importance[LoanAmount]"
    assert len(result.details["explanations"]) == 2
    assert result.details["explanations"][0]["contrastive"]["changes"]
    few = explainability(labelled.head(5), labelled.head(10), spec=spec, model=AMOUNT, config=CONFIG)
    assert few.status == "insufficient" and few.metrics[0].detail == "insufficient data: 10 < 30"


def test_production_importance_ranks_the_feature_the_model_reads_above_one_it_ignores(
    labelled: pd.DataFrame, spec: DataSpec
) -> None:
    window = generate_german_credit(600, seed=9)
    found = production_importance(AMOUNT, window, labelled, spec=spec, config=CONFIG)
    top, *rest = found["features"]
    assert top["feature"] == "LoanAmount" and top["rank"] == 1 and top["reference_rank"] == 1
    # A record's risk moves by 0.8 when its amount crosses 5,000 under the shuffle: in expectation 0.8 * 2q(1 - q)
    # with q the share of amounts above 5,000 among the sampled records.
    q = (window.sample(500, random_state=CONFIG.seed)["LoanAmount"] > 5000).mean()
    assert top["importance"] == pytest.approx(0.8 * 2 * q * (1 - q), rel=0.15)
    # Features the rule never reads: shuffling them changes no probability at all.
    assert all(r["importance"] == 0.0 and r["reference_importance"] == 0.0 for r in rest)
    assert found["records"] == 500 and found["reference_records"] == 400 and "shuffled" in found["method"]


def test_production_importance_shows_what_changed_since_training(labelled: pd.DataFrame, spec: DataSpec) -> None:
    """Every loan in the window is above 5,000: the amount no longer decides anything there, the housing does."""
    model = Rule(
        lambda f: np.where(pd.to_numeric(f["LoanAmount"]) > 5000, 0.6, 0.1)
        + np.where(f["Housing"].astype(str) == "rent", 0.3, 0.0)
    )
    window = generate_german_credit(300, seed=9)
    window["LoanAmount"] = 6000 + window["LoanAmount"]
    found = {
        r["feature"]: r for r in production_importance(model, window, labelled, spec=spec, config=CONFIG)["features"]
    }
    assert found["LoanAmount"]["importance"] == 0.0 and found["LoanAmount"]["reference_rank"] == 1
    assert found["Housing"]["rank"] == 1 and found["Housing"]["importance"] > 0.0


def test_production_importance_is_stored_beside_the_global_one(labelled: pd.DataFrame, spec: DataSpec) -> None:
    window = generate_german_credit(100, seed=9)
    result = explainability(window, labelled, spec=spec, model=AMOUNT, config=replace(CONFIG, explained_records=0))
    stored = result.details["production_importance"]
    assert stored["features"][0]["feature"] == "LoanAmount" and stored["records"] == 100
    assert result.details["global_importance"][0]["feature"] == "LoanAmount"
    few = explainability(
        window.head(10), labelled, spec=spec, model=AMOUNT, config=replace(CONFIG, explained_records=0)
    )
    assert few.details["production_importance"] == {
        "method": stored["method"],
        "records": 10,
        "features": [],
        "reason": "insufficient data: 10 < 30",
    }
