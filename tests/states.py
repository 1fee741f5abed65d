"""Starting states of a test's store, each built once per test session and copied into the test's folder.

A test that needs "a candidate awaiting review" or "a model in prod" used to run the whole
pipeline in its fixture (seconds each, 80-odd times a session). Here each state is built once,
through the same services and the real pipeline, into a template data folder that is closed
cleanly (SQLite's WAL folded back into the file, the scoring service's payload drained), and a
test gets a byte-for-byte copy of it: the same rows, ids, artifacts, audit chain and payload as
the fixture used to build, without the wait. Tests of the run itself still run the pipeline.

States build on one another (``candidate`` -> ``live``, ``candidate`` -> ``in_prod``) and are
built lazily, so a session that never asks for one never pays for it. ``ibm_candidate`` is a
candidate built on the fake Cloud Pak for Data: its template is the store *and* the fake's state
(spaces, assets, deployments, OpenScale, facts, the calls it received), brought back on the port
the store's deployments point at.
"""

from __future__ import annotations

import copy
import os
import random
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from pipeline_core.config import Settings
from pipeline_core.data.german_credit import german_credit_spec
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.datasets import count_payload, set_thresholds
from pipeline_core.serving.server import BackgroundServer
from pipeline_core.store.models import ModelVersion
from tests.credentials import CHEAP_HASHER, PASSWORD
from tests.ibm_fake import API_KEY as IBM_API_KEY
from tests.ibm_fake import USER as IBM_USER
from tests.ibm_fake import FakeCloudPak, FakeState, running
from tests.processes import wait_for
from tests.services.helpers import make_candidate

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T", "State", "IbmState")

# One user per role, plus a second data scientist and validator; "ada" (admin) adds the others.
# dora as the services see her: the data scientist who registers the test datasets.
DORA = Principal("dora", "data_scientist")

PEOPLE = (
    ("admin", "ada", "admin"),
    ("dora", "dora", "data_scientist"),
    ("dan", "dan", "data_scientist"),
    ("vera", "vera", "validator"),
    ("victor", "victor", "validator"),
    ("max", "max", "manager"),
)
EMPTY = "empty"


def quick_settings(data_dir: Path, **overrides: Any) -> Settings:
    """What every test store runs with: quick heartbeats and polls; training data from the test's folder.

    Tests write their CSV files beside the data folder (``tmp_path``), so that is their allowed data
    folder (``data_roots``); the tests of the rule itself give their own.
    """
    base = Settings(
        data_dir=data_dir,
        heartbeat_interval=0.2,
        heartbeat_timeout=2.0,
        poll_interval=0.1,
        data_roots=(data_dir.parent,),
    )
    return replace(base, **overrides)


# A test's run trains on 600 rows: its test split (120 records) has 13-21 young applicants and about 50
# women. At the product's minimum of 100 records per group those critical checks could not be judged,
# and unjudged blocks approval; so the admin of a test store sets minimums a test split can meet.
TEST_SCALE_MINIMUMS = {"quality_min_records": 50, "fairness_min_records": 8, "drift_min_records": 50}


def add_people(ctx: ServiceContext) -> dict[str, Principal]:
    """The users of ``PEOPLE``, added through the users service (the first one bootstraps), and the admin's
    test-scale minimums for the German credit spec (``TEST_SCALE_MINIMUMS``)."""
    out: dict[str, Principal] = {}
    for key, name, role in PEOPLE:
        admin = out.get("admin")
        out[key] = (
            governance.add_user(ctx, admin, username=name, role=role, password=PASSWORD)
            if admin is not None
            else governance.add_first_admin(ctx, username=name, password=PASSWORD)
        )
    set_thresholds(ctx, out["admin"], german_credit_spec(), TEST_SCALE_MINIMUMS)
    return out


def _assert_closed(folder: Path) -> None:
    """A template is copied file by file: its SQLite store must have folded its write-ahead log back in."""
    leftovers = sorted(p.name for p in folder.glob("*.db-wal"))
    assert not leftovers, f"template {folder} still has an open SQLite write-ahead log: {leftovers}"


