"""Model documentation: a data scientist writes it section by section; a version's documentation is carried forward.

Every write of a section is a new revision (``DocumentationRevision``, append-only in the database),
written *for* one version of the model: the one named, else the model's newest version.

What documentation a version has, precisely. For model version V of model M, section S reads the
newest revision (highest id: the store's order of writing, not a clock) of M and S that was written for
V or for an earlier version of M (lower ``version`` number); once V has been decided (its first
approval or rejection), only among the revisions written at or before that decision. So a version
carries forward what was written for the versions before it until its own text replaces it, and a
decided version keeps, for good, the documentation its validator read. The model's *current*
documentation (no version named) is the newest revision of each section, whatever it was written for:
what its next version will carry forward.

Only a data scientist writes documentation (``write_documentation``): the author documents the model and
the validator reviews what was written, so a validator, a manager or an admin is refused. A text is stored
exactly as given; refused, naming the section, when it is blank, longer than ``MAX_TEXT`` characters, or
holds control characters other than tab and line breaks. A text equal to the section's current one,
written for this version or an earlier one, is not written again (the version carries it forward).
The audit event names each section written with its revision id, sha256 and length, not the text:
the rows hold it, and the sha256 proves them.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline_core.errors import ConfigError, ConflictError, NotFoundError
from pipeline_core.services import audit, lookup
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance._blocking import Blocking
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, DocumentationRevision, ModelVersion
from pipeline_core.vocabulary import DocSection

MAX_TEXT = 20_000  # characters of one section: a few pages; a validator reads all of it
_ALLOWED_CONTROLS = frozenset("\t\n\r")


@dataclass(frozen=True)
class SectionText:
    """One section as it stands: its text (None: never written), who wrote it, when, for which version."""

    section: DocSection
    text: str | None = None
    revision_id: int | None = None
    written_by: str | None = None
    written_at: datetime | None = None
    for_version: int | None = None  # the model version number it was written for

    @property
    def title(self) -> str:
        return self.section.heading


@dataclass(frozen=True)
class DocumentationInfo:
    """A model's documentation, every section in ``DocSection`` order, as it stood for ``model_version`` (None: now)."""

    model_name: str
    model_version: int | None  # the version number shown; None: the current documentation
    model_version_id: int | None
    sections: tuple[SectionText, ...]

    def section(self, section: DocSection) -> SectionText:
        return next(s for s in self.sections if s.section == section)

    def text(self, section: DocSection) -> str | None:
        return self.section(section).text

    def missing(self, required: Sequence[DocSection]) -> list[DocSection]:
        """The sections of ``required`` not written, in ``DocSection`` order."""
        wanted = set(required)
        return [s.section for s in self.sections if s.section in wanted and s.text is None]


@dataclass(frozen=True)
class DocumentationWrite:
    """What a write did: the sections written (new revisions) and those left as they were (same text)."""

    written: tuple[DocSection, ...]
    unchanged: tuple[DocSection, ...]
    documentation: DocumentationInfo


def section_of(value: object) -> DocSection:
    """``value`` as a section, or a ``ConfigError`` naming it and the sections there are."""
    if isinstance(value, DocSection):
        return value
    try:
        return DocSection(str(value))
    except ValueError:
        known = ", ".join(s.value for s in DocSection)
        named = str(value)[:80]
        raise ConfigError(f"documentation section {named!r} does not exist; the sections are: {known}") from None


