"""Issue 16, findings 8 and 9: production evidence is whole (stored model tests in MRM) and like-for-like.

A production evaluation's risk summary counts the served version's stored model tests, as the
pre-prod one counts its run's. "Compare with production" scores the candidate and the production
model on the same records, and says so when both are the same artifact.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sklearn.metrics import roc_auc_score
from sqlalchemy import select

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.model_tests.results import ModelTestReport
from pipeline_core.services import deployments, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import count_payload
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import ModelTestRun, ModelVersion
from pipeline_core.vocabulary import CheckStatus, ModelState
from tests.processes import wait_for
from tests.services.helpers import copy_version, make_candidate
from tests.states import State


def _serve(ctx: ServiceContext, people: dict[str, Principal], dep_id: int, rows: int, spec: DataSpec) -> None:
    """``rows`` applicants scored by the prod deployment over HTTP, their payload logged."""
    key = deployments.issue_key(ctx, people["dora"], dep_id, label="evidence")
    before = count_payload(ctx, SYSTEM, deployment_id=dep_id)
    frame = generate_german_credit(rows, seed=41)
    values = json.loads(frame[spec.feature_names].to_json(orient="values"))
    response = httpx.post(
        ctx.settings.scoring_url + deployments.scoring_path(dep_id),
        json={"input_data": [{"fields": spec.feature_names, "values": values}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    wait_for(lambda: count_payload(ctx, SYSTEM, deployment_id=dep_id) == before + rows, timeout=10, what="payload")


def _plant_failed_invariance(ctx: ServiceContext, mv_id: int) -> int:
    """The served version's stored model tests again, its invariance test now failing: the newest run."""
    with ctx.db.write() as session:
        stored = session.execute(
            select(ModelTestRun).where(ModelTestRun.model_version_id == mv_id).order_by(ModelTestRun.id.desc())
        ).scalars()
        report = ModelTestReport.from_dict(next(iter(stored)).results).to_dict()
        for verdict in report["verdicts"]:
            if verdict["name"] == "invariance":
                verdict["status"], verdict["summary"] = "fail", "predictions flip when Sex changes"
        row = ModelTestRun(
            model_version_id=mv_id,
            run_id=None,
            status="warn",
            seconds=0.0,
            results=report,
            created_by="dora",
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return row.id


def test_a_production_evaluation_counts_the_served_versions_failing_model_test(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State, spec: DataSpec
) -> None:
    ctx, mv_id = live_ctx, starting_state.model_version_id
    assert mv_id is not None
    tested = _plant_failed_invariance(ctx, mv_id)
    _serve(ctx, people, in_prod, 150, spec)
    outcome = monitoring.evaluate_deployment(ctx, people["victor"], in_prod)
    risk = outcome.report.risk
    assert risk is not None
    failed = [(e.source, e.name) for e in risk.failed]
    assert ("model_tests", "invariance") in failed  # before the fix: production MRM said "failed 0" here
    assert {e.name for e in risk.entries if e.source == "model_tests"} >= {"invariance"}
    counts = risk.counts
    assert counts.passed + counts.warned + counts.failed + counts.unjudged == counts.run == len(risk.entries)
    assert counts.passed == sum(e.status == CheckStatus.PASS for e in risk.entries)  # a warning is no pass
    stored = monitoring.get_evaluation(ctx, people["vera"], outcome.evaluation_id)
    assert stored.data_window["model_test_run_id"] == tested
    assert stored.report.risk == risk


@pytest.fixture
def retrained(live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, tmp_path: Path) -> int:
    """A new candidate of the same model, trained on other data, while dora's first version serves in prod."""
    return make_candidate(live_ctx, people["dora"], tmp_path, seed=23)


def test_compare_with_production_scores_both_models_on_the_same_records(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    in_prod: int,
    retrained: int,
    starting_state: State,
    spec: DataSpec,
) -> None:
    ctx, vera = live_ctx, people["vera"]
    found = monitoring.compare_with_production(ctx, vera, retrained)
    assert found is not None and not found.identical
    assert found.candidate.model_version_id == retrained
    assert (found.production.model_version_id, found.production.deployment_id) == (
        starting_state.model_version_id,
        in_prod,
    )
    # No feedback yet: only the held-out split is compared, and the page can say why.
    assert found.feedback is None and found.no_feedback == f"deployment {in_prod} (prod) has no labelled feedback yet"
    held_out = found.held_out
    assert held_out is not None
    split = monitoring.model_frames(ctx, vera, retrained).held_out
    assert held_out.records == len(split) and {d.records for d in held_out.differences} == {len(split)}
    assert held_out.production_trained_on is None  # production trained on other data
    auc = held_out.difference("roc_auc")
    # The candidate's side is its pre-prod evaluation's ROC AUC: that evaluation scored the same split.
    (preprod,) = monitoring.list_evaluations(ctx, vera, model_version_id=retrained)
    quality = preprod.report.monitor("quality")
    assert quality is not None and auc.candidate == pytest.approx(quality.metric("roc_auc").value)
    # Production's side is production's model on those very records, not its own traffic.
    production = monitoring.model_frames(ctx, vera, found.production.model_version_id).model
    positive = split[spec.target] == spec.positive_label
    expected = roc_auc_score(positive, production.predict_proba(split[spec.feature_names])[:, 1])
    assert auc.production == pytest.approx(expected)
    assert auc.candidate is not None and auc.production is not None and auc.difference is not None
    assert auc.difference == pytest.approx(auc.candidate - auc.production) and auc.difference != 0
    assert auc.low is not None and auc.high is not None and auc.low <= auc.difference <= auc.high

    labelled = generate_german_credit(130, seed=77)
    assert monitoring.upload_feedback(ctx, people["dora"], in_prod, labelled).records == 130
    again = monitoring.compare_with_production(ctx, vera, retrained)
    assert again is not None and again.feedback is not None and again.no_feedback == ""
    assert again.feedback.records == 130 and {d.records for d in again.feedback.differences} == {130}
    assert again.feedback.data == f"labelled feedback of the prod deployment {in_prod}"
    assert again.feedback.window.startswith("feedback records ")
    assert again.held_out == held_out  # seeded: the same records give the same interval


def test_identical_artifacts_are_said_so_and_nothing_is_scored(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State
) -> None:
    with live_ctx.db.write() as session:
        live = session.get(ModelVersion, starting_state.model_version_id)
        assert live is not None
        same = copy_version(session, live, state=ModelState.AWAITING_REVIEW).id
    found = monitoring.compare_with_production(live_ctx, people["vera"], same)
    assert found is not None and found.identical and found.no_feedback == "identical artifacts"
    assert (found.held_out, found.feedback) == (None, None)
    assert found.candidate.artifact_sha256 == found.production.artifact_sha256


def test_nothing_in_production_compares_with_nothing(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    assert monitoring.compare_with_production(live_ctx, people["vera"], candidate) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"favourable_label": "Risk"},
            "production model version 9 predicts Risk='No Risk', the candidate Risk='Risk': "
            "their scores do not compare",
        ),
        (
            {"features": "extra"},
            "production model version 9 needs features the candidate's records lack: Income",
        ),
    ],
    ids=["other-label", "missing-feature"],
)
def test_models_that_answer_different_questions_are_not_compared(
    spec: DataSpec, change: dict[str, str], message: str
) -> None:
    from dataclasses import replace

    from pipeline_core.data.spec import FeatureSpec
    from pipeline_core.services.monitoring import EvaluationError
    from pipeline_core.services.monitoring._comparison import _same_question

    if change.get("features") == "extra":
        theirs = replace(spec, features=(*spec.features, FeatureSpec("Income", "numeric")))
    else:
        theirs = replace(spec, favourable_label=change["favourable_label"])
    with pytest.raises(EvaluationError, match=message.replace("(", r"\(")):
        _same_question(spec, theirs, production=9)
