"""``run --data``: a path outside the allowed data folders, or a CSV the loader cannot use, exits 2 with its message."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from pipeline_core.cli import main
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import Dataset, Run


@pytest.fixture
def roots(cli_store: ServiceContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One allowed data folder, ``tmp_path/datasets``, through the environment as an installation sets it."""
    folder = tmp_path / "datasets"
    folder.mkdir()
    monkeypatch.setenv("MLOPS_DATA_ROOTS", str(folder))
    return folder


def _refusal(path: str, root: Path) -> str:
    return (
        f"error: data file {path!r} is not in an allowed data folder; training data is read by path only from: "
        f"{root} (setting data_roots). Put the file there, or upload it\n"
    )


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("/etc/shadow", lambda tmp: "/etc/shadow"),
        ("../../../../etc/shadow", lambda tmp: f"{tmp}/../../../../etc/shadow"),  # from the working folder
        ("datasets/../data/mlops.db", lambda tmp: f"{tmp}/datasets/../data/mlops.db"),
        ("/nonexistent/credit.csv", lambda tmp: "/nonexistent/credit.csv"),
        ("/etc", lambda tmp: "/etc"),
    ],
    ids=["etc-shadow", "dot-dot", "out-of-the-root-into-the-store", "missing-outside", "directory-outside"],
)
def test_run_on_a_path_outside_the_data_folders_exits_2_with_the_one_message(
    roots: Path,
    people: dict[str, Principal],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    given: str,
    shown: object,
) -> None:
    assert main(["--user", "dora", "run", "--data", given]) == 2
    captured = capsys.readouterr()
    assert captured.err.endswith(_refusal(shown(tmp_path), roots)), captured.err  # type: ignore[operator]
    assert "Traceback" not in captured.err and captured.out == ""


def test_with_the_default_data_folder_etc_shadow_is_refused_too(
    cli_store: ServiceContext, people: dict[str, Principal], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--user", "dora", "run", "--data", "/etc/shadow"]) == 2
    assert capsys.readouterr().err.endswith(_refusal("/etc/shadow", cli_store.settings.data_dir / "datasets"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda f: frame_to_csv_bytes(f) + b"9" * 200_000 + b"\n", "line 602 is 200,000 characters long"),
        (
            lambda f: frame_to_csv_bytes(f).replace(b"Risk", b"Risk\x00", 1),
            "holds a NUL byte (0x00) on line 1, field 21",
        ),
        (
            lambda f: f.to_csv(index=False, sep=";").encode(),
            "seems to be separated by ';', not ',': its header has 21 columns at ';' and 1 at ','",
        ),
        (lambda f: f.to_csv(index=False, sep="\t").encode(), "seems to be separated by tabs, not ','"),
    ],
    ids=["long-line", "nul-in-the-header", "semicolons", "tabs"],
)
def test_run_on_a_csv_the_loader_cannot_use_exits_2_naming_it(
    roots: Path,
    people: dict[str, Principal],
    cli_store: ServiceContext,
    frame: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
    content: object,
    message: str,
) -> None:
    path = roots / "credit.csv"
    path.write_bytes(content(frame))  # type: ignore[operator]
    assert main(["--user", "dora", "run", "--data", "datasets/credit.csv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: data file '{path}'") and message in err and "Traceback" not in err
    with cli_store.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Dataset)) == 0
        assert session.scalar(select(func.count()).select_from(Run)) == 0
