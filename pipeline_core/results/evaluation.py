"""One evaluation's result, typed: every monitor's result, the model-risk summary beside them, and the verdict.

``EvaluationReport`` is what the services store and return and what the pages, the validation
report and approvals read. Its flat ``checks``, ``failed_critical`` and ``unjudged_critical`` are
properties computed from the monitors, never fields of their own. The risk (MRM) summary is not a
monitor: it lists the judged tests (monitors' checks and model tests) and the risk level they give.

The stored document keeps the shape every earlier version wrote (``status``, the flat ``checks``,
``risk_level``, ``monitors`` with the risk summary under ``"mrm"``), so rows already in a
database, and any reader of them, stay valid. ``from_dict`` reads those rows, where the stored
checks' verdicts prevail (approvals always judged by them), and the documents of the evaluate
stage from before the monitors (a flat list of quality checks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, Protocol

from pipeline_core.results import Metric, MonitorResult, evidence
from pipeline_core.vocabulary import CheckStatus

# The name the risk summary is stored under among a document's monitors: what earlier versions wrote.
RISK = "mrm"
# A check stored without its monitor's name comes from the evaluate stage before the monitors,
# which judged only the test split's quality (roc_auc, pr_auc).
_UNNAMED_MONITOR = "quality"


def counted_status(text: str) -> CheckStatus:
    """A test's verdict as the risk summary counts it.

    One outside the vocabulary (a skipped model test) counts as run, neither passed nor failed.
    """
    return CheckStatus(text) if text in frozenset(CheckStatus) else CheckStatus.INFO


class MonitorName(StrEnum):
    """The monitors an evaluation runs: the keys of its document's monitors, beside the risk summary's."""

    QUALITY = "quality"
    FAIRNESS = "fairness"
    DRIFT = "drift"
    EXPLAINABILITY = "explainability"
    ESTIMATE = "estimate"


class RiskLevel(StrEnum):
    """The model-risk level, lowest first (its index is the level's stored value)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class RiskEntry:
    """One judged test the risk summary counts: a monitor's check (``source`` is the monitor) or a model test."""

    source: str
    name: str
    status: CheckStatus
    critical: bool = False
    value: float | None = None
    threshold: float | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", CheckStatus(self.status))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "status": self.status,
            "critical": self.critical,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in known}, "status": counted_status(str(data["status"]))})


@dataclass(frozen=True)
class RiskCounts:
    """The risk summary's tests by verdict; each test is in exactly one count, so they add up to ``run``.

    A warning is its own count, never a pass; a test that could not be judged (insufficient data, or a
    verdict outside pass / warn / fail such as a skipped model test) is unjudged.
    """

    run: int
    passed: int
    warned: int
    failed: int
    unjudged: int

    def __post_init__(self) -> None:
        if self.passed + self.warned + self.failed + self.unjudged != self.run:
            raise ValueError(f"risk counts do not add up: {self}")

    def describe(self) -> str:
        return (
            f"tests run {self.run}: passed {self.passed}, warn {self.warned}, "
            f"failed {self.failed}, unjudged {self.unjudged}"
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "tests_run": self.run,
            "tests_passed": self.passed,
            "tests_warned": self.warned,
            "tests_failed": self.failed,
            "tests_unjudged": self.unjudged,
        }


_COUNTED = (CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL)


