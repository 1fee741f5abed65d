"""The Runs page's "path on the server" option: it names the allowed data folders and shows each refusal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.runs import list_runs
from tests.pages.conftest import PageRunner

PATH_OPTION = "A path on the server or a bucket"


@pytest.fixture
def root(live_ctx: ServiceContext, tmp_path: Path, frame: pd.DataFrame) -> Path:
    """The dashboard's one allowed data folder, with a good CSV (not the candidate's bytes) and a ';'-separated one."""
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "credit.csv").write_bytes(frame_to_csv_bytes(frame.iloc[:500]))
    (folder / "excel-de.csv").write_bytes(frame.to_csv(index=False, sep=";").encode())
    live_ctx.settings = replace(live_ctx.settings, data_roots=(folder,))
    return folder


def _launch_on(at: AppTest, path: str) -> AppTest:
    at.radio[0].set_value(PATH_OPTION)
    at.text_input[0].set_value(path)
    return at.button[0].click().run()  # the form's Launch button


def _everything_shown(at: AppTest) -> str:
    return " ".join(e.value for kind in (at.error, at.success, at.info, at.caption, at.markdown) for e in kind)


def test_the_path_option_says_which_folders_are_allowed(
    page: PageRunner, candidate: int, root: Path, people: dict[str, Principal]
) -> None:
    at = page("runs", "dora")
    assert not at.exception
    assert at.text_input[0].label == "Path of a CSV in an allowed data folder, or a bucket object s3://bucket/key"
    assert (
        f"Server paths are read only from the allowed data folder `{root}` (a relative path is taken from it). "
        "Buckets use the S3 / COS settings." in [c.value for c in at.caption]
    )


def test_several_folders_are_all_listed(
    page: PageRunner, live_ctx: ServiceContext, candidate: int, root: Path, tmp_path: Path
) -> None:
    live_ctx.settings = replace(live_ctx.settings, data_roots=(root, tmp_path / "shared"))
    at = page("runs", "dora")
    assert (
        f"Server paths are read only from the allowed data folders `{root}`, `{tmp_path / 'shared'}` (a relative "
        "path is taken from the first). Buckets use the S3 / COS settings." in [c.value for c in at.caption]
    )


@pytest.mark.parametrize("path", ["/etc/shadow", "../../../../etc/shadow", "/nowhere/credit.csv", "/etc"])
def test_a_path_outside_the_folders_is_refused_with_the_one_message(
    page: PageRunner, live_ctx: ServiceContext, candidate: int, root: Path, path: str
) -> None:
    before = list_runs(live_ctx, SYSTEM)
    at = _launch_on(page("runs", "dora"), path)
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"DataError: data file {path!r} is not in an allowed data folder; training data is read by path only "
        f"from: {root} (setting data_roots). Put the file there, or upload it"
    ]
    assert not any("queued" in s.value for s in at.success) and list_runs(live_ctx, SYSTEM) == before


def test_inside_the_folder_a_bad_csv_is_named_and_a_good_one_is_queued(
    page: PageRunner, live_ctx: ServiceContext, candidate: int, root: Path
) -> None:
    at = _launch_on(page("runs", "dora"), "excel-de.csv")
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"DataError: data file '{root / 'excel-de.csv'}' seems to be separated by ';', not ',': its header has "
        "21 columns at ';' and 1 at ','. Save it as CSV with commas (Excel: 'CSV UTF-8 (Comma delimited)')"
    ]
    at = _launch_on(page("runs", "dora"), "credit.csv")
    newest = list_runs(live_ctx, SYSTEM, limit=1)[0]
    assert not at.exception and f"Run {newest.id} queued." in [s.value for s in at.success]
    assert newest.dataset.source == str(root / "credit.csv") and newest.created_by == "dora"


def test_an_unexpected_error_shows_a_notice_and_no_server_detail(
    page: PageRunner, candidate: int, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("/srv/app/pipeline_core/secret_module.py: line 42 exploded")

    monkeypatch.setattr("pipeline_core.services.runs.launch_file_run", broken)
    at = _launch_on(page("runs", "dora"), "credit.csv")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "The action stopped on an unexpected error; its details are in the dashboard's log on the server."
    ]
    assert "secret_module" not in _everything_shown(at) and "Traceback" not in _everything_shown(at)