def check_text(section: DocSection, text: object) -> str:
    """``text`` if it can be stored as ``section``'s documentation, else a ``ConfigError`` naming the section."""
    where = f"documentation section {section.value!r} ({section.heading})"
    if not isinstance(text, str):
        raise ConfigError(f"{where}: the text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise ConfigError(f"{where}: the text is empty; write what a validator should read")
    if len(text) > MAX_TEXT:
        raise ConfigError(f"{where}: the text has {len(text):,} characters; at most {MAX_TEXT:,} are kept")
    bad = next((c for c in text if unicodedata.category(c) in ("Cc", "Cs") and c not in _ALLOWED_CONTROLS), None)
    if bad is not None:
        # A NUL cannot be stored by PostgreSQL, an escape sequence would drive the terminal showing it.
        raise ConfigError(f"{where}: the text holds the control character U+{ord(bad):04X}")
    return text


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _versions(session: Session, model_name: str) -> list[ModelVersion]:
    found = list(
        session.execute(select(ModelVersion).where(ModelVersion.name == model_name).order_by(ModelVersion.version))
        .scalars()
        .all()
    )
    if not found:
        raise NotFoundError(f"model {model_name[:128]!r} has no versions")
    return found


def decided_at(session: Session, mv: ModelVersion) -> datetime | None:
    """When ``mv`` was first decided (approved, rejected or an approval awaiting countersign), or None."""
    at: datetime | None = session.execute(
        select(func.min(Approval.decided_at)).where(Approval.model_version_id == mv.id)
    ).scalar_one()
    return at


def _revisions(session: Session, model_name: str, mv: ModelVersion | None) -> dict[DocSection, DocumentationRevision]:
    """The newest revision of each section: of ``mv`` by the carry-forward rule, or now (``mv`` None)."""
    query = (
        select(DocumentationRevision, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == DocumentationRevision.model_version_id)
        .where(DocumentationRevision.model_name == model_name)
    )
    if mv is not None:
        query = query.where(ModelVersion.version <= mv.version)
        cutoff = decided_at(session, mv)
        if cutoff is not None:
            query = query.where(DocumentationRevision.written_at <= cutoff)
    newest: dict[DocSection, DocumentationRevision] = {}
    for revision, _version in session.execute(query.order_by(DocumentationRevision.id)).all():
        newest[DocSection(revision.section)] = revision  # ordered by id: the last one is the newest
    return newest


def read(session: Session, model_name: str, mv: ModelVersion | None = None) -> DocumentationInfo:
    """The documentation of ``model_name`` as it stood for ``mv`` (None: now), read in ``session``."""
    newest = _revisions(session, model_name, mv)
    rows = session.execute(
        select(ModelVersion.id, ModelVersion.version).where(
            ModelVersion.id.in_([r.model_version_id for r in newest.values()])
        )
    ).all()
    numbers: dict[int, int] = {int(i): int(v) for i, v in rows}
    sections = []
    for section in DocSection:
        r = newest.get(section)
        sections.append(
            SectionText(section)
            if r is None
            else SectionText(
                section,
                text=r.text,
                revision_id=r.id,
                written_by=r.written_by,
                written_at=r.written_at,
                for_version=int(numbers[r.model_version_id]),
            )
        )
    return DocumentationInfo(
        model_name=model_name,
        model_version=None if mv is None else mv.version,
        model_version_id=None if mv is None else mv.id,
        sections=tuple(sections),
    )


def missing_required(session: Session, mv: ModelVersion, *, required: Sequence[DocSection]) -> list[Blocking]:
    """A blocking item for each section of ``required`` that ``mv``'s documentation has not written."""
    doc = read(session, mv.name, mv)
    return [
        Blocking(
            key=f"documentation:{section.value}",
            text=f"documentation section '{section.heading}' is not written",
            overridable=True,
        )
        for section in doc.missing(required)
    ]


def writers(session: Session, model_name: str) -> set[str]:
    """Everyone who wrote documentation of ``model_name`` (authors, for separation of duties)."""
    return set(
        session.execute(
            select(DocumentationRevision.written_by).where(DocumentationRevision.model_name == model_name)
        ).scalars()
    )


def _version_of(session: Session, model_name: str, model_version_id: int) -> ModelVersion:
    mv = lookup.model_version(session, model_version_id)
    if mv.name != model_name:
        raise ConfigError(f"model version {model_version_id} is of model {mv.name!r}, not {model_name[:128]!r}")
    return mv


def documentation(
    ctx: ServiceContext,
    actor: Principal,
    model_name: str,
    *,
    model_version_id: int | None = None,
    version: int | None = None,
) -> DocumentationInfo:
    """The documentation of ``model_name``: as it stood for one version (carried forward), else now.

    The version is named by its id (``model_version_id``) or by its number within the model (``version``).
    """
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        versions = _versions(session, model_name)
        mv = None if model_version_id is None else _version_of(session, model_name, model_version_id)
        if version is not None:
            mv = next((v for v in versions if v.version == version), None)
            if mv is None:
                raise NotFoundError(f"model {model_name[:128]!r} has no version {version}")
        return read(session, model_name, mv)


def write_documentation(
    ctx: ServiceContext,
    actor: Principal,
    model_name: str,
    *,
    sections: Mapping[DocSection, str] | Mapping[str, str],  # by member or by word (forms, the CLI)
    model_version_id: int | None = None,
) -> DocumentationWrite:
    """Write ``sections`` of ``model_name``'s documentation for ``model_version_id`` (default its newest version).

    Every text is checked before anything is written: one bad section refuses the whole write, named.
    A version already decided keeps the documentation its validator read, so writing for it is refused.
    """
    current = require(ctx, actor, "write_documentation")
    if not sections:
        raise ConfigError(f"model {model_name[:128]!r}: no documentation section to write")
    texts = {section_of(key): check_text(section_of(key), text) for key, text in sections.items()}
    with ctx.db.write() as session:
        versions = _versions(session, model_name)
        if model_version_id is None:
            mv = versions[-1]
        else:
            mv = _version_of(session, model_name, model_version_id)
            decided = decided_at(session, mv)
            if decided is not None:
                raise ConflictError(
                    f"model version {mv.id} ({mv.name} v{mv.version}) was decided on {decided:%Y-%m-%d %H:%M}: "
                    "its documentation stays as its validator read it; write for the model's newest version"
                )
        now_doc = _revisions(session, model_name, None)
        numbers = {v.id: v.version for v in versions}
        now = utcnow()
        written: dict[str, dict[str, object]] = {}
        unchanged = []
        for section in DocSection:
            if section not in texts:
                continue
            text = texts[section]
            before = now_doc.get(section)
            if before is not None and before.text == text and numbers[before.model_version_id] <= mv.version:
                unchanged.append(section)
                continue
            revision = DocumentationRevision(
                model_name=model_name,
                section=section.value,
                text=text,
                text_sha256=sha256_of(text),
                model_version_id=mv.id,
                written_by=current.username,
                written_at=now,
            )
            session.add(revision)
            session.flush()
            written[section.value] = {"revision": revision.id, "sha256": revision.text_sha256, "length": len(text)}
        if written:
            audit.record(
                session,
                actor=current.username,
                action="documentation.written",
                object_type="model_version",
                object_id=mv.id,
                details={"model": model_name, "version": mv.version, "sections": written},
            )
        doc = read(session, model_name, None)
    return DocumentationWrite(
        written=tuple(DocSection(s) for s in written), unchanged=tuple(unchanged), documentation=doc
    )
