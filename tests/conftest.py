"""Shared fixtures: the German credit spec, small generated frames, a store in a temp folder.

A test's store starts as a copy of one of the session's templates (``tests/states.py``): the
empty migrated store, or, when the test asks for ``candidate``, ``live`` or ``in_prod``, the
store in that state. ``STATE_FIXTURES`` is the one table saying which fixture stands for which.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipeline_core.config import Settings
from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.serving.server import BackgroundServer
from tests.credentials import CHEAP_HASHER
from tests.ibm_fake import FakeCloudPak, running
from tests.postgres import PostgresServer, server_binaries
from tests.states import EMPTY, State, States, add_ibm_people, add_people, ibm_settings, ibm_setup, quick_settings

pytest_plugins = ("tests.live",)  # the live scoring-service fixtures, shared by services and serving tests

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "german_credit_data_biased_training.csv"
CHROMIUM = Path("/usr/bin/chromium")


def _system_packages(item: pytest.Item) -> set[str]:
    """The Debian packages a collected test needs: Chromium for the browser, PostgreSQL's server for its store."""
    needs = set()
    if item.get_closest_marker("browser"):
        needs.add("chromium")
    callspec = getattr(item, "callspec", None)
    fixtures = getattr(item, "fixturenames", ())
    if "pg_server" in fixtures or (callspec is not None and callspec.params.get("store_kind") == "postgresql"):
        needs.add("postgresql")
    return needs


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start a PostgreSQL server spawn processes: `make test-fast` (`-m "not slow"`) leaves them out."""
    for item in items:
        if "postgresql" in _system_packages(item):
            item.add_marker(pytest.mark.slow)


MISSING = "missing_system_packages"


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reports what it collected
def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop before the first test when the machine lacks a system package a selected test needs.

    One line naming the install, instead of a late error inside one test (or a silent skip). An
    xdist worker cannot stop the session cleanly: it runs nothing and tells the controller, which
    prints the line and exits with the same code (``pytest_sessionfinish``).
    """
    if session.config.option.collectonly:
        return
    present = {"chromium": CHROMIUM.is_file(), "postgresql": server_binaries() is not None}
    missing = {package for item in session.items for package in _system_packages(item) if not present[package]}
    if not missing:
        return
    packages = " ".join(sorted(missing))
    message = (
        f"the selected tests need {packages}: run 'sudo apt-get update && sudo apt-get install -y {packages}' "
        "(or 'make test', which installs them through scripts/test-deps)"
    )
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is None:
        pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)
    workeroutput[MISSING] = message
    session.items.clear()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: keep a worker's word that system packages are missing."""
    message = getattr(node, "workeroutput", {}).get(MISSING)
    if message:
        node.config.stash[_MISSING_KEY] = message


def pytest_sessionfinish(session: pytest.Session) -> None:
    """xdist's controller: the line a worker sent, and the exit code a session without xdist would give."""
    message = session.config.stash.get(_MISSING_KEY, None)
    if message:
        session.config.get_terminal_writer().line(f"ERROR: {message}", red=True)
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


_MISSING_KEY = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def spec() -> DataSpec:
    return german_credit_spec()


@pytest.fixture(scope="session")
def frame_600() -> pd.DataFrame:
    return generate_german_credit(600, seed=7)


@pytest.fixture
def frame(frame_600: pd.DataFrame) -> pd.DataFrame:
    return frame_600.copy()


# Fixtures that stand for a starting state of the store, and the state each one starts from
# (``ibm_candidate`` is the store and the fake Cloud Pak for Data of ``ibm_ctx``/``fake_cpd``).
STATE_FIXTURES = {
    "candidate": "candidate",
    "live": "live",
    "in_prod": "in_prod",
    "challenger": "challenger",
    "ibm_candidate": "ibm_candidate",
}


@pytest.fixture(scope="session")
def states(tmp_path_factory: pytest.TempPathFactory) -> States:
    """This session's (this xdist worker's) templates, built on first use."""
    return States(tmp_path_factory.mktemp("states"))


@pytest.fixture
def starting_state(request: pytest.FixtureRequest, states: States) -> State:
    """The template the test's store is copied from: the state its fixtures stand for, else the empty store."""
    wanted = sorted({STATE_FIXTURES[name] for name in request.fixturenames if name in STATE_FIXTURES})
    if len(wanted) > 1:
        raise pytest.UsageError(f"{request.node.nodeid} asks for starting states {wanted}: a store has one")
    if wanted == ["ibm_candidate"]:
        return states.get(EMPTY)  # ibm_ctx's store; a plain ctx beside it starts empty
    return states.get(wanted[0] if wanted else EMPTY)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return quick_settings(tmp_path / "data")


