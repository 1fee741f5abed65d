"""``ServiceContext``: settings, the metadata database, the artifact store and the deployment target, opened once."""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher

from pipeline_core.backends.base import ArtifactStore, DeploymentTarget, ExternalMonitors, FactsheetService
from pipeline_core.backends.factory import (
    make_artifact_store,
    make_deployment_target,
    make_external_monitors,
    make_factsheets,
)
from pipeline_core.config import Settings
from pipeline_core.services import audit
from pipeline_core.store.db import Database
from pipeline_core.store.files import private_folder


@dataclass
class ServiceContext:
    settings: Settings
    db: Database
    artifacts: ArtifactStore
    deployments: DeploymentTarget
    monitors: ExternalMonitors | None = None  # OpenScale beside the local monitors, when configured
    factsheets: FactsheetService | None = None  # AI Factsheets beside the store's facts, when configured
    # argon2id at the library's RFC 9106 parameters (m=64 MiB, t=3, p=4); only a test suite that hashes
    # hundreds of throwaway passwords passes a cheaper one. Verifying reads the cost from the stored hash.
    password_hasher: PasswordHasher = field(default_factory=PasswordHasher)

    def close(self) -> None:
        self.db.dispose()


def open_context(
    settings: Settings | None = None, *, migrate: bool = True, password_hasher: PasswordHasher | None = None
) -> ServiceContext:
    """Open the stores named by ``settings`` and bring the schema up to date.

    The data folder is its owner's alone (0700, tightened if it was not): it holds the SQLite
    store, the payload and the artifacts, and whatever else a component writes there is private
    by being in it.
    """
    settings = settings or Settings.load()
    private_folder(settings.data_dir, what="data folder")
    _make_data_roots(settings)
    seal = audit.load_seal(
        key=settings.audit_key,
        # The key file is the embedded default's only: a shared store's processes share one key from the environment.
        key_file=settings.data_dir / "audit" / "key" if settings.database_url.startswith("sqlite") else None,
        anchor_path=settings.audit_anchor_path,
    )
    db = Database(settings.database_url, session_info={audit.SESSION_KEY: seal})
    if migrate:
        db.migrate()
    artifacts = make_artifact_store(settings)
    return ServiceContext(
        settings=settings,
        db=db,
        artifacts=artifacts,
        deployments=make_deployment_target(settings, artifacts),
        monitors=make_external_monitors(settings),
        factsheets=make_factsheets(settings),
        password_hasher=password_hasher or PasswordHasher(),
    )


def _make_data_roots(settings: Settings) -> None:
    """The data folders inside the data folder (the default ``datasets``), made private (0700) if new.

    Folders configured elsewhere are the administrator's to make: a misspelt one is not made silently.
    """
    for root in settings.data_roots:
        if root.is_relative_to(settings.data_dir) and not root.exists():
            private_folder(root, what="data folder")
