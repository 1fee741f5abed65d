"""Fairness monitor: configured groups on the whole window and on the labelled records, and a bias scan.

``current`` holds the features and a ``prediction`` column (the predicted label); ``labelled`` the
records whose true label (the spec's target) is known, scored the same way. For each protected
attribute the monitored group is compared with the reference group (AIF360's and fairlearn's
definitions, the favourable label as the positive outcome):

- disparate impact = P(favourable | monitored) / P(favourable | reference)
- statistical parity difference = P(favourable | monitored) - P(favourable | reference)
- equal opportunity difference = TPR(monitored) - TPR(reference)
- average odds difference = ((FPR_m - FPR_r) + (TPR_m - TPR_r)) / 2

Where the records are counted:

- Disparate impact and statistical parity are computed on the whole window (``disparate_impact[Sex]``,
  the critical check every tier policy and approval knows) and, in production, again on the labelled
  records alone (``disparate_impact[Sex|labelled]``): the labelled records are where a bank can check
  outcomes, and a window that passes as a whole can fail on them (IBM's feed: 1.23 over the payload,
  0.915 on the 1,000 labelled records).
- Equal opportunity and average odds need the truth, so they are computed on the labelled records.
- In pre-prod ``labelled`` is ``current`` itself (the test split): then every metric is computed
  once, on it, and no ``|labelled`` duplicate is reported.

The labelled disparate impact is critical. A non-critical failure only turns the verdict to warn and
raises no alert, so the case above would again be seen by nobody; critical, it fails the evaluation
and raises an alert, as the whole-window check does. It is judged only when each group holds at
least ``fairness_min_records`` labelled records, so a small labelled batch leaves it unjudged, never
failed on noise; and it exists only in production, so pre-prod evaluations (what approvals judge)
keep exactly their checks.

Every group metric carries its 95% bootstrap interval (``monitors.uncertainty``: seeded, on the
group-by-outcome counts) in ``Metric.interval`` and the smaller group's size in ``Metric.records``.
A metric on too few records is unjudged (insufficient), never passed: disparate impact and parity
need ``fairness_min_records`` records in each group, equal opportunity that many favourable-truth
records in each group, average odds that many of each truth in each group.

The bias scan compares every category, quantile band and tail, and every pair of a protected
attribute's configured group with another feature's group (``Sex = female & 18 <= Age <= 25``), with
everyone else; only groups with at least ``fairness_min_records`` records inside and outside are tested. Each
is tested with a two-sided two-proportion z-test of its favourable rate against everyone else's,
and the false discovery rate over all tested groups is controlled with Benjamini-Hochberg. The
z-test, not Fisher's exact test: it is closed-form and vectorised over the hundreds of groups a scan
tests, and with the minimum group sizes (100 by default) the normal approximation is close to the
exact test; Fisher's exact would be a per-group Python loop. The scan reports how many groups were
tested and how many are significant after control, and the groups with the lowest disparate impact.
Everything is computed on category codes, sorted columns and ``bincount`` of combined codes, not
with per-group DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, norm

from pipeline_core.data.columns import PREDICTION
from pipeline_core.data.spec import DataSpec, ProtectedAttribute
from pipeline_core.monitors.groups import (
    Columns,
    Partition,
    as_categories,
    configured_partition,
    cross_count,
    group_mask,
    scan_counts,
    scan_partition,
)
from pipeline_core.monitors.uncertainty import Statistic, UncertaintyConfig, bootstrap_interval
from pipeline_core.results import Metric, MonitorResult, insufficient, judged
from pipeline_core.vocabulary import CheckStatus

LABELLED = "labelled"  # the suffix of the labelled subset's metrics: disparate_impact[Sex|labelled]
SCAN_TEST = "two-sided two-proportion z-test, Benjamini-Hochberg"


@dataclass(frozen=True, kw_only=True)
class FairnessConfig:
    scan_bands: int = 5
    scan_top: int = 10
    scan_intersections_top: int = 10
    scan_fdr: float = 0.05  # the false discovery rate the scan's significance controls
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)


def _rate(flags: np.ndarray, mask: np.ndarray) -> float:
    n = int(mask.sum())
    return float(flags[mask].mean()) if n else float("nan")


def group_rates(favourable: np.ndarray, mask: np.ndarray, truth: np.ndarray | None) -> dict[str, float]:
    out = {"n": float(mask.sum()), "favourable_rate": _rate(favourable, mask)}
    if truth is not None:
        out["tpr"] = _rate(favourable, mask & truth)
        out["fpr"] = _rate(favourable, mask & ~truth)
        out["positives"] = float((mask & truth).sum())
        out["negatives"] = float((mask & ~truth).sum())
    return out


# Cells of the bootstrap: group (monitored, reference, neither) x prediction (other, favourable) x truth
# (unfavourable, favourable, unknown); a statistic reads a (..., 3, 2, 3) array of counts.
MON, REF = 0, 1
NEG, POS, UNKNOWN = 0, 1, 2


def cell_counts(mon: np.ndarray, ref: np.ndarray, favourable: np.ndarray, truth: np.ndarray | None) -> np.ndarray:
    group = np.where(mon, MON, np.where(ref, REF, 2))
    outcome = np.full(len(group), UNKNOWN) if truth is None else np.where(truth, POS, NEG)
    key = (group * 2 + favourable.astype(np.int64)) * 3 + outcome
    return np.bincount(key, minlength=18).reshape(3, 2, 3)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a / b, dtype=float)


def favourable_rate(c: np.ndarray, g: int) -> np.ndarray:
    return _ratio(c[..., g, 1, :].sum(axis=-1), c[..., g, :, :].sum(axis=(-1, -2)))


def true_positive_rate(c: np.ndarray, g: int) -> np.ndarray:
    return _ratio(c[..., g, 1, POS], c[..., g, :, POS].sum(axis=-1))


def false_positive_rate(c: np.ndarray, g: int) -> np.ndarray:
    return _ratio(c[..., g, 1, NEG], c[..., g, :, NEG].sum(axis=-1))


def disparate_impact(c: np.ndarray) -> np.ndarray:
    return _ratio(favourable_rate(c, MON), favourable_rate(c, REF))


def statistical_parity(c: np.ndarray) -> np.ndarray:
    return favourable_rate(c, MON) - favourable_rate(c, REF)


def equal_opportunity(c: np.ndarray) -> np.ndarray:
    return true_positive_rate(c, MON) - true_positive_rate(c, REF)


def average_odds(c: np.ndarray) -> np.ndarray:
    fpr = false_positive_rate(c, MON) - false_positive_rate(c, REF)
    return (fpr + equal_opportunity(c)) / 2


def _sizes(c: np.ndarray) -> dict[str, int]:
    """The smallest group each metric depends on."""
    per_group = c[:2].sum(axis=(1, 2))
    positives, negatives = c[:2, :, POS].sum(axis=1), c[:2, :, NEG].sum(axis=1)
    return {
        "parity": int(per_group.min()),
        "opportunity": int(positives.min()),
        "odds": int(min(positives.min(), negatives.min())),
    }


@dataclass(frozen=True)
class _Subset:
    """Which records a set of an attribute's metrics is computed on, and how its names read."""

    suffix: str  # "" (the whole window, or pre-prod's test split) or "|labelled"
    where: str  # for the detail: "whole window", "labelled records"


