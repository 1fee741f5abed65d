"""Prepare, train and register stages on small generated data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pipeline_core.data.spec import DataSpec, Thresholds
from pipeline_core.errors import StageError
from pipeline_core.model_io import load_model
from pipeline_core.params import MODEL_TYPES, RunParams
from pipeline_core.stages.prepare import prepare
from pipeline_core.stages.register import register
from pipeline_core.stages.train import train
from pipeline_core.stages.validate import validate

FAST: dict[str, Any] = {"max_iter": 30, "n_estimators": 30, "cv_folds": 3}


def _split(frame: pd.DataFrame, spec: DataSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    v = validate(frame, spec=spec, seed=0)
    assert v.clean is not None
    return v.clean.iloc[v.train_index], v.clean.iloc[v.test_index]


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_unseen_categories_and_missing_numbers_never_raise(
    spec: DataSpec, frame: pd.DataFrame, model_type: str
) -> None:
    tr, te = _split(frame, spec)
    params = RunParams(model_type=model_type, **FAST)  # type: ignore[arg-type]
    prepared = prepare(tr, spec=spec, model_type=params.model_type)
    assert prepared.gate.passed, prepared.gate.reason
    result = train(tr, te, spec=spec, params=params, preprocessor=prepared.preprocessor)
    odd = te.iloc[:4][spec.feature_names].copy()
    odd["CheckingStatus"] = "never_seen_before"
    odd["LoanPurpose"] = None
    odd.loc[odd.index[0], "Age"] = np.nan
    proba = result.model.predict_proba(odd)
    assert proba.shape == (4, 2) and np.isfinite(proba).all()
    assert np.allclose(proba.sum(axis=1), 1.0)
    # The learning curve the convergence test will read: one point per iteration.
    curve = result.learning_curve
    assert len(curve["iteration"]) == len(curve["train_loss"]) == len(curve["validation_loss"]) > 1
    assert curve["train_loss"][-1] < curve["train_loss"][0]


def test_feature_pipeline_is_fitted_on_training_rows_only(spec: DataSpec, frame: pd.DataFrame) -> None:
    tr, _ = _split(frame, spec)
    tr = tr.copy()
    test_only = tr["LoanPurpose"] == "other"
    tr = tr[~test_only]
    prepared = prepare(tr, spec=spec, model_type="hgb")
    assert "other" not in prepared.categories["LoanPurpose"]


def test_metrics_come_from_probabilities(spec: DataSpec, frame: pd.DataFrame) -> None:
    tr, te = _split(frame, spec)
    params = RunParams(**FAST)
    result = train(tr, te, spec=spec, params=params, preprocessor=prepare(tr, spec=spec, model_type="hgb").preprocessor)
    proba = result.model.predict_proba(te[spec.feature_names])[:, list(result.model.classes_).index("Risk")]
    assert result.metrics["roc_auc"] == pytest.approx(roc_auc_score(te["Risk"] == "Risk", proba))
    hard = roc_auc_score(te["Risk"] == "Risk", proba >= 0.5)
    assert result.metrics["roc_auc"] != pytest.approx(hard)  # not AUC of hard labels
    assert len(result.cv_roc_auc) == 3
    matrix = np.array(result.confusion_matrix["matrix"])
    assert matrix.sum() == len(te)
    assert result.fit_seconds > 0 and result.predict_seconds > 0
    assert result.gate.passed


def test_train_gate_closes_below_the_minimum_auc(spec: DataSpec, frame: pd.DataFrame) -> None:
    strict = replace(spec, thresholds=Thresholds(min_roc_auc=0.999))
    tr, te = _split(frame, strict)
    prepared = prepare(tr, spec=strict, model_type="hgb")
    result = train(tr, te, spec=strict, params=RunParams(**FAST), preprocessor=prepared.preprocessor)
    assert not result.gate.passed
    assert "< minimum 1.00" in result.gate.reason or "< minimum 0.999" in result.gate.reason


def test_register_round_trips_and_hashes_the_artifact(spec: DataSpec, frame: pd.DataFrame) -> None:
    import hashlib

    tr, te = _split(frame, spec)
    params = RunParams(**FAST)
    trained = train(
        tr, te, spec=spec, params=params, preprocessor=prepare(tr, spec=spec, model_type="hgb").preprocessor
    )
    draft = register(
        trained.model,
        spec=spec,
        params=params,
        metrics=trained.metrics,
        dataset={"sha256": "ab" * 32},
        n_train=len(tr),
        n_test=len(te),
    )
    assert draft.gate.passed
    assert draft.artifact_sha256 == hashlib.sha256(draft.artifact).hexdigest()
    restored = load_model(draft.artifact)
    np.testing.assert_allclose(
        restored.predict_proba(te[spec.feature_names]), trained.model.predict_proba(te[spec.feature_names])
    )
    assert draft.lineage["training_data"]["sha256"] == "ab" * 32
    assert draft.lineage["features"] == spec.feature_names


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.drop(columns=["Age"]), r"prepare: the training data has no column 'Age'"),
        (lambda f: f.assign(LoanAmount="lots"), r"prepare: fitting the feature pipeline .* failed"),
    ],
    ids=["missing-column", "wrong-type"],
)
def test_prepare_names_bad_training_data(
    spec: DataSpec, frame: pd.DataFrame, mutate: Callable[[pd.DataFrame], pd.DataFrame], match: str
) -> None:
    with pytest.raises(StageError, match=match):
        prepare(mutate(frame), spec=spec, model_type="logistic")


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.drop(columns=["Risk"]), r"train: the training split has no target column 'Risk'"),
        (lambda f: f.assign(Risk="Maybe"), r"training split has labels outside the spec in 'Risk': \['Maybe'\]"),
    ],
    ids=["missing-target", "label-outside-spec"],
)
def test_train_names_bad_labels(
    spec: DataSpec, frame: pd.DataFrame, mutate: Callable[[pd.DataFrame], pd.DataFrame], match: str
) -> None:
    tr, te = _split(frame, spec)
    prepared = prepare(tr, spec=spec, model_type="hgb")
    with pytest.raises(StageError, match=match):
        train(mutate(tr), te, spec=spec, params=RunParams(**FAST), preprocessor=prepared.preprocessor)


def test_scoring_a_frame_without_a_feature_names_it(spec: DataSpec, frame: pd.DataFrame) -> None:
    tr, te = _split(frame, spec)
    prepared = prepare(tr, spec=spec, model_type="hgb")
    model = train(tr, te, spec=spec, params=RunParams(**FAST), preprocessor=prepared.preprocessor).model
    with pytest.raises(ValueError, match="Telephone"):
        model.predict_proba(te[spec.feature_names].drop(columns=["Telephone"]))
