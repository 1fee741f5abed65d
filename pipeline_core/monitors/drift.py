"""Drift monitor: per-feature and multivariate drift, output drift, data consistency, the records to label.

As Evidently does: categorical features (and integer ones with at most 10 distinct values
in the reference) use the Jensen-Shannon distance of the category frequencies; numeric
features use the Wasserstein distance divided by the reference's standard deviation. A
feature drifts when its statistic reaches the spec's threshold (0.1). With a reference of
at most 1,000 records those distances are mostly sampling noise, so, again as Evidently
does, the tests are the two-sample Kolmogorov-Smirnov test (numbers) and the chi-square
test (categories), and a feature drifts when the p-value falls below 0.05. Categories are
counted on integer codes with ``np.bincount``, which is what keeps a million rows cheap.

Multivariate drift is a domain classifier's cross-validated ROC AUC at telling the window from the
training data, with the features that tell them apart most (``monitors.domain``): a change in how
features go together that no single feature shows. It is judged against ``max_multivariate_auc``
(0.75), not critically.

Data consistency counts records that break constraints learned from the reference:
a category never seen there, or a number outside its range.

The drop in accuracy on unlabelled traffic is estimated as Watson OpenScale does: a
model trained on labelled held-out records (``error_reference``: features, true label and
the deployed model's prediction) learns where the deployed model errs; its mean predicted
error on the current records (a random sample of ``max_scored_records`` of them when
there are more), against the error rate it was trained on, is the estimated drop. The
records it thinks most likely mispredicted are listed for labelling, then records that break a learned
constraint: one list (``records_to_label``, stored under ``"to_label"``) with the counts that explain its
length, which the evaluation's display, the retraining request and the CLI all read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, ks_2samp, wasserstein_distance
from sklearn.ensemble import HistGradientBoostingClassifier

from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.domain import domain_classifier
from pipeline_core.results import Metric, MonitorResult, insufficient, judged
from pipeline_core.results.evidence import INCONSISTENT
from pipeline_core.vocabulary import CheckStatus


@dataclass(frozen=True, kw_only=True)
class DriftConfig:
    max_categories_for_integers: int = 10
    # Evidently's switch: references up to this size are judged by p-values (K-S, chi-square).
    small_reference: int = 1000
    p_value: float = 0.05
    dataset_drift_share: float = 0.5
    # An estimated accuracy drop beyond this fails the (critical) drop-in-accuracy check.
    max_accuracy_drop: float = 0.05
    min_error_reference: int = 50
    max_drifted_records: int = 100
    # The drop is a mean: estimated on a random sample of at most this many records (±0.002 at 200,000).
    max_scored_records: int = 200_000
    # Multivariate drift (monitors.domain): a domain classifier's out-of-fold ROC AUC beyond this fails (not critical).
    max_multivariate_auc: float = 0.75
    multivariate_sample: int = 5000
    multivariate_folds: int = 5
    multivariate_resamples: int = 200
    # The records to label: the most likely mispredicted (``max_drifted_records``), then at most this many more
    # that break a learned constraint.
    max_inconsistent_records: int = 20
    seed: int = 0


def _is_categorical(name: str, reference: pd.Series, spec: DataSpec, config: DriftConfig) -> bool:
    if name in spec.categorical:
        return True
    return pd.api.types.is_integer_dtype(reference) and reference.nunique() <= config.max_categories_for_integers


def _counts(values: pd.Series, categories: pd.Index) -> np.ndarray:
    """How often each of ``categories`` occurs in ``values``; a categorical column is counted on its codes."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        per_code = np.bincount(codes[codes >= 0], minlength=len(values.cat.categories))
        out = np.zeros(len(categories))
        np.add.at(out, categories.get_indexer(values.cat.categories), per_code)
        return out
    present = values.dropna()
    return np.bincount(categories.get_indexer(pd.Index(present)), minlength=len(categories)).astype(float)


def _categories(*columns: pd.Series) -> pd.Index:
    seen: list[pd.Index] = []
    for column in columns:
        if isinstance(column.dtype, pd.CategoricalDtype):
            seen.append(pd.Index(column.cat.categories))
        else:
            seen.append(pd.Index(pd.unique(column.dropna())))
    out = seen[0]
    for more in seen[1:]:
        out = out.append(more)
    return pd.Index(pd.unique(out.to_numpy()))


