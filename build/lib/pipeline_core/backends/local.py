"""The embedded deployment target: models served from the artifact store by this package's scorer.

The local scoring service (``pipeline_core.serving``) serves every active deployment
straight from the metadata and artifact stores, so putting a model online here means
proving that its artifact loads as a scoring pipeline; ``score`` runs the same scorer in
process (what the scoring service would answer, without its API keys and payload log).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline_core.backends.base import ArtifactStore, ModelToServe, Prediction, ServedModel
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DeploymentError, PipelineError

if TYPE_CHECKING:
    from pipeline_core.scoring import LoadedModel


class LocalDeploymentTarget:
    """Deployments served by the local scoring service; models come from ``artifacts``."""

    backend = "local"

    def __init__(self, artifacts: ArtifactStore) -> None:
        self._artifacts = artifacts
        self._lock = threading.Lock()
        self._loaded: dict[str, LoadedModel] = {}  # deployment id -> model it serves

    def _load(self, artifact: bytes, spec: DataSpec, what: str) -> LoadedModel:
        # Every context builds this target; scikit-learn and pandas load only when a model is put online,
        # so commands that never deploy (users, runs list, audit verify) start without them.
        from pipeline_core.model_io import load_model
        from pipeline_core.scoring import LoadedModel

        try:
            return LoadedModel.build(load_model(artifact), spec)
        except PipelineError as exc:
            raise DeploymentError(f"{what} cannot be deployed: {exc}") from exc
        except Exception as exc:
            raise DeploymentError(f"{what} does not load: {type(exc).__name__}: {exc}") from exc

    def deploy(self, model: ModelToServe, *, replacing: ServedModel | None = None) -> ServedModel:
        stored = self._artifacts.get(model.artifact_sha256)  # verified against its name
        loaded = self._load(stored, model.spec, f"artifact {model.artifact_sha256}")
        deployment_id = replacing.deployment_id if replacing is not None else model.name
        with self._lock:
            self._loaded[deployment_id] = loaded
        return ServedModel(
            backend=self.backend,
            space=model.space,
            space_id="local",
            model_id=model.artifact_sha256,
            deployment_id=deployment_id,
            artifact_sha256=model.artifact_sha256,
            classes=loaded.classes,
        )

    def score(self, served: ServedModel, records: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        from pipeline_core.scoring import parse_payload, score

        with self._lock:
            loaded = self._loaded.get(served.deployment_id)
        if loaded is None:
            raise DeploymentError(f"local deployment {served.deployment_id!r} is not online")
        fields, values = parse_payload(
            {
                "input_data": [
                    {
                        "fields": loaded.spec.feature_names,
                        "values": [[r.get(f) for f in loaded.spec.feature_names] for r in records],
                    }
                ]
            },
            loaded.spec,
            max_rows=max(len(records), 1),
        )
        result = score(loaded, fields, values)
        return [
            Prediction(label, dict(zip(loaded.classes, proba, strict=True)))
            for label, proba in zip(result.labels, result.probabilities, strict=True)
        ]

    def delete(self, served: ServedModel) -> None:
        with self._lock:
            self._loaded.pop(served.deployment_id, None)
