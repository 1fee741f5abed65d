"""Feedback: three formats, validated against the spec, linked to scoring ids, all or nothing.

Linked feedback (issue 16, finding 10): a scoring id and a label are enough, a scoring is labelled
once however often it is uploaded, and a record that re-sends features must send the ones scored.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.errors import ConflictError, DataError, NotFoundError
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.datasets import count_payload
from pipeline_core.services.monitoring import count_feedback, feedback_frame, parse_feedback, upload_feedback
from tests.live import Live
from tests.processes import wait_for


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


def _scored(live: Live, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` scored by the live deployment, its payload stored, with a ``scoring_id`` column."""
    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    response = live.post(live.payload(frame))
    assert response.status_code == 200, response.text
    scored = frame.copy()
    scored["scoring_id"] = response.json()["scoring_ids"]
    wait_for(
        lambda: count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + len(frame),
        timeout=10,
        what="payload",
    )
    return scored


def test_feedback_links_to_scoring_ids(live: Live, applicants: pd.DataFrame) -> None:
    frame = _scored(live, _labelled(applicants, 5))
    batch = upload_feedback(live.ctx, live.people["dora"], live.deployment_id, frame)
    assert (batch.records, batch.linked, batch.already_stored) == (5, 5, 0)


def test_the_same_linked_file_uploaded_three_times_is_stored_once(live: Live, applicants: pd.DataFrame) -> None:
    frame = _scored(live, _labelled(applicants, 3))
    before = count_feedback(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    csv = frame_to_csv_bytes(frame)
    batches = [upload_feedback(live.ctx, live.people["dora"], live.deployment_id, parse_feedback(csv)) for _ in "abc"]
    assert [(b.records, b.linked, b.already_stored) for b in batches] == [(3, 3, 0), (0, 0, 3), (0, 0, 3)]
    assert count_feedback(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + 3
    # What quality is measured on: each scoring once.
    labelled = feedback_frame(live.ctx, SYSTEM, live.deployment_id, live.spec)
    mine = labelled[labelled["scoring_id"].isin(frame["scoring_id"])]
    assert len(mine) == 3 and sorted(mine["scoring_id"]) == sorted(frame["scoring_id"])
    # A repeat inside one upload is one record too, and counted as not stored again.
    fresh = _scored(live, _labelled(applicants.iloc[10:], 2))
    twice = upload_feedback(live.ctx, live.people["dora"], live.deployment_id, pd.concat([fresh, fresh]))
    assert (twice.records, twice.linked, twice.already_stored) == (2, 2, 2)


def test_a_scoring_id_and_a_label_are_enough(live: Live, applicants: pd.DataFrame) -> None:
    frame = _scored(live, _labelled(applicants, 4))
    csv = frame[["scoring_id", "Risk"]].to_csv(index=False).encode()
    batch = upload_feedback(live.ctx, live.people["dora"], live.deployment_id, parse_feedback(csv))
    assert (batch.records, batch.linked) == (4, 4)
    labelled = feedback_frame(live.ctx, SYSTEM, live.deployment_id, live.spec).set_index("scoring_id")
    stored = labelled.loc[list(frame["scoring_id"])]
    # The features stored are the ones scored, taken from the payload log.
    for name in live.spec.feature_names:
        assert [str(v) for v in stored[name]] == [str(v) for v in frame[name]], name
    assert list(stored["Risk"]) == list(frame["Risk"])


def test_linked_and_unlinked_records_in_one_upload(live: Live, applicants: pd.DataFrame) -> None:
    linked = _scored(live, _labelled(applicants, 2))
    unlinked = _labelled(applicants.iloc[20:], 3).assign(scoring_id=None)
    batch = upload_feedback(live.ctx, live.people["dora"], live.deployment_id, pd.concat([linked, unlinked]))
    assert (batch.records, batch.linked, batch.already_stored) == (5, 2, 0)
    again = upload_feedback(live.ctx, live.people["dora"], live.deployment_id, pd.concat([linked, unlinked]))
    assert (again.records, again.linked, again.already_stored) == (3, 0, 2)  # unlinked: stored as sent, as before


def _changed(name: str, value: object):  # type: ignore[no-untyped-def]
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame[name] = frame[name].astype(object)
        frame.loc[frame.index[1], name] = value  # type: ignore[call-overload]
        return frame

    return change


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (
            _changed("Age", 99),
            DataError,
            r"line 3 \(scoring id '[0-9a-f]+-1'\): field 'Age' was scored as \d+; "
            r"the feedback says 99",
        ),
        (
            _changed("Sex", "nonbinary"),
            DataError,
            r"line 3 \(scoring id '[0-9a-f]+-1'\): field 'Sex' was scored as "
            r"'(fe)?male'; the feedback says 'nonbinary'",
        ),
        (
            _changed("scoring_id", "0123abcd-7"),
            DataError,
            r"1 scoring id\(s\) were not scored by deployment \d+ "
            r"\(line 3: '0123abcd-7'\)",
        ),
        (_changed("scoring_id", "never"), DataError, r"were not scored by deployment \d+ \(line 3: 'never'\)"),
        (
            lambda f: pd.concat([f, f.iloc[:1].assign(Risk="Risk" if f["Risk"].iloc[0] != "Risk" else "No Risk")]),
            ConflictError,
            r"scoring id '[0-9a-f]+-0' is labelled '(No )?Risk' on line 2 and '(No )?Risk' on line 5",
        ),
        (lambda f: f.assign(Risk="Maybe"), DataError, r"label_outside_spec: column 'Risk'.*'Maybe'"),
    ],
    ids=["age-changed", "sex-changed", "never-scored", "not-a-scoring-id", "two-labels-in-one-upload", "bad-label"],
)
def test_linked_feedback_that_disagrees_with_the_scoring_is_refused_whole(  # type: ignore[no-untyped-def]
    live: Live, applicants: pd.DataFrame, mutate, error: type[Exception], match: str
) -> None:
    frame = _scored(live, _labelled(applicants, 3))
    before = count_feedback(live.ctx, SYSTEM)
    with pytest.raises(error, match=match):
        upload_feedback(live.ctx, live.people["dora"], live.deployment_id, mutate(frame))
    assert count_feedback(live.ctx, SYSTEM) == before


