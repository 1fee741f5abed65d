"""The evidence pack of a model version: one signed zip of its record for a regulator, and checking one.

A pack holds the validation report, the documentation, the factsheet, the model tests and evaluations
as JSON, the audit events about the version with the chain's verification, an index of the EU AI Act's
Annex IV technical-documentation sections naming the files that answer each, and ``manifest.json``:
every other file's path, size and sha256, the version and its artifact, who made the pack and when,
signed with the audit key (``audit.sign``). So a pack checks without the store's data, only its key:
a changed, missing or added file, or a manifest edited to match, is named by ``verify_pack``.

A pack is bytes from outside when it is verified: it is read in memory, never extracted, and refused
before reading whatever could hurt (a name with ``..`` or an absolute path, too many files, more than
``MAX_UNPACKED`` bytes once inflated).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pipeline_core.errors import DataError, NotFoundError
from pipeline_core.services import audit, lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _conditions, _findings, _reports
from pipeline_core.services.governance._audit_log import chain_status
from pipeline_core.services.governance._documentation import documentation
from pipeline_core.services.governance._factsheets import factsheet, factsheet_json
from pipeline_core.services.jsonable import jsonable
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import (
    Approval,
    ApprovalCondition,
    AuditEvent,
    Evaluation,
    ModelTestRun,
    ModelVersion,
)

FORMAT = "evidence-pack/1"
MANIFEST = "manifest.json"
SIGNATURE = "HMAC-SHA256"
REPORT = "report/validation_report.{}"  # one per format the report is rendered to (html, pdf, docx)
MAX_PACK = 256 * 1024 * 1024  # bytes of a zip verify_pack reads at all
MAX_UNPACKED = 256 * 1024 * 1024  # bytes its files may inflate to, together: a zip bomb stops here
MAX_FILES = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")

# EU AI Act (Regulation (EU) 2024/1689) Annex IV: the technical documentation of Article 11(1), section by
# section, with the files of a pack that answer it. "partly" and "not covered" say what a pack cannot hold:
# the provider's own records (its risk management system, the standards it applies, its declaration).
ANNEX_IV: tuple[tuple[int, str, str, tuple[str, ...], str], ...] = (
    (
        1,
        "A general description of the AI system",
        "covered",
        ("documentation.json", "factsheet.json", "manifest.json"),
        "intended purpose, intended users and out-of-scope uses (documentation); the model, its version, type "
        "and artifact (factsheet, manifest)",
    ),
    (
        2,
        "A detailed description of the elements of the AI system and of the process for its development",
        "covered",
        ("documentation.json", "factsheet.json", "model_tests.json", "evaluations.json", "report"),
        "data sources, feature rationale and assumptions (documentation); training data, run, stages and "
        "parameters (factsheet); the validation and testing done, with its metrics (model tests, evaluations, "
        "report)",
    ),
    (
        3,
        "Detailed information about the monitoring, functioning and control of the AI system",
        "covered",
        ("report", "evaluations.json", "documentation.json"),
        "performance and its limits, accuracy per protected group (report, evaluations); known limitations "
        "and human-oversight instructions (documentation)",
    ),
    (
        4,
        "A description of the appropriateness of the performance metrics for the specific AI system",
        "partly",
        ("report", "evaluations.json"),
        "each metric with its threshold and status; why these metrics suit the system is the provider's "
        "argument, written in the documentation if at all",
    ),
    (
        5,
        "A detailed description of the risk management system in accordance with Article 9",
        "partly",
        ("audit/events.json", "factsheet.json", "findings_and_conditions.json", "report"),
        "this version's review: decisions, overrides and who made them, the validation findings it carries and "
        "the conditions of its approvals; the provider's risk management system itself is not covered by this pack",
    ),
    (
        6,
        "A description of relevant changes made by the provider to the system through its lifecycle",
        "covered",
        ("factsheet.json", "audit/events.json", "audit/chain_verification.json"),
        "the lineage timeline and deployments (factsheet), every audited event about the version and the "
        "audit chain's verification",
    ),
    (7, "A list of the harmonised standards applied", "not covered by this pack", (), ""),
    (8, "A copy of the EU declaration of conformity referred to in Article 47", "not covered by this pack", (), ""),
    (
        9,
        "A detailed description of the system in place to evaluate the AI system performance in the "
        "post-market phase, including the post-market monitoring plan (Article 72)",
        "partly",
        ("evaluations.json", "report"),
        "production evaluations stored so far and the monitoring the report describes; the provider's "
        "post-market monitoring plan is not covered by this pack",
    ),
)


@dataclass(frozen=True)
class PackVerification:
    """What checking a pack found: ``ok``, or each problem naming its file; what the manifest says it is."""

    ok: bool
    problems: tuple[str, ...]
    model_version_id: int
    artifact_sha256: str
    created_at: str
    created_by: str
    files: int  # files the manifest lists


def _reports_for(ctx: ServiceContext, actor: Principal, model_version_id: int) -> dict[str, bytes]:
    """The validation report in each format it is rendered to (HTML, PDF, DOCX), by file extension."""
    return _reports.every_format(ctx, actor, model_version_id)


def evidence_pack(ctx: ServiceContext, actor: Principal, model_version_id: int) -> bytes:
    """The signed zip of a model version's record (this module's docstring); the export is audited."""
    who = require(ctx, actor, "export_evidence")
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        name, version, artifact = mv.name, mv.version, mv.artifact_sha256
        evaluations = _evaluations(session, mv.id)
        model_tests = _model_tests(session, mv.id)
        review = _findings_and_conditions(session, mv)
        events = _events(
            session,
            mv,
            [e["id"] for e in evaluations],
            findings=[f["id"] for f in review["findings"]],
            conditions=[c["id"] for c in review["conditions"]],
        )
    try:
        reports = _reports_for(ctx, actor, model_version_id)
    except NotFoundError:
        reports = {}  # no evaluation yet, so no report: the index says so
    files: dict[str, bytes] = {REPORT.format(fmt): data for fmt, data in sorted(reports.items())}
    files["documentation.json"] = _json(_documentation(ctx, actor, name, model_version_id))
    files["factsheet.json"] = factsheet_json(factsheet(ctx, actor, model_version_id)).encode("utf-8")
    files["model_tests.json"] = _json_lines(model_tests)
    files["evaluations.json"] = _json_lines(evaluations)
    files["findings_and_conditions.json"] = _json(review)
    files["audit/events.json"] = _json(events)
    chain = chain_status(ctx, actor)
    files["audit/chain_verification.json"] = _json(
        {
            "ok": chain.ok,
            "events": chain.events,
            "anchors": chain.anchors,
            "first_bad_seq": chain.first_bad_seq,
            "problems": list(chain.problems),
        }
    )
    index = annex_iv_index(files)
    files["annex_iv_index.json"] = _json(index)
    files["annex_iv_index.md"] = _index_markdown(index, f"{name} v{version}").encode("utf-8")
    created = utcnow()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "model_version": {"id": model_version_id, "name": name, "version": version, "artifact_sha256": artifact},
        "created_at": created.isoformat(timespec="seconds"),
        "created_by": who.username,
        "files": [
            {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for path, data in sorted(files.items())
        ],
    }
    with ctx.db.write() as session:
        manifest["signature"] = {"algorithm": SIGNATURE, "value": audit.sign(session, _signed(manifest))}
        audit.record(
            session,
            actor=who.username,
            action="model_version.evidence_exported",
            object_type="model_version",
            object_id=model_version_id,
            details={"manifest_sha256": hashlib.sha256(_signed(manifest)).hexdigest(), "files": len(files)},
        )
    files[MANIFEST] = _json(manifest)
    return _zip(files, created)


def _signed(manifest: Mapping[str, Any]) -> bytes:
    """The bytes the signature covers: the manifest without its signature, in one canonical JSON form."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _json(value: Any) -> bytes:
    return (json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _json_lines(rows: list[dict[str, Any]]) -> bytes:
    """A JSON list of stored results, one row a line: ``indent`` would take the pure-Python encoder, 10x slower
    on 50 evaluations' curves and details (read from JSON columns, so plain JSON already)."""
    if not rows:
        return b"[]\n"
    lines = (json.dumps(row, ensure_ascii=False, default=str) for row in rows)
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8")


def _zip(files: Mapping[str, bytes], created: datetime) -> bytes:
    out = io.BytesIO()
    stamp = (created.year, created.month, created.day, created.hour, created.minute, created.second)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in [MANIFEST, *sorted(p for p in files if p != MANIFEST)]:
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[path])
    return out.getvalue()