def js_distance(reference: pd.Series, current: pd.Series) -> float:
    """Jensen-Shannon distance (natural log, as scipy and Evidently) of the category frequencies."""
    categories = _categories(reference, current)
    ref_counts, cur_counts = _counts(reference, categories), _counts(current, categories)
    return float(jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()))


def chi_square_p_value(reference: pd.Series, current: pd.Series) -> float:
    """Chi-square test of the current category counts against the reference frequencies."""
    categories = _categories(reference, current)
    ref_counts, cur_counts = _counts(reference, categories), _counts(current, categories)
    # A category absent from the reference gets a tiny expected share (Evidently does the same), so it counts
    # as strong evidence of drift instead of dividing by zero.
    expected = np.maximum(ref_counts / ref_counts.sum(), 1e-4)
    expected = expected / expected.sum() * cur_counts.sum()
    return float(chisquare(cur_counts, expected).pvalue)


def ks_p_value(reference: pd.Series, current: pd.Series) -> float:
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype=float)
    return float(ks_2samp(ref, cur).pvalue)


def normed_wasserstein(reference: pd.Series, current: pd.Series) -> float:
    ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype=float)
    cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(dtype=float)
    return float(wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001))


def drift(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    spec: DataSpec,
    config: DriftConfig | None = None,
    error_reference: pd.DataFrame | None = None,
) -> MonitorResult:
    """Drift of ``current`` (scored payload) from ``reference`` (training data).

    With ``error_reference`` (labelled records the model did not train on, with its
    predictions), the drop in accuracy is estimated and the likely mispredicted records listed.
    """
    config = config or DriftConfig()
    minimum = spec.thresholds.drift_min_records
    threshold = spec.thresholds.drift
    n = len(current)
    if n < minimum:
        return MonitorResult("drift", [insufficient("share_of_drifted_features", n, minimum)], n, minimum)
    metrics: list[Metric] = []
    features: dict[str, Any] = {}
    small = len(reference) <= config.small_reference
    for name in spec.feature_names:
        categorical = _is_categorical(name, reference[name], spec, config)
        if small:
            if categorical:
                value, method = chi_square_p_value(reference[name], current[name]), "chi_square_p_value"
            else:
                value, method = ks_p_value(reference[name], current[name]), "ks_p_value"
            metric = judged(f"drift[{name}]", value, config.p_value, higher=True, detail=method)
            drifted = value < config.p_value
        else:
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
    metrics.append(
        judged(
            "share_of_drifted_features",
            n_drifted / len(features),
            config.dataset_drift_share,
            higher=False,
            detail=f"{n_drifted} of {len(features)} features",
        )
    )
    if PROBABILITY in current.columns and PROBABILITY in reference.columns:
        output = normed_wasserstein(reference[PROBABILITY], current[PROBABILITY])
        metrics.append(judged("output_drift", output, threshold, higher=False, detail="wasserstein_normed"))
    multivariate = domain_classifier(
        current,
        reference,
        spec=spec,
        minimum=minimum,
        sample=config.multivariate_sample,
        folds=config.multivariate_folds,
        resamples=config.multivariate_resamples,
        seed=config.seed,
    )
    metrics.append(_multivariate_metric(multivariate, config))
    inconsistent, consistency = _inconsistency(current, reference, spec=spec)
    metrics.append(
        Metric(
            "inconsistent_records_share",
            consistency["share"],
            detail=f"{consistency['records']} of {n} records break a learned constraint",
        )
    )
    details: dict[str, Any] = {"features": features, "multivariate": multivariate, "data_consistency": consistency}
    drop: dict[str, Any] | None = None
    if error_reference is not None:
        drop = accuracy_drop(current, error_reference, spec=spec, config=config)
        details["accuracy_drop"] = drop
        if drop["estimated_drop"] is None:
            metrics.append(
                insufficient(
                    "drop_in_accuracy",
                    drop["reference_records"],
                    config.min_error_reference,
                    threshold=config.max_accuracy_drop,
                    critical=True,
                )
            )
        else:
            metrics.append(
                judged(
                    "drop_in_accuracy",
                    drop["estimated_drop"],
                    config.max_accuracy_drop,
                    higher=False,
                    critical=True,
                    detail=f"estimated accuracy {drop['estimated_accuracy']:.4f} vs "
                    f"{drop['reference_accuracy']:.4f} on held-out data",
                )
            )
    details["to_label"] = records_to_label(drop, inconsistent, current, config=config)
    return MonitorResult("drift", metrics, n, minimum, details)


