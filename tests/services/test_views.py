"""The services hand out frozen views, never ORM rows: usable after the store is closed, and not writable."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline_core.errors import NotFoundError, PermissionDenied
from pipeline_core.services import runs
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import DatasetInfo
from pipeline_core.vocabulary import ModelState, RunState, StageState


def test_runs_and_model_versions_come_back_as_frozen_views(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    mv = runs.list_model_versions(ctx, people["max"])[0]
    run = runs.get_run(ctx, people["max"], mv.run_id)
    listed = runs.list_runs(ctx, people["vera"])
    ctx.close()  # nothing below may reach back into a session
    assert isinstance(mv, runs.ModelVersionInfo) and mv.id == candidate and mv.state == ModelState.AWAITING_REVIEW
    assert isinstance(run, runs.RunInfo) and run.status == RunState.SUCCEEDED
    assert isinstance(run.dataset, DatasetInfo) and run.dataset.n_rows > 0
    assert [s.name for s in run.stages] == list(runs.RUN_STAGES)
    assert all(s.status == StageState.SUCCEEDED for s in run.stages)
    assert [r.id for r in listed] == [run.id] and listed[0].stages == run.stages
    for view, name in ((mv, "state"), (run, "status"), (run.dataset, "sha256"), (run.stages[0], "status")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(view, name, "tampered")


def test_the_pipeline_views_what_a_role_views(ctx: ServiceContext, candidate: int) -> None:
    assert runs.model_version_for_run(ctx, SYSTEM, runs.list_runs(ctx, SYSTEM)[0].id) is not None
    with pytest.raises(NotFoundError, match="run 999 does not exist"):
        runs.get_run(ctx, SYSTEM, 999)


@pytest.mark.parametrize("reader", [Principal("host", "reader"), Principal("host", "")])
def test_there_is_no_anonymous_reader(ctx: ServiceContext, candidate: int, reader: Principal) -> None:
    """Finding 15: the CLI's host reader viewed runs and models without signing in; no such principal remains."""
    with pytest.raises(PermissionDenied, match="host is a"):
        runs.list_runs(ctx, reader)
