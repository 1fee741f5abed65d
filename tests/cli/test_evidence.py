"""``evidence pack`` and ``evidence verify``: a written pack verifies; a changed file exits 2 naming it."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from pipeline_core.cli import main
from pipeline_core.errors import ExitCode
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext


def test_a_written_pack_verifies_and_a_changed_file_exits_2_naming_it(
    cli_store: ServiceContext, people: dict[str, Principal], candidate: int, tmp_path: Path
) -> None:
    path = tmp_path / "pack.zip"
    out = io.StringIO()
    assert main(["--user", "vera", "evidence", "pack", str(candidate), "--out", str(path)], out) == ExitCode.OK
    assert out.getvalue().startswith(f"evidence pack of model version {candidate} written to {path} (")
    shown = io.StringIO()
    assert main(["evidence", "verify", str(path)], shown) == ExitCode.OK
    intact = rf"{re.escape(str(path))}: intact \(\d+ files .*model version {candidate}, made by vera"
    assert re.match(intact, shown.getvalue())

    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    files["evaluations.json"] = files["evaluations.json"].replace(b"[", b"[ ", 1)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    failed = io.StringIO()
    assert main(["evidence", "verify", str(tampered)], failed) == ExitCode.BAD_INPUT
    assert failed.getvalue().splitlines()[1:] == ["  evaluations.json: sha256 differs from the manifest"]


@pytest.mark.parametrize(
    ("argv", "content", "code", "message"),
    [
        (["evidence", "verify", "{file}"], b"not a zip", ExitCode.BAD_INPUT, "{file}: evidence pack: not a zip file"),
        (["evidence", "verify", "{file}"], None, ExitCode.BAD_INPUT, "evidence pack file '{file}' cannot be read"),
        (["evidence", "pack", "{mv}", "--out", "{file}"], b"", ExitCode.NOT_ALLOWED, "export evidence needs one of"),
        (["--user", "vera", "evidence", "pack", "999", "--out", "{file}"], b"", ExitCode.NOT_FOUND, "999 does not"),
        (
            ["--user", "vera", "evidence", "pack", "{mv}", "--out", "{file}/x.zip"],
            b"",
            ExitCode.BAD_INPUT,
            "evidence pack file '{file}/x.zip' cannot be written",
        ),
    ],
    ids=["not-zip", "no-file", "data-scientist", "no-version", "unwritable"],
)
def test_refusals_exit_by_the_table(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    content: bytes | None,
    code: int,
    message: str,
) -> None:
    path = tmp_path / "input.zip"
    if content is not None:
        path.write_bytes(content)
    assert main([a.format(file=path, mv=candidate) for a in argv], io.StringIO()) == code
    assert re.search(re.escape(message.format(file=path)), capsys.readouterr().err)