@pytest.fixture
def ctx(settings: Settings, starting_state: State) -> Iterator[ServiceContext]:
    """The test's store: a copy of its starting state (the templates are SQLite stores)."""
    if starting_state.name != EMPTY and not settings.database_url.startswith("sqlite"):
        raise pytest.UsageError(f"starting state {starting_state.name!r} is a SQLite store; {settings.database_url}")
    starting_state.copy_to(settings.data_dir)
    context = open_context(settings, password_hasher=CHEAP_HASHER)
    yield context
    context.close()


@pytest.fixture
def live_ctx(ctx: ServiceContext) -> Iterator[ServiceContext]:
    """A store with a scoring service running on a free loopback port, named in its settings."""
    server = BackgroundServer(ctx).start()
    ctx.settings = replace(ctx.settings, scoring_url=server.url)
    yield ctx
    server.stop()


@pytest.fixture
def csv_path(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "credit.csv"
    path.write_bytes(frame_to_csv_bytes(frame))
    return path


@pytest.fixture
def fake_cpd(tmp_path: Path, request: pytest.FixtureRequest, states: States) -> Iterator[FakeCloudPak]:
    """A local HTTPS stand-in for Cloud Pak for Data (watsonx.ai, OpenScale) for the IBM SDKs to talk to.

    With ``ibm_candidate``, a copy of the session's saved fake that served the candidate's pipeline run.
    """
    folder = tmp_path / "fake-cpd"
    if "ibm_candidate" in request.fixturenames:
        with states.ibm_candidate().restored(tmp_path / "data", folder) as fake:
            yield fake
        return
    folder.mkdir()
    yield from running(folder)


@pytest.fixture
def ibm_ctx(
    tmp_path: Path,
    fake_cpd: FakeCloudPak,
    monkeypatch: pytest.MonkeyPatch,
    states: States,
    request: pytest.FixtureRequest,
) -> Iterator[ServiceContext]:
    """All three IBM backends (watsonx.ai, OpenScale, AI Factsheets), here on the fake Cloud Pak for Data."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_cpd.ca_path))  # undone after the test, whoever set it
    if "ibm_candidate" in request.fixturenames:
        ids = states.ibm_candidate().ids  # the store was copied with the fake (fake_cpd)
    else:
        ids = ibm_setup(fake_cpd)
        states.get(EMPTY).copy_to(tmp_path / "data")
    context = open_context(ibm_settings(tmp_path / "data", fake_cpd, ids), password_hasher=CHEAP_HASHER)
    yield context
    context.close()


@pytest.fixture
def crew(ibm_ctx: ServiceContext, request: pytest.FixtureRequest, states: States) -> dict[str, Principal]:
    """An admin, a data scientist and a validator on the IBM store."""
    if "ibm_candidate" in request.fixturenames:
        return dict(states.ibm_candidate().people)
    return add_ibm_people(ibm_ctx)


@pytest.fixture
def ibm_candidate(ibm_ctx: ServiceContext, crew: dict[str, Principal], states: States) -> int:
    """dora's model version awaiting review, deployed to the pre-prod space of the fake by the IBM pipeline."""
    return states.ibm_candidate().model_version_id


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_file():
        pytest.skip(f"the IBM sample is not at {REAL_DATA} (../shared/data is absent on this machine)")
    return REAL_DATA


@pytest.fixture
def people(ctx: ServiceContext, starting_state: State) -> dict[str, Principal]:
    """One user per role (plus a second data scientist and validator) in the test store."""
    return dict(starting_state.people) if starting_state.people else add_people(ctx)


@pytest.fixture
def candidate(live_ctx: ServiceContext, people: dict[str, Principal], starting_state: State) -> int:
    """A model version awaiting review (dora's pipeline run), served in pre-prod by the test's scoring service."""
    assert starting_state.model_version_id is not None
    return starting_state.model_version_id


@pytest.fixture
def in_prod(live_ctx: ServiceContext, people: dict[str, Principal], starting_state: State) -> int:
    """The prod deployment of dora's model version, approved by vera; the test's scoring service serves it."""
    assert starting_state.deployment_id is not None
    return starting_state.deployment_id


@pytest.fixture
def challenger(live_ctx: ServiceContext, people: dict[str, Principal], starting_state: State) -> int:
    """A second version of dora's model awaiting review in pre-prod while the first serves in prod (``in_prod``);
    the test's scoring service serves both, and ``starting_state.key`` opens the prod deployment."""
    assert starting_state.challenger_id is not None
    return starting_state.challenger_id


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test session's own, on a free loopback port."""
    binaries = server_binaries()
    assert binaries is not None, "checked before the first test (pytest_collection_finish)"
    server = PostgresServer(binaries).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port: the S3 protocol, spoken for real over HTTP."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
