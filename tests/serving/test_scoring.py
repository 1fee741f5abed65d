"""The scorer in-process: the fast path gives the pipeline's exact probabilities; every model type scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline_core.data.spec import DataSpec
from pipeline_core.params import MODEL_TYPES, RunParams
from pipeline_core.scoring import LoadedModel, parse_payload, score
from pipeline_core.stages.prepare import build_preprocessor
from pipeline_core.stages.train import build_estimator


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_scores_equal_the_pipeline_for_every_model_type(spec: DataSpec, frame: pd.DataFrame, model_type: str) -> None:
    params = RunParams(model_type=model_type, max_iter=30, n_estimators=20)  # type: ignore[arg-type]
    model = build_estimator(build_preprocessor(spec, params.model_type), params)
    model.fit(frame[spec.feature_names], frame[spec.target])
    loaded = LoadedModel.build(model, spec)
    assert (loaded.fast is not None) == (model_type == "hgb")
    rows = frame[spec.feature_names].iloc[:40].copy()
    rows.loc[rows.index[0], "Housing"] = "boat"  # unseen: scores, flagged
    payload = {"input_data": [{"fields": spec.feature_names, "values": json.loads(rows.to_json(orient="values"))}]}
    fields, values = parse_payload(payload, spec, max_rows=100)
    result = score(loaded, fields, values)
    expected = model.predict_proba(rows)
    if model_type == "hgb":  # the fast path: bit for bit
        np.testing.assert_array_equal(np.array(result.probabilities), expected)
    else:  # the forest sums its trees in parallel, in no fixed order: equal to the last bits
        np.testing.assert_allclose(np.array(result.probabilities), expected, rtol=1e-12, atol=1e-15)
    assert result.warnings == [{"record": 0, "field": "Housing", "value": "boat", "issue": "unseen_category"}]
    assert len(result.scoring_ids) == 40 and result.scoring_ids[3] == f"{result.request_id}-3"


def test_a_number_outside_the_training_range_is_flagged_and_one_inside_is_not(
    spec: DataSpec, frame: pd.DataFrame
) -> None:
    params = RunParams(model_type="hgb", max_iter=10)
    model = build_estimator(build_preprocessor(spec, params.model_type), params)
    model.fit(frame[spec.feature_names], frame[spec.target])
    loaded = LoadedModel.build(model, spec, training_ranges={"Age": (20.0, 70.0), "Sex": (0.0, 1.0)})
    assert loaded.training_ranges == {"Age": (20.0, 70.0)}  # numeric features only
    rows = frame[spec.feature_names].iloc[:3].copy()
    rows["Age"] = [20, 70, 71]
    payload = {"input_data": [{"fields": spec.feature_names, "values": json.loads(rows.to_json(orient="values"))}]}
    result = score(loaded, *parse_payload(payload, spec, max_rows=10))
    assert result.warnings == [
        {"record": 2, "field": "Age", "value": 71, "issue": "outside_training_range", "training_range": [20.0, 70.0]}
    ]
    assert score(LoadedModel.build(model, spec), *parse_payload(payload, spec, max_rows=10)).warnings == []
