"""The shadow comparison: both models on the production records the shadow answered, figures checked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.errors import NotFoundError
from pipeline_core.monitors.estimate import estimate_performance
from pipeline_core.results.evidence import performance_estimate
from pipeline_core.services import monitoring
from pipeline_core.services.authz import SYSTEM
from tests.serving.shadowed import shadowed
from tests.states import States


def test_both_models_on_identical_traffic(states: States, tmp_path: Path) -> None:
    applicants = generate_german_credit(150, seed=41).reset_index(drop=True)
    with shadowed(states, tmp_path) as s:
        max_ = s.people["max"]
        empty = monitoring.shadow_comparison(s.ctx, max_, s.shadow.id)
        assert (empty.records, empty.missing, empty.report.agreement_rate) == (0, 0, None)
        answers = [s.post(applicants.iloc[i : i + 50]) for i in range(0, 150, 50)]
        s.settle()
        ids = [sid for a in answers for sid in a.json()["scoring_ids"]]
        production = [v for a in answers for v in a.json()["predictions"][0]["values"]]
        labelled = 60
        feedback = pd.DataFrame({"scoring_id": ids[:labelled], s.spec.target: applicants[s.spec.target][:labelled]})
        assert monitoring.upload_feedback(s.ctx, s.people["dora"], s.prod, feedback).linked == labelled

        found = monitoring.shadow_comparison(s.ctx, max_, s.shadow.id)
        assert (found.records, found.production_records, found.missing) == (150, 150, 0)
        assert found.production_model_version_id != found.shadow.model_version_id
        frames = monitoring.model_frames(s.ctx, SYSTEM, s.shadow.model_version_id)
        own = monitoring.score_frame(frames.model, applicants, frames.spec)
        prod_labels = np.array([p[0] for p in production], dtype=object)
        assert found.report.agreed == int((prod_labels == own["prediction"].to_numpy()).sum())
        assert 0 < found.report.agreed < 150  # two different models: they agree mostly, not always

        truth = applicants[s.spec.target][:labelled]
        risk = truth == s.spec.positive_label
        positive = ["No Risk", "Risk"].index(s.spec.positive_label)  # the response lists the model's classes in order
        prod_p = np.array([p[1][positive] for p in production])[:labelled]
        realised_prod, realised_shadow = found.report.realised_production, found.report.realised_shadow
        assert realised_prod is not None and realised_shadow is not None and found.report.labelled == labelled
        assert realised_prod.roc_auc == pytest.approx(roc_auc_score(risk, prod_p))
        assert realised_prod.accuracy == pytest.approx(accuracy_score(truth, prod_labels[:labelled]))
        assert realised_shadow.roc_auc == pytest.approx(roc_auc_score(risk, own["probability"][:labelled]))
        assert realised_shadow.accuracy == pytest.approx(accuracy_score(truth, own["prediction"][:labelled]))

        sex = next(g for g in found.report.fairness if g.attribute == "Sex")
        women, men = (applicants["Sex"] == "female").to_numpy(), (applicants["Sex"] == "male").to_numpy()
        favoured = prod_labels == s.spec.favourable_label
        assert sex.production == pytest.approx(favoured[women].mean() / favoured[men].mean())
        shadow_favoured = (own["prediction"] == s.spec.favourable_label).to_numpy()
        assert sex.shadow == pytest.approx(shadow_favoured[women].mean() / shadow_favoured[men].mean())
        assert (sex.monitored_records, sex.reference_records) == (int(women.sum()), int(men.sum()))

        assert sum(found.report.histogram.production) == sum(found.report.histogram.shadow) == 150
        # The shadow's estimate is the evaluations' own, on its answers, checked against its own held-out split.
        expected = performance_estimate(estimate_performance(own, frames.held_out, spec=frames.spec))
        assert expected is not None and not expected.refused
        assert found.estimated_shadow.roc_auc == pytest.approx(expected.roc_auc)
        assert found.estimated_shadow.roc_auc_interval == pytest.approx(expected.roc_auc_interval)
        assert found.estimated_shadow.accuracy == pytest.approx(expected.accuracy)
        assert found.estimated_shadow.note.startswith("estimated from the probabilities of 150 records")
        assert found.estimated_production.roc_auc is not None

        # Requests the shadow never answered (its queue was full, its model failed) are counted, not compared.
        s.registry.shadow = lambda _deployment_id: None  # type: ignore[method-assign,assignment]  # as if never handed over
        s.post(applicants.iloc[:10])
        s.logger.flush()
        later = monitoring.shadow_comparison(s.ctx, max_, s.shadow.id)
        assert (later.records, later.production_records, later.missing) == (150, 160, 10)


def test_an_unknown_shadow_is_not_found(states: States, tmp_path: Path) -> None:
    with shadowed(states, tmp_path) as s, pytest.raises(NotFoundError, match="shadow 999 does not exist"):
        monitoring.shadow_comparison(s.ctx, s.people["vera"], 999)
