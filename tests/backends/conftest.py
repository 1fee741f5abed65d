"""Fixtures for the backend tests: a trained model and a fake Cloud Pak for Data on loopback."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.model_io import serialise_model
from pipeline_core.params import RunParams
from pipeline_core.stages.prepare import build_preprocessor
from pipeline_core.stages.train import build_estimator
from tests.ibm_fake import API_KEY, SOFTWARE_SPEC, USER

__all__ = ["API_KEY", "SOFTWARE_SPEC", "USER"]

SPEC = german_credit_spec()


@dataclass(frozen=True)
class Model:
    pipeline: Pipeline
    artifact: bytes
    sha256: str


def fit(seed: int, rows: int = 400) -> Model:
    frame = generate_german_credit(rows, seed=seed)
    params = RunParams(max_iter=30 + seed)
    pipeline = build_estimator(build_preprocessor(SPEC, params.model_type), params)
    pipeline.fit(frame[SPEC.feature_names], frame[SPEC.target])
    artifact = serialise_model(pipeline)
    return Model(pipeline, artifact, hashlib.sha256(artifact).hexdigest())


@pytest.fixture(scope="session")
def model_a() -> Model:
    return fit(1)


@pytest.fixture(scope="session")
def model_b() -> Model:
    return fit(2)


@pytest.fixture(scope="session")
def records() -> pd.DataFrame:
    return generate_german_credit(25, seed=99)[SPEC.feature_names]
