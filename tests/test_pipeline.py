"""The whole pre-prod pipeline without a store: generated data, the real file, reproducibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.load import read_csv_file
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ValidationFailed
from pipeline_core.params import RunParams
from pipeline_core.pipeline import STAGE_NAMES, Hooks, PipelineInputs, Stage, StageResultLike, execute


def _inputs(frame: pd.DataFrame, spec: DataSpec, **params: object) -> PipelineInputs:
    return PipelineInputs(frame=frame, spec=spec, params=RunParams(**params), dataset={"sha256": "x"})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def generated_5000() -> pd.DataFrame:
    return generate_german_credit(5000, seed=0)


def test_pipeline_on_generated_data(spec: DataSpec, generated_5000: pd.DataFrame) -> None:
    seen: list[str] = []

    class Record(Hooks):
        def after(self, stage: Stage, result: StageResultLike, seconds: float) -> None:
            seen.append(stage.name)

    state = execute(_inputs(generated_5000, spec), Record())
    assert seen == list(STAGE_NAMES)
    assert state.trained.metrics["roc_auc"] > 0.80
    assert state.draft.metrics is state.trained.metrics
    assert state.validation.train_index.size == 4000


def test_pipeline_on_the_real_file_and_the_generator_matches_it(
    spec: DataSpec, real_data: Path, generated_5000: pd.DataFrame
) -> None:
    real = execute(_inputs(read_csv_file(real_data, roots=[real_data.parent]).frame, spec))
    real_auc = real.trained.metrics["roc_auc"]
    assert real_auc >= 0.78  # from probabilities
    generated_auc = execute(_inputs(generated_5000, spec)).trained.metrics["roc_auc"]
    assert abs(generated_auc - real_auc) <= 0.05, (real_auc, generated_auc)


def test_same_data_params_and_seed_give_the_same_model(spec: DataSpec, frame: pd.DataFrame) -> None:
    a = execute(_inputs(frame, spec, max_iter=40))
    b = execute(_inputs(frame, spec, max_iter=40))
    c = execute(_inputs(frame, spec, max_iter=40, seed=7))
    assert a.trained.metrics == b.trained.metrics
    assert a.draft.artifact_sha256 == b.draft.artifact_sha256  # byte-identical artifact
    assert a.trained.learning_curve == b.trained.learning_curve
    x = frame[spec.feature_names]
    np.testing.assert_array_equal(a.trained.model.predict_proba(x), b.trained.model.predict_proba(x))
    assert a.trained.metrics != c.trained.metrics  # the seed matters (split and CV folds)


def test_blocking_anomalies_stop_before_training(spec: DataSpec, frame: pd.DataFrame) -> None:
    with pytest.raises(ValidationFailed, match="column 'Age'") as info:
        execute(_inputs(frame.drop(columns=["Age"]), spec))
    assert [getattr(a, "kind", None) for a in info.value.anomalies] == ["missing_column"]
