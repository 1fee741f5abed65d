"""Model artifacts: a fitted model pipeline to bytes and back (joblib, compressed)."""

from __future__ import annotations

import io

import joblib
from sklearn.pipeline import Pipeline


def serialise_model(model: Pipeline) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def load_model(artifact: bytes) -> Pipeline:
    """The model pipeline in ``artifact``; ``TypeError`` if it holds anything else."""
    model = joblib.load(io.BytesIO(artifact))
    if not isinstance(model, Pipeline):
        raise TypeError(f"artifact holds a {type(model).__name__}, not a scikit-learn Pipeline")
    return model
