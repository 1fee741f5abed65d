"""The evidence tables, row by row: built once here for the Review page and the validation report alike.

Each function returns one dict per row, its keys the column headings, its values plain cells
(text, a number rounded for reading, or None where there is nothing). The page shows the rows
as a table (None as a dash); the report writes them as HTML, colouring the ``verdict`` column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pipeline_core.results import Metric, is_test
from pipeline_core.results.evaluation import EvaluationReport, MonitorName, RiskSummary
from pipeline_core.results.evidence import (
    BiasSlice,
    Contrastive,
    DataConsistency,
    DriftedRecord,
    FairnessMetric,
    FeatureDrift,
    FeatureImportance,
    GroupComparison,
    MultivariateDrift,
    ProductionImportance,
)
from pipeline_core.vocabulary import CheckStatus

Row = dict[str, Any]
VERDICT = "verdict"  # the column a renderer may colour by its value
DIGITS = 4


def _round(value: float | None, digits: int = DIGITS) -> float | None:
    return None if value is None else round(value, digits)


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def metric_rows(metrics: Iterable[Metric]) -> list[Row]:
    return [
        {
            "metric": m.name,
            "value": _round(m.value),
            "threshold": _round(m.threshold),
            "direction": None if m.direction == "none" else m.direction.replace("_", " "),
            VERDICT: m.status.value,
            "critical": _yes(m.critical),
            "detail": m.detail,
        }
        for m in metrics
    ]


# The summary's status words beyond the vocabulary's verdicts: a monitor the evaluation did not run, a model test
# that did not apply (skipped), a check with a threshold that could not be compared with it.
NOT_RUN = "not run"
NOT_JUDGED = "not judged"
# Worst first: what stops an approval (failed, or not judged at all) before what only asks for a look (warn).
# Within the first group the critical ones lead (they block), a failure before an unjudged check.
_SUMMARY_GROUP = {CheckStatus.WARN.value: 1, CheckStatus.PASS.value: 2}
_FAILED_FIRST = {CheckStatus.FAIL.value: 0}
_JUDGED = frozenset({CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.PASS, CheckStatus.INSUFFICIENT})


def _is_check(m: Metric) -> bool:
    """A metric judged against a threshold, or one that should have been (too few records); not a figure reported.

    The risk summary's rule (``results.is_test``), so that the summary lists exactly the tests it counts.
    """
    return is_test(m)


def _summary_row(monitor: str, check: str, status: str, **cells: Any) -> Row:
    return {
        "monitor": monitor,
        "check": check,
        "value": _round(cells.get("value")),
        "threshold": _round(cells.get("threshold")),
        "status": status,
        "critical": "yes" if cells.get("critical") else "no",
        "detail": cells.get("detail") or None,
    }


# The monitors whose absence leaves checks unjudged: the estimate judges nothing (it has no thresholds).
CHECKING_MONITORS: tuple[str, ...] = tuple(name for name in MonitorName if name != MonitorName.ESTIMATE)


def summary_rows(
    report: EvaluationReport,
    *,
    expected: Iterable[str] = CHECKING_MONITORS,
    policy: Iterable[tuple[str, str, str, str]] = (),
) -> list[Row]:
    """Every check of every monitor and every model test, the ones a decision turns on first.

    Failed and unjudged first (too few records, a monitor of ``expected`` the evaluation did not run, a model
    test that did not apply), the critical ones leading and a failure before an unjudged check; then warnings,
    then passes, critical first within each; else in the evaluation's order. Reported figures without a
    threshold (accuracy, log loss…) are the monitors' tabs', not checks. ``policy``: what the model's tier
    policy adds beyond the evaluation, as (source, check, status, detail), each critical: a required
    documentation section not written (not judged), an open high-severity finding.
    """
    rows = [
        _summary_row(
            r.monitor,
            m.name,
            m.status.value if m.status in _JUDGED else NOT_JUDGED,
            value=m.value,
            threshold=m.threshold,
            critical=m.critical,
            detail=m.detail,
        )
        for r in report.monitors
        for m in r.metrics
        if _is_check(m)
    ]
    ran = {r.monitor for r in report.monitors}
    rows += [
        _summary_row(name, "(every check)", NOT_RUN, detail="this evaluation has no results for this monitor")
        for name in expected
        if name not in ran
    ]
    tests = report.risk.entries if report.risk is not None else ()
    rows += [
        _summary_row(
            e.source,
            e.name,
            e.status.value if e.status in _JUDGED else NOT_RUN,
            value=e.value,
            threshold=e.threshold,
            critical=e.critical,
            detail=e.detail,
        )
        for e in tests
        if e.source not in ran
    ]
    rows += [
        _summary_row(source, check, status, critical=True, detail=detail) for source, check, status, detail in policy
    ]
    return sorted(
        rows,
        key=lambda row: (
            _SUMMARY_GROUP.get(row["status"], 0),
            row["critical"] != "yes",
            _FAILED_FIRST.get(row["status"], 1),
        ),
    )


def risk_rows(risk: RiskSummary) -> list[Row]:
    """The tests the risk summary judged: monitors' checks and model tests."""
    return [
        {
            "source": e.source,
            "test": e.name,
            "value": _round(e.value),
            "threshold": _round(e.threshold),
            VERDICT: e.status.value,
            "critical": _yes(e.critical),
            "detail": e.detail,
        }
        for e in risk.entries
    ]


