"""Models for the model tests: one sound, and one built to break each test.

The sound model is the default gradient-boosted pipeline trained on generated credit data
in which Telephone and Sex carry no signal (so the spec's invariances are true of the
data, and a sound model should keep them). Each broken model is trained the same way on
data relabelled to break exactly one expectation, or assembled to break one contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from sklearn.tree import DecisionTreeClassifier

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.spec import DataSpec
from pipeline_core.params import RunParams
from pipeline_core.stages.prepare import build_preprocessor
from pipeline_core.stages.train import build_estimator, learning_curve

SPEC = german_credit_spec()
PARAMS = RunParams()


@dataclass
class Credit:
    train: pd.DataFrame
    test: pd.DataFrame


@dataclass
class Trained:
    model: Pipeline
    curve: dict[str, list[float]]


@pytest.fixture(scope="session")
def spec() -> DataSpec:
    return SPEC


@pytest.fixture(scope="session")
def credit() -> Credit:
    frame = generate_german_credit(3000, seed=11, loadings={"Telephone": 0.0, "Sex": 0.0})
    return Credit(frame.iloc[:2400].reset_index(drop=True), frame.iloc[2400:].reset_index(drop=True))


def fit(train: pd.DataFrame, test: pd.DataFrame, params: RunParams = PARAMS) -> Trained:
    """The pipeline's own model (prepare + train stages' builders) and its learning curve."""
    prep = build_preprocessor(SPEC, params.model_type)
    model = build_estimator(prep, params)
    x, y = train[SPEC.feature_names], train[SPEC.target].astype(str)
    model.fit(x, y)
    xt = model.named_steps["prep"]
    curve = learning_curve(
        model, xt.transform(x), y, xt.transform(test[SPEC.feature_names]), test[SPEC.target].astype(str), SPEC, params
    )
    return Trained(model, curve)


def relabel(frame: pd.DataFrame, risk: np.ndarray, *, noise: float = 0.1, seed: int = 5) -> pd.DataFrame:
    """``frame`` with Risk where ``risk`` holds, each label flipped with probability ``noise``."""
    flip = np.random.default_rng(seed).random(len(frame)) < noise
    out = frame.copy()
    out[SPEC.target] = np.where(risk ^ flip, "Risk", "No Risk")
    return out


@pytest.fixture(scope="session")
def sound(credit: Credit) -> Trained:
    return fit(credit.train, credit.test)


@pytest.fixture(scope="session")
def sound_production(credit: Credit) -> Trained:
    """Another sound model (different hyperparameters) playing the one in production."""
    return fit(credit.train, credit.test, RunParams(learning_rate=0.05, max_iter=150))


@pytest.fixture(scope="session")
def ignores_input(credit: Credit) -> Pipeline:
    """Predicts the training share of Risk for everyone: a model that ignores its input."""
    prep = build_preprocessor(SPEC, "hgb")
    model = Pipeline([("prep", prep), ("model", DummyClassifier(strategy="prior"))])
    return model.fit(credit.train[SPEC.feature_names], credit.train[SPEC.target])


@pytest.fixture(scope="session")
def learns_nothing(credit: Credit) -> Trained:
    """Gradient boosting with a learning rate of 1e-4: its training loss never falls."""
    return fit(credit.train, credit.test, RunParams(learning_rate=1e-4))


@pytest.fixture(scope="session")
def diverges(credit: Credit) -> Trained:
    """Full-size steps on tiny leaves: the validation loss climbs as it memorises the training data."""
    params = RunParams(learning_rate=1.0, max_iter=100, max_leaf_nodes=255, min_samples_leaf=1)
    return fit(credit.train, credit.test, params)


@pytest.fixture(scope="session")
def telephone_dependent(credit: Credit) -> Pipeline:
    """Trained on labels that follow Telephone."""
    train = relabel(credit.train, (credit.train["Telephone"] == "yes").to_numpy())
    return fit(train, credit.test).model


@pytest.fixture(scope="session")
def non_monotone(credit: Credit) -> Pipeline:
    """Trained on labels where a larger loan means less risk."""
    amount = credit.train["LoanAmount"]
    return fit(relabel(credit.train, (amount < amount.median()).to_numpy()), credit.test).model


@pytest.fixture(scope="session")
def jittery(credit: Credit) -> Pipeline:
    """A fully grown tree on labels alternating every 100 of LoanAmount: a few percent flips it."""
    train = relabel(credit.train, ((credit.train["LoanAmount"] // 100) % 2 == 0).to_numpy(), noise=0.0)
    prep = build_preprocessor(SPEC, "random_forest")
    model = Pipeline([("prep", prep), ("model", DecisionTreeClassifier(random_state=0))])
    return model.fit(train[SPEC.feature_names], train[SPEC.target])


@pytest.fixture(scope="session")
def crashes_on_unseen(credit: Credit) -> Pipeline:
    """Categories encoded with scikit-learn's default: an unseen one raises deep inside transform."""
    prep = ColumnTransformer(
        [("categorical", OrdinalEncoder(), SPEC.categorical), ("numeric", "passthrough", SPEC.numeric)],
        verbose_feature_names_out=False,
    )
    model = Pipeline([("prep", prep), ("model", HistGradientBoostingClassifier(max_iter=30, random_state=0))])
    return model.fit(credit.train[SPEC.feature_names], credit.train[SPEC.target])


