"""Score a Watson Machine Learning payload with a model: validation, prediction, flags.

Request:  ``{"input_data": [{"fields": [...], "values": [[...], ...]}]}``
Response: ``{"predictions": [{"fields": ["prediction", "probability"],
             "values": [[label, [p_class0, p_class1]], ...]}]}`` with the model's classes in
order, plus ``scoring_ids`` (one per record) and ``warnings`` (unseen categories: the
record scores, the flag says which value the model has never seen).

Every rejection names the field, record and value, and carries the HTTP status to send.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ScoringInputError

MAX_SHOWN = 60


@dataclass(frozen=True)
class LoadedModel:
    """A verified model with what the scorer needs to know about it."""

    model: Pipeline
    spec: DataSpec
    classes: tuple[str, ...]
    known_categories: dict[str, frozenset[str]]

    @classmethod
    def build(cls, model: Pipeline, spec: DataSpec) -> LoadedModel:
        known: dict[str, frozenset[str]] = {}
        encoder = model.named_steps["prep"].named_transformers_["categorical"]
        for name, cats in zip(spec.categorical, getattr(encoder, "categories_", []), strict=False):
            known[name] = frozenset(str(c) for c in cats)
        return cls(model, spec, tuple(str(c) for c in model.classes_), known)


@dataclass
class ScoreResult:
    """Predictions for one request, with a scoring id and any warnings per record."""

    fields: list[str]
    rows: list[list[Any]]
    labels: list[str]
    probabilities: list[list[float]]
    scoring_ids: list[str]
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def to_response(self) -> dict[str, Any]:
        return {
            "predictions": [
                {
                    "fields": ["prediction", "probability"],
                    "values": [[label, proba] for label, proba in zip(self.labels, self.probabilities, strict=True)],
                }
            ],
            "scoring_ids": self.scoring_ids,
            "warnings": self.warnings,
        }


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def parse_payload(payload: Any, spec: DataSpec, *, max_rows: int) -> tuple[list[str], list[list[Any]]]:
    """Check the WML envelope, the fields against the spec, and every value's type."""
    if not isinstance(payload, dict):
        raise ScoringInputError(f"body must be a JSON object with 'input_data', got {type(payload).__name__}")
    unknown = sorted(set(payload) - {"input_data"})
    if unknown:
        raise ScoringInputError(f"unknown top-level field {unknown[0]!r}; expected only 'input_data'")
    data = payload.get("input_data")
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
        raise ScoringInputError("'input_data' must be a list holding one object with 'fields' and 'values'")
    block = data[0]
    fields, values = block.get("fields"), block.get("values")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ScoringInputError("'input_data[0].fields' must be a list of field names (strings)")
    if not isinstance(values, list) or not values:
        raise ScoringInputError("'input_data[0].values' must be a non-empty list of records")
    if len(values) > max_rows:
        raise ScoringInputError(f"{len(values)} records in one request; the limit is {max_rows}", status=413)
    dupes = sorted({f for f in fields if fields.count(f) > 1})
    if dupes:
        raise ScoringInputError(f"field {dupes[0]!r} is given more than once")
    expected = spec.feature_names
    missing = [f for f in expected if f not in fields]
    if missing:
        raise ScoringInputError(f"missing field(s) {missing}; the model needs {expected}")
    extra = [f for f in fields if f not in expected]
    if extra:
        raise ScoringInputError(f"unexpected field(s) {extra}; the model takes exactly {expected}")
    width = len(fields)
    for i, row in enumerate(values):
        if not isinstance(row, list):
            raise ScoringInputError(f"record {i} must be a list of {width} values, got {type(row).__name__}")
        if len(row) != width:
            raise ScoringInputError(f"record {i} has {len(row)} values for {width} fields")
    numeric = set(spec.numeric)
    columns = list(zip(*values, strict=True))
    for name, column in zip(fields, columns, strict=True):
        if name in numeric:
            for i, v in enumerate(column):
                if type(v) not in (int, float):
                    raise ScoringInputError(_bad(name, i, v, "a number"))
                if not math.isfinite(v):
                    raise ScoringInputError(_bad(name, i, v, "a finite number"))
        else:
            for i, v in enumerate(column):
                if type(v) is not str:
                    raise ScoringInputError(_bad(name, i, v, "a string"))
                if not v.strip():
                    raise ScoringInputError(_bad(name, i, v, "a non-empty category"))
    return fields, values


def _bad(name: str, row: int, value: Any, wanted: str) -> str:
    if value is None:
        return f"field {name!r}, record {row}: value is empty (null); expected {wanted}"
    return f"field {name!r}, record {row}: {_shown(value)} is not {wanted}"


def score(loaded: LoadedModel, fields: list[str], values: list[list[Any]]) -> ScoreResult:
    """Predict every record; flag values of categorical fields the model never saw."""
    frame = pd.DataFrame(values, columns=fields)[loaded.spec.feature_names]
    proba = loaded.model.predict_proba(frame)
    labels = np.asarray(loaded.classes, dtype=object)[proba.argmax(axis=1)]
    warnings: list[dict[str, Any]] = []
    for name, known in loaded.known_categories.items():
        column = frame[name]
        unseen = ~column.isin(known)
        for row in np.flatnonzero(unseen.to_numpy()):
            warnings.append({"record": int(row), "field": name, "value": str(column.iloc[row]),
                             "issue": "unseen_category"})  # fmt: skip
    return ScoreResult(
        fields=fields,
        rows=values,
        labels=[str(label) for label in labels],
        probabilities=proba.tolist(),
        scoring_ids=[uuid.uuid4().hex for _ in range(len(values))],
        warnings=warnings,
    )
