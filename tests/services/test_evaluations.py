"""Production evaluations end to end: drifted traffic over HTTP, feedback, alert, retraining to review."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select, update

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ApprovalError, NotFoundError, PermissionDenied
from pipeline_core.monitors.mrm import risk_summary
from pipeline_core.results import MonitorResult, judged
from pipeline_core.results.evaluation import EvaluationReport, RiskLevel
from pipeline_core.services import deployments, governance, monitoring, runs
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow, count_payload, load_frame
from pipeline_core.services.monitoring import EvaluationError, upload_feedback
from pipeline_core.services.monitoring import _evaluations as evaluations_module
from pipeline_core.services.runs import RunWorker, model_version_for_run
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Alert, Dataset, Evaluation, ModelVersion, RetrainingRequest, Run
from pipeline_core.vocabulary import AlertStatus, CheckStatus, Space
from tests.processes import wait_for
from tests.results.stored import BEFORE_MONITORS
from tests.states import State


def _to_prod(ctx: ServiceContext, people: dict[str, Principal], state: State) -> tuple[int, int, str]:
    """The ``in_prod`` state (dora's run approved by vera), and a key of its prod deployment."""
    assert state.model_version_id is not None and state.deployment_id is not None
    assert deployments.get_deployment(ctx, SYSTEM, state.deployment_id).space == "prod"
    key = deployments.issue_key(ctx, people["dora"], state.deployment_id, label="e2e")
    return state.model_version_id, state.deployment_id, key


def _score(ctx: ServiceContext, dep_id: int, key: str, frame: pd.DataFrame, spec: DataSpec) -> dict[str, Any]:
    url = ctx.settings.scoring_url + deployments.scoring_path(dep_id)
    values = json.loads(frame[spec.feature_names].to_json(orient="values"))
    body = {"input_data": [{"fields": spec.feature_names, "values": values}]}
    response = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _drifted(n: int, seed: int) -> pd.DataFrame:
    frame = generate_german_credit(n, seed=seed)
    frame["LoanAmount"] = (frame["LoanAmount"] * 2.5).round().astype(int)  # inflation shock
    frame["Housing"] = "free"
    return frame


def test_drifted_traffic_and_bad_feedback_raise_an_alert_and_retraining_reaches_review(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State, spec: DataSpec
) -> None:
    ctx = live_ctx
    mv_id, dep_id, key = _to_prod(ctx, people, starting_state)
    before = count_payload(ctx, SYSTEM, deployment_id=dep_id)
    traffic = _drifted(400, seed=31)
    answer = _score(ctx, dep_id, key, traffic, spec)
    wait_for(
        lambda: count_payload(ctx, SYSTEM, deployment_id=dep_id) == before + 400, timeout=10, what="payload logged"
    )

    # The world changed: the true outcomes of 150 scored applicants contradict the model.
    predicted = [label for label, _ in answer["predictions"][0]["values"]]
    feedback = traffic.iloc[:150].copy()
    feedback["Risk"] = ["No Risk" if p == "Risk" else "Risk" for p in predicted[:150]]
    feedback["scoring_id"] = answer["scoring_ids"][:150]
    assert upload_feedback(ctx, people["dora"], dep_id, feedback).linked == 150

    outcome = monitoring.evaluate_deployment(ctx, people["victor"], dep_id)
    assert outcome.status == "fail" and outcome.risk_level == "high"
    by_monitor = {r.monitor: r for r in outcome.results}
    assert by_monitor["quality"].metric("roc_auc").status == "fail"  # labels flipped: AUC far below 0.6
    drift = by_monitor["drift"].details["features"]
    # 480 training records: judged by p-values (K-S, chi-square); the shifted columns beyond any doubt.
    assert drift["LoanAmount"]["statistic"] == "ks_p_value" and drift["Housing"]["statistic"] == "chi_square_p_value"
    assert drift["LoanAmount"]["value"] < 1e-12 and drift["Housing"]["value"] < 1e-12

    with ctx.db.read() as session:
        evaluation = session.get(Evaluation, outcome.evaluation_id)
        assert evaluation is not None and evaluation.space == "prod" and evaluation.created_by == "victor"
        assert evaluation.data_window["records"] == 400 and evaluation.data_window["feedback_records"] == 150
        alerts = session.execute(select(Alert).where(Alert.evaluation_id == evaluation.id)).scalars().all()
        assert "roc_auc" in {a.metric for a in alerts} and all(a.status == "open" for a in alerts)
        request = session.get(RetrainingRequest, outcome.retraining_request_id)
        assert request is not None and request.status == "open" and "roc_auc failed" in request.reason
        # Drifted records name the scored records (scoring ids of this deployment).
        assert request.drifted_records
        named = [r["scoring_id"] for r in request.drifted_records if "scoring_id" in r]
        assert set(named) <= set(answer["scoring_ids"])
    assert {a.id for a in monitoring.list_alerts(ctx, people["max"])} >= set(outcome.alerts)

    retrained = runs.retrain(ctx, people["dan"], request_id=outcome.retraining_request_id)
    assert retrained.feedback_records == 150 and retrained.drifted_records == request.drifted_records
    worker = RunWorker(ctx)
    assert worker.claim(retrained.run_id)
    assert worker.execute(retrained.run_id) == "succeeded"
    worker.stop()
    new_mv = model_version_for_run(ctx, SYSTEM, retrained.run_id)
    assert new_mv is not None and new_mv.state == "awaiting_review" and new_mv.id != mv_id
    with ctx.db.read() as session:
        dataset = session.get(Dataset, retrained.dataset_id)
        assert dataset is not None
        request = session.get(RetrainingRequest, outcome.retraining_request_id)
        assert request is not None and request.status == "launched" and request.run_id == retrained.run_id
        assert session.get(Run, retrained.run_id).created_by == "dan"  # type: ignore[union-attr]
    data = load_frame(ctx, SYSTEM, dataset)
    assert len(data) == retrained.training_records + 150
    # The appended records carry the uploaded true labels, never the model's predictions.
    assert list(data["Risk"].iloc[-150:]) == list(feedback["Risk"])
    assert (data["Risk"].iloc[-150:].to_numpy() != np.array(predicted[:150])).all()

    html = governance.validation_report(ctx, people["max"], mv_id, evaluation_id=outcome.evaluation_id)
    assert "roc_auc" in html and "Drop in accuracy" in html


def _forget_model_frames() -> None:
    """Empty the process's cache of model frames, so that the next call builds them again."""
    with evaluations_module._CACHE_LOCK:
        evaluations_module._CACHE.clear()


def test_evaluations_read_the_split_the_run_stored_which_is_the_one_validate_makes(
    ctx: ServiceContext, candidate: int
) -> None:
    """The split stored with the model version gives the very frames that re-running validate gives."""
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None and mv.split is not None
        dataset = session.get(Dataset, mv.dataset_id)
        assert dataset is not None
    split, frame = dict(mv.split), load_frame(ctx, SYSTEM, dataset)
    assert split["dataset_sha256"] == dataset.sha256 == mv.training_data_sha256 and split["n_rows"] == len(frame)
    assert (len(split["train"]), len(split["test"])) == (mv.lineage["n_train"], mv.lineage["n_test"])
    _forget_model_frames()
    stored = monitoring.model_frames(ctx, SYSTEM, candidate)
    # A version registered before migration 0010 has no split: the old path, validate again, builds it.
    with ctx.db.write() as session:
        session.execute(update(ModelVersion).where(ModelVersion.id == candidate).values(split=None))
    _forget_model_frames()
    revalidated = monitoring.model_frames(ctx, SYSTEM, candidate)
    assert revalidated is not stored
    pd.testing.assert_frame_equal(stored.reference, revalidated.reference, check_exact=True)
    pd.testing.assert_frame_equal(stored.held_out, revalidated.held_out, check_exact=True)
    assert list(stored.held_out.index) == split["test"] and list(stored.reference.index) == split["train"]


def test_a_stored_split_that_no_longer_proves_itself_stops_the_evaluation(ctx: ServiceContext, candidate: int) -> None:
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None and mv.split is not None
        train, test = list(mv.split["train"]), list(mv.split["test"])
        mv.split = {**mv.split, "train": sorted([*train[1:], test[0]]), "test": sorted([*test[1:], train[0]])}
    _forget_model_frames()
    with pytest.raises(EvaluationError, match=f"model version {candidate}: its stored split: its train positions"):
        monitoring.model_frames(ctx, SYSTEM, candidate)


def test_the_worker_keeps_the_evaluation_schedule(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State, spec: DataSpec
) -> None:
    ctx = live_ctx
    _, dep_id, key = _to_prod(ctx, people, starting_state)
    worker = RunWorker(ctx)
    assert worker.evaluate_due() == []  # no traffic yet: skipped, nothing stored
    before = count_payload(ctx, SYSTEM, deployment_id=dep_id)
    _score(ctx, dep_id, key, generate_german_credit(150, seed=5), spec)
    wait_for(
        lambda: count_payload(ctx, SYSTEM, deployment_id=dep_id) == before + 150, timeout=10, what="payload logged"
    )
    worker._next_evaluation_check = 0.0
    done = worker.evaluate_due()
    assert len(done) == 1
    worker._next_evaluation_check = 0.0
    assert worker.evaluate_due() == []  # evaluated within the interval: not due again
    ctx.settings = replace(ctx.settings, evaluation_interval=0.0)
    worker._next_evaluation_check = 0.0
    assert worker.evaluate_due() == []  # 0 turns the schedule off
    worker.stop()
    history = monitoring.list_evaluations(ctx, people["max"], deployment_id=dep_id)
    assert [e.id for e in history] == done and history[0].created_by == "system"


def test_refusals_store_nothing(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, starting_state: State
) -> None:
    ctx = live_ctx
    _, dep_id, _ = _to_prod(ctx, people, starting_state)
    with ctx.db.read() as session:
        stored = len(session.execute(select(Evaluation.id)).all())
    with pytest.raises(PermissionDenied, match="max is a manager; evaluate now needs"):
        monitoring.evaluate_deployment(ctx, people["max"], dep_id)
    with pytest.raises(monitoring.EvaluationError, match=f"deployment {dep_id} has no scored records"):
        monitoring.evaluate_deployment(ctx, people["vera"], dep_id, window=PayloadWindow(max_records=10))
    with pytest.raises(NotFoundError, match="deployment 999 does not exist"):
        monitoring.evaluate_deployment(ctx, people["vera"], 999)
    with pytest.raises(PermissionDenied, match="launch run"):
        runs.retrain(ctx, people["vera"], deployment_id=dep_id)
    with ctx.db.read() as session:
        assert len(session.execute(select(Evaluation.id)).all()) == stored


def _store_row(ctx: ServiceContext, mv_id: int, document: dict[str, Any], *, space: str = "preprod") -> int:
    """An evaluation row as an earlier version wrote it, straight into the store."""
    with ctx.db.write() as session:
        row = Evaluation(
            model_version_id=mv_id,
            deployment_id=None,
            space=space,
            data_window=dict(document.get("data_window", {"records": 120})),
            results=document,
            status=document["status"],
            created_at=utcnow(),
            created_by="pipeline",
        )
        session.add(row)
        session.flush()
        return row.id


def test_an_evaluation_stored_before_the_monitors_reads_everywhere(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    ctx, vera = live_ctx, people["vera"]
    old_id = _store_row(ctx, candidate, BEFORE_MONITORS)
    newest, *_ = monitoring.list_evaluations(ctx, vera, model_version_id=candidate)
    assert isinstance(newest, monitoring.EvaluationInfo) and newest.id == old_id
    assert monitoring.get_evaluation(ctx, vera, old_id) == newest
    with pytest.raises(FrozenInstanceError):
        newest.space = Space.PROD  # type: ignore[misc]
    assert newest.space is Space.PREPROD and newest.status is CheckStatus.FAIL and newest.records == 120
    assert newest.report.risk is None and [r.monitor for r in newest.report.monitors] == ["quality"]
    # Approvals judge it as they always did: its failed critical check needs an override.
    assert governance.failed_critical([newest]) == [f"roc_auc 0.5200 fails threshold 0.60 (evaluation {old_id})"]
    (queued,) = governance.review_queue(ctx, vera)
    sha = queued.artifact_sha256
    with pytest.raises(ApprovalError, match=rf"roc_auc 0\.5200 fails threshold 0\.60 \(evaluation {old_id}\)"):
        governance.approve(
            ctx, vera, candidate, comment="old evidence", artifact_sha256=sha, evidence=queued.evaluation_ids
        )
    html = governance.validation_report(ctx, vera, candidate, evaluation_id=old_id)
    assert "<th>Risk level</th><td>not evaluated</td>" in html and "roc_auc" in html
    (listed,) = [e for e in governance.factsheet(ctx, vera, candidate).evaluations if e["id"] == old_id]
    assert listed["risk_level"] is None and listed["status"] == "fail" and listed["records"] == 120
    with pytest.raises(NotFoundError, match="evaluation 999 does not exist"):
        monitoring.get_evaluation(ctx, vera, 999)
    with pytest.raises(NotFoundError, match=f"model version {candidate} has no evaluation 999"):
        governance.validation_report(ctx, vera, candidate, evaluation_id=999)


def test_a_stored_report_raises_typed_alerts_and_a_retraining_request(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int, starting_state: State
) -> None:
    ctx, dep_id = live_ctx, starting_state.deployment_id
    quality = MonitorResult("quality", [judged("roc_auc", 0.5, 0.6, higher=True, critical=True)], 150, 100)
    drift = MonitorResult(
        "drift",
        [],
        150,
        100,
        {
            "accuracy_drop": {"estimated_drop": 0.3, "records": [{"record": 7, "error_probability": 0.9}]},
            "data_consistency": {"records": 1, "example_records": [3]},
        },
    )
    report = EvaluationReport.judge([quality, drift], risk_summary([quality, drift]))
    outcome = monitoring.store_evaluation(
        ctx,
        people["vera"],
        model_version_id=candidate,
        deployment_id=dep_id,
        space="prod",
        data_window={"records": 150},
        report=report,
        retrain_on_failure=True,
    )
    assert outcome.report == report and outcome.status is CheckStatus.FAIL and outcome.risk_level is RiskLevel.HIGH
    stored = monitoring.get_evaluation(ctx, people["max"], outcome.evaluation_id)
    assert stored.report == report and stored.results == monitoring.results_document(report)
    (alert,) = monitoring.list_alerts(ctx, people["max"])
    assert isinstance(alert, monitoring.AlertInfo) and alert.id == outcome.alerts[0]
    assert (alert.monitor, alert.metric, alert.status, alert.value) == ("quality", "roc_auc", AlertStatus.OPEN, 0.5)
    (request,) = monitoring.list_retraining_requests(ctx, people["max"], status="open")
    assert request.id == outcome.retraining_request_id and request.reason == "roc_auc failed"
    assert request.drifted_records == report.drifted_records
    assert [r.why for r in request.drifted_records] == [
        "likely mispredicted (error probability 0.90)",
        "breaks a constraint learned from the training data",
    ]
    monitoring.acknowledge_alert(ctx, people["vera"], alert.id, comment="looking into the drop in ROC AUC now")
    assert monitoring.list_alerts(ctx, people["max"]) == []
    (acknowledged,) = monitoring.list_alerts(ctx, people["max"], status=None)
    assert acknowledged.status is AlertStatus.ACKNOWLEDGED and acknowledged.acknowledged_by == "vera"
    with pytest.raises(ValueError, match="a report or results, not both"):
        monitoring.store_evaluation(
            ctx,
            people["vera"],
            model_version_id=candidate,
            deployment_id=dep_id,
            space="prod",
            data_window={},
            report=report,
            results=report.legacy_results(),
            retrain_on_failure=False,
        )