def _metric(
    name: str,
    c: np.ndarray,
    statistic: Statistic,
    *,
    records: int,
    minimum: int,
    config: FairnessConfig,
    detail: str,
    threshold: float | None = None,
    critical: bool = False,
) -> Metric:
    """One group metric with its interval and group size, or unjudged on too few records."""
    if records < minimum:
        return replace(insufficient(name, records, minimum, threshold=threshold, critical=critical), records=records)
    value = float(statistic(c))
    interval = bootstrap_interval(c, statistic, key=name, config=config.uncertainty)
    if threshold is None:
        return Metric(name, value, detail=detail, interval=interval, records=records)
    if not np.isfinite(value):
        return Metric(
            name,
            None,
            threshold,
            "higher_is_better",
            CheckStatus.INFO,
            critical,
            "the reference group receives no favourable outcome",
            records=records,
        )
    verdict = judged(name, value, threshold, higher=True, critical=critical, detail=detail)
    return replace(verdict, interval=interval, records=records)


def _attribute(
    frame: pd.DataFrame,
    attr: ProtectedAttribute,
    favourable: np.ndarray,
    truth: np.ndarray | None,
    subset: _Subset,
    *,
    spec: DataSpec,
    config: FairnessConfig,
) -> tuple[list[Metric], dict[str, Any]]:
    """The metrics of one attribute on one subset of records, and its groups' rates and sizes."""
    minimum = spec.thresholds.fairness_min_records
    mon = group_mask(frame[attr.name], attr.monitored)
    ref = group_mask(frame[attr.name], attr.reference)
    c = cell_counts(mon, ref, favourable, truth)
    sizes = _sizes(c)
    groups = {
        "monitored": {"group": attr.monitored.describe(), **group_rates(favourable, mon, truth)},
        "reference": {"group": attr.reference.describe(), **group_rates(favourable, ref, truth)},
    }
    label = f"{attr.name}{subset.suffix}"
    versus = f"{attr.monitored.describe()} vs {attr.reference.describe()}, {subset.where}"
    metric = partial(_metric, minimum=minimum, config=config)
    metrics = [
        metric(
            f"disparate_impact[{label}]",
            c,
            disparate_impact,
            records=sizes["parity"],
            detail=versus,
            threshold=spec.thresholds.disparate_impact,
            critical=True,
        ),
        metric(
            f"statistical_parity_difference[{label}]",
            c,
            statistical_parity,
            records=sizes["parity"],
            detail=versus,
        ),
    ]
    if truth is not None:
        # The truth's metrics carry no suffix: they are only ever computed on the labelled records.
        metrics += [
            metric(
                f"equal_opportunity_difference[{attr.name}]",
                c,
                equal_opportunity,
                records=sizes["opportunity"],
                detail=f"{versus}; records: the smaller group's favourable-truth records",
            ),
            metric(
                f"average_odds_difference[{attr.name}]",
                c,
                average_odds,
                records=sizes["odds"],
                detail=f"{versus}; records: the fewest of one truth in one group",
            ),
        ]
    return metrics, groups


