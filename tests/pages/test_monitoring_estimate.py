"""The Monitoring page's performance estimate: chart and table of estimate and realised values, refusals said."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest

from dashboard.monitoring_estimate import estimate_figure, estimate_rows
from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.services import deployments, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow, store_payload_frame
from pipeline_core.services.monitoring import EstimateVsRealised, model_frames, score_frame
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner

DAY = datetime(2026, 4, 1)
TITLE = "Performance without labels"


def _section(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.value for s in at.subheader]


def _evaluated_with_labels(ctx: ServiceContext, people: dict[str, Principal], dep_id: int) -> int:
    """300 scored records in prod, evaluated, then 150 of them labelled (labels drawn from the probabilities)."""
    mv_id = deployments.get_deployment(ctx, SYSTEM, dep_id).model_version_id
    frames = model_frames(ctx, SYSTEM, mv_id)
    scored = score_frame(frames.model, generate_german_credit(300, seed=61), frames.spec)
    store_payload_frame(
        ctx,
        SYSTEM,
        deployment_id=dep_id,
        model_version_id=mv_id,
        frame=scored[[*frames.spec.feature_names, "prediction", "probability"]],
        request_id="pageestimate",
        created_at=DAY + timedelta(hours=1),
    )
    window = PayloadWindow(since=DAY, until=DAY + timedelta(hours=23))
    outcome = monitoring.evaluate_deployment(ctx, people["dora"], dep_id, window=window)
    drawn = np.random.default_rng(61).random(150) < scored["probability"].to_numpy()[:150]
    labels = scored.iloc[:150].assign(
        scoring_id=[f"pageestimate-{i}" for i in range(150)], Risk=np.where(drawn, "Risk", "No Risk")
    )
    monitoring.upload_feedback(ctx, people["dora"], dep_id, labels[["scoring_id", "Risk"]])
    return outcome.evaluation_id


def test_no_estimate_yet_says_what_to_do(page: PageRunner, in_prod: int) -> None:
    at = page("monitoring", "vera")
    assert not at.exception and TITLE in _section(at)
    assert at.info[-1].value == (
        "No evaluation of this deployment has estimated its performance yet: press Evaluate now."
    )


def test_the_section_shows_estimate_and_realised_values(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    evaluation = _evaluated_with_labels(live_ctx, people, in_prod)
    (expected,) = monitoring.estimate_history(live_ctx, SYSTEM, in_prod)
    for who in ("dora", "vera"):
        at = page("monitoring", who)
        assert not at.exception and _section(at)[-1] == TITLE
        rows = at.dataframe[-1].value.to_dict(orient="records")
        assert len(rows) == 1
        row = rows[0]
        assert row["evaluation"] == evaluation and row["records"] == 300 and row["labelled"] == 150
        assert expected.estimated_roc_auc is not None and expected.realised_roc_auc is not None
        assert expected.estimated_roc_auc_interval is not None
        lower, upper = expected.estimated_roc_auc_interval
        assert row["estimated ROC AUC [95%]"] == f"{expected.estimated_roc_auc:.4f} [{lower:.3f}, {upper:.3f}]"
        assert row["realised ROC AUC"] == pytest.approx(round(expected.realised_roc_auc, 4))
        assert row["not estimated because"] == "–"
        assert row["within it"] == ("yes" if expected.roc_auc_covered else "no")
        assert row["expected on the labelled"].count("–") == 1
        assert at.get("plotly_chart") and not [w for w in at.warning if "did not estimate" in w.value]
        assert_readable(at, f"monitoring estimate as {who}")


def test_a_refused_estimate_says_why(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    evaluation = _evaluated_with_labels(live_ctx, people, in_prod)
    # The same evaluation stored again with its estimate refused, as a badly calibrated model's would be.
    stored = monitoring.get_evaluation(live_ctx, SYSTEM, evaluation)
    reason = "the model is badly calibrated on 120 held-out records: expected calibration error 0.210 > 0.100"
    monitors = [
        replace(
            r,
            metrics=[replace(m, value=None, interval=None) for m in r.metrics],
            details={**r.details, "refused": reason, "confusion": {}},
        )
        if r.monitor == "estimate"
        else r
        for r in stored.report.monitors
    ]
    refused = monitoring.store_evaluation(
        live_ctx,
        people["dora"],
        model_version_id=stored.model_version_id,
        deployment_id=in_prod,
        space=stored.space,
        data_window=dict(stored.data_window),
        report=replace(stored.report, monitors=tuple(monitors)),
        retrain_on_failure=False,
    )
    at = page("monitoring", "vera")
    assert not at.exception
    assert f"Evaluation {refused.evaluation_id} did not estimate performance: {reason}." in [
        w.value for w in at.warning
    ]
    rows = at.dataframe[-1].value.to_dict(orient="records")
    assert [r["evaluation"] for r in rows] == [refused.evaluation_id, evaluation]  # newest first
    assert rows[0]["not estimated because"] == reason and rows[0]["estimated ROC AUC [95%]"] == "–"
    assert rows[0]["labelled"] == 150  # the labels are the window's, estimated or not


def test_the_figure_draws_the_band_the_estimate_and_the_realised_points() -> None:
    at = datetime(2026, 5, 1, 12)
    history = [
        EstimateVsRealised(1, at, 1, 500, 0.74, (0.70, 0.78), 0.7, (0.66, 0.74), None, 0, None, None),
        EstimateVsRealised(2, at + timedelta(days=1), 1, 500, 0.72, (0.68, 0.76), 0.69, None, None, 90, 0.8, 0.71),
        EstimateVsRealised(3, at + timedelta(days=2), 1, 40, None, None, None, None, "too few", 0, None, None),
    ]
    figure = estimate_figure(history)
    band, line, points = figure.data
    assert list(band.y) == [0.78, 0.76, 0.68, 0.70] and band.fill == "toself" and band.mode == "lines"
    assert list(line.y) == [0.74, 0.72] and list(points.y) == [0.8]
    rows = estimate_rows(history)
    assert [r["evaluation"] for r in rows] == [3, 2, 1]
    # 90 of 500 labelled: the band widens by sqrt(500 / 90), to 0.72 -+ 0.0943: 0.8 is inside it.
    assert rows[1]["expected on the labelled"] == "0.626 – 0.814" and rows[1]["within it"] == "yes"
    assert rows[2]["within it"] is None and rows[2]["expected on the labelled"] is None
    assert rows[0]["not estimated because"] == "too few" and rows[0]["estimated ROC AUC [95%]"] is None
    assert rows[2]["estimated ROC AUC [95%]"] == "0.7400 [0.700, 0.780]"
    assert rows[1]["estimated accuracy [95%]"] == "0.6900"  # no interval stored: the value alone
