"""The one place that turns settings strings into backend objects."""

from __future__ import annotations

from typing import Any

from pipeline_core.backends.base import ArtifactStore, DeploymentTarget, ExternalMonitors, FactsheetService
from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError


def make_artifact_store(settings: Settings) -> ArtifactStore:
    """The artifact store named by ``settings.artifact_backend``."""
    if settings.artifact_backend == "local":
        from pipeline_core.store.artifacts import LocalArtifactStore

        return LocalArtifactStore(settings.artifact_dir)
    if settings.artifact_backend == "s3":
        from pipeline_core.backends.s3 import S3ArtifactStore

        return S3ArtifactStore(make_s3_client(settings), bucket=settings.s3_bucket, prefix=settings.s3_prefix)
    raise ConfigError(f"artifact_backend {settings.artifact_backend!r} is not supported; use 'local' or 's3'")


def make_s3_client(settings: Settings) -> Any:
    """An S3 / COS client from the settings' endpoint and credentials (HMAC, or IAM API key)."""
    from pipeline_core.backends.s3 import s3_client

    if not settings.s3_endpoint:
        raise ConfigError("reading from S3 / COS needs s3_endpoint (MLOPS_S3_ENDPOINT) and credentials")
    return s3_client(
        endpoint=settings.s3_endpoint,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        api_key=settings.cos_api_key,
        instance_id=settings.cos_instance_id,
        auth_endpoint=settings.cos_auth_endpoint,
    )


def ibm_credentials(settings: Settings) -> Any:
    """The IBM credentials named by the settings (the API key from the environment or secrets)."""
    from pipeline_core.backends.ibm.wml import IbmCredentials

    return IbmCredentials(
        url=settings.ibm_url,
        api_key=settings.ibm_api_key,
        username=settings.ibm_username,
        version=settings.ibm_version,
        ca_bundle=settings.ibm_ca_bundle,
    )


def make_deployment_target(settings: Settings, artifacts: ArtifactStore) -> DeploymentTarget:
    """The deployment target named by ``settings.deployment_backend``; IBM's contacts nobody until used."""
    if settings.deployment_backend == "local":
        from pipeline_core.backends.local import LocalDeploymentTarget

        return LocalDeploymentTarget(artifacts)
    if settings.deployment_backend == "ibm":
        from pipeline_core.backends.ibm.wml import WatsonxDeploymentTarget

        spaces = {"dev": settings.ibm_space_dev, "preprod": settings.ibm_space_preprod, "prod": settings.ibm_space_prod}
        return WatsonxDeploymentTarget(
            ibm_credentials(settings),
            spaces={k: v for k, v in spaces.items() if v},
            software_spec=settings.ibm_software_spec,
            model_type=settings.ibm_model_type,
        )
    raise ConfigError(f"deployment_backend {settings.deployment_backend!r} is not supported; use 'local' or 'ibm'")


def make_external_monitors(settings: Settings) -> ExternalMonitors | None:
    """OpenScale when ``settings.monitor_backend`` is "ibm"; None: the local monitors alone."""
    if settings.monitor_backend == "local":
        return None
    if settings.monitor_backend == "ibm":
        from pipeline_core.backends.ibm.openscale import OpenScaleMonitors

        return OpenScaleMonitors(
            ibm_credentials(settings),
            url=settings.openscale_url,
            instance_id=settings.openscale_instance_id,
            data_mart_id=settings.openscale_data_mart_id,
        )
    raise ConfigError(f"monitor_backend {settings.monitor_backend!r} is not supported; use 'local' or 'ibm'")


def make_factsheets(settings: Settings) -> FactsheetService | None:
    """AI Factsheets when ``settings.factsheet_backend`` is "ibm"; None: facts stay in the metadata store."""
    if settings.factsheet_backend == "local":
        return None
    if settings.factsheet_backend == "ibm":
        from pipeline_core.backends.ibm.factsheets import AIFactsheets

        return AIFactsheets(
            ibm_credentials(settings),
            usecase_id=settings.factsheets_usecase_id,
            catalog_id=settings.factsheets_catalog_id,
            approach_id=settings.factsheets_approach_id,
            work_dir=settings.data_dir / "factsheets",
        )
    raise ConfigError(f"factsheet_backend {settings.factsheet_backend!r} is not supported; use 'local' or 'ibm'")
