"""Feedback: three formats, validated against the spec, linked to scoring ids, all or nothing."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.errors import DataError, NotFoundError
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.monitoring import count_feedback, parse_feedback, upload_feedback
from tests.live import Live


def _labelled(applicants: pd.DataFrame, n: int) -> pd.DataFrame:
    return applicants.iloc[:n].copy()


def test_csv_json_records_and_wml_fields_values_are_stored_exactly(live: Live, applicants: pd.DataFrame) -> None:
    vera = live.people["vera"]
    frame = _labelled(applicants, 30)
    csv = frame_to_csv_bytes(frame)
    records = json.dumps(json.loads(frame.to_json(orient="records"))).encode()
    wml = json.dumps({"fields": list(frame.columns), "values": json.loads(frame.to_json(orient="values"))}).encode()
    total = 0
    for content in (csv, b"\xef\xbb\xbf" + csv, records, wml):
        batch = upload_feedback(live.ctx, vera, live.deployment_id, parse_feedback(content))
        total += batch.records
        assert batch.records == 30 and batch.linked == 0
    assert count_feedback(live.ctx, SYSTEM, deployment_id=live.deployment_id) == total == 120


def test_feedback_links_to_scoring_ids(live: Live, applicants: pd.DataFrame) -> None:
    frame = _labelled(applicants, 5)
    from pipeline_core.services.datasets import count_payload
    from tests.processes import wait_for

    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    scored = live.post(live.payload(frame)).json()["scoring_ids"]
    frame["scoring_id"] = scored
    wait_for(
        lambda: count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + 5,
        timeout=10,
        what="payload",
    )
    batch = upload_feedback(live.ctx, live.people["dora"], live.deployment_id, frame)
    assert batch.linked == 5


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.drop(columns=["Risk"]), r"missing_column: column 'Risk'"),
        (lambda f: f.assign(Risk=["Maybe", *f["Risk"][1:]]), r"label_outside_spec: column 'Risk'.*'Maybe'"),
        (lambda f: f.assign(Age=["old", *f["Age"][1:]]), r"wrong_type: column 'Age'.*'old'"),
        (lambda f: f.assign(scoring_id="not-a-scoring-id"), r"scoring id\(s\) were not scored by deployment"),
    ],
    ids=["missing-label-column", "label-outside-spec", "wrong-type", "unknown-scoring-id"],
)
def test_bad_feedback_is_refused_whole(live: Live, applicants: pd.DataFrame, mutate, match: str) -> None:  # type: ignore[no-untyped-def]
    before = count_feedback(live.ctx, SYSTEM)
    with pytest.raises(DataError, match=match):
        upload_feedback(live.ctx, live.people["vera"], live.deployment_id, mutate(_labelled(applicants, 10)))
    assert count_feedback(live.ctx, SYSTEM) == before


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"[1, 2]", "a JSON list must hold one object per record"),
        (b'{"fields": ["a"], "values": [[1, 2]]}', "record 0 does not have 1 values"),
        (b'{"fields": "a"}', "needs 'fields'"),
        (b"[]", "no records"),
        (b"{oops", "not valid JSON"),
    ],
)
def test_unparseable_feedback_is_named(content: bytes, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_feedback(content, name="fb.json")


def test_feedback_for_a_missing_deployment(live: Live, applicants: pd.DataFrame) -> None:
    with pytest.raises(NotFoundError, match="deployment 777 does not exist"):
        upload_feedback(live.ctx, live.people["vera"], 777, _labelled(applicants, 3))