@pytest.fixture(scope="session")
def without_telephone(credit: Credit) -> Pipeline:
    """Trained on 19 of the spec's 20 features."""
    features = [f for f in SPEC.feature_names if f != "Telephone"]
    cats = [c for c in SPEC.categorical if c != "Telephone"]
    prep = ColumnTransformer(
        [
            ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), cats),
            ("numeric", "passthrough", SPEC.numeric),
        ],
        verbose_feature_names_out=False,
    )
    model = Pipeline([("prep", prep), ("model", HistGradientBoostingClassifier(max_iter=30, random_state=0))])
    return model.fit(credit.train[features], credit.train[SPEC.target])


@pytest.fixture(scope="session")
def with_customer_id(credit: Credit) -> Pipeline:
    """Trained with a column the spec does not have (a customer id)."""
    train = credit.train.assign(CustomerId=np.arange(len(credit.train)))
    prep = build_preprocessor(SPEC, "hgb")
    prep.transformers = [*prep.transformers[:-1], ("numeric", "passthrough", [*SPEC.numeric, "CustomerId"])]
    model = Pipeline([("prep", prep), ("model", HistGradientBoostingClassifier(max_iter=30, random_state=0))])
    return model.fit(train[[*SPEC.feature_names, "CustomerId"]], train[SPEC.target])


@pytest.fixture(scope="session")
def wrong_labels(credit: Credit) -> Pipeline:
    """Trained on 0 / 1 instead of the spec's labels."""
    y = (credit.train[SPEC.target] == "Risk").astype(int).astype(str)
    model = build_estimator(build_preprocessor(SPEC, "hgb"), RunParams(max_iter=30))
    return model.fit(credit.train[SPEC.feature_names], y)


class Overconfident(ClassifierMixin, BaseEstimator):
    """Wraps a fitted classifier and stretches its probabilities past 1."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner

    def fit(self, x: Any, y: Any) -> Overconfident:
        self.classes_ = self.inner.classes_
        return self

    def predict_proba(self, x: Any) -> np.ndarray:
        p: np.ndarray = self.inner.predict_proba(x) * 1.5
        return p


@pytest.fixture(scope="session")
def overconfident(sound: Trained, credit: Credit) -> Pipeline:
    inner = sound.model.named_steps["model"]
    model = Pipeline([("prep", sound.model.named_steps["prep"]), ("model", Overconfident(inner))])
    model.named_steps["model"].fit(None, None)
    return model


@pytest.fixture(scope="session")
def fragile(credit: Credit) -> Pipeline:
    """A fully grown tree on labels that follow LoanDuration > 21 months: the applicants at 22-24 months
    are sure refusals (risk 1) that asking for three months less (5% of the range) turns into grants."""
    train = relabel(credit.train, (credit.train["LoanDuration"] > 21).to_numpy(), noise=0.0)
    prep = build_preprocessor(SPEC, "random_forest")
    model = Pipeline([("prep", prep), ("model", DecisionTreeClassifier(random_state=0))])
    return model.fit(train[SPEC.feature_names], train[SPEC.target])


@pytest.fixture(scope="session")
def immutable_only(credit: Credit) -> Pipeline:
    """Gradient boosting on labels that follow Age, CreditHistory and ForeignWorker only: nothing an applicant
    can change moves it."""
    train = credit.train
    risk = ((train["Age"] < 30) | (train["CreditHistory"] == "outstanding_credit")) & (train["ForeignWorker"] == "yes")
    relabelled = relabel(train, risk.to_numpy(), noise=0.0)
    prep = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ["CreditHistory", "ForeignWorker", "Sex"],
            ),
            ("numeric", "passthrough", ["Age"]),
        ],
        verbose_feature_names_out=False,
    )
    model = Pipeline([("prep", prep), ("model", HistGradientBoostingClassifier(max_iter=50, random_state=0))])
    return model.fit(relabelled[SPEC.feature_names], relabelled[SPEC.target])
