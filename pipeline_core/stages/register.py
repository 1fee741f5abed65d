"""Register stage: turn a trained model into a model-version record, ready to store.

Pure: it serialises the model and gathers the lineage facts (what the factsheet shows);
the runner writes the artifact and the record in one transaction, so a run that dies
before that leaves no half-registered model behind.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from typing import Any

import sklearn
from sklearn.pipeline import Pipeline

from pipeline_core.data.spec import DataSpec
from pipeline_core.model_io import load_model, serialise_model
from pipeline_core.params import RunParams
from pipeline_core.stages.common import Gate


@dataclass
class ModelVersionDraft:
    """A model version before it is stored: artifact bytes and the facts about it."""

    artifact: bytes
    artifact_sha256: str
    model_type: str
    params: dict[str, Any]
    metrics: dict[str, float]
    lineage: dict[str, Any]
    gate: Gate
    log: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifact_sha256": self.artifact_sha256,
            "artifact_bytes": len(self.artifact),
            "model_type": self.model_type,
            "metrics": self.metrics,
            "lineage": self.lineage,
            "gate": self.gate.to_dict(),
        }


def register(
    model: Pipeline,
    *,
    spec: DataSpec,
    params: RunParams,
    metrics: dict[str, float],
    dataset: dict[str, Any],
    n_train: int,
    n_test: int,
    training_ranges: dict[str, tuple[float, float]] | None = None,
) -> ModelVersionDraft:
    """Serialise ``model`` and gather its lineage facts; check that it round-trips."""
    artifact = serialise_model(model)
    digest = hashlib.sha256(artifact).hexdigest()
    restored = load_model(artifact)
    same = [str(c) for c in restored.classes_] == [str(c) for c in model.classes_]
    gate = Gate(same, "artifact deserialises to the same classes" if same else "artifact does not round-trip")
    lineage = {
        "spec": spec.name,
        "target": spec.target,
        "favourable_label": spec.favourable_label,
        "positive_label": spec.positive_label,
        "features": spec.feature_names,
        "classes": [str(c) for c in model.classes_],
        "training_data": dataset,
        "n_train": n_train,
        "n_test": n_test,
        # The scorer warns about a value outside these (inside the spec's valid range): the model never saw it.
        "training_ranges": {name: [lo, hi] for name, (lo, hi) in (training_ranges or {}).items()},
        "framework": {"scikit-learn": sklearn.__version__, "python": platform.python_version()},
    }
    log = [f"serialised {params.model_type} pipeline: {len(artifact)} bytes, sha256 {digest[:12]}…"]
    return ModelVersionDraft(artifact, digest, params.model_type, params.to_dict(), metrics, lineage, gate, log)