@dataclass(frozen=True)
class State:
    """A closed template data folder and what a test needs to know about what is in it."""

    name: str
    folder: Path
    people: dict[str, Principal] = field(default_factory=dict)
    model_version_id: int | None = None
    deployment_id: int | None = None  # the pre-prod deployment; in_prod: the prod one
    key: str | None = None  # an API key of ``deployment_id`` (live, challenger)
    challenger_id: int | None = None  # challenger: the second version, awaiting review in pre-prod

    def copy_to(self, data_dir: Path) -> None:
        shutil.copytree(self.folder, data_dir, dirs_exist_ok=True)


class States:
    """The session's templates under ``root``, built on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._built: dict[str, State] = {}
        self._failed: dict[str, BaseException] = {}
        self._ibm: dict[str, IbmState] = {}
        self._builders: dict[str, Callable[[Path], State]] = {
            EMPTY: self._empty,
            "candidate": self._candidate,
            "live": self._live,
            "in_prod": self._in_prod,
            "challenger": self._challenger,
        }

    def get(self, name: str) -> State:
        """The state, built on first use."""
        return self._once(self._built, name, lambda: self._builders[name](self.root / name))

    def ibm_candidate(self) -> IbmState:
        return self._once(self._ibm, "ibm_candidate", lambda: build_ibm_candidate(self.root, self.get(EMPTY)))

    def _once(self, built: dict[str, T], name: str, build: Callable[[], T]) -> T:
        """``build()`` the first time, checked closed; a build that failed fails every later ask with its error."""
        if name in self._failed:
            raise RuntimeError(f"the starting state {name!r} could not be built (first error above)") from (
                self._failed[name]
            )
        if name not in built:
            try:
                state = build()
                _assert_closed(state.folder)
            except Exception as exc:
                self._failed[name] = exc
                raise
            built[name] = state
        return built[name]

    def _open(self, folder: Path, base: str | None) -> ServiceContext:
        if base is not None:
            self.get(base).copy_to(folder)
        return open_context(quick_settings(folder), password_hasher=CHEAP_HASHER)

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
            window = monitoring.list_evaluations(ctx, people["dora"], model_version_id=mv)[0].data_window
            settled = 5 + int(window["records"])
            wait_for(
                lambda: count_payload(ctx, SYSTEM, deployment_id=dep.id) == settled, timeout=20, what="the payload"
            )
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
            outcome = governance.approve(
                ctx, base.people["vera"], base.model_version_id, comment="reviewed", artifact_sha256=sha
            )
            assert outcome.deployment is not None, outcome
        finally:
            server.stop()
            ctx.close()
        return replace(base, name="in_prod", folder=folder, deployment_id=outcome.deployment.id)

    def _challenger(self, folder: Path) -> State:
        """``in_prod`` plus a second version of the model (dora's run on other data) awaiting review in pre-prod,
        and an API key of the prod deployment: what a shadow needs."""
        base = self.get("in_prod")
        assert base.deployment_id is not None
        ctx = self._open(folder, "in_prod")
        server = BackgroundServer(ctx).start()
        ctx.settings = replace(ctx.settings, scoring_url=server.url)
        try:
            inputs = folder.parent / f"{folder.name}-input"
            inputs.mkdir()
            challenger = make_candidate(ctx, base.people["dora"], inputs, seed=23)
            key = deployments.issue_key(ctx, base.people["dora"], base.deployment_id, label="tests")
        finally:
            server.stop()
            ctx.close()
        return replace(base, name="challenger", folder=folder, key=key, challenger_id=challenger)


def ibm_setup(fake: FakeCloudPak) -> dict[str, str]:
    """What an administrator sets up on the platform: two spaces, an AI use case over them, the fact definitions."""
    preprod, prod = fake.add_space("credit preprod"), fake.add_space("credit prod")
    usecase, catalog = fake.add_usecase("credit risk scoring", phases={preprod: "Validate", prod: "Operate"})
    fake.define_facts(REPO / "docs" / "factsheets_facts.csv")
    return {
        "ibm_space_preprod": preprod,
        "ibm_space_prod": prod,
        "factsheets_usecase_id": usecase,
        "factsheets_catalog_id": catalog,
    }


def ibm_settings(data_dir: Path, fake: FakeCloudPak, ids: dict[str, str]) -> Settings:
    """All three IBM backends (watsonx.ai, OpenScale, AI Factsheets) on ``fake``."""
    return quick_settings(
        data_dir,
        deployment_backend="ibm",
        monitor_backend="ibm",
        factsheet_backend="ibm",
        ibm_url=fake.url,
        ibm_username=IBM_USER,
        ibm_api_key=IBM_API_KEY,
        ibm_ca_bundle=str(fake.ca_path),
        **ids,
    )


def _port_outside_the_ephemeral_range() -> int:
    """A free port the kernel never hands out to a client socket, so it stays ours between tests."""
    low, _high = (int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    below = (10000, low) if low > 11000 else (1024, 10000)  # a range that starts low: the ports under 10000
    for _ in range(200):
        port = random.randrange(*below)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")


@contextmanager
def ca_bundle(path: Path) -> Iterator[None]:
    """REQUESTS_CA_BUNDLE for the facts client while a template is built (a test sets it with monkeypatch)."""
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = before


@dataclass(frozen=True)
class IbmState:
    """A candidate on the fake Cloud Pak for Data: the store, the fake's state, its CA and port, the settings' ids."""

    folder: Path
    fake_folder: Path
    fake_state: FakeState
    port: int
    ids: dict[str, str]
    people: dict[str, Principal]
    model_version_id: int

    @contextmanager
    def restored(self, data_dir: Path, fake_folder: Path) -> Iterator[FakeCloudPak]:
        """The store copied to ``data_dir`` and a fake serving a copy of the saved state, until the block ends."""
        shutil.copytree(self.folder, data_dir, dirs_exist_ok=True)
        shutil.copytree(self.fake_folder, fake_folder, dirs_exist_ok=True)
        yield from running(fake_folder, port=self.port, state=copy.deepcopy(self.fake_state))


IBM_PEOPLE = (("admin", "ada", "admin"), ("dora", "dora", "data_scientist"), ("vera", "vera", "validator"))


def add_ibm_people(ctx: ServiceContext) -> dict[str, Principal]:
    out: dict[str, Principal] = {}
    for key, name, role in IBM_PEOPLE:
        admin = out.get("admin")
        out[key] = (
            governance.add_user(ctx, admin, username=name, role=role, password=PASSWORD)
            if admin is not None
            else governance.add_first_admin(ctx, username=name, password=PASSWORD)
        )
    set_thresholds(ctx, out["admin"], german_credit_spec(), TEST_SCALE_MINIMUMS)
    return out


def build_ibm_candidate(root: Path, empty: State) -> IbmState:
    """dora's candidate through the IBM pipeline: deployed to the pre-prod space, subscribed, tracked."""
    folder, fake_folder, inputs = root / "ibm_candidate", root / "ibm_candidate-fake", root / "ibm_candidate-input"
    fake_folder.mkdir(parents=True)
    inputs.mkdir()
    empty.copy_to(folder)
    port = _port_outside_the_ephemeral_range()
    with contextmanager(running)(fake_folder, port=port) as fake:
        ids = ibm_setup(fake)
        with ca_bundle(fake.ca_path):
            ctx = open_context(ibm_settings(folder, fake, ids), password_hasher=CHEAP_HASHER)
            try:
                people = add_ibm_people(ctx)
                mv = make_candidate(ctx, people["dora"], inputs)
            finally:
                ctx.close()
        saved = copy.deepcopy(fake.state)
    return IbmState(folder, fake_folder, saved, port, ids, people, mv)
