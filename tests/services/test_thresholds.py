"""Thresholds per spec: an admin changes them, checked and audited; new datasets use them."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.load import frame_to_csv_bytes, parse_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DataError, PermissionDenied
from pipeline_core.services import datasets, governance
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import register_dataset
from tests.states import DORA


def test_an_admin_tightens_a_threshold_and_new_datasets_use_it(
    ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec
) -> None:
    before = register_dataset(
        ctx,
        DORA,
        parse_csv_bytes(frame_to_csv_bytes(generate_german_credit(200, seed=1)), name="a.csv"),
        spec=spec,
    )
    updated = datasets.set_thresholds(ctx, people["admin"], spec, {"min_roc_auc": 0.7, "drift_min_records": 500})
    assert updated.min_roc_auc == 0.7 and updated.drift_min_records == 500 and updated.disparate_impact == 0.95
    assert datasets.thresholds_in_force(ctx, SYSTEM, spec).thresholds == updated
    after = register_dataset(
        ctx,
        DORA,
        parse_csv_bytes(frame_to_csv_bytes(generate_german_credit(200, seed=2)), name="b.csv"),
        spec=spec,
    )
    assert after.spec["thresholds"]["min_roc_auc"] == 0.7
    assert before.spec["thresholds"]["min_roc_auc"] == 0.6  # evidence registered earlier keeps its thresholds
    event, _test_scale = governance.list_events(ctx, people["max"], action="thresholds.")  # newest first
    assert event.actor == "ada" and event.details["to"]["min_roc_auc"] == 0.7


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"min_roc_auc": 1.5}, r"threshold min_roc_auc: 1.5 is not a number in \[0, 1\]"),
        ({"drift": "high"}, r"threshold drift: 'high' is not a number"),
        ({"quality_min_records": 0}, r"threshold quality_min_records: 0 is not a whole number >= 1"),
        ({"fairness_min_records": 2.5}, r"threshold fairness_min_records: 2.5 is not a whole number"),
        ({"auc": 0.7}, r"spec 'german_credit': no threshold named 'auc'"),
    ],
    ids=["out-of-range", "not-a-number", "zero-records", "fractional-records", "unknown"],
)
def test_bad_thresholds_are_named_and_nothing_changes(
    ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec, changes: dict[str, Any], match: str
) -> None:
    in_force = datasets.thresholds_in_force(ctx, SYSTEM, spec)  # the test store's minimums (tests/states.py)
    with pytest.raises(DataError, match=match):
        datasets.set_thresholds(ctx, people["admin"], spec, changes)
    assert datasets.thresholds_in_force(ctx, SYSTEM, spec) == in_force


def test_only_an_admin_sets_thresholds(ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec) -> None:
    in_force = datasets.thresholds_in_force(ctx, SYSTEM, spec)
    for who in ("dora", "vera", "max"):
        with pytest.raises(PermissionDenied, match="manage thresholds"):
            datasets.set_thresholds(ctx, people[who], spec, {"min_roc_auc": 0.1})
    assert datasets.thresholds_in_force(ctx, SYSTEM, spec) == in_force
