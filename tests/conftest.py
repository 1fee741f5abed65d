"""Shared fixtures: the German credit spec, small generated frames, a store in a temp folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from pipeline_core.config import Settings
from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import users
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.serving.server import BackgroundServer
from tests.ibm_fake import API_KEY as IBM_API_KEY
from tests.ibm_fake import USER as IBM_USER
from tests.ibm_fake import FakeCloudPak, running
from tests.postgres import PostgresServer, server_binaries

pytest_plugins = ("tests.live",)  # the live scoring-service fixtures, shared by services and serving tests

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "german_credit_data_biased_training.csv"


@pytest.fixture(scope="session")
def spec() -> DataSpec:
    return german_credit_spec()


@pytest.fixture(scope="session")
def frame_600() -> pd.DataFrame:
    return generate_german_credit(600, seed=7)


@pytest.fixture
def frame(frame_600: pd.DataFrame) -> pd.DataFrame:
    return frame_600.copy()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", heartbeat_interval=0.2, heartbeat_timeout=2.0, poll_interval=0.1)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[ServiceContext]:
    context = open_context(settings)
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
def fake_cpd(tmp_path: Path) -> Iterator[FakeCloudPak]:
    """A local HTTPS stand-in for Cloud Pak for Data (watsonx.ai, OpenScale) for the IBM SDKs to talk to."""
    folder = tmp_path / "fake-cpd"
    folder.mkdir()
    yield from running(folder)


@pytest.fixture
def ibm_ctx(tmp_path: Path, fake_cpd: FakeCloudPak, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceContext]:
    """All three IBM backends (watsonx.ai, OpenScale, AI Factsheets), here on the fake Cloud Pak for Data."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_cpd.ca_path))  # undone after the test, whoever set it
    preprod, prod = fake_cpd.add_space("credit preprod"), fake_cpd.add_space("credit prod")
    usecase, catalog = fake_cpd.add_usecase("credit risk scoring", phases={preprod: "Validate", prod: "Operate"})
    fake_cpd.define_facts(REPO / "docs" / "factsheets_facts.csv")  # the administrator's one-time step
    settings = Settings(
        data_dir=tmp_path / "data",
        heartbeat_interval=0.2,
        heartbeat_timeout=2.0,
        poll_interval=0.1,
        deployment_backend="ibm",
        monitor_backend="ibm",
        ibm_url=fake_cpd.url,
        ibm_username=IBM_USER,
        ibm_api_key=IBM_API_KEY,
        ibm_ca_bundle=str(fake_cpd.ca_path),
        ibm_space_preprod=preprod,
        ibm_space_prod=prod,
        factsheet_backend="ibm",
        factsheets_usecase_id=usecase,
        factsheets_catalog_id=catalog,
    )
    context = open_context(settings)
    yield context
    context.close()


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_file():
        pytest.skip(f"the IBM sample is not at {REAL_DATA} (../shared/data is absent on this machine)")
    return REAL_DATA


PASSWORD = "correct horse battery"  # test-only credential for throwaway stores


@pytest.fixture
def people(ctx: ServiceContext) -> dict[str, Principal]:
    """One user per role (plus a second data scientist and validator) in the test store."""
    admin = users.add_user(ctx, None, username="ada", role="admin", password=PASSWORD)
    out = {"admin": admin}
    for name, role in [
        ("dora", "data_scientist"),
        ("dan", "data_scientist"),
        ("vera", "validator"),
        ("victor", "validator"),
        ("max", "manager"),
    ]:
        out[name] = users.add_user(ctx, admin, username=name, role=role, password=PASSWORD)
    return out


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test session's own, on a free loopback port."""
    binaries = server_binaries()
    if binaries is None:
        message = "PostgreSQL server binaries are not installed (apt-get install postgresql; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
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
