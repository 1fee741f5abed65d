"""The one place that turns settings strings into backend objects."""

from __future__ import annotations

from pipeline_core.backends.base import ArtifactStore
from pipeline_core.config import Settings
from pipeline_core.errors import ConfigError


def make_artifact_store(settings: Settings) -> ArtifactStore:
    """The artifact store named by ``settings.artifact_backend``."""
    if settings.artifact_backend == "local":
        from pipeline_core.store.artifacts import LocalArtifactStore

        return LocalArtifactStore(settings.artifact_dir)
    raise ConfigError(f"artifact_backend {settings.artifact_backend!r} is not supported; use 'local'")
