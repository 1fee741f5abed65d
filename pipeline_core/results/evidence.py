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


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


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
    positives: int | None = None  # records whose true label is the favourable one (older documents: None)
    negatives: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupRates:
        return cls(
            str(data["group"]),
            int(data["n"]),
            float(data["favourable_rate"]),
            _float(data.get("tpr")),
            _float(data.get("fpr")),
            _int(data.get("positives")),
            _int(data.get("negatives")),
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
    # The scan's test (documents before it: None): the group's p-value, its Benjamini-Hochberg adjusted value,
    # and whether that is within the scan's false discovery rate.
    others_records: int | None = None
    p_value: float | None = None
    q_value: float | None = None
    significant: bool | None = None
    features: tuple[str, ...] = ()  # two for an intersection

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasSlice:
        feature = str(data.get("feature", ""))
        significant = data.get("significant")
        return cls(
            feature,
            str(data["group"]),
            int(data["records"]),
            float(data["favourable_rate"]),
            float(data["others_favourable_rate"]),
            float(data["disparate_impact"]),
            bool(data["below_threshold"]),
            _int(data.get("others_records")),
            _float(data.get("p_value")),
            _float(data.get("q_value")),
            None if significant is None else bool(significant),
            tuple(str(f) for f in data.get("features", (feature,) if feature else ())),
        )

    @property
    def intersection(self) -> bool:
        return len(self.features) > 1


@dataclass(frozen=True)
class BiasScanSummary:
    """How many groups the bias scan tested (enough records inside and out) and how many are significant."""

    tested: int
    tested_single: int
    tested_intersections: int
    significant: int
    significant_below_threshold: int
    min_records: int
    fdr: float
    test: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasScanSummary:
        return cls(
            int(data["tested"]),
            int(data.get("tested_single", data["tested"])),
            int(data.get("tested_intersections", 0)),
            int(data["significant"]),
            int(data.get("significant_below_threshold", 0)),
            int(data.get("min_records", 0)),
            float(data.get("fdr", 0.05)),
            str(data.get("test", "")),
        )

    def describe(self) -> str:
        return (
            f"{self.tested} groups tested ({self.tested_single} single, {self.tested_intersections} intersections, "
            f"at least {self.min_records} records inside and outside); {self.significant} significant at a false "
            f"discovery rate of {self.fdr:g}, {self.significant_below_threshold} of them below the threshold"
        )


# The labelled subset's metrics are named disparate_impact[Sex|labelled]; the truth's (equal opportunity,
# average odds) are computed on labelled records only and carry no suffix.
LABELLED_SUFFIX = "|labelled"
ON_LABELLED = ("equal_opportunity_difference", "average_odds_difference")


@dataclass(frozen=True)
class FairnessMetric:
    """A fairness metric's name read: its kind, its attribute, and whether it is on the labelled records."""

    kind: str  # disparate_impact, statistical_parity_difference, ...
    attribute: str
    labelled: bool

    @classmethod
    def parse(cls, name: str) -> FairnessMetric | None:
        kind, bracket, rest = name.partition("[")
        if not bracket or not rest.endswith("]"):
            return None
        inner = rest[:-1]
        suffixed = inner.endswith(LABELLED_SUFFIX)
        attribute = inner[: -len(LABELLED_SUFFIX)] if suffixed else inner
        return cls(kind, attribute, suffixed or kind in ON_LABELLED)


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


def labelled_fairness_groups(details: Mapping[str, Any]) -> tuple[GroupComparison, ...]:
    """The groups counted on the labelled records apart (production; empty in pre-prod and older documents)."""
    return tuple(GroupComparison.from_dict(a, g) for a, g in details.get("labelled_groups", {}).items())


def bias_scan_intersections(details: Mapping[str, Any]) -> tuple[BiasSlice, ...]:
    return tuple(BiasSlice.from_dict(g) for g in details.get("bias_scan_intersections", ()))


def bias_scan_summary(details: Mapping[str, Any]) -> BiasScanSummary | None:
    found = details.get("bias_scan_summary")
    return BiasScanSummary.from_dict(found) if found else None


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
    """Likely mispredicted records (by the drift detector), then inconsistent ones not already listed.

    The list the drift monitor built (``"to_label"``) where there is one; an older document's is rebuilt as it was.
    """
    if details.get("to_label") is not None:
        return records_to_label(details).records
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


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class RecordsToLabel:
    """The one list of records someone should label, as the evaluation built it, and the counts behind its length.

    ``likely_mispredicted`` is the detector's estimate over the whole window (None when it estimated nothing); the
    list holds the ``listed_likely`` most likely of them, then ``listed_inconsistent`` records that break a learned
    constraint and were not listed already. ``describe`` says so in the words every place that shows it uses.
    """

    records: tuple[DriftedRecord, ...] = ()
    likely_mispredicted: int | None = None
    not_estimated: str | None = None
    listed_likely: int = 0
    inconsistent: int = 0
    inconsistent_already_listed: int = 0
    listed_inconsistent: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordsToLabel:
        likely = data.get("likely_mispredicted")
        reason = data.get("not_estimated")
        return cls(
            tuple(DriftedRecord.from_dict(r) for r in data.get("records", ())),
            None if likely is None else int(likely),
            None if reason is None else str(reason),
            int(data.get("listed_likely", 0)),
            int(data.get("inconsistent", 0)),
            int(data.get("inconsistent_already_listed", 0)),
            int(data.get("listed_inconsistent", 0)),
        )

    @classmethod
    def rebuilt(cls, details: Mapping[str, Any]) -> RecordsToLabel:
        """An older document's list (before the monitor stored one): the counts it can still tell."""
        drop = accuracy_drop(details)
        found = drifted_records(details)
        likely = sum(1 for r in found if r.reason is None)
        consistency = data_consistency(details)
        return cls(
            found,
            drop.likely_mispredicted if drop is not None and drop.estimated_drop is not None else None,
            drop.reason or None if drop is not None and drop.estimated_drop is None else None,
            likely,
            consistency.records if consistency is not None else 0,
            0,
            len(found) - likely,
        )

    @property
    def total(self) -> int:
        return len(self.records)

    def _likely_part(self) -> str:
        if self.not_estimated:
            return f"likely mispredicted records not estimated ({self.not_estimated})"
        if self.likely_mispredicted is None:
            return f"{_plural(self.listed_likely, 'likely mispredicted record')} listed" if self.listed_likely else ""
        if self.likely_mispredicted == 0:
            return "no record estimated likely mispredicted"
        estimated = f"{_plural(self.likely_mispredicted, 'record')} estimated likely mispredicted"
        if self.listed_likely >= self.likely_mispredicted:
            return f"{estimated}, all listed"
        if self.listed_likely == 1:
            return f"{estimated}; the most likely is listed"
        return f"{estimated}; the {self.listed_likely} most likely are listed"

    def _inconsistent_part(self, *, alone: bool) -> str:
        if not self.inconsistent:
            return ""
        listed, others, before = self.listed_inconsistent, self.inconsistent - self.inconsistent_already_listed, ""
        verb = "breaks" if (others if listed < others else listed) == 1 else "break"
        if listed < others:
            text = f"the first {listed} of the {others} {'records ' if alone else ''}that {verb} a learned constraint"
        else:
            text = f"{_plural(listed, 'record') if alone else listed} that {verb} a learned constraint"
        if self.inconsistent_already_listed:
            before = f" ({self.inconsistent_already_listed} more listed already as likely mispredicted)"
        return text + before

    def describe(self) -> str:
        """E.g. "294 records estimated likely mispredicted; the 100 most likely are listed, plus 20 that break a
        learned constraint: 120 to label"."""
        likely = self._likely_part()
        inconsistent = self._inconsistent_part(alone=not likely)
        body = f"{likely}, plus {inconsistent}" if likely and inconsistent else likely or inconsistent
        if not self.records:
            return f"{body}: nothing to label" if body else "nothing to label"
        return f"{body}: {self.total} to label"


@dataclass(frozen=True)
class MultivariateDrift:
    """The domain classifier's verdict: how well the window can be told from the training data, and by what."""

    auc: float | None
    interval: tuple[float, float] | None
    reference_records: int
    current_records: int
    features: tuple[FeatureImportance, ...] = ()  # most telling first
    fold_auc: tuple[float, ...] = ()
    sampled: bool = False
    method: str = ""
    importance_method: str = ""
    reason: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultivariateDrift:
        bounds = data.get("interval")
        return cls(
            _float(data.get("auc")),
            (float(bounds[0]), float(bounds[1])) if bounds else None,
            int(data.get("reference_records", 0)),
            int(data.get("current_records", 0)),
            tuple(FeatureImportance.from_dict(f) for f in data.get("features", ())),
            tuple(float(a) for a in data.get("fold_auc", ())),
            bool(data.get("sampled", False)),
            str(data.get("method", "")),
            str(data.get("importance_method", "")),
            str(data.get("reason", "")),
        )


@dataclass(frozen=True)
class WindowImportance:
    """One feature's label-free importance on the evaluated records beside the same measure on the held-out ones."""

    feature: str
    importance: float
    std: float
    reference_importance: float | None
    rank: int
    reference_rank: int | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowImportance:
        rank = data.get("reference_rank")
        return cls(
            str(data["feature"]),
            float(data["importance"]),
            float(data.get("std", 0.0)),
            _float(data.get("reference_importance")),
            int(data["rank"]),
            None if rank is None else int(rank),
        )


@dataclass(frozen=True)
class ProductionImportance:
    """Which features drive the model's decisions on the evaluated window, and how that differs from training time."""

    method: str
    records: int
    reference_records: int
    features: tuple[WindowImportance, ...]  # by importance on the window, largest first
    reason: str = ""  # why nothing was computed

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProductionImportance:
        return cls(
            str(data.get("method", "")),
            int(data.get("records", 0)),
            int(data.get("reference_records", 0)),
            tuple(WindowImportance.from_dict(f) for f in data.get("features", ())),
            str(data.get("reason", "")),
        )


def records_to_label(details: Mapping[str, Any]) -> RecordsToLabel:
    """The drift monitor's list of records to label (rebuilt from an older document's parts)."""
    found = details.get("to_label")
    return RecordsToLabel.from_dict(found) if found is not None else RecordsToLabel.rebuilt(details)


def multivariate_drift(details: Mapping[str, Any]) -> MultivariateDrift | None:
    found = details.get("multivariate")
    return MultivariateDrift.from_dict(found) if found else None


def production_importance(details: Mapping[str, Any]) -> ProductionImportance | None:
    found = details.get("production_importance")
    return ProductionImportance.from_dict(found) if found else None


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
