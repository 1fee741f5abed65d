"""What the monitors found beyond their metrics, typed: confusion matrix, groups, bias scan, drift, explanations,
the performance estimate.

A ``MonitorResult`` keeps its ``details`` as the plain JSON document it is stored as; these
types read that document, so that the Review page, the validation report and the retraining
request never index it by hand. Each ``from_dict`` reads what the monitor writes today and
tolerates the keys an older document lacks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline_core.results import MonitorResult

# The scored frames' column (pipeline_core.data.columns.SCORING_ID): results sits beside data, not above it.
SCORING_ID = "scoring_id"
# Why a record that no detector scored is listed for labelling all the same.
INCONSISTENT = "breaks a constraint learned from the training data"


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts at the decision threshold: rows are the true label, columns the predicted one."""

    labels: tuple[str, ...]
    matrix: tuple[tuple[int, ...], ...]
    threshold: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfusionMatrix:
        return cls(
            tuple(str(label) for label in data["labels"]),
            tuple(tuple(int(n) for n in row) for row in data["matrix"]),
            float(data["threshold"]),
        )


@dataclass(frozen=True)
class GroupRates:
    group: str
    n: int
    favourable_rate: float
    tpr: float | None = None  # only when the true labels are known
    fpr: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupRates:
        return cls(
            str(data["group"]),
            int(data["n"]),
            float(data["favourable_rate"]),
            _float(data.get("tpr")),
            _float(data.get("fpr")),
        )


@dataclass(frozen=True)
class GroupComparison:
    """A protected attribute's monitored group beside its reference group."""

    attribute: str
    monitored: GroupRates
    reference: GroupRates

    @classmethod
    def from_dict(cls, attribute: str, data: Mapping[str, Any]) -> GroupComparison:
        return cls(attribute, GroupRates.from_dict(data["monitored"]), GroupRates.from_dict(data["reference"]))


@dataclass(frozen=True)
class BiasSlice:
    """One group of the bias scan against everyone else."""

    feature: str
    group: str
    records: int
    favourable_rate: float
    others_favourable_rate: float
    disparate_impact: float
    below_threshold: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasSlice:
        return cls(
            str(data.get("feature", "")),
            str(data["group"]),
            int(data["records"]),
            float(data["favourable_rate"]),
            float(data["others_favourable_rate"]),
            float(data["disparate_impact"]),
            bool(data["below_threshold"]),
        )


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    statistic: str
    value: float
    drifted: bool

    @property
    def is_p_value(self) -> bool:
        """A p-value drifts when low; a distance when high."""
        return self.statistic.endswith("p_value")


@dataclass(frozen=True)
class ColumnFinding:
    """What breaks a constraint learned from the training data in one column."""

    column: str
    unseen_categories: int = 0
    values: tuple[str, ...] = ()
    out_of_range: int = 0
    range: tuple[float, float] | None = None

    @classmethod
    def from_dict(cls, column: str, data: Mapping[str, Any]) -> ColumnFinding:
        bounds = data.get("range")
        return cls(
            column,
            int(data.get("unseen_categories", 0)),
            tuple(str(v) for v in data.get("values", ())),
            int(data.get("out_of_range", 0)),
            (float(bounds[0]), float(bounds[1])) if bounds else None,
        )

    def describe(self) -> str:
        parts = []
        if self.unseen_categories:
            parts.append(f"{self.unseen_categories} records with an unseen category ({', '.join(self.values)})")
        if self.out_of_range:
            span = f" (training range {self.range[0]:g} to {self.range[1]:g})" if self.range else ""
            parts.append(f"{self.out_of_range} records out of range{span}")
        return "; ".join(parts)


