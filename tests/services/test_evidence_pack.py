"""The evidence pack: built for a candidate and verified; any changed, missing or added file, or a re-signed
manifest, is named; bytes that are not a pack are refused by name, never with a traceback."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_core.errors import DataError, PermissionDenied
from pipeline_core.services import audit, governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _evidence_pack
from pipeline_core.services.governance._evidence_pack import MAX_FILES
from pipeline_core.store.models import ModelVersion
from tests.services.helpers import copy_version

CORE = {
    "manifest.json",
    "report/validation_report.html",
    "report/validation_report.pdf",
    "report/validation_report.docx",
    "documentation.json",
    "findings_and_conditions.json",
    "factsheet.json",
    "model_tests.json",
    "evaluations.json",
    "audit/events.json",
    "audit/chain_verification.json",
    "annex_iv_index.json",
    "annex_iv_index.md",
}


def _files(pack: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pack)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def pack(ctx: ServiceContext, people: dict[str, Principal], candidate: int) -> bytes:
    return governance.evidence_pack(ctx, people["vera"], candidate)


def test_a_candidates_pack_holds_its_record_and_verifies(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, pack: bytes
) -> None:
    files = _files(pack)
    assert set(files) >= CORE, CORE - set(files)
    assert set(files) - CORE <= {"report/validation_report.pdf", "report/validation_report.docx"}
    manifest = json.loads(files["manifest.json"])
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        assert manifest["model_version"] == {
            "id": candidate,
            "name": mv.name,
            "version": mv.version,
            "artifact_sha256": mv.artifact_sha256,
        }
    assert manifest["created_by"] == "vera"
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for path, entry in listed.items():
        assert (entry["size"], entry["sha256"]) == (len(files[path]), hashlib.sha256(files[path]).hexdigest())
    evaluations = json.loads(files["evaluations.json"])
    assert evaluations and all(e["results"] for e in evaluations)
    events = json.loads(files["audit/events.json"])
    assert any(e["action"].startswith("model_version.") for e in events), events
    assert all(e["object"].split()[0] in {"model_version", "model", "evaluation", "approval"} for e in events)
    assert json.loads(files["audit/chain_verification.json"])["ok"] is True
    assert "<html" in files["report/validation_report.html"].decode("utf-8").lower()
    assert json.loads(files["documentation.json"])["sections"][0]["text"]

    verified = governance.verify_pack(ctx, people["dora"], pack)
    assert verified.ok, verified.problems
    assert (verified.model_version_id, verified.created_by, verified.files) == (candidate, "vera", len(listed))


def test_the_annex_iv_index_maps_every_section_to_files_of_the_pack_or_says_it_does_not(pack: bytes) -> None:
    files = _files(pack)
    index = json.loads(files["annex_iv_index.json"])
    assert [e["section"] for e in index] == list(range(1, 10))
    for entry in index:
        assert set(entry["files"]) <= set(files), entry
        assert entry["coverage"] in {"covered", "partly", "not covered by this pack"}
        assert bool(entry["files"]) == (entry["coverage"] != "not covered by this pack"), entry
    by_section = {e["section"]: e for e in index}
    assert by_section[7]["coverage"] == by_section[8]["coverage"] == "not covered by this pack"
    assert "report/validation_report.html" in by_section[3]["files"]
    markdown = files["annex_iv_index.md"].decode("utf-8")
    assert "| 7. A list of the harmonised standards applied | not covered by this pack |" in markdown


def test_a_version_without_an_evaluation_has_no_report_and_carries_its_documentations_events(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    with ctx.db.write() as session:
        mv = session.get(ModelVersion, candidate)
        assert mv is not None
        next_id = copy_version(session, mv).id
    files = _files(governance.evidence_pack(ctx, people["vera"], next_id))
    assert not [p for p in files if p.startswith("report/")]
    assert json.loads(files["evaluations.json"]) == []
    index = {e["section"]: e for e in json.loads(files["annex_iv_index.json"])}
    assert index[4]["files"] == ["evaluations.json"]
    assert "no validation report: the version has no evaluation" in index[4]["note"]
    events = json.loads(files["audit/events.json"])
    assert [e["object"] for e in events if e["action"] == "documentation.written"] == [f"model_version {candidate}"]
    assert governance.verify_pack(ctx, people["vera"], _rezip(files)).ok


def test_the_export_is_audited_and_needs_a_reviewer(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int, pack: bytes
) -> None:
    manifest = json.loads(_files(pack)["manifest.json"])
    body = {k: v for k, v in manifest.items() if k != "signature"}
    signed = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")
    (event,) = governance.list_events(ctx, people["vera"], action="model_version.evidence_exported")
    assert (event.actor, event.object) == ("vera", f"model_version {candidate}")
    assert event.details["manifest_sha256"] == hashlib.sha256(signed).hexdigest()
    for who in ("max", "admin"):
        assert governance.evidence_pack(ctx, people[who], candidate)
    with pytest.raises(PermissionDenied, match="dora is a data_scientist; export evidence needs one of"):
        governance.evidence_pack(ctx, people["dora"], candidate)


def _changed_byte(files: dict[str, bytes]) -> dict[str, bytes]:
    data = bytearray(files["report/validation_report.html"])
    data[len(data) // 2] ^= 0x01
    return {**files, "report/validation_report.html": bytes(data)}


def _resigned_elsewhere(files: dict[str, bytes]) -> dict[str, bytes]:
    """The changed file's new hash written into the manifest too: only the signature can tell."""
    changed = _changed_byte(files)
    manifest = json.loads(files["manifest.json"])
    for entry in manifest["files"]:
        if entry["path"] == "report/validation_report.html":
            entry["sha256"] = hashlib.sha256(changed["report/validation_report.html"]).hexdigest()
    return {**changed, "manifest.json": json.dumps(manifest).encode("utf-8")}