def _documentation(ctx: ServiceContext, actor: Principal, name: str, model_version_id: int) -> dict[str, Any]:
    doc = documentation(ctx, actor, name, model_version_id=model_version_id)
    return {
        "model": doc.model_name,
        "version": doc.model_version,
        "sections": [
            {
                "section": s.section.value,
                "title": s.title,
                "text": s.text,
                "written_by": s.written_by,
                "written_at": s.written_at.isoformat() if s.written_at else None,
                "for_version": s.for_version,
            }
            for s in doc.sections
        ],
    }


def _evaluations(session: Session, model_version_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Evaluation).where(Evaluation.model_version_id == model_version_id).order_by(Evaluation.id)
    ).scalars()
    return [
        {
            "id": e.id,
            "space": e.space,
            "deployment_id": e.deployment_id,
            "status": e.status,
            "created_at": e.created_at.isoformat(),
            "created_by": e.created_by,
            "data_window": e.data_window,
            "results": e.results,
        }
        for e in rows
    ]


def _model_tests(session: Session, model_version_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ModelTestRun).where(ModelTestRun.model_version_id == model_version_id).order_by(ModelTestRun.id)
    ).scalars()
    return [
        {
            "id": t.id,
            "run_id": t.run_id,
            "status": t.status,
            "seconds": t.seconds,
            "created_by": t.created_by,
            "created_at": t.created_at.isoformat(),
            "results": t.results,
        }
        for t in rows
    ]