def _multivariate_metric(found: dict[str, Any], config: DriftConfig) -> Metric:
    records = found["reference_records"] + found["current_records"]
    if found["auc"] is None:
        return Metric(
            "multivariate_drift_auc",
            None,
            config.max_multivariate_auc,
            "lower_is_better",
            CheckStatus.INSUFFICIENT,
            detail=found["reason"],
            records=records,
        )
    top = ", ".join(f["feature"] for f in found["features"][:3])
    metric = judged(
        "multivariate_drift_auc",
        found["auc"],
        config.max_multivariate_auc,
        higher=False,
        detail=f"a classifier tells {found['current_records']} window records from {found['reference_records']} "
        f"training records (0.5: it cannot); most telling: {top}",
    )
    lower, upper = found["interval"]
    return replace(metric, interval=(lower, upper), records=records)


def records_to_label(
    drop: dict[str, Any] | None, inconsistent: np.ndarray, current: pd.DataFrame, *, config: DriftConfig
) -> dict[str, Any]:
    """The one list of records someone should label, with the counts that explain its length.

    The likely mispredicted records the drop-in-accuracy detector listed (the most likely first, at most
    ``max_drifted_records``), then the first records that break a learned constraint and are not listed already
    (at most ``max_inconsistent_records``). The evaluation stores it once; its display, the retraining request and
    the CLI all read it (``results.evidence.RecordsToLabel``), so their numbers agree.
    """
    likely = list(drop["records"]) if drop is not None else []
    bad = np.flatnonzero(inconsistent)
    # Vectorised: at a million records a large share may break a constraint.
    others = bad[~np.isin(bad, np.array([int(r["record"]) for r in likely], dtype=bad.dtype))]
    extra = []
    for i in (int(j) for j in others[: config.max_inconsistent_records]):
        row: dict[str, Any] = {"record": i, "reason": INCONSISTENT}
        if SCORING_ID in current.columns:
            row[SCORING_ID] = str(current[SCORING_ID].iloc[i])
        extra.append(row)
    estimated = drop is not None and drop["estimated_drop"] is not None
    return {
        "records": [*likely, *extra],
        "likely_mispredicted": drop["likely_mispredicted"] if estimated and drop is not None else None,
        "not_estimated": None if estimated or drop is None else drop.get("reason"),
        "listed_likely": len(likely),
        "max_likely": config.max_drifted_records,
        "inconsistent": int(bad.size),
        "inconsistent_already_listed": int(bad.size) - len(others),
        "listed_inconsistent": len(extra),
        "max_inconsistent": config.max_inconsistent_records,
    }


