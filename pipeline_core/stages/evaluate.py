"""Evaluate stage (pre-prod): each metric of the candidate against its threshold.

Until the full monitors land, the pre-prod evaluation judges the quality metrics measured
on the held-out test split (the same records the smoke test scored through the pre-prod
endpoint). Each metric carries its value, threshold, direction, whether it is critical,
and pass / warn / fail; the validator's approval cites this evaluation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pipeline_core.data.spec import DataSpec
from pipeline_core.stages.common import Gate

Status = Literal["pass", "warn", "fail"]
WARN_MARGIN = 0.02


@dataclass(frozen=True)
class MetricCheck:
    name: str
    value: float
    threshold: float
    direction: Literal["higher_is_better", "lower_is_better"]
    critical: bool
    status: Status

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvaluationResult:
    checks: list[MetricCheck]
    status: Status
    gate: Gate
    data_window: dict[str, Any]
    log: list[str] = field(default_factory=list)

    @property
    def failed_critical(self) -> list[MetricCheck]:
        return [c for c in self.checks if c.critical and c.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {"checks": [c.to_dict() for c in self.checks], "status": self.status, "gate": self.gate.to_dict(),
                "data_window": self.data_window}  # fmt: skip


def _check(name: str, value: float, threshold: float, *, higher: bool, critical: bool) -> MetricCheck:
    ok = value >= threshold if higher else value <= threshold
    near = abs(value - threshold) < WARN_MARGIN
    status: Status = "fail" if not ok else ("warn" if near else "pass")
    return MetricCheck(name, float(value), float(threshold), "higher_is_better" if higher else "lower_is_better",
                       critical, status)  # fmt: skip


def evaluate_preprod(metrics: dict[str, float], *, spec: DataSpec, n_records: int) -> EvaluationResult:
    """Judge the candidate's test-split metrics against the spec's thresholds."""
    t = spec.thresholds
    checks = [
        _check("roc_auc", metrics["roc_auc"], t.min_roc_auc, higher=True, critical=True),
        # Informational: a model whose PR AUC is no better than the base rate adds nothing.
        _check("pr_auc", metrics["pr_auc"], metrics.get("base_rate", 0.0), higher=True, critical=False),
    ]
    if n_records < t.quality_min_records:
        checks = [
            MetricCheck(c.name, c.value, c.threshold, c.direction, c.critical, "warn") for c in checks
        ]  # too few records to judge: nothing passes or fails on them
    status: Status = "fail" if any(c.status == "fail" for c in checks) else (
        "warn" if any(c.status == "warn" for c in checks) else "pass")  # fmt: skip
    failed = [c for c in checks if c.critical and c.status == "fail"]
    gate = Gate(
        not failed,
        "no critical threshold failed"
        if not failed
        else "; ".join(f"{c.name} {c.value:.4f} fails threshold {c.threshold:.2f}" for c in failed),
    )
    log = [f"{c.name} {c.value:.4f} vs {c.threshold:.2f}: {c.status}{' (critical)' if c.critical else ''}"
           for c in checks]  # fmt: skip
    return EvaluationResult(checks, status, gate, {"source": "test split", "records": n_records}, log)
