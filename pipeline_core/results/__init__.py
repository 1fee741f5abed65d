"""Typed check results shared by the evaluate stage and the monitors: value, threshold, verdict.

A monitor returns a ``MonitorResult``; each ``Metric`` says pass / warn / fail, or
"insufficient data: N < M" instead of a number when there are too few records to judge.
Both serialise with ``to_dict`` / ``from_dict`` for the store and the report. One evaluation
of every monitor, with its risk summary, is an ``EvaluationReport``
(``pipeline_core.results.evaluation``); what a monitor found beyond its metrics is read
through the types of ``pipeline_core.results.evidence``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from pipeline_core.vocabulary import CheckStatus

# The verdicts are the vocabulary's; a StrEnum member is its string, so stored documents are unchanged.
Status = CheckStatus
Direction = Literal["higher_is_better", "lower_is_better", "within_band", "none"]
WARN_MARGIN = 0.02
# Worst first: a monitor's status is the worst of its metrics'.
SEVERITY: tuple[CheckStatus, ...] = (CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.INSUFFICIENT, CheckStatus.PASS)


@dataclass(frozen=True)
class Metric:
    name: str
    value: float | None
    threshold: float | None = None
    direction: Direction = "none"
    status: CheckStatus = CheckStatus.INFO
    critical: bool = False
    detail: str = ""
    # The value's 95% confidence interval (lower, upper), where one was estimated (a seeded bootstrap).
    interval: tuple[float, float] | None = None
    # How many records the value was computed on (for a group metric: the smaller group's size).
    records: int | None = None

    def __post_init__(self) -> None:
        # Documents and older callers hand plain strings; the verdict is always the vocabulary's member.
        object.__setattr__(self, "status", CheckStatus(self.status))
        if self.interval is not None:
            # A stored document holds the interval as a JSON list.
            lower, upper = self.interval
            object.__setattr__(self, "interval", (float(lower), float(upper)))

    def to_dict(self) -> dict[str, Any]:
        # Without an interval or a count the document keeps the shape every earlier version stored.
        out = asdict(self)
        for optional in ("interval", "records"):
            if out[optional] is None:
                del out[optional]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metric:
        # Flat checks of a stored evaluation carry their monitor's name as well: not a metric field.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def judged(
    name: str, value: float, threshold: float, *, higher: bool, critical: bool = False, detail: str = ""
) -> Metric:
    """A metric with its verdict: fail beyond the threshold, warn within ``WARN_MARGIN`` of it."""
    ok = value >= threshold if higher else value <= threshold
    near = abs(value - threshold) < WARN_MARGIN
    status = CheckStatus.FAIL if not ok else (CheckStatus.WARN if near else CheckStatus.PASS)
    return Metric(
        name,
        float(value),
        float(threshold),
        "higher_is_better" if higher else "lower_is_better",
        status,
        critical,
        detail,
    )


def is_test(metric: Metric) -> bool:
    """A metric the risk summary counts and the Review page's summary lists: judged against a threshold, or one
    that should have been (it has a threshold, or is critical, but too few records or no reference to judge by).

    A figure reported without a threshold (accuracy, an equal opportunity difference on too few records) is
    its monitor's, not a test.
    """
    return (
        metric.status in (CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL)
        or metric.threshold is not None
        or (metric.critical and metric.status == CheckStatus.INSUFFICIENT)
    )


def insufficient(name: str, n: int, minimum: int, *, threshold: float | None = None, critical: bool = False) -> Metric:
    return Metric(
        name, None, threshold, "none", CheckStatus.INSUFFICIENT, critical, f"insufficient data: {n} < {minimum}"
    )


@dataclass(frozen=True)
class MonitorResult:
    monitor: str
    metrics: list[Metric]
    n_records: int
    min_records: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> CheckStatus:
        statuses = {m.status for m in self.metrics}
        return next((verdict for verdict in SEVERITY if verdict in statuses), CheckStatus.INFO)

    @property
    def failed_critical(self) -> list[Metric]:
        return [m for m in self.metrics if m.critical and m.status == CheckStatus.FAIL]

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"monitor {self.monitor!r} has no metric {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "status": self.status,
            "n_records": self.n_records,
            "min_records": self.min_records,
            "metrics": [m.to_dict() for m in self.metrics],
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorResult:
        return cls(
            data["monitor"],
            [Metric.from_dict(m) for m in data["metrics"]],
            int(data["n_records"]),
            int(data["min_records"]),
            dict(data.get("details", {})),
        )
