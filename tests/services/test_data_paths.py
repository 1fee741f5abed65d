"""Training data by path, through the services: only from the allowed data folders, refused before any write."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DataError, PermissionDenied
from pipeline_core.params import RunParams
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.datasets import register_file
from pipeline_core.services.runs import launch_file_run
from pipeline_core.store.models import AuditEvent, Dataset, Run
from tests.credentials import CHEAP_HASHER
from tests.states import quick_settings

FAST = RunParams(max_iter=30, cv_folds=3)


@pytest.fixture
def root(ctx: ServiceContext, csv_path: Path, tmp_path: Path) -> Path:
    """The store on its default data folder (data_dir / "datasets") alone; ``csv_path`` (tmp_path) is outside it."""
    ctx.settings = replace(ctx.settings, data_roots=())
    (folder,) = ctx.settings.data_roots
    assert folder == ctx.settings.data_dir / "datasets"
    folder.mkdir(exist_ok=True)
    (folder / "credit.csv").write_bytes(csv_path.read_bytes())
    (folder / "escape.csv").symlink_to(csv_path)
    (tmp_path / "a-folder").mkdir()
    return folder


OUTSIDE = {
    "etc-shadow": lambda root, tmp: "/etc/shadow",
    "dot-dot-from-the-root": lambda root, tmp: f"{root}/../../../../etc/shadow",
    "relative-dot-dot": lambda root, tmp: "../../../../etc/shadow",
    "symlink-in-the-root-to-outside": lambda root, tmp: str(root / "escape.csv"),
    "readable-csv-outside": lambda root, tmp: str(tmp / "credit.csv"),
    "missing-file-outside": lambda root, tmp: str(tmp / "missing.csv"),
    "directory-outside": lambda root, tmp: str(tmp / "a-folder"),
    "the-store-itself": lambda root, tmp: str(root.parent / "mlops.db"),
}


@pytest.mark.parametrize("where", OUTSIDE.values(), ids=OUTSIDE.keys())
def test_a_data_scientist_cannot_launch_on_a_path_outside_the_data_folders(
    ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec, root: Path, tmp_path: Path, where: Any
) -> None:
    path = where(root, tmp_path)
    with ctx.db.read() as session:
        before = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(DataError) as refused:
        launch_file_run(ctx, people["dora"], path, spec=spec, params=FAST)
    assert str(refused.value) == (
        f"data file {path!r} is not in an allowed data folder; training data is read by path only from: {root} "
        "(setting data_roots). Put the file there, or upload it"
    )
    with ctx.db.read() as session:  # no dataset, no run, no audit event: the refusal came first
        assert session.scalar(select(func.count()).select_from(Dataset)) == 0
        assert session.scalar(select(func.count()).select_from(Run)) == 0
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == before
    with pytest.raises(DataError, match="is not in an allowed data folder"):
        register_file(ctx, people["dora"], path, spec=spec)


def test_inside_the_data_folder_a_run_is_queued_on_the_real_path(
    ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec, root: Path
) -> None:
    for given in (str(root / "credit.csv"), "credit.csv", f"{root}/../datasets/credit.csv"):
        run = launch_file_run(ctx, people["dora"], given, spec=spec, params=FAST)
        assert run.status == "queued" and run.dataset.source == str(root / "credit.csv")
    with pytest.raises(DataError, match=r"datasets/nope\.csv' does not exist"):
        launch_file_run(ctx, people["dora"], "nope.csv", spec=spec, params=FAST)


def test_the_role_is_checked_before_the_path_is_looked_at(
    ctx: ServiceContext, people: dict[str, Principal], spec: DataSpec, root: Path
) -> None:
    for who in ("max", "vera"):
        with pytest.raises(PermissionDenied):
            launch_file_run(ctx, people[who], "/etc/shadow", spec=spec, params=FAST)
        with pytest.raises(PermissionDenied):
            register_file(ctx, people[who], root / "credit.csv", spec=spec)


def test_the_default_data_folder_is_made_private_on_start(tmp_path: Path) -> None:
    elsewhere = tmp_path / "configured-elsewhere"
    context = open_context(quick_settings(tmp_path / "data", data_roots=()), password_hasher=CHEAP_HASHER)
    try:
        (folder,) = context.settings.data_roots
        assert folder == tmp_path / "data" / "datasets" and folder.is_dir()
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    finally:
        context.close()
    # A folder the administrator configured outside the data folder is theirs to make: not made silently.
    open_context(quick_settings(tmp_path / "data", data_roots=(elsewhere,)), password_hasher=CHEAP_HASHER).close()
    assert not elsewhere.exists()
