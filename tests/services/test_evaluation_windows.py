"""Evaluation windows filter payload and feedback alike: by time and by upload batch; one batch judged alone."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DataError
from pipeline_core.services import deployments, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow, store_payload_frame
from pipeline_core.store.db import utcnow
from pipeline_core.vocabulary import CheckStatus

DI_SEX_LABELLED = "disparate_impact[Sex|labelled]"


def _pick(scored: pd.DataFrame, *, sex: str, favoured: bool, n: int, skip: int = 0) -> pd.DataFrame:
    chosen = scored[(scored["Sex"] == sex) & ((scored["prediction"] == "No Risk") == favoured)]
    assert len(chosen) >= skip + n
    return chosen.iloc[skip : skip + n]


def labelled_batches(ctx: ServiceContext, mv_id: int, spec: DataSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two labelled batches the deployed model scores so: ``fair``, everyone favoured (DI 1); ``biased``, half
    the women refused and every man favoured (DI 0.5)."""
    frames = monitoring.model_frames(ctx, SYSTEM, mv_id)
    scored = monitoring.score_frame(frames.model, generate_german_credit(4_000, seed=41), spec)
    fair = pd.concat([_pick(scored, sex="female", favoured=True, n=60), _pick(scored, sex="male", favoured=True, n=60)])
    biased = pd.concat(
        [
            _pick(scored, sex="female", favoured=True, n=30, skip=60),
            _pick(scored, sex="female", favoured=False, n=30),
            _pick(scored, sex="male", favoured=True, n=60, skip=60),
        ]
    )
    return fair[[*spec.feature_names, spec.target]], biased[[*spec.feature_names, spec.target]]


def store_scored_payload(ctx: ServiceContext, dep_id: int, spec: DataSpec, n: int = 400) -> int:
    """``n`` generated records scored by the deployed model an hour ago, stored as the payload logger would;
    returns the deployed model version."""
    mv_id = deployments.get_deployment(ctx, SYSTEM, dep_id).model_version_id
    frames = monitoring.model_frames(ctx, SYSTEM, mv_id)
    payload = monitoring.score_frame(frames.model, generate_german_credit(n, seed=40), spec)
    store_payload_frame(
        ctx,
        SYSTEM,
        deployment_id=dep_id,
        model_version_id=mv_id,
        frame=payload[[*spec.feature_names, "prediction", "probability"]],
        request_id="window-payload",
        created_at=utcnow() - timedelta(hours=1),
    )
    return mv_id


@pytest.fixture
def two_batches(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, spec: DataSpec
) -> tuple[str, str, datetime]:
    """Payload scored an hour ago, then the fair batch, then (after the returned instant) the biased one."""
    ctx = live_ctx
    mv_id = store_scored_payload(ctx, in_prod, spec)
    fair, biased = labelled_batches(ctx, mv_id, spec)
    first = monitoring.upload_feedback(ctx, people["dora"], in_prod, fair, source="fair.csv")
    between = utcnow()
    while utcnow() <= between:  # the next upload is stamped strictly after ``between``
        pass
    second = monitoring.upload_feedback(ctx, people["dora"], in_prod, biased, source="biased.csv")
    return first.batch_id, second.batch_id, between


def _evaluate(ctx: ServiceContext, who: Principal, dep_id: int, window: PayloadWindow) -> monitoring.EvaluationOutcome:
    return monitoring.evaluate_deployment(ctx, who, dep_id, window=window)