def _renamed_creator(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = json.loads(files["manifest.json"])
    manifest["created_by"] = "max"
    return {**files, "manifest.json": json.dumps(manifest).encode("utf-8")}


@pytest.mark.parametrize(
    ("tamper", "problems"),
    [
        (_changed_byte, ["report/validation_report.html: sha256 differs from the manifest"]),
        (
            lambda f: {k: v for k, v in f.items() if k != "evaluations.json"},
            ["evaluations.json: missing from the pack (the manifest lists it)"],
        ),
        (lambda f: {**f, "notes.txt": b"added later"}, ["notes.txt: not in the manifest (an extra file)"]),
        (lambda f: {**f, "factsheet.json": f["factsheet.json"] + b" "}, ["factsheet.json: sha256 differs"]),
        (_resigned_elsewhere, ["manifest.json: bad signature"]),
        (_renamed_creator, ["manifest.json: bad signature"]),
    ],
    ids=["one-byte", "missing", "extra", "appended", "manifest-edited-to-match", "creator-edited"],
)
def test_a_tampered_pack_fails_naming_the_file(
    ctx: ServiceContext,
    people: dict[str, Principal],
    pack: bytes,
    tamper: Callable[[dict[str, bytes]], dict[str, bytes]],
    problems: list[str],
) -> None:
    verified = governance.verify_pack(ctx, people["vera"], _rezip(tamper(_files(pack))))
    assert not verified.ok
    assert len(verified.problems) == len(problems), verified.problems
    for found, wanted in zip(verified.problems, problems, strict=True):
        assert found.startswith(wanted), verified.problems


def test_a_pack_signed_with_another_key_has_a_bad_signature(
    ctx: ServiceContext, people: dict[str, Principal], pack: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "sign", lambda session, payload: "0" * 64)
    verified = governance.verify_pack(ctx, people["vera"], pack)
    assert verified.problems == ("manifest.json: bad signature (edited, or signed with another store's audit key)",)


def _manifest_with(pack: bytes, **fields: object) -> bytes:
    files = _files(pack)
    manifest = json.loads(files["manifest.json"])
    manifest.update(fields)
    return _rezip({**files, "manifest.json": json.dumps(manifest).encode("utf-8")})


BOMB_LIMIT = 100_000  # the test's MAX_UNPACKED: a bomb of the real limit's size would cost the machine 256 MiB


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.json", b"\0" * (BOMB_LIMIT // 2))
        zf.writestr("big.json", b"\0" * (BOMB_LIMIT // 2 + 1))
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda pack: b"not a zip at all", r"evidence pack: not a zip file"),
        (lambda pack: b"", r"evidence pack: not a zip file"),
        (lambda pack: pack[: len(pack) // 2], r"evidence pack: not a zip file"),
        (lambda pack: _rezip({"../../etc/passwd": b"x"}), r"unsafe file name '\.\./\.\./etc/passwd'"),
        (lambda pack: _rezip({"/etc/passwd": b"x"}), r"unsafe file name '/etc/passwd'"),
        (lambda pack: _rezip({"report/../../x": b"x"}), r"unsafe file name 'report/\.\./\.\./x'"),
        (lambda pack: _rezip({"C:/x": b"x"}), r"unsafe file name 'C:/x'"),
        (lambda pack: _rezip({"a\\..\\b": b"x"}), r"unsafe file name"),
        (lambda pack: _rezip({"factsheet.json": b"{}"}), r"no manifest\.json in the zip"),
        (lambda pack: _rezip({f"f{i}": b"" for i in range(MAX_FILES + 1)}), rf"over the limit of {MAX_FILES}"),
        (lambda pack: _rezip({"manifest.json": b"\xff"}), r"manifest\.json is not UTF-8 JSON"),
        (lambda pack: _rezip({"manifest.json": b"[" * 100_000}), r"manifest\.json is not UTF-8 JSON"),
        (lambda pack: _rezip({"manifest.json": b"[]"}), r"manifest\.json is not a JSON object"),
        (lambda pack: _manifest_with(pack, format="other/1"), r"field 'format' is not 'evidence-pack/1'"),
        (lambda pack: _manifest_with(pack, files={}), r"field 'files' is not a list"),
        (lambda pack: _manifest_with(pack, files=[{"path": 1}]), r"field 'files\[0\]' is not a path"),
        (lambda pack: _manifest_with(pack, signature="x"), r"field 'signature' is not an HMAC-SHA256"),
        (lambda pack: _manifest_with(pack, model_version={"id": 2**70}), r"field 'model_version.id'"),
        (lambda pack: _manifest_with(pack, created_by=None), r"field 'created_by' is not a string"),
    ],
    ids=[
        "text",
        "empty",
        "truncated",
        "dotdot",
        "absolute",
        "inner-dotdot",
        "drive",
        "backslash",
        "no-manifest",
        "too-many-files",
        "manifest-not-utf8",
        "manifest-deep",
        "manifest-list",
        "format",
        "files-shape",
        "file-entry",
        "signature-shape",
        "huge-id",
        "creator-shape",
    ],
)
def test_bytes_that_are_not_a_pack_are_refused_by_name(
    ctx: ServiceContext,
    people: dict[str, Principal],
    pack: bytes,
    make: Callable[[bytes], bytes],
    message: str,
) -> None:
    with pytest.raises(DataError, match=message):
        governance.verify_pack(ctx, people["vera"], make(pack))


def test_a_zip_bomb_stops_at_the_limit(
    ctx: ServiceContext, people: dict[str, Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_evidence_pack, "MAX_UNPACKED", BOMB_LIMIT)
    with pytest.raises(DataError, match=r"over 100,000 bytes once unpacked \(at 'big.json'\); refused"):
        governance.verify_pack(ctx, people["vera"], _bomb())


def _names() -> st.SearchStrategy[str]:
    return st.sampled_from(["manifest.json", "../x", "/abs", "a/b.json", "report/validation_report.html", "."])


def _any_names() -> st.SearchStrategy[str]:
    """Any name zipfile can write (it cuts a name at a NUL byte, and an empty name makes it fail)."""
    return st.text(st.characters(blacklist_characters="\0"), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=2_000),
        st.dictionaries(_names(), st.binary(max_size=200), max_size=4).map(_rezip),
        st.dictionaries(_any_names(), st.binary(max_size=50), max_size=3).map(_rezip),
        st.builds(
            lambda head, tail: _rezip({"manifest.json": head}) + tail,
            st.binary(max_size=100),
            st.binary(max_size=20),
        ),
    )
)
def test_any_bytes_end_in_a_verdict_or_a_data_error(
    ctx: ServiceContext, people: dict[str, Principal], data: bytes
) -> None:
    refused: DataError | None = None
    try:
        verified = governance.verify_pack(ctx, people["vera"], data)
    except DataError as exc:
        refused = exc
    if refused is None:
        assert not verified.ok
    else:
        assert str(refused).startswith("evidence pack: ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_byte_of_the_zip_changed_never_verifies(
    ctx: ServiceContext, people: dict[str, Principal], pack: bytes, position: int, flip: int
) -> None:
    changed = bytearray(pack)
    changed[position % len(changed)] ^= flip
    try:
        verified = governance.verify_pack(ctx, people["vera"], bytes(changed))
    except DataError:
        return
    # A byte of a header field nothing reads (a timestamp, an unused attribute) changes no file: still the same pack.
    assert verified.ok == (_files_or_none(bytes(changed)) == _files(pack))


def _files_or_none(data: bytes) -> dict[str, bytes] | None:
    try:
        return _files(data)
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, RuntimeError, NotImplementedError, EOFError):
        return None


