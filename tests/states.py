"""Starting states of a test's store, each built once per test session and copied into the test's folder.

A test that needs "a candidate awaiting review" or "a model in prod" used to run the whole
pipeline in its fixture (seconds each, 80-odd times a session). Here each state is built once,
through the same services and the real pipeline, into a template data folder that is closed
cleanly (SQLite's WAL folded back into the file, the scoring service's payload drained), and a
test gets a byte-for-byte copy of it: the same rows, ids, artifacts, audit chain and payload as
the fixture used to build, without the wait. Tests of the run itself still run the pipeline.

States build on one another (``candidate`` -> ``live``, ``candidate`` -> ``in_prod``) and are
built lazily, so a session that never asks for one never pays for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline_core.config import Settings
from pipeline_core.services import approvals, deployments, evaluations, users
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.payloads import count_payload
from pipeline_core.serving.server import BackgroundServer
from pipeline_core.store.models import ModelVersion
from tests.credentials import CHEAP_HASHER, PASSWORD
from tests.processes import wait_for
from tests.services.helpers import make_candidate

# One user per role, plus a second data scientist and validator; "ada" (admin) adds the others.
PEOPLE = (
    ("admin", "ada", "admin"),
    ("dora", "dora", "data_scientist"),
    ("dan", "dan", "data_scientist"),
    ("vera", "vera", "validator"),
    ("victor", "victor", "validator"),
    ("max", "max", "manager"),
)
EMPTY = "empty"


def test_settings(data_dir: Path, **overrides: object) -> Settings:
    """What every test store runs with: quick heartbeats and polls."""
    base = Settings(data_dir=data_dir, heartbeat_interval=0.2, heartbeat_timeout=2.0, poll_interval=0.1)
    return replace(base, **overrides)  # type: ignore[arg-type]


def add_people(ctx: ServiceContext) -> dict[str, Principal]:
    """The users of ``PEOPLE``, added through the users service (the first one bootstraps)."""
    out: dict[str, Principal] = {}
    for key, name, role in PEOPLE:
        out[key] = users.add_user(ctx, out.get("admin"), username=name, role=role, password=PASSWORD)
    return out


@dataclass(frozen=True)
class State:
    """A closed template data folder and what a test needs to know about what is in it."""

    name: str
    folder: Path
    people: dict[str, Principal] = field(default_factory=dict)
    model_version_id: int | None = None
    deployment_id: int | None = None  # the pre-prod deployment; in_prod: the prod one
    key: str | None = None  # an API key of ``deployment_id`` (live)

    def copy_to(self, data_dir: Path) -> None:
        shutil.copytree(self.folder, data_dir, dirs_exist_ok=True)


class States:
    """The session's templates under ``root``, built on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, State] = {}
        self._builders: dict[str, Callable[[Path], State]] = {
            EMPTY: self._empty,
            "candidate": self._candidate,
            "live": self._live,
            "in_prod": self._in_prod,
        }

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._builders)

    def get(self, name: str) -> State:
        if name not in self._built:
            folder = self.root / name
            self._built[name] = self._builders[name](folder)
        return self._built[name]

    def _open(self, folder: Path, base: str | None) -> ServiceContext:
        if base is not None:
            self.get(base).copy_to(folder)
        return open_context(test_settings(folder), password_hasher=CHEAP_HASHER)

    def _empty(self, folder: Path) -> State:
        """A store migrated to the newest schema, with nothing in it."""
        self._open(folder, None).close()
        return State(EMPTY, folder)

    def _candidate(self, folder: Path) -> State:
        """The people, and one model version awaiting review (dora's run), served in pre-prod."""
        ctx = self._open(folder, EMPTY)
        server = BackgroundServer(ctx).start()
        ctx.settings = replace(ctx.settings, scoring_url=server.url)
        try:
            people = add_people(ctx)
            inputs = folder.parent / f"{folder.name}-input"
            inputs.mkdir()
            mv = make_candidate(ctx, people["dora"], inputs)
            dep = next(d for d in deployments.list_deployments(ctx, people["dora"]) if d.space == "preprod")
            # The smoke test scored 5 records and the evaluation the test split: let the payload
            # logger store them, so that tests counting records start from a settled number.
            window = evaluations.list_evaluations(ctx, people["dora"], model_version_id=mv)[0].data_window
            settled = 5 + int(window["records"])
            wait_for(lambda: count_payload(ctx, deployment_id=dep.id) == settled, timeout=20, what="the payload")
        finally:
            server.stop()
            ctx.close()
        return State("candidate", folder, people=people, model_version_id=mv, deployment_id=dep.id)

    def _live(self, folder: Path) -> State:
        """``candidate`` plus an API key of its pre-prod deployment."""
        base = self.get("candidate")
        ctx = self._open(folder, "candidate")
        try:
            assert base.deployment_id is not None
            key = deployments.issue_key(ctx, base.people["dora"], base.deployment_id, label="tests")
        finally:
            ctx.close()
        return replace(base, name="live", folder=folder, key=key)

    def _in_prod(self, folder: Path) -> State:
        """``candidate`` approved by vera and deployed to prod (the production check scored for real)."""
        base = self.get("candidate")
        assert base.model_version_id is not None
        ctx = self._open(folder, "candidate")
        server = BackgroundServer(ctx).start()
        ctx.settings = replace(ctx.settings, scoring_url=server.url)
        try:
            with ctx.db.read() as session:
                mv = session.get(ModelVersion, base.model_version_id)
                assert mv is not None
                sha = mv.artifact_sha256
            outcome = approvals.approve(
                ctx, base.people["vera"], base.model_version_id, comment="reviewed", artifact_sha256=sha
            )
            assert outcome.deployment is not None, outcome
        finally:
            server.stop()
            ctx.close()
        return replace(base, name="in_prod", folder=folder, deployment_id=outcome.deployment.id)
