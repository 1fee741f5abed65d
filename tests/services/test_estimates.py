"""The estimate beside what came true: each evaluation's window joined to the feedback that labels it, by scoring id."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.errors import NotFoundError, PermissionDenied
from pipeline_core.services import deployments, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow, store_payload_frame
from pipeline_core.services.monitoring import estimate_history, evaluate_deployment, model_frames, score_frame

DAY = datetime(2026, 3, 1)


def _log(ctx: ServiceContext, dep_id: int, mv_id: int, *, seed: int, at: datetime, request: str) -> pd.DataFrame:
    """300 scored records logged as one request at ``at``: the frame with scoring ids and labels drawn from p."""
    frames = model_frames(ctx, SYSTEM, mv_id)
    spec = frames.spec
    scored = score_frame(frames.model, generate_german_credit(300, seed=seed), spec)
    store_payload_frame(
        ctx,
        SYSTEM,
        deployment_id=dep_id,
        model_version_id=mv_id,
        frame=scored[[*spec.feature_names, "prediction", "probability"]],
        request_id=request,
        created_at=at,
    )
    drawn = np.random.default_rng(seed).random(len(scored)) < scored["probability"].to_numpy()
    return scored.assign(
        scoring_id=[f"{request}-{i}" for i in range(len(scored))],
        Risk=np.where(drawn, spec.positive_label, spec.favourable_label),
    )


def _window(day: int) -> PayloadWindow:
    return PayloadWindow(since=DAY + timedelta(days=day), until=DAY + timedelta(days=day, hours=23))


def test_realised_values_join_the_feedback_of_each_window_by_scoring_id(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    ctx, dora = live_ctx, people["dora"]
    mv_id = deployments.get_deployment(ctx, SYSTEM, in_prod).model_version_id
    first = _log(ctx, in_prod, mv_id, seed=41, at=DAY + timedelta(days=1, hours=2), request="estimatea")
    second = _log(ctx, in_prod, mv_id, seed=42, at=DAY + timedelta(days=2, hours=2), request="estimateb")
    evaluated = [evaluate_deployment(ctx, dora, in_prod, window=_window(day)).evaluation_id for day in (1, 2)]

    before = [h for h in estimate_history(ctx, people["max"], in_prod) if h.evaluation_id in evaluated]
    assert [h.evaluation_id for h in before] == evaluated  # oldest first
    for h in before:
        assert h.refused is None and h.records == 300 and h.estimated_roc_auc is not None
        assert h.estimated_roc_auc_interval is not None and h.estimated_accuracy_interval is not None
        assert (h.labelled, h.realised_roc_auc, h.realised_accuracy, h.roc_auc_covered) == (0, None, None, None)

    # 200 records of the first window labelled by scoring id; 40 of the second, every one "No Risk".
    labels = first.iloc[:200]
    monitoring.upload_feedback(ctx, dora, in_prod, labels[["scoring_id", "Risk"]])
    favourable = second[second["prediction"] == "No Risk"].iloc[:40].assign(Risk="No Risk")
    monitoring.upload_feedback(ctx, dora, in_prod, favourable[["scoring_id", "Risk"]])
    # Unlinked feedback labels no record of any window.
    unlinked = generate_german_credit(30, seed=43)
    monitoring.upload_feedback(ctx, dora, in_prod, unlinked)

    after = {h.evaluation_id: h for h in estimate_history(ctx, dora, in_prod)}
    one, two = after[evaluated[0]], after[evaluated[1]]
    y = (labels["Risk"] == "Risk").to_numpy()
    p = labels["probability"].to_numpy()
    assert one.labelled == 200
    assert one.realised_roc_auc == pytest.approx(roc_auc_score(y, p))
    assert one.realised_accuracy == pytest.approx(float((y == (p >= 0.5)).mean()))
    # The estimate on the whole window beside the truth on two thirds of it: labels drawn from p agree.
    assert one.estimated_roc_auc == pytest.approx(one.realised_roc_auc, abs=0.06)
    assert one.roc_auc_covered is not None
    assert two.labelled == 40 and two.realised_roc_auc is None  # one class: no AUC
    assert two.realised_accuracy == pytest.approx(1.0)  # every one predicted "No Risk", and so it was
    assert (one.estimated_roc_auc, one.estimated_accuracy) == (
        before[0].estimated_roc_auc,
        before[0].estimated_accuracy,
    )


def test_a_window_of_the_newest_records_counts_only_their_labels(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int
) -> None:
    ctx, dora = live_ctx, people["dora"]
    mv_id = deployments.get_deployment(ctx, SYSTEM, in_prod).model_version_id
    old = _log(ctx, in_prod, mv_id, seed=51, at=DAY + timedelta(days=5), request="estimateold")
    new = _log(ctx, in_prod, mv_id, seed=52, at=DAY + timedelta(days=6), request="estimatenew")
    window = PayloadWindow(until=DAY + timedelta(days=7), max_records=300)
    evaluation = evaluate_deployment(ctx, dora, in_prod, window=window).evaluation_id
    monitoring.upload_feedback(ctx, dora, in_prod, pd.concat([old.iloc[:50], new.iloc[:70]])[["scoring_id", "Risk"]])
    found = next(h for h in estimate_history(ctx, dora, in_prod) if h.evaluation_id == evaluation)
    assert found.records == 300 and found.labelled == 70  # the old request is outside the newest 300


def test_a_pre_prod_evaluation_is_its_own_realisation(
    live_ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    dep = next(d for d in deployments.list_deployments(live_ctx, SYSTEM) if d.model_version_id == candidate)
    (row,) = estimate_history(live_ctx, people["vera"], dep.id)
    stored = monitoring.list_evaluations(live_ctx, SYSTEM, deployment_id=dep.id)[0]
    q = stored.report.monitor("quality")
    assert q is not None
    assert row.labelled == q.n_records == 120
    assert row.realised_roc_auc == q.metric("roc_auc").value and row.realised_accuracy == q.metric("accuracy").value
    # The demo model's probabilities pass the calibration check on its test split: it is estimated.
    assert row.refused is None and row.estimated_roc_auc is not None


@pytest.mark.parametrize(
    ("who", "deployment", "error", "match"),
    [
        ("max", 9999, NotFoundError, r"deployment 9999 does not exist"),
        ("nobody", 1, PermissionDenied, r"nobody"),
    ],
)
def test_refusals_name_what_is_refused(
    ctx: ServiceContext, people: dict[str, Principal], who: str, deployment: int, error: type[Exception], match: str
) -> None:
    actor = people.get(who, Principal("nobody", "no-such-role"))
    with pytest.raises(error, match=match):
        estimate_history(ctx, actor, deployment)