def _favourable(frame: pd.DataFrame, spec: DataSpec) -> np.ndarray:
    return (frame[PREDICTION].astype(str) == spec.favourable_label).to_numpy()


def _truth(frame: pd.DataFrame, spec: DataSpec) -> np.ndarray | None:
    if spec.target in frame.columns and len(frame) and frame[spec.target].notna().all():
        return (frame[spec.target].astype(str) == spec.favourable_label).to_numpy()
    return None


def fairness(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    spec: DataSpec,
    labelled: pd.DataFrame | None = None,
    config: FairnessConfig | None = None,
) -> MonitorResult:
    """Fairness of the predictions in ``current`` and, apart, of ``labelled`` (see the module).

    ``labelled`` is None (no labels: the truth's metrics only where ``current`` carries the target),
    ``current`` itself (pre-prod: one set of metrics), or the production feedback, scored.
    ``reference`` (training data) sets the scan's bands.
    """
    config = config or FairnessConfig()
    minimum = spec.thresholds.fairness_min_records
    apart = labelled is not None and labelled is not current
    favourable = _favourable(current, spec)
    truth = None if apart else _truth(current, spec)
    window = _Subset("", "whole window")
    metrics: list[Metric] = []
    groups: dict[str, Any] = {}
    labelled_groups: dict[str, Any] = {}
    for attr in spec.protected:
        found, groups[attr.name] = _attribute(current, attr, favourable, truth, window, spec=spec, config=config)
        metrics += found
        if apart:
            assert labelled is not None
            on_labels = _Subset(f"|{LABELLED}", "labelled records")
            labelled_truth = _truth(labelled, spec)
            if labelled_truth is None:  # an empty frame: every labelled metric unjudged, 0 records
                labelled_truth = np.zeros(len(labelled), dtype=bool)
            found, labelled_groups[attr.name] = _attribute(
                labelled, attr, _favourable(labelled, spec), labelled_truth, on_labels, spec=spec, config=config
            )
            metrics += found
    scan, intersections, summary = bias_scan(current, reference, favourable, spec=spec, config=config)
    details: dict[str, Any] = {
        "groups": groups,
        "bias_scan": scan,
        "bias_scan_intersections": intersections,
        "bias_scan_summary": summary,
    }
    if apart:
        assert labelled is not None
        details["labelled_groups"] = labelled_groups
        details["labelled_records"] = len(labelled)
    return MonitorResult("fairness", metrics, len(current), minimum, details)


@dataclass
class _Tested:
    """The scan's candidate groups, as parallel arrays (singles first, then intersections)."""

    features: list[tuple[str, ...]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    records: list[float] = field(default_factory=list)
    favourable: list[float] = field(default_factory=list)

    def add(self, features: tuple[str, ...], group: str, records: float, favourable: float) -> None:
        self.features.append(features)
        self.groups.append(group)
        self.records.append(records)
        self.favourable.append(favourable)


def two_proportion_p_values(n_in: np.ndarray, fav_in: np.ndarray, n_out: np.ndarray, fav_out: np.ndarray) -> np.ndarray:
    """Two-sided p-values of the pooled two-proportion z-test, one per group (1 where both rates are 0 or 1)."""
    pooled = (fav_in + fav_out) / (n_in + n_out)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_in + 1 / n_out))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (fav_in / n_in - fav_out / n_out) / se
    return np.where(se > 0, 2 * norm.sf(np.abs(z)), 1.0)


def _partitions(current: Columns, reference: pd.DataFrame, spec: DataSpec, bands: int) -> list[Partition]:
    """What intersections are made of: each protected attribute's configured groups, then every feature's
    categories or bands."""
    out = [configured_partition(current[a.name], a.name, a.monitored, a.reference) for a in spec.protected]
    out += [scan_partition(current, reference, name, numeric=False, bands=bands) for name in spec.categorical]
    out += [scan_partition(current, reference, name, numeric=True, bands=bands) for name in spec.numeric]
    return out