@dataclass(frozen=True)
class RiskSummary:
    """The model-risk (MRM) evaluation: the judged tests and the level they give (see ``monitors.mrm``)."""

    level: RiskLevel
    entries: tuple[RiskEntry, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", RiskLevel(self.level))
        object.__setattr__(self, "entries", tuple(self.entries))

    def _with(self, status: CheckStatus) -> tuple[RiskEntry, ...]:
        return tuple(e for e in self.entries if e.status == status)

    @property
    def failed(self) -> tuple[RiskEntry, ...]:
        return self._with(CheckStatus.FAIL)

    @property
    def failed_critical(self) -> tuple[RiskEntry, ...]:
        return tuple(e for e in self.failed if e.critical)

    @property
    def passed(self) -> tuple[RiskEntry, ...]:
        """Passed outright: a warning is counted apart (``warned``), never as passed."""
        return self._with(CheckStatus.PASS)

    @property
    def warned(self) -> tuple[RiskEntry, ...]:
        return self._with(CheckStatus.WARN)

    @property
    def unjudged(self) -> tuple[RiskEntry, ...]:
        """Run but not judged: too few records, or a verdict outside pass / warn / fail (a skipped model test)."""
        return tuple(e for e in self.entries if e.status not in _COUNTED)

    @property
    def counts(self) -> RiskCounts:
        """What the Review page, the validation report and the CLI show: they add up to the tests run."""
        return RiskCounts(len(self.entries), len(self.passed), len(self.warned), len(self.failed), len(self.unjudged))

    @property
    def tests_run(self) -> int:
        return len(self.entries)

    @property
    def tests_passed(self) -> int:
        return len(self.passed)

    @property
    def tests_warned(self) -> int:
        return len(self.warned)

    @property
    def tests_failed(self) -> int:
        return len(self.failed)

    @property
    def tests_unjudged(self) -> int:
        return len(self.unjudged)

    def as_monitor_result(self) -> MonitorResult:
        """The summary as earlier versions stored it: a monitor named "mrm" with counting metrics.

        Its shape is unchanged (earlier readers share the database); every count, warn and unjudged
        included, is read back from its ``tests``, so ``tests_passed`` is the one metric whose meaning
        narrowed: passed outright, warnings apart.
        """
        failed = self.failed
        metrics = [
            Metric("tests_run", float(self.tests_run)),
            Metric("tests_passed", float(self.tests_passed)),
            Metric(
                "tests_failed",
                float(len(failed)),
                0.0,
                "lower_is_better",
                CheckStatus.FAIL if failed else CheckStatus.PASS,
                critical=bool(self.failed_critical),
                detail=", ".join(f"{e.source}:{e.name}" for e in failed),
            ),
            Metric("risk_level", float(list(RiskLevel).index(self.level)), detail=self.level.value),
        ]
        details = {
            "risk_level": self.level.value,
            "tests": [e.to_dict() for e in self.entries],
            "insufficient": len(self._with(CheckStatus.INSUFFICIENT)),
        }
        return MonitorResult(RISK, metrics, len(self.entries), 0, details)

    @classmethod
    def from_monitor_dict(cls, data: Mapping[str, Any]) -> RiskSummary:
        """Read the stored "mrm" monitor: its level and tests are in its details (the metrics only count them)."""
        details = data.get("details", {})
        return cls(RiskLevel(details["risk_level"]), tuple(RiskEntry.from_dict(t) for t in details.get("tests", ())))


@dataclass(frozen=True)
class Check:
    """One metric of one monitor, flat: what approvals, alerts and the history charts read."""

    monitor: str
    metric: Metric

    def to_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, **self.metric.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        return cls(str(data.get("monitor") or _UNNAMED_MONITOR), Metric.from_dict(dict(data)))


def _verdict(monitors: Sequence[MonitorResult], risk: RiskSummary | None) -> CheckStatus:
    """fail if a critical check (or critical model test) failed; warn if anything else failed, warned or
    could not be judged; else pass."""
    if any(r.failed_critical for r in monitors) or (risk is not None and risk.failed_critical):
        return CheckStatus.FAIL
    troubled = {CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.INSUFFICIENT}
    if any(m.status in troubled for r in monitors for m in r.metrics) or (risk is not None and risk.failed):
        return CheckStatus.WARN
    return CheckStatus.PASS


@dataclass(frozen=True)
class EvaluationReport:
    """Every monitor's result, the risk summary (None where none was made) and the evaluation's verdict."""

    monitors: tuple[MonitorResult, ...]
    risk: RiskSummary | None
    status: CheckStatus

    def __post_init__(self) -> None:
        object.__setattr__(self, "monitors", tuple(self.monitors))
        object.__setattr__(self, "status", CheckStatus(self.status))
        if any(r.monitor == RISK for r in self.monitors):
            raise ValueError("the risk summary is not a monitor: pass it as risk (EvaluationReport.from_results)")

    @classmethod
    def judge(cls, monitors: Sequence[MonitorResult], risk: RiskSummary | None = None) -> EvaluationReport:
        """The report of ``monitors`` and ``risk`` with the verdict they give."""
        return cls(tuple(monitors), risk, _verdict(monitors, risk))

    @classmethod
    def from_results(cls, results: Sequence[MonitorResult]) -> EvaluationReport:
        """From a flat list in which the risk summary is the monitor named "mrm" (older callers, OpenScale)."""
        stored = next((r for r in results if r.monitor == RISK), None)
        risk = RiskSummary.from_monitor_dict(stored.to_dict()) if stored is not None else None
        return cls.judge([r for r in results if r.monitor != RISK], risk)

    def legacy_results(self) -> list[MonitorResult]:
        """The flat list older callers read: the monitors, then the risk summary as the monitor "mrm"."""
        return [*self.monitors, *([self.risk.as_monitor_result()] if self.risk is not None else [])]

    @property
    def risk_level(self) -> RiskLevel | None:
        return self.risk.level if self.risk is not None else None

    def monitor(self, name: str) -> MonitorResult | None:
        return next((r for r in self.monitors if r.monitor == name), None)

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(Check(r.monitor, m) for r in self.monitors for m in r.metrics)

    @property
    def failed_critical(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.metric.critical and c.metric.status == CheckStatus.FAIL)

    @property
    def unjudged_critical(self) -> tuple[Check, ...]:
        """Critical checks that could not be judged: too few records."""
        return tuple(c for c in self.checks if c.metric.critical and c.metric.status == CheckStatus.INSUFFICIENT)

    # What the monitors found beyond their metrics; empty (or None) when the monitor is absent.

    def _details(self, name: MonitorName) -> Mapping[str, Any]:
        found = self.monitor(name)
        return found.details if found is not None else {}

    @property
    def confusion_matrix(self) -> evidence.ConfusionMatrix | None:
        return evidence.confusion_matrix(self._details(MonitorName.QUALITY))

    @property
    def fairness_groups(self) -> tuple[evidence.GroupComparison, ...]:
        return evidence.fairness_groups(self._details(MonitorName.FAIRNESS))

    @property
    def bias_scan(self) -> tuple[evidence.BiasSlice, ...]:
        return evidence.bias_scan(self._details(MonitorName.FAIRNESS))

    @property
    def labelled_fairness_groups(self) -> tuple[evidence.GroupComparison, ...]:
        return evidence.labelled_fairness_groups(self._details(MonitorName.FAIRNESS))

    @property
    def bias_scan_intersections(self) -> tuple[evidence.BiasSlice, ...]:
        return evidence.bias_scan_intersections(self._details(MonitorName.FAIRNESS))

    @property
    def bias_scan_summary(self) -> evidence.BiasScanSummary | None:
        return evidence.bias_scan_summary(self._details(MonitorName.FAIRNESS))

    @property
    def drift_features(self) -> tuple[evidence.FeatureDrift, ...]:
        return evidence.drift_features(self._details(MonitorName.DRIFT))

    @property
    def data_consistency(self) -> evidence.DataConsistency | None:
        return evidence.data_consistency(self._details(MonitorName.DRIFT))

    @property
    def accuracy_drop(self) -> evidence.AccuracyDrop | None:
        return evidence.accuracy_drop(self._details(MonitorName.DRIFT))

    @property
    def drifted_records(self) -> tuple[evidence.DriftedRecord, ...]:
        return evidence.drifted_records(self._details(MonitorName.DRIFT))

    @property
    def global_importance(self) -> tuple[evidence.FeatureImportance, ...]:
        return evidence.global_importance(self._details(MonitorName.EXPLAINABILITY))

    @property
    def explanations(self) -> tuple[evidence.Explanation, ...]:
        return evidence.explanations(self._details(MonitorName.EXPLAINABILITY))

    @property
    def to_label(self) -> evidence.RecordsToLabel:
        """The one list of records to label, with the counts that explain its length (``describe``)."""
        return evidence.records_to_label(self._details(MonitorName.DRIFT))

    @property
    def multivariate_drift(self) -> evidence.MultivariateDrift | None:
        return evidence.multivariate_drift(self._details(MonitorName.DRIFT))

    @property
    def production_importance(self) -> evidence.ProductionImportance | None:
        return evidence.production_importance(self._details(MonitorName.EXPLAINABILITY))

    @property
    def estimate(self) -> evidence.PerformanceEstimate | None:
        """The performance estimated without labels (None: not estimated, or an evaluation from before)."""
        return evidence.performance_estimate(self.monitor(MonitorName.ESTIMATE))

    def to_dict(self) -> dict[str, Any]:
        monitors = {r.monitor: r.to_dict() for r in self.monitors}
        if self.risk is not None:
            monitors[RISK] = self.risk.as_monitor_result().to_dict()
        # The flat checks and the risk level are written as well: every stored row so far has them and
        # their readers (earlier versions sharing the database, reports over it) expect them.
        return {
            "status": self.status,
            "checks": [c.to_dict() for c in self.checks],
            "risk_level": self.risk_level,
            "monitors": monitors,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationReport:
        """Any stored evaluation document, this version's or an earlier one's."""
        monitors: list[MonitorResult] = []
        risk = None
        for name, stored in (data.get("monitors") or {}).items():
            if name == RISK:
                risk = RiskSummary.from_monitor_dict(stored)
            else:
                monitors.append(MonitorResult.from_dict(stored))
        checks = [Check.from_dict(c) for c in data.get("checks", ())]
        window = data.get("data_window") or {}
        monitors = _with_checks(monitors, checks, records=int(window.get("records", 0)))
        status = CheckStatus(data["status"]) if data.get("status") else _verdict(monitors, risk)
        return cls(tuple(monitors), risk, status)


class Evaluated(Protocol):
    """A stored evaluation as a service returns it (``monitoring.EvaluationInfo``): what judging it needs."""

    @property
    def id(self) -> int: ...

    @property
    def report(self) -> EvaluationReport: ...


def _with_checks(monitors: list[MonitorResult], checks: Sequence[Check], *, records: int) -> list[MonitorResult]:
    """The monitors with the verdicts of the stored flat checks.

    Approvals have always judged a stored evaluation by its flat checks, so where a check and its
    monitor's metric disagree the check wins: an approval reads an old row as it did when it was
    written. The earliest documents have checks and no monitors; their checks become the monitors.
    """
    stored = {(c.monitor, c.metric.name): c.metric for c in checks}
    out = []
    for r in monitors:
        metrics = [stored.pop((r.monitor, m.name), m) for m in r.metrics]
        out.append(r if metrics == r.metrics else replace(r, metrics=metrics))
    orphans: dict[str, list[Metric]] = {}
    for (monitor, _), metric in stored.items():
        orphans.setdefault(monitor, []).append(metric)
    out.extend(MonitorResult(monitor, metrics, records, 0) for monitor, metrics in orphans.items())
    return out