def group_rows(groups: Iterable[GroupComparison]) -> list[Row]:
    """Each protected attribute's monitored and reference group."""
    return [
        {
            "attribute": g.attribute,
            "role": role,
            "group": rates.group,
            "records": rates.n,
            "favourable rate": _round(rates.favourable_rate),
        }
        for g in groups
        for role, rates in (("monitored", g.monitored), ("reference", g.reference))
    ]


def bias_scan_rows(scan: Iterable[BiasSlice]) -> list[Row]:
    return [
        {
            "group": g.group,
            "records": g.records,
            "favourable rate": _round(g.favourable_rate),
            "others": _round(g.others_favourable_rate),
            "disparate impact": _round(g.disparate_impact),
            "below threshold": _yes(g.below_threshold),
        }
        for g in scan
    ]


def most_drifted_first(features: Iterable[FeatureDrift]) -> list[FeatureDrift]:
    """p-values (small references) drift when low, distances when high: the most drifted first either way."""
    return sorted(features, key=lambda f: f.value if f.is_p_value else -f.value)


def drift_rows(features: Iterable[FeatureDrift]) -> list[Row]:
    return [
        {"feature": f.feature, "statistic": f.statistic, "value": _round(f.value), "drifted": _yes(f.drifted)}
        for f in most_drifted_first(features)
    ]


def consistency_rows(consistency: DataConsistency) -> list[Row]:
    return [{"column": c.column, "finding": c.describe()} for c in consistency.columns]


def drifted_record_rows(records: Sequence[DriftedRecord]) -> list[Row]:
    """Records to label and why: likely mispredicted, or breaking a learned constraint (``RecordsToLabel.records``:
    the evaluation's one list, whoever shows it)."""
    return [{"record": r.record, "scoring id": r.scoring_id, "why": r.why} for r in records]


def change_rows(contrastive: Contrastive) -> list[Row]:
    """The contrastive explanation's changes, in the order they were made."""
    return [
        {"feature": c.feature, "from": c.before, "to": c.after, "probability after": _round(c.probability)}
        for c in contrastive.changes
    ]


def interval_text(interval: tuple[float, float] | None, digits: int = 3) -> str | None:
    """A 95% interval as a reader sees it: ``0.912 to 1.034``."""
    return None if interval is None else f"{interval[0]:.{digits}f} to {interval[1]:.{digits}f}"


