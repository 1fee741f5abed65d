"""Payload windows over columnar chunks: by time, by model version, newest records first when capped."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from pipeline_core.errors import DataError
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import (
    PayloadWindow,
    count_payload,
    existing_scoring_ids,
    read_payload,
    store_payload_frame,
)

T0 = datetime(2026, 3, 1, 9, 0)


def _frame(ages: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Age": ages,
            "Job": ["skilled"] * len(ages),
            "prediction": ["No Risk"] * len(ages),
            "probability": [0.1] * len(ages),
        }
    )


@pytest.fixture
def stored(ctx: ServiceContext) -> ServiceContext:
    for hour, (mv, ages) in enumerate([(1, [20, 21]), (1, [30, 31, 32]), (2, [40]), (2, [50, 51])]):
        store_payload_frame(
            ctx,
            SYSTEM,
            deployment_id=7,
            model_version_id=mv,
            frame=_frame(ages),
            request_id=f"r{hour}",
            created_at=T0 + timedelta(hours=hour),
        )
    store_payload_frame(
        ctx, SYSTEM, deployment_id=8, model_version_id=1, frame=_frame([99]), request_id="other", created_at=T0
    )
    return ctx


@pytest.mark.parametrize(
    ("window", "ages"),
    [
        (PayloadWindow(), [20, 21, 30, 31, 32, 40, 50, 51]),
        (PayloadWindow(since=T0 + timedelta(hours=1)), [30, 31, 32, 40, 50, 51]),
        (PayloadWindow(until=T0 + timedelta(minutes=90)), [20, 21, 30, 31, 32]),
        (PayloadWindow(model_version_id=2), [40, 50, 51]),
        (PayloadWindow(max_records=4), [32, 40, 50, 51]),  # the newest four, oldest first
        (PayloadWindow(since=T0 + timedelta(days=1)), []),
    ],
    ids=["all", "since", "until", "model-version", "newest-n", "empty"],
)
def test_windows(stored: ServiceContext, window: PayloadWindow, ages: list[int]) -> None:
    frame = read_payload(stored, SYSTEM, 7, window, scoring_ids=True)
    assert frame["Age"].tolist() == ages if ages else frame.empty


def test_records_keep_their_scoring_ids_and_columns(stored: ServiceContext) -> None:
    frame = read_payload(stored, SYSTEM, 7, scoring_ids=True)
    assert frame["scoring_id"].tolist()[:3] == ["r0-0", "r0-1", "r1-0"]
    assert set(frame.columns) == {"Age", "Job", "prediction", "probability", "scoring_id", "unseen"}
    assert "scoring_id" not in read_payload(stored, SYSTEM, 7).columns  # left out unless asked for
    assert count_payload(stored, SYSTEM, deployment_id=7) == 8 and count_payload(stored, SYSTEM) == 9
    assert existing_scoring_ids(stored, SYSTEM, 7, ["r1-2", "r1-3", "other-0"]) == {"r1-2"}


def test_a_frame_without_predictions_is_refused(ctx: ServiceContext) -> None:
    with pytest.raises(DataError, match=r"payload frame for deployment 7 lacks column\(s\) \['probability'\]"):
        store_payload_frame(
            ctx,
            SYSTEM,
            deployment_id=7,
            model_version_id=1,
            frame=_frame([1]).drop(columns="probability"),
            request_id="x",
            created_at=T0,
        )
    assert count_payload(ctx, SYSTEM) == 0
