"""Which deployments exist, which keys open them, and their loaded models.

A background thread re-reads the store every ``refresh_interval`` seconds (and a request
naming an unknown deployment or key triggers a read at once, shared by concurrent misses). A
changed deployment is loaded, hash verified, *before* it replaces the entry the scorers
use, so requests in flight finish on the old model and none fails during a replace.
Models are cached by artifact sha256.

A deployment whose artifact fails its integrity check (missing, altered on disk, not loading;
``deployments.verify_artifact``) stays in the snapshot as refused: its requests are answered
503 with the reason, not 404 as if it did not exist, ``/health`` lists it, and the others are
served. The failure is recorded (audit event, alert) once per deployment and artifact, not at
every refresh; each refresh checks again, so a restored artifact is served at once.

Before that, every refresh asks the serving gate (``deployments.serving_verdicts``) whether each
deployment may serve the version the store names: in prod only a version with a valid approval of
its artifact, recorded in the audit chain; nowhere a failed one. A refused version is never loaded
(its bytes are not even unpickled): the deployment keeps serving the version it served before, if
this process had one, else its requests are answered 503 with the reason; ``/health`` lists it, and
the refusal is recorded (audit event, alert) once while it lasts.

Each refresh also reads the active shadows (``deployments.shadow_snapshot``) and loads each shadow
model, integrity checked at the checkpoint "shadow" (a failure recorded once, the shadow then not
scored, ``/health`` naming it). Shadows are read and loaded after, and apart from, the deployments:
whatever goes wrong with a shadow, production's snapshot is already in place.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ModelIntegrityError, PipelineError
from pipeline_core.scoring import LoadedModel
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import (
    Checkpoint,
    ServingEntry,
    ServingVerdict,
    ShadowEntry,
    approval_of_served,
    refusal_message,
    serving_snapshot,
    serving_verdicts,
    shadow_snapshot,
    verify_artifact,
)
from pipeline_core.serving.shadow import ShadowServing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Serving:
    deployment_id: int
    model_version_id: int
    artifact_sha256: str
    loaded: LoadedModel


@dataclass(frozen=True)
class Refused:
    """A deployment whose model failed its integrity check: why, in the words of the check."""

    deployment_id: int
    model_version_id: int
    artifact_sha256: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Unapproved:
    """A deployment whose store names a version the serving gate refuses: why, and what serves instead."""

    deployment_id: int
    model_version_id: int
    artifact_sha256: str
    message: str
    serving_model_version_id: int | None  # the last valid version this process serves instead; None: 503

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _same(verdict: ServingVerdict | None, entry: ServingEntry) -> bool:
    """Whether ``verdict`` judged what ``entry`` names (the two are read one after the other)."""
    return verdict is not None and (verdict.model_version_id, verdict.artifact_sha256) == (
        entry.model_version_id,
        entry.artifact_sha256,
    )


class Registry:
    def __init__(self, ctx: ServiceContext, *, refresh_interval: float = 0.5) -> None:
        self.ctx = ctx
        self.refresh_interval = refresh_interval
        self._serving: dict[int, Serving] = {}
        self._refused: dict[int, Refused] = {}
        self._recorded: set[tuple[int, str]] = set()  # (deployment, artifact) failures recorded by this process
        self._unapproved: dict[int, Unapproved] = {}
        self._refusals: set[tuple[int, int, str]] = set()  # (deployment, version, reason) recorded by this process
        self._keys: dict[str, int] = {}
        self._shadows: dict[int, ShadowServing] = {}  # by production deployment
        self._shadow_refused: dict[int, Refused] = {}  # by production deployment: the shadow failed its check
        self._shadow_recorded: set[tuple[int, str]] = set()  # (shadow, artifact) failures recorded by this process
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._last_refresh = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="deployment-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_interval):
            try:
                self.refresh()
            except Exception:
                log.exception("refreshing deployments failed")

    def _load(self, entry: ServingEntry) -> LoadedModel:
        cached = self._models.get(entry.artifact_sha256)
        if cached is not None:
            return cached
        failure = (entry.deployment_id, entry.artifact_sha256)
        verified = verify_artifact(
            self.ctx,
            SYSTEM,
            entry.model_version_id,
            at=Checkpoint.SERVING,
            deployment_id=entry.deployment_id,
            record=failure not in self._recorded,
        )
        loaded = LoadedModel.build(
            verified.model, DataSpec.from_dict(entry.spec), training_ranges=entry.training_ranges
        )
        self._models[entry.artifact_sha256] = loaded
        return loaded

    def refresh(self, *, unless_since: float | None = None) -> None:
        """Re-read the store; with ``unless_since``, skip if a read started after that moment."""
        with self._lock:
            if unless_since is not None and self._last_refresh >= unless_since:
                return  # someone refreshed while we waited for the lock: their view is new enough
            started = time.monotonic()
            snapshot = serving_snapshot(self.ctx, SYSTEM)
            verdicts = {v.deployment_id: v for v in serving_verdicts(self.ctx, SYSTEM)}
            serving: dict[int, Serving] = {}
            refused: dict[int, Refused] = {}
            unapproved: dict[int, Unapproved] = {}
            refusals: set[tuple[int, int, str]] = set()
            for dep_id, entry in snapshot.deployments.items():
                current = self._serving.get(dep_id)
                verdict = verdicts.get(dep_id)
                if not _same(verdict, entry):  # changed between the two reads: as it was, until the next refresh
                    if current is not None:
                        serving[dep_id] = current
                    if dep_id in self._unapproved:
                        unapproved[dep_id] = self._unapproved[dep_id]
                    continue
                assert verdict is not None
                if verdict.refusal is not None:
                    refusals.add(self._record_refusal(verdict))
                    # The version it served before was valid when loaded; the refused one never is.
                    kept = (
                        current if current is not None and current.model_version_id != entry.model_version_id else None
                    )
                    if kept is not None:
                        serving[dep_id] = kept
                    unapproved[dep_id] = Unapproved(
                        dep_id,
                        entry.model_version_id,
                        entry.artifact_sha256,
                        refusal_message(verdict),
                        kept.model_version_id if kept is not None else None,
                    )
                    continue
                if current is not None and current.artifact_sha256 == entry.artifact_sha256:
                    serving[dep_id] = current
                    continue
                try:
                    serving[dep_id] = Serving(dep_id, entry.model_version_id, entry.artifact_sha256, self._load(entry))
                    self._recorded.discard((dep_id, entry.artifact_sha256))  # fails again: recorded again
                except ModelIntegrityError as exc:  # recorded by the check, the first time
                    self._recorded.add((dep_id, entry.artifact_sha256))
                    refused[dep_id] = Refused(dep_id, entry.model_version_id, entry.artifact_sha256, str(exc))
                    if current is not None:  # a replacement refused: the verified model it replaces serves on
                        serving[dep_id] = current
                except (PipelineError, Exception) as exc:  # noqa: BLE001 - keep the old model rather than none
                    log.error("deployment %s: model %s not loaded: %s", dep_id, entry.artifact_sha256, exc)
                    if current is not None:
                        serving[dep_id] = current
            shadows, shadow_refused = self._refresh_shadows(snapshot.deployments)
            live = {s.artifact_sha256 for s in serving.values()} | {s.artifact_sha256 for s in shadows.values()}
            self._models = {sha: m for sha, m in self._models.items() if sha in live}
            self._shadows = shadows
            self._shadow_refused = shadow_refused
            self._recorded = {r for r in self._recorded if r[0] in snapshot.deployments}
            # Swap whole dicts: readers see either the old or the new mapping, never a mix.
            self._serving = serving
            self._refused = refused
            self._unapproved = unapproved
            self._refusals = refusals  # a refusal that ended and comes back is recorded again
            self._keys = dict(snapshot.keys)
            self._last_refresh = started

    def _refresh_shadows(
        self, deployments: dict[int, ServingEntry]
    ) -> tuple[dict[int, ShadowServing], dict[int, Refused]]:
        """The shadows to score with from now on, and those refused; on any failure to read them, those of before."""
        try:
            entries = shadow_snapshot(self.ctx, SYSTEM)
        except Exception:
            log.exception("reading the shadows failed; the shadows of the last refresh go on")
            return dict(self._shadows), dict(self._shadow_refused)
        shadows: dict[int, ShadowServing] = {}
        refused: dict[int, Refused] = {}
        for entry in entries:
            dep_id = entry.production_deployment_id
            production = deployments.get(dep_id)
            if production is None or production.model_version_id == entry.model_version_id:
                continue  # nothing to shadow: gone, or production serves the candidate itself now
            current = self._shadows.get(dep_id)
            if current is not None and (current.shadow_id, current.artifact_sha256) == (
                entry.shadow_id,
                entry.artifact_sha256,
            ):
                shadows[dep_id] = current
                continue
            try:
                shadows[dep_id] = ShadowServing(
                    entry.shadow_id, dep_id, entry.model_version_id, entry.artifact_sha256, self._load_shadow(entry)
                )
                self._shadow_recorded.discard((entry.shadow_id, entry.artifact_sha256))
            except ModelIntegrityError as exc:
                self._shadow_recorded.add((entry.shadow_id, entry.artifact_sha256))
                refused[dep_id] = Refused(dep_id, entry.model_version_id, entry.artifact_sha256, str(exc))
            except Exception as exc:  # noqa: BLE001 - a shadow that does not load shadows nothing; production serves
                log.error("shadow %s: model %s not loaded: %s", entry.shadow_id, entry.artifact_sha256, exc)
        return shadows, refused

    def _load_shadow(self, entry: ShadowEntry) -> LoadedModel:
        cached = self._models.get(entry.artifact_sha256)
        if cached is not None:
            return cached
        verified = verify_artifact(
            self.ctx,
            SYSTEM,
            entry.model_version_id,
            at=Checkpoint.SHADOW,
            deployment_id=entry.production_deployment_id,
            record=(entry.shadow_id, entry.artifact_sha256) not in self._shadow_recorded,
        )
        loaded = LoadedModel.build(
            verified.model, DataSpec.from_dict(entry.spec), training_ranges=entry.training_ranges
        )
        self._models[entry.artifact_sha256] = loaded
        return loaded

    def shadow(self, deployment_id: int) -> ShadowServing | None:
        """The shadow scoring ``deployment_id``'s traffic, if any (no store read: the refresh keeps it current)."""
        return self._shadows.get(deployment_id)

    @property
    def shadows(self) -> list[ShadowServing]:
        return sorted(self._shadows.values(), key=lambda s: s.production_deployment_id)

    @property
    def refused_shadows(self) -> list[Refused]:
        """Shadows whose model failed its integrity check: not scored, production unaffected."""
        return sorted(self._shadow_refused.values(), key=lambda r: r.deployment_id)

    def _record_refusal(self, verdict: ServingVerdict) -> tuple[int, int, str]:
        """Record the gate's refusal (audit event, alert) the first time this process sees it; its key."""
        assert verdict.refusal is not None
        key = (verdict.deployment_id, verdict.model_version_id, verdict.refusal)
        if key not in self._refusals:
            try:
                approval_of_served(self.ctx, SYSTEM, verdict.deployment_id, record=True)
            except PipelineError as exc:  # the refusal stands whether or not the store took its record
                log.error("%s; its record could not be written: %s", refusal_message(verdict), exc)
        return key

    def _refresh_on_miss(self) -> None:
        # A key or deployment created a moment ago must work at once, and a flood of unknown keys
        # must not become a flood of queries: concurrent misses share one read.
        self.refresh(unless_since=time.monotonic())

    def deployment_for_key(self, key_hash: str) -> int | None:
        dep = self._keys.get(key_hash)
        if dep is None:
            self._refresh_on_miss()
            dep = self._keys.get(key_hash)
        return dep

    def serving(self, deployment_id: int) -> Serving | None:
        entry = self._serving.get(deployment_id)
        known = deployment_id in self._refused or deployment_id in self._unapproved  # refused: no read per request
        if entry is None and not known:
            self._refresh_on_miss()
            entry = self._serving.get(deployment_id)
        return entry

    def refused(self, deployment_id: int) -> Refused | None:
        """Why the deployment is not served, if its model failed its integrity check."""
        return self._refused.get(deployment_id)

    def unapproved(self, deployment_id: int) -> Unapproved | None:
        """Why the version the store names for the deployment is not served, if the serving gate refused it."""
        return self._unapproved.get(deployment_id)

    @property
    def unapproved_deployments(self) -> list[Unapproved]:
        return sorted(self._unapproved.values(), key=lambda u: u.deployment_id)

    @property
    def refused_deployments(self) -> list[Refused]:
        return sorted(self._refused.values(), key=lambda r: r.deployment_id)

    @property
    def deployment_count(self) -> int:
        return len(self._serving)