@pytest.mark.parametrize("signature", ["", "0" * 64, "é" * 64, "\udcff", "not hex"], ids=repr)
def test_a_signature_verifies_only_for_its_payload(ctx: ServiceContext, signature: str) -> None:
    with ctx.db.read() as session:
        good = audit.sign(session, b"payload")
        assert audit.verify_signature(session, b"payload", good)
        assert not audit.verify_signature(session, b"payload!", good)
        assert not audit.verify_signature(session, b"payload", signature)


def test_the_pack_holds_the_findings_the_version_carries_and_their_events(
    ctx: ServiceContext, people: dict[str, Principal], candidate: int
) -> None:
    raised = governance.raise_finding(
        ctx,
        people["vera"],
        candidate,
        title="Thin data below age 25",
        description="Seen in review.",
        severity="medium",
        evidence_kind="free",
        evidence_ref="",
        owner="dora",
        due_date=date.today() + timedelta(days=30),
    )
    files = _files(governance.evidence_pack(ctx, people["max"], candidate))
    review = json.loads(files["findings_and_conditions.json"])
    assert [(f["id"], f["title"], f["severity"]) for f in review["findings"]] == [
        (raised.id, "Thin data below age 25", "medium")
    ]
    events = json.loads(files["audit/events.json"])
    assert f"finding {raised.id}" in {e["object"] for e in events}
    index = {e["section"]: e for e in json.loads(files["annex_iv_index.json"])}
    assert "findings_and_conditions.json" in index[5]["files"]
    assert governance.verify_pack(ctx, people["vera"], _rezip(files)).ok
