"""Evaluate stage (pre-prod): each metric of the candidate against its threshold.

Until the monitors run here, the pre-prod evaluation judges the quality metrics measured
on the held-out test split (the same records the smoke test scored through the pre-prod
endpoint). Each metric carries its value, threshold, direction, whether it is critical,
and pass / warn / fail; the validator's approval cites this evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline_core.data.spec import DataSpec
from pipeline_core.results import Metric, Status, judged
from pipeline_core.stages.common import Gate


@dataclass
class EvaluationResult:
    checks: list[Metric]
    status: Status
    gate: Gate
    data_window: dict[str, Any]
    log: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"checks": [c.to_dict() for c in self.checks], "status": self.status, "gate": self.gate.to_dict(),
                "data_window": self.data_window}  # fmt: skip


def evaluate_preprod(metrics: dict[str, float], *, spec: DataSpec, n_records: int) -> EvaluationResult:
    """Judge the candidate's test-split metrics against the spec's thresholds."""
    t = spec.thresholds
    checks = [
        judged("roc_auc", metrics["roc_auc"], t.min_roc_auc, higher=True, critical=True),
        # Informational: a model whose PR AUC is no better than the base rate adds nothing.
        judged("pr_auc", metrics["pr_auc"], metrics.get("base_rate", 0.0), higher=True),
    ]
    if n_records < t.quality_min_records:  # too few records to judge: nothing passes or fails on them
        checks = [Metric(c.name, c.value, c.threshold, c.direction, "warn", c.critical,
                         f"only {n_records} < {t.quality_min_records} records") for c in checks]  # fmt: skip
    statuses = {c.status for c in checks}
    status: Status = "fail" if "fail" in statuses else ("warn" if "warn" in statuses else "pass")
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