def fairness_metric_rows(report: EvaluationReport) -> list[Row]:
    """Each protected attribute's group metrics with their intervals and group sizes: the whole window first,
    then the labelled records (in pre-prod the test split is both, each metric once)."""
    fairness = report.monitor(MonitorName.FAIRNESS)
    rows = []
    for m in fairness.metrics if fairness is not None else ():
        read = FairnessMetric.parse(m.name)
        if read is None:
            continue
        rows.append(
            {
                "attribute": read.attribute,
                "on": "labelled records" if read.labelled else "whole window",
                "metric": read.kind.replace("_", " "),
                "value": _round(m.value),
                "95% interval": interval_text(m.interval),
                "records": m.records,
                VERDICT: m.status.value,
                "critical": _yes(m.critical),
                "detail": m.detail,
            }
        )
    return sorted(rows, key=lambda row: (row["attribute"], row["on"] != "whole window"))


def _p_text(p: float | None) -> str | None:
    return None if p is None else f"{p:.2g}"


def scan_test_rows(scan: Iterable[BiasSlice]) -> list[Row]:
    """The bias scan's groups with their test: records inside and outside, p-value, adjusted (q) value."""
    return [
        {
            "group": g.group,
            "records": g.records,
            "others": g.others_records,
            "favourable rate": _round(g.favourable_rate),
            "others' rate": _round(g.others_favourable_rate),
            "disparate impact": _round(g.disparate_impact),
            # As text in scientific notation: a p-value of 1e-12 must not read as a row of zeros.
            "p-value": _p_text(g.p_value),
            "q-value (BH)": _p_text(g.q_value),
            "significant": "" if g.significant is None else _yes(g.significant),
            "below threshold": _yes(g.below_threshold),
        }
        for g in scan
    ]


def multivariate_rows(drift: MultivariateDrift, *, top: int = 5) -> list[Row]:
    """The features that tell the window from the training data most: the domain classifier's AUC drop."""
    return [
        {"feature": f.feature, "AUC drop when shuffled": _round(f.importance), "± across folds": _round(f.std)}
        for f in drift.features[:top]
    ]


def importance_rows(window: ProductionImportance, training: Sequence[FeatureImportance] = ()) -> list[Row]:
    """Each feature's importance on the window beside the same measure on held-out records, and the training-time
    (ROC AUC drop) figure where there is one; in the window's order."""
    at_training = {f.feature: f.importance for f in training}
    return [
        {
            "feature": f.feature,
            "rank now": f.rank,
            "rank on held-out": f.reference_rank,
            "on the window": _round(f.importance),
            "on held-out": _round(f.reference_importance),
            "training-time AUC drop": _round(at_training.get(f.feature)),
        }
        for f in window.features
    ]


def tracked_row(evaluated: Any, monitor: str, metric: Metric) -> Row:
    """One figure of one evaluation for a chart over time: its value, its 95% interval's ends (None where it has
    none) and the records it rests on."""
    lower, upper = metric.interval if metric.interval is not None else (None, None)
    return {
        "evaluated": evaluated,
        "metric": metric.name,
        "value": metric.value,
        "lower": lower,
        "upper": upper,
        "records": metric.records,
        "monitor": monitor,
    }


def newest_figure_rows(report: EvaluationReport, names: Iterable[str]) -> list[Row]:
    """The figures named (by prefix) of one evaluation with their 95% intervals, records and verdicts."""
    prefixes = tuple(names)
    return [
        {
            "figure": c.metric.name,
            "value": _round(c.metric.value),
            "95% interval": interval_text(c.metric.interval),
            # As text: a column of counts with gaps would otherwise be read as floats (60.0).
            "records": None if c.metric.records is None else f"{c.metric.records:,}",
            VERDICT: c.metric.status.value,
        }
        for c in report.checks
        if c.metric.name.startswith(prefixes) and c.metric.value is not None
    ]
