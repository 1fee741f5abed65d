"""Ports: the protocols every backend implements (artifacts, deployments, monitors, factsheets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from pipeline_core.data.spec import DataSpec
from pipeline_core.results import MonitorResult


@runtime_checkable
class ArtifactStore(Protocol):
    """Content-addressed blob storage: bytes go in, their sha256 comes back."""

    def put(self, data: bytes) -> str:
        """Store ``data`` atomically; return its sha256 (idempotent)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, verified; ``NotFoundError`` / ``IntegrityError``."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether bytes are stored under ``sha256``."""
        ...


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    """Where a deployment target serves one model version: ids on its side, kept in our store."""

    backend: str  # "local" or "ibm"
    space: str  # our space: dev, preprod, prod
    space_id: str  # the target's space (a watsonx.ai deployment space id; "local" locally)
    model_id: str  # the stored model asset
    deployment_id: str  # the online deployment
    artifact_sha256: str
    scoring_url: str = ""
    classes: tuple[str, ...] = ()  # the order of the probabilities the deployment returns

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServedModel:
        values: dict[str, Any] = {k: str(data[k]) for k in cls.__dataclass_fields__ if k in data and k != "classes"}
        return cls(**values, classes=tuple(str(c) for c in data.get("classes", ())))


@dataclass(frozen=True, kw_only=True)
class ModelToServe:
    """What a deployment target needs to put one model version online."""

    name: str  # deployment name, e.g. "credit-risk-preprod"
    space: str
    artifact: bytes  # the joblib bytes whose sha256 the approval cites
    artifact_sha256: str
    spec: DataSpec
    description: str = ""
    tags: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]


@runtime_checkable
class DeploymentTarget(Protocol):
    """Puts model versions online in a space, scores through them, takes them down."""

    def deploy(self, model: ModelToServe, *, replacing: ServedModel | None = None) -> ServedModel:
        """Serve ``model``; with ``replacing``, switch that deployment to it once it is up (same endpoint)."""
        ...

    def score(self, served: ServedModel, records: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        """Score ``records`` through the deployment; ``DeploymentError`` naming the deployment on failure."""
        ...

    def delete(self, served: ServedModel) -> None:
        """Take the deployment and its model asset down (idempotent)."""
        ...


@dataclass(frozen=True, kw_only=True)
class MonitorSubscription:
    """A deployment's subscription in an external monitor service and the ids hanging off it."""

    data_mart_id: str
    service_provider_id: str
    subscription_id: str
    monitor_instances: dict[str, str]  # our monitor name -> the service's monitor instance id
    payload_data_set_id: str
    feedback_data_set_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorSubscription:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@runtime_checkable
class ExternalMonitors(Protocol):
    """A monitor service that watches deployments alongside the local monitors (IBM OpenScale)."""

    def subscribe(self, served: ServedModel, *, spec: DataSpec, model_name: str) -> MonitorSubscription:
        """Subscribe the deployment; configure its monitors from ``spec``'s thresholds and groups."""
        ...

    def log_payload(
        self,
        sub: MonitorSubscription,
        *,
        fields: Sequence[str],
        values: Sequence[Sequence[Any]],
        labels: Sequence[str],
        probabilities: Sequence[Sequence[float]],
    ) -> None:
        """Log scored records and the deployment's answers."""
        ...

    def log_feedback(self, sub: MonitorSubscription, *, fields: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
        """Log labelled records (features and the true label)."""
        ...

    def evaluate(self, sub: MonitorSubscription, *, spec: DataSpec, records: Mapping[str, int]) -> list[MonitorResult]:
        """Run the monitors now; their measurements as our typed results."""
        ...

    def set_risk_status(self, sub: MonitorSubscription, *, approved: bool) -> None:
        """Record a validator's decision as the service's risk evaluation status."""
        ...


@runtime_checkable
class FactsheetService(Protocol):
    """Model inventory outside the product (IBM AI Factsheets): tracked assets and their facts."""

    def track(self, served: ServedModel, *, comment: str) -> None:
        """Track the served model asset in the AI use case (its phase follows its space)."""
        ...

    def record(self, served: ServedModel, facts: Mapping[str, Any]) -> None:
        """Set facts on the served model asset."""
        ...