def test_one_biased_batch_judged_alone_fails_its_labelled_di_and_raises_an_alert(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, two_batches: tuple[str, str, datetime]
) -> None:
    fair_id, biased_id, _ = two_batches
    biased = _evaluate(live_ctx, people["vera"], in_prod, PayloadWindow(feedback_batch=biased_id))
    fairness = biased.report.monitor("fairness")
    assert fairness is not None
    di = fairness.metric(DI_SEX_LABELLED)
    assert di.status == CheckStatus.FAIL and di.value == pytest.approx(0.5) and di.critical and di.records == 60
    assert di.interval is not None and di.interval[0] < 0.5 < di.interval[1]
    assert biased.status == CheckStatus.FAIL
    alerts = {a.metric for a in monitoring.list_alerts(live_ctx, SYSTEM) if a.id in biased.alerts}
    assert DI_SEX_LABELLED in alerts
    stored = monitoring.get_evaluation(live_ctx, SYSTEM, biased.evaluation_id)
    assert stored.data_window["feedback_batch"] == biased_id and stored.feedback_records == 120

    fair = _evaluate(live_ctx, people["vera"], in_prod, PayloadWindow(feedback_batch=fair_id))
    assert fair.report.monitor("fairness").metric(DI_SEX_LABELLED).value == pytest.approx(1.0)  # type: ignore[union-attr]
    both = _evaluate(live_ctx, people["vera"], in_prod, PayloadWindow())
    # 90 of 120 women favoured, 120 of 120 men: 0.75 over both batches.
    assert both.report.monitor("fairness").metric(DI_SEX_LABELLED).value == pytest.approx(0.75)  # type: ignore[union-attr]
    assert monitoring.get_evaluation(live_ctx, SYSTEM, both.evaluation_id).feedback_records == 240
    # The whole-window check reads the same payload each time: the feedback batch does not move it.
    whole = {
        e.report.monitor("fairness").metric("disparate_impact[Sex]").value  # type: ignore[union-attr]
        for e in (biased, fair, both)
    }
    assert len(whole) == 1


def test_since_and_until_filter_the_feedback_by_upload_time(
    live_ctx: ServiceContext,
    people: dict[str, Principal],
    in_prod: int,
    spec: DataSpec,
    two_batches: tuple[str, str, datetime],
) -> None:
    _, _, between = two_batches
    before = monitoring.feedback_frame(live_ctx, SYSTEM, in_prod, spec, until=between)
    after = monitoring.feedback_frame(live_ctx, SYSTEM, in_prod, spec, since=between)
    assert (len(before), len(after)) == (120, 120)
    early = _evaluate(live_ctx, people["vera"], in_prod, PayloadWindow(until=between))
    assert monitoring.get_evaluation(live_ctx, SYSTEM, early.evaluation_id).feedback_records == 120
    assert early.report.monitor("fairness").metric(DI_SEX_LABELLED).value == pytest.approx(1.0)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("window", "match"),
    [
        (lambda: PayloadWindow(feedback_batch="no-such-batch"), r"feedback batch 'no-such-batch' does not exist"),
        (
            lambda: PayloadWindow(since=datetime(2026, 3, 2), until=datetime(2026, 3, 1)),
            r"since 2026-03-02T00:00:00 is after until 2026-03-01T00:00:00",
        ),
        (lambda: PayloadWindow(max_records=0), r"max_records 0 is not a whole number >= 1"),
        (lambda: PayloadWindow(feedback_batch="  "), r"feedback_batch is blank"),
    ],
    ids=["unknown-batch", "since-after-until", "no-records", "blank-batch"],
)
def test_a_window_that_cannot_be_read_is_refused_naming_the_value(
    live_ctx: ServiceContext, people: dict[str, Principal], in_prod: int, window: object, match: str
) -> None:
    with pytest.raises(DataError, match=match):
        _evaluate(live_ctx, people["vera"], in_prod, window())  # type: ignore[operator]
    assert np.isscalar(in_prod)


@given(st.datetimes(), st.datetimes(), st.one_of(st.none(), st.text(max_size=8)))
def test_any_window_is_refused_exactly_when_it_cannot_hold_a_record(
    since: datetime, until: datetime, batch: str | None
) -> None:
    bad = since > until or (batch is not None and not batch.strip())
    if bad:
        with pytest.raises(DataError, match=r"since .* is after until|feedback_batch is blank"):
            PayloadWindow(since=since, until=until, feedback_batch=batch)
    else:
        window = PayloadWindow(since=since, until=until, feedback_batch=batch)
        assert ("feedback_batch" in window.to_dict()) == (batch is not None)
        assert window.describe().startswith(f"from {since:%Y-%m-%d %H:%M:%S} until {until:%Y-%m-%d %H:%M:%S}")