def _findings_and_conditions(session: Session, mv: ModelVersion) -> dict[str, list[dict[str, Any]]]:
    """The findings the version carries (its model's, raised on it or earlier) and its approvals' conditions."""
    rows = session.execute(
        select(ApprovalCondition).where(ApprovalCondition.model_version_id == mv.id).order_by(ApprovalCondition.id)
    ).scalars()
    return {
        "findings": [jsonable(asdict(f)) for f in _findings.carried(session, mv)],
        "conditions": [jsonable(asdict(_conditions.info(c))) for c in rows],
    }


def _events(
    session: Session,
    mv: ModelVersion,
    evaluation_ids: list[int],
    *,
    findings: Sequence[int] = (),
    conditions: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """The audit events about the version, its model (tier, owner), its evaluations and approvals, and the writing
    of the documentation it carries forward from earlier versions; oldest first, with their full hashes so that a
    reader can check the links."""
    approval_ids = [
        str(a) for a in session.execute(select(Approval.id).where(Approval.model_version_id == mv.id)).scalars()
    ]
    earlier = [
        str(v)
        for v in session.execute(
            select(ModelVersion.id).where(ModelVersion.name == mv.name, ModelVersion.version < mv.version)
        ).scalars()
    ]
    about = or_(
        (AuditEvent.object_type == "model_version") & (AuditEvent.object_id == str(mv.id)),
        (AuditEvent.object_type == "model_version")
        & AuditEvent.object_id.in_(earlier)
        & (AuditEvent.action == "documentation.written"),
        (AuditEvent.object_type == "model") & (AuditEvent.object_id == mv.name),
        (AuditEvent.object_type == "evaluation") & AuditEvent.object_id.in_([str(i) for i in evaluation_ids]),
        (AuditEvent.object_type == "approval") & AuditEvent.object_id.in_(approval_ids),
        (AuditEvent.object_type == "finding") & AuditEvent.object_id.in_([str(i) for i in findings]),
        (AuditEvent.object_type == "condition") & AuditEvent.object_id.in_([str(i) for i in conditions]),
    )
    return [
        {
            "seq": e.seq,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "object": f"{e.object_type} {e.object_id}",
            "details": e.details,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }
        for e in session.execute(select(AuditEvent).where(about).order_by(AuditEvent.seq)).scalars()
    ]


def annex_iv_index(files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """Each Annex IV section with the files of this pack that answer it ("report": each report file present)."""
    reports = sorted(p for p in files if p.startswith("report/"))
    index = []
    for number, title, coverage, answered_by, note in ANNEX_IV:
        named = [p for f in answered_by for p in (reports if f == "report" else [f]) if p in files or p == MANIFEST]
        if "report" in answered_by and not reports:
            note += " (no validation report: the version has no evaluation)"
        covered = coverage if named else "not covered by this pack"
        index.append({"section": number, "title": title, "coverage": covered, "files": named, "note": note})
    return index


def _index_markdown(index: list[dict[str, Any]], model: str) -> str:
    lines = [
        f"# EU AI Act Annex IV: technical documentation index of {model}",
        "",
        "Each section of Annex IV (Regulation (EU) 2024/1689) and the files of this pack that answer it.",
        "",
        "| Section | Coverage | Files | What they hold |",
        "| --- | --- | --- | --- |",
    ]
    for entry in index:
        files = ", ".join(f"`{f}`" for f in entry["files"]) or "-"
        lines.append(f"| {entry['section']}. {entry['title']} | {entry['coverage']} | {files} | {entry['note']} |")
    return "\n".join(lines) + "\n"


def verify_pack(ctx: ServiceContext, actor: Principal, data: bytes) -> PackVerification:
    """Check a pack: its manifest's signature, and every file against the manifest (missing, extra, altered).

    Bytes that are not a pack at all (not a zip, an unsafe name, too big, no manifest or a malformed one) are a
    ``DataError`` naming what is wrong; a pack whose content disagrees with its manifest is ``ok=False``.
    """
    require(ctx, actor, "view")
    entries = _unzip(data)
    raw = entries.pop(MANIFEST, None)
    if raw is None:
        raise DataError(f"evidence pack: no {MANIFEST} in the zip (is it an evidence pack?)")
    manifest = _manifest(raw)
    model = manifest["model_version"]
    problems: list[str] = []
    with ctx.db.read() as session:
        if not audit.verify_signature(session, _signed(manifest), manifest["signature"]["value"]):
            problems.append(f"{MANIFEST}: bad signature (edited, or signed with another store's audit key)")
        stored = session.get(ModelVersion, model["id"])
        if stored is None:
            problems.append(f"{MANIFEST}: model version {model['id']} does not exist in this store")
        elif stored.artifact_sha256 != model["artifact_sha256"]:
            problems.append(f"{MANIFEST}: model version {model['id']}'s artifact sha256 differs from this store's")
    listed = {f["path"]: f for f in manifest["files"]}
    for path, entry in sorted(listed.items()):
        content = entries.get(path)
        if content is None:
            problems.append(f"{path}: missing from the pack (the manifest lists it)")
        elif len(content) != entry["size"] or hashlib.sha256(content).hexdigest() != entry["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest")
    problems += [f"{path}: not in the manifest (an extra file)" for path in sorted(set(entries) - set(listed))]
    return PackVerification(
        ok=not problems,
        problems=tuple(problems),
        model_version_id=model["id"],
        artifact_sha256=model["artifact_sha256"],
        created_at=manifest["created_at"],
        created_by=manifest["created_by"],
        files=len(listed),
    )


def _unsafe(name: str) -> bool:
    """A name that could write outside a folder it is extracted to, or is not a plain relative file path."""
    parts = name.split("/")
    return (
        name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or bool(_DRIVE.match(name))
        or any(p in ("", ".", "..") for p in parts)
    )


def _unzip(data: bytes) -> dict[str, bytes]:
    """Every file of the zip by name, read in memory within the limits; a ``DataError`` naming what is refused."""
    if len(data) > MAX_PACK:
        raise DataError(f"evidence pack: {len(data):,} bytes, over the {MAX_PACK:,}-byte limit")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"evidence pack: not a zip file ({exc})") from exc
    entries: dict[str, bytes] = {}
    total = 0
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_FILES:
            raise DataError(f"evidence pack: {len(infos):,} files in the zip, over the limit of {MAX_FILES}")
        for info in infos:
            name = info.filename
            if _unsafe(name):
                raise DataError(f"evidence pack: unsafe file name {name!r} in the zip (absolute, '..' or not a file)")
            if name in entries:
                raise DataError(f"evidence pack: {name!r} appears twice in the zip")
            try:
                with archive.open(info) as member:
                    content = member.read(MAX_UNPACKED - total + 1)
            except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, ValueError, OSError) as exc:
                raise DataError(f"evidence pack: {name!r} cannot be read from the zip ({exc})") from exc
            total += len(content)
            if total > MAX_UNPACKED:
                raise DataError(f"evidence pack: over {MAX_UNPACKED:,} bytes once unpacked (at {name!r}); refused")
            entries[name] = content
    return entries