def test_a_stored_scoring_with_another_label_is_a_conflict_naming_both(live: Live, applicants: pd.DataFrame) -> None:
    frame = _scored(live, _labelled(applicants, 2))
    upload_feedback(live.ctx, live.people["dora"], live.deployment_id, frame)
    before = count_feedback(live.ctx, SYSTEM)
    old = frame["Risk"].iloc[1]
    new = "Risk" if old != "Risk" else "No Risk"
    flipped = frame.assign(Risk=[frame["Risk"].iloc[0], new])
    sid = frame["scoring_id"].iloc[1]
    with pytest.raises(
        ConflictError,
        match=rf"line 3: scoring id '{sid}' is stored with label '{old}'; "
        rf"this upload labels it '{new}'",
    ):
        upload_feedback(live.ctx, live.people["dora"], live.deployment_id, flipped)
    assert count_feedback(live.ctx, SYSTEM) == before


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.drop(columns=["Risk"]), r"missing_column: column 'Risk'"),
        (lambda f: f.assign(Risk=["Maybe", *f["Risk"][1:]]), r"label_outside_spec: column 'Risk'.*'Maybe'"),
        (lambda f: f.assign(Age=["old", *f["Age"][1:]]), r"wrong_type: column 'Age'.*'old'"),
        (lambda f: f.assign(scoring_id="not-a-scoring-id"), r"scoring id\(s\) were not scored by deployment"),
        (
            lambda f: f.assign(Age=[-5, *f["Age"][1:]]),
            r"outside_valid_range: column 'Age': 1 value\(s\) outside the valid range \[18, 100\].*lines 2",
        ),
    ],
    ids=["missing-label-column", "label-outside-spec", "wrong-type", "unknown-scoring-id", "age-outside-valid-range"],
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
