"""``documentation show`` and ``documentation write``: text or a UTF-8 file, every refusal exit 2 naming it."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from pipeline_core.cli import main
from pipeline_core.errors import ExitCode
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.models import ModelVersion


def _model(ctx: ServiceContext, candidate: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        return mv.name


def test_write_from_text_and_file_then_show(
    cli_store: ServiceContext, people: dict[str, Principal], candidate: int, tmp_path: Path
) -> None:
    model = _model(cli_store, candidate)
    out = io.StringIO()
    assert main(["documentation", "write", model, "--section", "limitations", "--text", "Thin below age 25."], out) == 0
    assert out.getvalue() == f"{model}: section 'Known limitations' written for version 1\n"
    doc = tmp_path / "oversight.md"
    doc.write_text("Refer every decline to an underwriter — ça va.\n", encoding="utf-8")
    assert main(["documentation", "write", model, "--section", "oversight", "--file", str(doc)], io.StringIO()) == 0
    shown = io.StringIO()
    assert main(["--user", "vera", "documentation", "show", model, "--version", "1", "--json"], shown) == 0
    document = json.loads(shown.getvalue())
    by_section = {s["section"]: s for s in document["sections"]}
    assert by_section["limitations"]["text"] == "Thin below age 25."
    assert by_section["oversight"]["text"] == doc.read_text(encoding="utf-8")
    assert (by_section["oversight"]["written_by"], by_section["oversight"]["for_version"]) == ("dora", 1)
    text = io.StringIO()
    assert main(["--user", "max", "documentation", "show", model], text) == 0
    assert "## Known limitations (by dora, " in text.getvalue() and "Thin below age 25." in text.getvalue()


@pytest.mark.parametrize(
    ("content", "argv", "code", "message"),
    [
        (b"\xff\xfe not utf-8", [], ExitCode.BAD_INPUT, "documentation file '{file}' is not UTF-8 text"),
        (b"  \n", [], ExitCode.BAD_INPUT, "documentation file '{file}': .*'limitations'.*empty"),
        (b"x" * 20_001, [], ExitCode.BAD_INPUT, "documentation file '{file}': .*20,001 characters"),
        (None, [], ExitCode.BAD_INPUT, "documentation file '{file}' cannot be read"),
        (b"fine", ["--user", "vera"], ExitCode.NOT_ALLOWED, "write documentation needs one of: data_scientist"),
        (b"fine", ["--version", "9"], ExitCode.NOT_FOUND, "has no version 9"),
    ],
    ids=["not-utf8", "empty", "too-long", "missing", "validator", "no-version"],
)
def test_refused_writes_exit_by_the_table(
    cli_store: ServiceContext,
    people: dict[str, Principal],
    candidate: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    argv: list[str],
    code: int,
    message: str,
) -> None:
    model = _model(cli_store, candidate)
    before = governance.documentation(cli_store, people["vera"], model)
    path = tmp_path / "section.md"
    if content is not None:
        path.write_bytes(content)
    command = ["documentation", "write", model, "--section", "limitations", "--file", str(path), *argv]
    assert main(command, io.StringIO()) == code
    assert re.search(message.format(file=re.escape(str(path))), capsys.readouterr().err)
    assert governance.documentation(cli_store, people["vera"], model) == before
