"""The validation report of what the real monitors found: drift, explanations and the risk summary in every section."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.explain import ExplainConfig
from pipeline_core.monitors.suite import SuiteConfig, run_monitors
from pipeline_core.reports.document import Figure, Note, Section
from pipeline_core.reports.render_html import render_html
from pipeline_core.reports.validation import EvaluationFacts, build_validation_report
from pipeline_core.results.evaluation import EvaluationReport
from tests.reports.inputs import inputs


@pytest.fixture(scope="module")
def evaluated(spec: DataSpec) -> EvaluationReport:
    from pipeline_core.params import RunParams
    from pipeline_core.pipeline import PipelineInputs, execute

    frame = generate_german_credit(2000, seed=4)  # a test split large enough for the bias scan
    state = execute(
        PipelineInputs(
            frame=frame, spec=spec, params=RunParams(max_iter=30, cv_folds=2), dataset={}, reference_schema=None
        )
    )
    model, clean = state.trained.model, state.validation.clean
    assert clean is not None

    def scored(rows: pd.DataFrame) -> pd.DataFrame:
        p = model.predict_proba(rows[spec.feature_names])[:, 1]
        return rows.assign(probability=p, prediction=np.where(p >= 0.5, "Risk", "No Risk"))

    test, train = scored(clean.iloc[state.validation.test_index]), scored(clean.iloc[state.validation.train_index])
    config = SuiteConfig(explain=ExplainConfig(n_repeats=2, background_records=20, max_evals=100, explained_records=1))
    results = run_monitors(test, train, spec=spec, model=model, labelled=test, held_out=test, config=config)
    return EvaluationReport.from_results(results)


def test_every_monitor_fills_its_section(evaluated: EvaluationReport) -> None:
    facts = EvaluationFacts(
        id=7, space="preprod", created_at=datetime(2026, 12, 1, 12, 0), data_window={"records": 400}, report=evaluated
    )
    document = build_validation_report(inputs(evaluation=facts))
    figures = [b for s in document.sections for b in _walk(s) if isinstance(b, Figure)]
    assert len(figures) == 6  # ROC, PR, calibration, scores, a per-group chart in performance and in fairness
    explain = document.section("Explainability")
    assert [b for b in explain.blocks if isinstance(b, Note)] == []
    assert any(isinstance(b, Section) and b.title.startswith("Record ") for b in explain.blocks)
    html = render_html(document)
    for word in (
        "Every test the risk level counts",
        "roc_auc",
        "Bias scan",
        "Drift of each feature against the training data",
        "Global importance",
        "Contrastive",
        "invariance",
        "dora",
    ):
        assert word in html, word


def _walk(section: Section) -> list[object]:
    out: list[object] = []
    for block in section.blocks:
        out.append(block)
        if isinstance(block, Section):
            out.extend(_walk(block))
    return out