def _ordinal(frame: pd.DataFrame, spec: DataSpec, categories: dict[str, pd.Index]) -> np.ndarray:
    """Features as floats for the error model: categories as their index in ``categories`` (NaN if unseen)."""
    out = np.empty((len(frame), len(spec.feature_names)), dtype=float)
    for j, name in enumerate(spec.feature_names):
        column = frame[name]
        if name in categories:
            known = categories[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                lookup = known.get_indexer(column.cat.categories.astype(str)).astype(float)
                lookup[lookup < 0] = np.nan
                codes = column.cat.codes.to_numpy()
                out[:, j] = np.where(codes >= 0, lookup[np.maximum(codes, 0)], np.nan)
            else:
                index = known.get_indexer(pd.Index(column.astype(str))).astype(float)
                index[index < 0] = np.nan
                out[:, j] = index
        else:
            out[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    return out


def accuracy_drop(
    current: pd.DataFrame, error_reference: pd.DataFrame, *, spec: DataSpec, config: DriftConfig
) -> dict[str, Any]:
    """OpenScale's "drop in accuracy": where the deployed model errs, learned and applied to ``current``."""
    labelled = error_reference[error_reference[spec.target].notna()]
    errors = (labelled[PREDICTION].astype(str) != labelled[spec.target].astype(str)).to_numpy()
    out: dict[str, Any] = {"reference_records": len(labelled), "estimated_drop": None, "records": []}
    if len(labelled) < config.min_error_reference or errors.all() or not errors.any():
        out["reason"] = (
            f"insufficient data: {len(labelled)} < {config.min_error_reference}"
            if len(labelled) < config.min_error_reference
            else "the held-out records hold no errors (or only errors) to learn from"
        )
        return out
    categories = {name: pd.Index(sorted(labelled[name].astype(str).unique())) for name in spec.categorical}
    mask = [name in categories for name in spec.feature_names]
    # Small and regularised: the held-out set is a few hundred records with a few dozen errors.
    detector = HistGradientBoostingClassifier(
        max_depth=3,
        max_iter=50,
        learning_rate=0.1,
        min_samples_leaf=20,
        categorical_features=mask,
        random_state=config.seed,
    )
    detector.fit(_ordinal(labelled, spec, categories), errors)
    scored = np.arange(len(current))
    if len(current) > config.max_scored_records:
        rng = np.random.default_rng(config.seed)
        scored = np.sort(rng.choice(len(current), size=config.max_scored_records, replace=False))
    p_error = detector.predict_proba(_ordinal(current.iloc[scored], spec, categories))[:, 1]
    p_reference = detector.predict_proba(_ordinal(labelled, spec, categories))[:, 1]
    reference_accuracy = float(1 - errors.mean())
    # The detector's own bias on the data it learned from is removed from the estimate.
    estimated_accuracy = float(1 - p_error.mean() + (p_reference.mean() - errors.mean()))
    likely = np.flatnonzero(p_error >= 0.5)
    order = likely[np.argsort(-p_error[likely], kind="stable")][: config.max_drifted_records]
    records = []
    for j in order:
        i = int(scored[j])
        row: dict[str, Any] = {"record": i, "error_probability": float(p_error[j])}
        if SCORING_ID in current.columns:
            row[SCORING_ID] = str(current[SCORING_ID].iloc[i])
        records.append(row)
    share = len(scored) / len(current) if len(current) else 1.0
    out.update(
        reference_accuracy=reference_accuracy,
        estimated_accuracy=estimated_accuracy,
        estimated_drop=reference_accuracy - estimated_accuracy,
        likely_mispredicted=round(likely.size / share),
        scored_records=len(scored),
        records=records,
    )
    return out


def data_consistency(current: pd.DataFrame, reference: pd.DataFrame, *, spec: DataSpec) -> dict[str, Any]:
    """Records with a category unseen in ``reference`` or a number outside its range, per column."""
    return _inconsistency(current, reference, spec=spec)[1]


def _inconsistency(
    current: pd.DataFrame, reference: pd.DataFrame, *, spec: DataSpec
) -> tuple[np.ndarray, dict[str, Any]]:
    """Which records of ``current`` break a learned constraint, and ``data_consistency``'s findings."""
    bad = np.zeros(len(current), dtype=bool)
    columns: dict[str, dict[str, Any]] = {}
    for name in spec.categorical:
        known = set(reference[name].dropna().astype(str))
        column = current[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            # Decide once per category, not once per record.
            new = np.array([str(c) not in known for c in column.cat.categories], dtype=bool)
            codes = column.cat.codes.to_numpy()
            unseen = (codes >= 0) & new[np.maximum(codes, 0)] if new.size else np.zeros(len(column), dtype=bool)
        else:
            unseen = (~column.astype(str).isin(known) & column.notna()).to_numpy()
        if unseen.any():
            values = column[unseen].astype(str)
            columns[name] = {"unseen_categories": int(unseen.sum()), "values": sorted(set(values))[:10]}
        bad |= unseen
    for name in spec.numeric:
        ref = pd.to_numeric(reference[name], errors="coerce")
        cur = pd.to_numeric(current[name], errors="coerce").to_numpy(dtype=float)
        outside = (cur < ref.min()) | (cur > ref.max())
        if outside.any():
            columns[name] = {"out_of_range": int(outside.sum()), "range": [float(ref.min()), float(ref.max())]}
        bad |= outside
    return bad, {
        "records": int(bad.sum()),
        "share": float(bad.mean()) if len(bad) else 0.0,
        "columns": columns,
        "example_records": [int(i) for i in np.flatnonzero(bad)[:20]],
    }