@dataclass(frozen=True)
class DataConsistency:
    records: int
    share: float
    columns: tuple[ColumnFinding, ...]
    example_records: tuple[int, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataConsistency:
        return cls(
            int(data.get("records", 0)),
            float(data.get("share", 0.0)),
            tuple(ColumnFinding.from_dict(c, f) for c, f in data.get("columns", {}).items()),
            tuple(int(i) for i in data.get("example_records", ())),
        )


@dataclass(frozen=True)
class DriftedRecord:
    """A record someone should label: likely mispredicted (``error_probability``), or inconsistent (``reason``)."""

    record: int
    scoring_id: str | None = None
    error_probability: float | None = None
    reason: str | None = None

    @property
    def why(self) -> str:
        if self.reason:
            return self.reason
        if self.error_probability is not None:
            return f"likely mispredicted (error probability {self.error_probability:.2f})"
        return ""

    def to_dict(self) -> dict[str, Any]:
        """The stored form (a retraining request's list): only the keys that have a value."""
        out: dict[str, Any] = {"record": self.record}
        if self.error_probability is not None:
            out["error_probability"] = self.error_probability
        if self.scoring_id is not None:
            out[SCORING_ID] = self.scoring_id
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftedRecord:
        scoring_id = data.get(SCORING_ID)
        return cls(
            int(data["record"]),
            None if scoring_id is None else str(scoring_id),
            _float(data.get("error_probability")),
            None if data.get("reason") is None else str(data["reason"]),
        )


@dataclass(frozen=True)
class AccuracyDrop:
    """The drop-in-accuracy detector's estimate; ``estimated_drop`` is None (with a reason) when it could not learn."""

    reference_records: int
    estimated_drop: float | None
    reason: str = ""
    reference_accuracy: float | None = None
    estimated_accuracy: float | None = None
    likely_mispredicted: int | None = None
    scored_records: int | None = None
    records: tuple[DriftedRecord, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccuracyDrop:
        likely = data.get("likely_mispredicted")
        scored = data.get("scored_records")
        return cls(
            int(data.get("reference_records", 0)),
            _float(data.get("estimated_drop")),
            str(data.get("reason", "")),
            _float(data.get("reference_accuracy")),
            _float(data.get("estimated_accuracy")),
            None if likely is None else int(likely),
            None if scored is None else int(scored),
            tuple(DriftedRecord.from_dict(r) for r in data.get("records", ())),
        )


@dataclass(frozen=True)
class FeatureImportance:
    feature: str
    importance: float
    std: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureImportance:
        return cls(str(data["feature"]), float(data["importance"]), float(data.get("std", 0.0)))


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: Any  # the record's value of the feature: a category or a number
    shap: float


@dataclass(frozen=True)
class LocalExplanation:
    probability: float
    base_value: float
    contributions: tuple[Contribution, ...]  # largest magnitude first
    method: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocalExplanation:
        return cls(
            float(data["probability"]),
            float(data["base_value"]),
            tuple(Contribution(str(c["feature"]), c["value"], float(c["shap"])) for c in data["contributions"]),
            str(data.get("method", "")),
        )


@dataclass(frozen=True)
class Change:
    feature: str
    before: Any
    after: Any
    probability: float  # after this change and the ones before it

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(str(data["feature"]), data["from"], data["to"], float(data["probability"]))


@dataclass(frozen=True)
class Contrastive:
    """The smallest change found that flips a record's decision (or the closest one, unflipped)."""

    decision: str
    probability: float
    flipped: bool
    new_decision: str
    new_probability: float
    changes: tuple[Change, ...]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contrastive:
        return cls(
            str(data["decision"]),
            float(data.get("probability", data["new_probability"])),
            bool(data["flipped"]),
            str(data["new_decision"]),
            float(data["new_probability"]),
            tuple(Change.from_dict(c) for c in data["changes"]),
        )


@dataclass(frozen=True)
class Explanation:
    record: int
    scoring_id: str | None
    local: LocalExplanation
    contrastive: Contrastive

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Explanation:
        scoring_id = data.get(SCORING_ID)
        return cls(
            int(data["record"]),
            None if scoring_id is None else str(scoring_id),
            LocalExplanation.from_dict(data["local"]),
            Contrastive.from_dict(data["contrastive"]),
        )


def confusion_matrix(details: Mapping[str, Any]) -> ConfusionMatrix | None:
    found = details.get("confusion_matrix")
    return ConfusionMatrix.from_dict(found) if found else None


def fairness_groups(details: Mapping[str, Any]) -> tuple[GroupComparison, ...]:
    return tuple(GroupComparison.from_dict(a, g) for a, g in details.get("groups", {}).items())


def bias_scan(details: Mapping[str, Any]) -> tuple[BiasSlice, ...]:
    return tuple(BiasSlice.from_dict(g) for g in details.get("bias_scan", ()))


def drift_features(details: Mapping[str, Any]) -> tuple[FeatureDrift, ...]:
    return tuple(
        FeatureDrift(name, str(f["statistic"]), float(f["value"]), bool(f["drifted"]))
        for name, f in details.get("features", {}).items()
    )


def data_consistency(details: Mapping[str, Any]) -> DataConsistency | None:
    found = details.get("data_consistency")
    return DataConsistency.from_dict(found) if found is not None else None


def accuracy_drop(details: Mapping[str, Any]) -> AccuracyDrop | None:
    found = details.get("accuracy_drop")
    return AccuracyDrop.from_dict(found) if found else None


def drifted_records(details: Mapping[str, Any]) -> tuple[DriftedRecord, ...]:
    """Likely mispredicted records (by the drift detector), then inconsistent ones not already listed."""
    drop = accuracy_drop(details)
    found = list(drop.records) if drop is not None else []
    listed = {r.record for r in found}
    consistency = data_consistency(details)
    for i in consistency.example_records if consistency is not None else ():
        if i not in listed:
            found.append(DriftedRecord(i, reason=INCONSISTENT))
    return tuple(found)


def global_importance(details: Mapping[str, Any]) -> tuple[FeatureImportance, ...]:
    return tuple(FeatureImportance.from_dict(r) for r in details.get("global_importance", ()))


def explanations(details: Mapping[str, Any]) -> tuple[Explanation, ...]:
    return tuple(Explanation.from_dict(e) for e in details.get("explanations", ()))


def drifted_records_from(stored: Sequence[Mapping[str, Any]]) -> tuple[DriftedRecord, ...]:
    """A retraining request's stored list, typed."""
    return tuple(DriftedRecord.from_dict(r) for r in stored)


@dataclass(frozen=True)
class ExpectedConfusion:
    """The confusion matrix expected from the probabilities: sums of ``p`` and ``1 - p``, so not whole numbers."""

    labels: tuple[str, ...]
    threshold: float
    tp: float
    fp: float
    tn: float
    fn: float

    @property
    def matrix(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Rows the true label, columns the predicted one, as ``ConfusionMatrix``: favourable first."""
        return ((self.tn, self.fp), (self.fn, self.tp))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExpectedConfusion:
        return cls(
            tuple(str(label) for label in data.get("labels", ())),
            float(data["threshold"]),
            float(data["tp"]),
            float(data["fp"]),
            float(data["tn"]),
            float(data["fn"]),
        )


@dataclass(frozen=True)
class CalibrationCheck:
    """The held-out reference's calibration, checked before estimating."""

    records: int
    expected_calibration_error: float
    max_calibration_error: float
    hosmer_lemeshow: float
    p_value: float
    recalibrated: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationCheck:
        return cls(
            int(data["records"]),
            float(data["expected_calibration_error"]),
            float(data["max_calibration_error"]),
            float(data["hosmer_lemeshow"]),
            float(data["p_value"]),
            bool(data.get("recalibrated", False)),
        )


@dataclass(frozen=True)
class PerformanceEstimate:
    """Performance expected without labels (the monitor "estimate"); ``refused`` says why there are no figures."""

    records: int
    roc_auc: float | None
    roc_auc_interval: tuple[float, float] | None
    accuracy: float | None
    accuracy_interval: tuple[float, float] | None
    precision: float | None
    recall: float | None
    confusion: ExpectedConfusion | None
    calibration: CalibrationCheck | None
    refused: str | None


def performance_estimate(monitor: MonitorResult | None) -> PerformanceEstimate | None:
    """The estimate monitor's figures and evidence, typed; None when the evaluation has no estimate."""
    if monitor is None:
        return None
    metrics = {m.name: m for m in monitor.metrics}

    def value(name: str) -> float | None:
        found = metrics.get(name)
        return None if found is None else _float(found.value)

    def interval(name: str) -> tuple[float, float] | None:
        found = metrics.get(name)
        return None if found is None else found.interval

    details = monitor.details
    confusion, checked, refused = details.get("confusion"), details.get("calibration"), details.get("refused")
    return PerformanceEstimate(
        monitor.n_records,
        value("estimated_roc_auc"),
        interval("estimated_roc_auc"),
        value("estimated_accuracy"),
        interval("estimated_accuracy"),
        value("estimated_precision"),
        value("estimated_recall"),
        ExpectedConfusion.from_dict(confusion) if confusion else None,
        CalibrationCheck.from_dict(checked) if checked else None,
        None if refused is None else str(refused),
    )
