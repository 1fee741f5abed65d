"""Prepare stage: the feature pipeline, fitted on the training split only.

Tree models get ordinal-encoded categories (an unseen category becomes "missing", which
HistGradientBoosting routes like any missing value); the linear model gets one-hot
categories that ignore unseen values and standardised numbers. Every variant imputes
missing numbers, so a record that scores never crashes deep in scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import StageError
from pipeline_core.params import ModelType
from pipeline_core.stages.common import Gate

UNSEEN_PROBE = "__unseen_category__"


@dataclass
class PrepareResult:
    """The fitted feature pipeline and what it learned."""

    preprocessor: ColumnTransformer
    n_features_out: int
    categories: dict[str, list[str]]
    gate: Gate
    log: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_features_out": self.n_features_out,
            "categories": self.categories,
            "gate": self.gate.to_dict(),
        }


def build_preprocessor(spec: DataSpec, model_type: ModelType) -> ColumnTransformer:
    """An unfitted feature pipeline for ``model_type``; categorical columns come first."""
    if model_type == "logistic":
        cat: Any = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        num: Any = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    else:
        # HGB treats NaN as missing (its native handling); the forest needs a number.
        unknown = np.nan if model_type == "hgb" else -1
        cat = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=unknown, encoded_missing_value=unknown)
        num = SimpleImputer(strategy="median") if model_type == "random_forest" else "passthrough"
    return ColumnTransformer(
        [("categorical", cat, spec.categorical), ("numeric", num, spec.numeric)],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def prepare(train: pd.DataFrame, *, spec: DataSpec, model_type: ModelType) -> PrepareResult:
    """Fit the feature pipeline on ``train`` and check that an unseen category scores."""
    missing = [name for name in spec.feature_names if name not in train.columns]
    if missing:
        raise StageError(f"prepare: the training data has no column {missing[0]!r} (spec '{spec.name}')")
    preprocessor = build_preprocessor(spec, model_type)
    try:
        out = preprocessor.fit_transform(train[spec.feature_names])
    except (ValueError, TypeError, KeyError) as exc:
        raise StageError(f"prepare: fitting the feature pipeline on the training split failed: {exc}") from exc
    categories: dict[str, list[str]] = {}
    encoder = preprocessor.named_transformers_["categorical"]
    for name, cats in zip(spec.categorical, getattr(encoder, "categories_", []), strict=False):
        categories[name] = [str(c) for c in cats]
    gate = _unseen_probe_gate(preprocessor, train, spec)
    log = [
        f"fitted {model_type} feature pipeline on {len(train)} training rows",
        f"{len(spec.categorical)} categorical and {len(spec.numeric)} numeric columns -> {out.shape[1]} features",
        f"prep check: {gate.reason}",
    ]
    return PrepareResult(preprocessor, int(out.shape[1]), categories, gate, log)


def _unseen_probe_gate(preprocessor: ColumnTransformer, train: pd.DataFrame, spec: DataSpec) -> Gate:
    """The prep check: a record with an unseen category and a missing number transforms."""
    probe = train[spec.feature_names].iloc[:1].copy()
    for name in spec.categorical:
        probe[name] = UNSEEN_PROBE
    for name in spec.numeric:
        probe[name] = np.nan
    try:
        preprocessor.transform(probe)
    except Exception as exc:  # noqa: BLE001 - any failure here is what the gate reports
        return Gate(False, f"a record with unseen categories and missing numbers does not transform: {exc}")
    return Gate(True, "a record with unseen categories and missing numbers transforms without error")