def _manifest(raw: bytes) -> dict[str, Any]:
    """The manifest, checked to have the shape ``evidence_pack`` writes; a ``DataError`` naming the field."""
    try:
        found = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DataError(f"evidence pack: {MANIFEST} is not UTF-8 JSON ({exc})") from exc
    if not isinstance(found, dict):
        raise DataError(f"evidence pack: {MANIFEST} is not a JSON object")

    def bad(field: str, wanted: str) -> DataError:
        return DataError(f"evidence pack: {MANIFEST} field {field!r} is not {wanted}")

    if found.get("format") != FORMAT:
        raise bad("format", repr(FORMAT))
    model = found.get("model_version")
    if not isinstance(model, dict) or type(model.get("id")) is not int or not 0 < model["id"] < 2**63:
        raise bad("model_version.id", "a model version id")
    if not isinstance(model.get("artifact_sha256"), str):
        raise bad("model_version.artifact_sha256", "a sha256")
    for field in ("created_at", "created_by"):
        if not isinstance(found.get(field), str):
            raise bad(field, "a string")
    signature = found.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != SIGNATURE:
        raise bad("signature", f"an {SIGNATURE} signature")
    if not isinstance(signature.get("value"), str):
        raise bad("signature.value", "a string")
    files = found.get("files")
    if not isinstance(files, list):
        raise bad("files", "a list")
    seen: set[str] = set()
    for i, entry in enumerate(files):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("path"), str)
            or type(entry.get("size")) is not int
            or not isinstance(entry.get("sha256"), str)
            or not _SHA256.fullmatch(entry["sha256"])
        ):
            raise bad(f"files[{i}]", "a path with its size and sha256")
        if entry["path"] in seen or entry["path"] == MANIFEST:
            raise DataError(f"evidence pack: {MANIFEST} lists {entry['path']!r} twice")
        seen.add(entry["path"])
    return found
