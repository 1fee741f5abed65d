"""Drift monitor: per-feature drift, share of drifted features, output drift, data consistency.

As Evidently does: categorical features (and integer ones with at most 10 distinct values
in the reference) use the Jensen-Shannon distance of the category frequencies; numeric
features use the Wasserstein distance divided by the reference's standard deviation. A
feature drifts when its statistic reaches the spec's threshold (0.1). Categories are
counted on integer codes with ``np.bincount``, which is what keeps a million rows cheap.

Data consistency counts records that break constraints learned from the reference:
a category never seen there, or a number outside its range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from pipeline_core.data.spec import DataSpec
from pipeline_core.results import Metric, MonitorResult, insufficient, judged

PROBABILITY = "probability"


@dataclass(frozen=True, kw_only=True)
class DriftConfig:
    max_categories_for_integers: int = 10
    dataset_drift_share: float = 0.5


def _is_categorical(name: str, reference: pd.Series, spec: DataSpec, config: DriftConfig) -> bool:
    if name in spec.categorical:
        return True
    return pd.api.types.is_integer_dtype(reference) and reference.nunique() <= config.max_categories_for_integers


def js_distance(reference: pd.Series, current: pd.Series) -> float:
    """Jensen-Shannon distance (natural log, as scipy and Evidently) of the category frequencies."""
    ref, cur = reference.dropna(), current.dropna()
    categories = pd.Index(pd.unique(pd.concat([ref, cur], ignore_index=True)))
    k = len(categories)
    ref_counts = np.bincount(categories.get_indexer(ref), minlength=k).astype(float)
    cur_counts = np.bincount(categories.get_indexer(cur), minlength=k).astype(float)
    return float(jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()))


def normed_wasserstein(reference: pd.Series, current: pd.Series) -> float:
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype=float)
    return float(wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001))


def drift(
    current: pd.DataFrame, reference: pd.DataFrame, *, spec: DataSpec, config: DriftConfig | None = None
) -> MonitorResult:
    """Drift of ``current`` (scored payload) from ``reference`` (training data)."""
    config = config or DriftConfig()
    minimum = spec.thresholds.drift_min_records
    threshold = spec.thresholds.drift
    n = len(current)
    if n < minimum:
        return MonitorResult("drift", [insufficient("share_of_drifted_features", n, minimum)], n, minimum)
    metrics: list[Metric] = []
    features: dict[str, Any] = {}
    for name in spec.feature_names:
        categorical = _is_categorical(name, reference[name], spec, config)
        if categorical:
            value, method = js_distance(reference[name], current[name]), "jensen_shannon"
        else:
            value, method = normed_wasserstein(reference[name], current[name]), "wasserstein_normed"
        metric = judged(f"drift[{name}]", value, threshold, higher=False, detail=method)
        # Evidently's rule: drift when the statistic reaches the threshold.
        drifted = value >= threshold
        metrics.append(metric)
        features[name] = {"statistic": method, "value": value, "drifted": drifted}
    n_drifted = sum(f["drifted"] for f in features.values())
    metrics.append(judged("share_of_drifted_features", n_drifted / len(features), config.dataset_drift_share,
                          higher=False, detail=f"{n_drifted} of {len(features)} features"))  # fmt: skip
    if PROBABILITY in current.columns and PROBABILITY in reference.columns:
        output = normed_wasserstein(reference[PROBABILITY], current[PROBABILITY])
        metrics.append(judged("output_drift", output, threshold, higher=False, detail="wasserstein_normed"))
    consistency = data_consistency(current, reference, spec=spec)
    metrics.append(Metric("inconsistent_records_share", consistency["share"],
                          detail=f"{consistency['records']} of {n} records break a learned constraint"))  # fmt: skip
    return MonitorResult("drift", metrics, n, minimum, {"features": features, "data_consistency": consistency})


def data_consistency(current: pd.DataFrame, reference: pd.DataFrame, *, spec: DataSpec) -> dict[str, Any]:
    """Records with a category unseen in ``reference`` or a number outside its range, per column."""
    bad = np.zeros(len(current), dtype=bool)
    columns: dict[str, dict[str, Any]] = {}
    for name in spec.categorical:
        known = set(reference[name].dropna().astype(str))
        values = current[name].astype(str)
        unseen = (~values.isin(known) & current[name].notna()).to_numpy()
        if unseen.any():
            columns[name] = {"unseen_categories": int(unseen.sum()),
                             "values": sorted(set(values[unseen]))[:10]}  # fmt: skip
        bad |= unseen
    for name in spec.numeric:
        ref = pd.to_numeric(reference[name], errors="coerce")
        cur = pd.to_numeric(current[name], errors="coerce").to_numpy(dtype=float)
        outside = (cur < ref.min()) | (cur > ref.max())
        if outside.any():
            columns[name] = {"out_of_range": int(outside.sum()), "range": [float(ref.min()), float(ref.max())]}
        bad |= outside
    return {"records": int(bad.sum()), "share": float(bad.mean()) if len(bad) else 0.0, "columns": columns,
            "example_records": [int(i) for i in np.flatnonzero(bad)[:20]]}  # fmt: skip
