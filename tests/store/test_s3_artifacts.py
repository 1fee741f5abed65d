"""The S3 / COS artifact store beyond the shared contract: integrity, named errors, HMAC vs IAM signing, settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pipeline_core.backends.factory import make_artifact_store
from pipeline_core.backends.s3 import S3ArtifactStore, s3_client
from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError, IntegrityError, StoreError
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import open_context
from pipeline_core.services.datasets import register_file
from tests.states import DORA, add_people
from tests.store.test_artifacts import new_bucket


def test_a_tampered_object_is_refused_with_its_location(s3_endpoint: str) -> None:
    store = new_bucket(s3_endpoint)
    digest = store.put(b"original model")
    store.client.put_object(Bucket=store.bucket, Key=f"artifacts/{digest[:2]}/{digest}", Body=b"tampered")
    with pytest.raises(IntegrityError, match=rf"artifact {digest} is corrupt: its bytes in s3://{store.bucket}/"):
        store.get(digest)


def test_sdk_errors_name_the_call_bucket_and_key(s3_endpoint: str) -> None:
    client = s3_client(endpoint=s3_endpoint, region="us-east-1", access_key_id="test", secret_access_key="test")
    store = S3ArtifactStore(client, bucket="no-such-bucket")
    with pytest.raises(
        StoreError, match=r"put_object s3://no-such-bucket/artifacts/[0-9a-f]{2}/[0-9a-f]{64} failed: NoSuchBucket"
    ):
        store.put(b"x")
    dead = s3_client(endpoint="http://127.0.0.1:9", region="us-east-1", access_key_id="test", secret_access_key="test")
    with pytest.raises(StoreError, match=r"head_object s3://b/.* failed: EndpointConnectionError"):
        S3ArtifactStore(dead, bucket="b").exists("a" * 64)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {},
            r"needs credentials: MLOPS_S3_ACCESS_KEY_ID and MLOPS_S3_SECRET_ACCESS_KEY \(HMAC\), or MLOPS_COS_API_KEY",
        ),
        ({"access_key_id": "only-half"}, r"needs credentials"),
        ({"api_key": "k"}, r"IAM access to COS needs cos_instance_id"),
    ],
)
def test_missing_credentials_are_named(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        s3_client(endpoint="http://127.0.0.1:9", region="us-east-1", **kwargs)


class _FakeIAM(BaseHTTPRequestHandler):
    """IBM Cloud IAM's token endpoint: an API key in, a bearer token out."""

    grants: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.grants.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        body = json.dumps(
            {
                "access_token": "iam-token-123",
                "refresh_token": "r",
                "token_type": "Bearer",
                "expires_in": 3600,
                "expiration": int(time.time()) + 3600,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def iam_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeIAM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/identity/token"
    server.shutdown()


def _authorizations(client: Any) -> list[str]:
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        header = request.headers["Authorization"]
        seen.append(header.decode() if isinstance(header, bytes) else header)

    client.meta.events.register("before-send.s3", capture)
    return seen


def test_iam_signs_with_a_bearer_token_and_hmac_with_sigv4(s3_endpoint: str, iam_endpoint: str) -> None:
    iam = s3_client(
        endpoint=s3_endpoint,
        region="us-east-1",
        api_key="cos-api-key",
        instance_id="crn:v1:cos",
        auth_endpoint=iam_endpoint,
    )
    assert iam.meta.config.signature_version == "oauth"
    sent = _authorizations(iam)
    iam.create_bucket(Bucket="mlops-iam")
    store = S3ArtifactStore(iam, bucket="mlops-iam")
    assert store.get(store.put(b"model")) == b"model"
    assert sent and all(header == "Bearer iam-token-123" for header in sent)
    assert any("apikey=cos-api-key" in grant for grant in _FakeIAM.grants)

    hmac = s3_client(endpoint=s3_endpoint, region="us-east-1", access_key_id="hmac-id", secret_access_key="hmac-secret")
    assert hmac.meta.config.signature_version == "s3v4"
    sent = _authorizations(hmac)
    S3ArtifactStore(hmac, bucket="mlops-iam").exists("b" * 64)
    assert sent and all(h.startswith("AWS4-HMAC-SHA256 Credential=hmac-id/") for h in sent)


def test_settings_choose_the_bucket_and_the_services_use_it(
    s3_endpoint: str, tmp_path: Path, csv_path: Path, spec: Any
) -> None:
    env = {
        "MLOPS_DATA_DIR": str(tmp_path / "data"),
        "MLOPS_DATA_ROOTS": str(tmp_path),  # where csv_path is
        "MLOPS_ARTIFACT_BACKEND": "s3",
        "MLOPS_S3_BUCKET": "mlops-team",
        "MLOPS_S3_ENDPOINT": s3_endpoint,
        "MLOPS_S3_ACCESS_KEY_ID": "test",
        "MLOPS_S3_SECRET_ACCESS_KEY": "test",
    }
    settings = Settings.load(env)
    assert "key-id-7f3" not in repr(settings) and "secret-9c1" not in repr(settings)  # kept out of reprs and logs
    store = make_artifact_store(settings)
    assert isinstance(store, S3ArtifactStore)
    store.client.create_bucket(Bucket="mlops-team")
    ctx = open_context(settings)
    try:
        dataset = register_file(ctx, add_people(ctx)["dora"], csv_path, spec=spec)
        assert isinstance(ctx.artifacts, S3ArtifactStore) and ctx.artifacts.exists(dataset.sha256)
        listed = store.client.list_objects_v2(Bucket="mlops-team")["Contents"]
        assert [o["Key"] for o in listed] == [f"artifacts/{dataset.sha256[:2]}/{dataset.sha256}"]
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"artifact_backend": "s3"}, r"artifact_backend 's3' needs s3_bucket and s3_endpoint"),
        ({"artifact_backend": "ftp"}, r"artifact_backend 'ftp' is not 'local' or 's3'"),
    ],
)
def test_incomplete_s3_settings_are_named(values: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Settings.from_dict(values)


def test_credentials_in_a_config_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "mlops.toml"
    config.write_text('artifact_backend = "s3"\ns3_secret_access_key = "oops"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sets 's3_secret_access_key': secrets come from the environment"):
        Settings.load({}, config_file=config)


def test_training_data_is_read_from_a_bucket_object(
    ctx: Any, people: dict[str, Principal], s3_endpoint: str, csv_path: Path, spec: Any
) -> None:
    from dataclasses import replace

    from pipeline_core.data.load import read_csv_file

    client = s3_client(endpoint=s3_endpoint, region="us-east-1", access_key_id="test", secret_access_key="test")
    client.create_bucket(Bucket="cos-training")
    client.put_object(Bucket="cos-training", Key="german_credit.csv", Body=csv_path.read_bytes())
    with pytest.raises(ConfigError, match="reading from S3 / COS needs s3_endpoint"):
        register_file(ctx, people["dora"], "s3://cos-training/german_credit.csv", spec=spec)
    ctx.settings = replace(ctx.settings, s3_endpoint=s3_endpoint, s3_access_key_id="test", s3_secret_access_key="test")
    dataset = register_file(ctx, people["dora"], "s3://cos-training/german_credit.csv", spec=spec)
    assert dataset.source == "s3://cos-training/german_credit.csv"
    assert dataset.sha256 == read_csv_file(csv_path, roots=[csv_path.parent]).sha256  # the same bytes as the local file
    for uri, match in [
        ("s3://cos-training/missing.csv", r"object s3://cos-training/missing.csv does not exist"),
        ("s3://Bad_Bucket/x.csv", r"'s3://Bad_Bucket/x.csv' is not an object URI"),
    ]:
        with pytest.raises((StoreError, ConfigError), match=match):
            register_file(ctx, DORA, uri, spec=spec)