def _intersections(
    current: Columns, reference: pd.DataFrame, favourable: np.ndarray, *, spec: DataSpec, config: FairnessConfig
) -> _Tested:
    """Each protected attribute's configured groups (monitored, reference) crossed with every other feature's
    groups, the other protected attributes' configured groups included: at most protected attributes x features
    crosses, one bincount each, so the scan stays linear in the records."""
    found = _Tested()
    partitions = _partitions(current, reference, spec, config.scan_bands)
    configured = len(spec.protected)  # the first partitions are the configured ones
    position = {name: k for k, name in enumerate(spec.feature_names)}
    done: set[frozenset[int]] = set()
    for i, first in enumerate(partitions[:configured]):
        for j, second in enumerate(partitions):
            pair = frozenset((i, j))
            if second.feature == first.feature or pair in done:
                continue
            done.add(pair)
            # The spec's feature order names a pair the same way whichever of its two sides is protected.
            a_side, b_side = sorted((first, second), key=lambda p: position.get(p.feature, len(position)))
            cross = cross_count(a_side, b_side, favourable)
            for a, b in zip(*np.nonzero((cross.records > 0) & ~cross.redundant), strict=True):
                found.add(
                    (a_side.feature, b_side.feature),
                    f"{a_side.labels[a]} & {b_side.labels[b]}",
                    float(cross.records[a, b]),
                    float(cross.favourable[a, b]),
                )
    return found


def bias_scan(
    current: pd.DataFrame, reference: pd.DataFrame, favourable: np.ndarray, *, spec: DataSpec, config: FairnessConfig
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """The single groups and the intersections with the lowest disparate impact (lowest first), and the
    summary: how many groups were tested, how many are significant after Benjamini-Hochberg."""
    minimum = spec.thresholds.fairness_min_records
    # Categories coded once: the single groups and the intersections both count on the codes.
    columns = {name: as_categories(current[name]) for name in spec.categorical} | {
        name: current[name] for name in spec.numeric
    }
    candidates = _Tested()
    seen: set[tuple[object, ...]] = set()
    for group in scan_counts(
        columns, reference, favourable, categorical=spec.categorical, numeric=spec.numeric, bands=config.scan_bands
    ):
        if group.key in seen:  # the same records under another name (a top band and its tail)
            continue
        seen.add(group.key)
        candidates.add((group.feature,), group.description, float(group.records), group.favourable)
    singles = len(candidates.groups)
    crossed = _intersections(columns, reference, favourable, spec=spec, config=config)
    for k in range(len(crossed.groups)):
        candidates.add(crossed.features[k], crossed.groups[k], crossed.records[k], crossed.favourable[k])
    total, total_favourable = float(len(favourable)), float(favourable.sum())
    n_in, fav_in = np.asarray(candidates.records), np.asarray(candidates.favourable)
    n_out, fav_out = total - n_in, total_favourable - fav_in
    # Tested: enough records on both sides, and a disparate impact defined (others get a favourable outcome).
    tested = np.flatnonzero((n_in >= minimum) & (n_out >= minimum) & (fav_out > 0))
    p = two_proportion_p_values(n_in[tested], fav_in[tested], n_out[tested], fav_out[tested])
    q = false_discovery_control(p, method="bh") if p.size else p
    significant = q <= config.scan_fdr
    rows = []
    for k, i in enumerate(tested):
        inside, outside = fav_in[i] / n_in[i], fav_out[i] / n_out[i]
        rows.append(
            {
                "feature": " x ".join(candidates.features[i]),
                "features": list(candidates.features[i]),
                "group": candidates.groups[i],
                "records": int(n_in[i]),
                "others_records": int(n_out[i]),
                "favourable_rate": float(inside),
                "others_favourable_rate": float(outside),
                "disparate_impact": float(inside / outside),
                "below_threshold": bool(inside / outside < spec.thresholds.disparate_impact),
                "p_value": float(p[k]),
                "q_value": float(q[k]),
                "significant": bool(significant[k]),
            }
        )
    rows.sort(key=lambda g: (g["disparate_impact"], g["group"]))
    summary = {
        "tested": int(tested.size),
        "tested_single": int((tested < singles).sum()),
        "tested_intersections": int((tested >= singles).sum()),
        "significant": int(significant.sum()),
        "significant_below_threshold": int(sum(r["significant"] and r["below_threshold"] for r in rows)),
        "min_records": minimum,
        "fdr": config.scan_fdr,
        "test": SCAN_TEST,
    }
    single_rows = [r for r in rows if len(r["features"]) == 1][: config.scan_top]
    cross_rows = [r for r in rows if len(r["features"]) > 1][: config.scan_intersections_top]
    return single_rows, cross_rows, summary
