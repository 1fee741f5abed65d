"""The model documentation commands: ``documentation show`` and ``documentation write``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pipeline_core.cli.identity import login
from pipeline_core.cli.registry import Declarations, arg, one_of
from pipeline_core.errors import ConfigError, ExitCode
from pipeline_core.vocabulary import DocSection

if TYPE_CHECKING:
    from pipeline_core.services.context import ServiceContext
    from pipeline_core.services.governance import DocumentationInfo

COMMANDS = Declarations()
DOCUMENTATION = COMMANDS.group("documentation", help="show or write a model's documentation, section by section")
MODEL = arg("model", help="the model's name (its versions share it)")


@DOCUMENTATION.command(
    "show",
    MODEL,
    arg("--version", type=int, default=None, help="as it stood for this version number (default: now)"),
    arg("--json", action="store_true", help="as JSON"),
    help="show a model's documentation, every section with who wrote it when",
)
def show(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    doc = governance.documentation(ctx, login(ctx, args), args.model, version=args.version)
    out.write(_json(doc) if args.json else _text(doc))
    return ExitCode.OK


def _json(doc: DocumentationInfo) -> str:
    sections = [
        {
            "section": s.section.value,
            "title": s.title,
            "text": s.text,
            "written_by": s.written_by,
            "written_at": s.written_at.isoformat() if s.written_at else None,
            "for_version": s.for_version,
        }
        for s in doc.sections
    ]
    document = {"model": doc.model_name, "version": doc.model_version, "sections": sections}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _text(doc: DocumentationInfo) -> str:
    stood = "now" if doc.model_version is None else f"for version {doc.model_version}"
    lines = [f"documentation of {doc.model_name} ({stood})"]
    for s in doc.sections:
        if s.text is None:
            lines.append(f"\n## {s.title}: not written")
            continue
        assert s.written_at is not None
        lines.append(f"\n## {s.title} (by {s.written_by}, {s.written_at:%Y-%m-%d %H:%M}, for version {s.for_version})")
        lines.append(s.text)
    return "\n".join(lines) + "\n"


def _read_file(value: str) -> str:
    """A section's text from a UTF-8 file; anything else is bad input naming the file."""
    path = Path(value)
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"documentation file {value!r} cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"documentation file {value!r} is not UTF-8 text (byte {exc.start})") from exc


@DOCUMENTATION.command(
    "write",
    MODEL,
    arg("--section", required=True, choices=[s.value for s in DocSection], help="the section to write"),
    one_of(arg("--text", help="the section's text"), arg("--file", help="a UTF-8 file holding it"), required=True),
    arg("--version", type=int, default=None, help="write it for this version number (default: the newest)"),
    help="write one section of a model's documentation (a data scientist; each write is kept)",
)
def write(ctx: ServiceContext, args: argparse.Namespace, out: TextIO) -> int:
    from pipeline_core.services import governance

    section = DocSection(args.section)
    text = args.text if args.file is None else _read_file(args.file)
    actor = login(ctx, args)
    version_id = None
    if args.version is not None:
        version_id = governance.documentation(ctx, actor, args.model, version=args.version).model_version_id
    try:
        wrote = governance.write_documentation(
            ctx, actor, args.model, sections={section: text}, model_version_id=version_id
        )
    except ConfigError as exc:
        if args.file is None:
            raise
        raise ConfigError(f"documentation file {args.file!r}: {exc}") from exc  # empty or too long: name the file
    written = wrote.documentation.section(section)
    if wrote.written:
        out.write(f"{args.model}: section '{section.heading}' written for version {written.for_version}\n")
    else:
        out.write(f"{args.model}: section '{section.heading}' unchanged (the same text is written)\n")
    return ExitCode.OK
