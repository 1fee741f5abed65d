"""``AlertMessage``: the facts of one notification about an alert, as queued and as every channel renders them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pipeline_core.vocabulary import AlertNotice


@dataclass(frozen=True)
class AlertMessage:
    """What happened to an alert, on which model version and deployment, with the check's figures."""

    notice: AlertNotice
    alert_id: int
    model_name: str
    model_version: int  # the version number people say ("v3")
    model_version_id: int
    deployment_id: int | None
    space: str
    monitor: str
    metric: str
    value: float | None
    threshold: float | None
    occurrences: int
    evaluation_id: int | None  # the evaluation that raised it, or in which the check passed again
    summary: str  # the alert's own message
    at: str  # ISO 8601, UTC
    comment: str | None = None  # how it was resolved

    @property
    def model(self) -> str:
        return f"{self.model_name} v{self.model_version}"

    @property
    def where(self) -> str:
        return f"{self.space} deployment {self.deployment_id}" if self.deployment_id is not None else self.space

    @property
    def subject(self) -> str:
        """One line, e.g. "[alert 7 raised] credit-risk v3: quality roc_auc (prod deployment 2)"."""
        return f"[alert {self.alert_id} {self.notice}] {self.model}: {self.monitor} {self.metric} ({self.where})"

    @property
    def text(self) -> str:
        """The plain text every format carries: the subject's facts, the figures, what happened."""
        figures = "" if self.value is None else f"{self.metric} = {self.value:.4f}"
        if figures and self.threshold is not None:
            figures += f", threshold {self.threshold:.4f}"
        lines = [
            f"Alert {self.alert_id} {self.notice}: {self.summary}",
            f"Model: {self.model} (model version id {self.model_version_id}), {self.where}",
            f"Check: {self.monitor} {self.metric}" + (f": {figures}" if figures else ""),
            f"Seen {self.occurrences} time{'s' if self.occurrences != 1 else ''}"
            + (f"; evaluation {self.evaluation_id}" if self.evaluation_id is not None else ""),
        ]
        if self.comment:
            lines.append(f"Resolved: {self.comment}")
        lines.append(f"At: {self.at}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "notice": self.notice.value, "model": self.model}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertMessage:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "notice": AlertNotice(data["notice"])})
