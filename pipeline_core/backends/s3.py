"""S3 / IBM Cloud Object Storage artifact store: ``<prefix><ab>/<abcdef...>`` objects named by sha256.

Built on ``ibm-cos-sdk`` (``ibm_boto3``), imported only when this backend is chosen. Two
ways to authenticate: an HMAC key pair (any S3-protocol store; SigV4 signing), or an IBM
Cloud IAM API key with the COS service instance id, whose requests carry an IAM token
(``signature_version="oauth"``, which HMAC must not use). An S3 PUT makes an object
visible whole or not at all, so no temporary object is needed; every read re-hashes the
bytes. Every SDK error becomes a ``StoreError`` naming the bucket, the key and the call.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pipeline_core.errors import ArtifactCorrupt, ConfigError, NotFoundError, StoreError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MISSING = {"404", "NoSuchKey", "NotFound"}


def s3_client(
    *,
    endpoint: str,
    region: str,
    access_key_id: str = "",
    secret_access_key: str = "",
    api_key: str = "",
    instance_id: str = "",
    auth_endpoint: str = "",
) -> Any:
    """An ``ibm_boto3`` S3 client with HMAC keys, or with an IAM API key and service instance id."""
    try:
        import ibm_boto3
        from ibm_botocore.client import Config
    except ImportError as exc:
        raise ConfigError("the S3 / COS artifact store needs ibm-cos-sdk: pip install -r requirements-ibm.txt") from exc
    if api_key:
        if not instance_id:
            raise ConfigError("IAM access to COS needs cos_instance_id (MLOPS_COS_INSTANCE_ID) with MLOPS_COS_API_KEY")
        return ibm_boto3.client(
            "s3",
            ibm_api_key_id=api_key,
            ibm_service_instance_id=instance_id,
            ibm_auth_endpoint=auth_endpoint,
            config=Config(signature_version="oauth"),
            endpoint_url=endpoint,
            region_name=region,
        )
    if not (access_key_id and secret_access_key):
        raise ConfigError(
            "the S3 artifact store needs credentials: MLOPS_S3_ACCESS_KEY_ID and MLOPS_S3_SECRET_ACCESS_KEY (HMAC), "
            "or MLOPS_COS_API_KEY with MLOPS_COS_INSTANCE_ID (IBM Cloud IAM)"
        )
    return ibm_boto3.client(
        "s3",
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(signature_version="s3v4"),
        endpoint_url=endpoint,
        region_name=region,
    )


def parse_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); anything else is a ``ConfigError`` naming it."""
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(.+)", uri)
    if match is None:
        raise ConfigError(f"{uri!r} is not an object URI of the form s3://bucket/key")
    return match.group(1), match.group(2)


def read_object(client: Any, uri: str) -> bytes:
    """The bytes of the object at ``s3://bucket/key``; a missing object or bucket is named."""
    bucket, key = parse_uri(uri)
    try:
        data: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if _code(exc) in _MISSING | {"NoSuchBucket"}:
            raise NotFoundError(f"object {uri} does not exist ({_code(exc)})") from exc
        raise StoreError(f"get_object {uri} failed: {_reason(exc)}") from exc
    return data


class S3ArtifactStore:
    """Artifacts as objects of one bucket, addressed by the sha256 of their bytes."""

    def __init__(self, client: Any, *, bucket: str, prefix: str = "artifacts/") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _key(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise StoreError(f"{sha256!r} is not a sha256 hex digest")
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        key = self._key(digest)
        if self.exists(digest):
            return digest
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except Exception as exc:
            raise StoreError(f"put_object {self._where(key)} failed: {_reason(exc)}") from exc
        return digest

    def get(self, sha256: str) -> bytes:
        key = self._key(sha256)
        try:
            data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:
            if _code(exc) in _MISSING:
                raise NotFoundError(f"artifact {sha256} is not in {self._where(self.prefix)}") from exc
            raise StoreError(f"get_object {self._where(key)} failed: {_reason(exc)}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            where = self._where(key)
            raise ArtifactCorrupt(
                f"artifact {sha256} is corrupt: its bytes in {where} hash to {actual}", sha256=sha256, found=actual
            )
        return data

    def exists(self, sha256: str) -> bool:
        key = self._key(sha256)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in _MISSING:
                return False
            raise StoreError(f"head_object {self._where(key)} failed: {_reason(exc)}") from exc
        return True


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _reason(exc: Exception) -> str:
    code = _code(exc)
    return f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"
