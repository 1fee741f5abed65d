"""Slice regression: the candidate against the model in production, slice by slice, on the same labelled records.

Slices are every category of every categorical feature and the quartile bands (of the
training data) of every numeric one, plus "all records". In each slice with enough
records both models' ROC AUC and accuracy are computed on the same records; a slice
regresses when the candidate loses more than the tolerance *and* the loss is more than
twice its paired-bootstrap standard error (a small slice's loss that resampling
explains away is noise, not a regression).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.pipeline import Pipeline

from pipeline_core.data.expectations import Expectations
from pipeline_core.data.spec import DataSpec
from pipeline_core.model_tests.behaviour import risk_and_decision
from pipeline_core.model_tests.results import Verdict

BOOTSTRAP = 200
SEED = 20260602
MAX_SHOWN = 10


def slice_regression(
    candidate: Pipeline,
    production: Pipeline | None,
    *,
    spec: DataSpec,
    labelled: pd.DataFrame,
    reference: pd.DataFrame,
    expectations: Expectations,
    production_name: str = "production model",
) -> Verdict:
    """No slice loses more than ``expectations.slice_tolerance`` of ROC AUC or accuracy to the production model."""
    name = "slice_regression"
    if production is None:
        return Verdict(name, "skip", "no model of this spec is in production to compare with")
    y = (labelled[spec.target].astype(str) == spec.positive_label).to_numpy()
    risk_c, dec_c = risk_and_decision(candidate, labelled, spec)
    risk_p, dec_p = risk_and_decision(production, labelled, spec)
    correct_c = dec_c == np.where(y, spec.positive_label, spec.favourable_label)
    correct_p = dec_p == np.where(y, spec.positive_label, spec.favourable_label)
    rng = np.random.default_rng(SEED)
    tolerance, minimum = expectations.slice_tolerance, expectations.slice_min_records
    judged, too_small, regressed = [], [], []
    for label, mask in _slices(labelled, reference, spec):
        n = int(mask.sum())
        if n < minimum:
            too_small.append({"slice": label, "records": n})
            continue
        row = _compare(y[mask], risk_c[mask], risk_p[mask], correct_c[mask], correct_p[mask], rng)
        row = {"slice": label, "records": n, **row}
        judged.append(row)
        if row["worst_loss"] > tolerance and row["worst_loss"] > 2 * row["worst_loss_se"]:
            regressed.append(row)
    judged.sort(key=lambda r: -r["worst_loss"])
    evidence = {
        "compared_with": production_name,
        "tolerance": tolerance,
        "min_records": minimum,
        "slices_judged": len(judged),
        "slices_too_small": len(too_small),
        "records": len(labelled),
        "worst_slices": judged[:MAX_SHOWN],
        "regressed": regressed[:MAX_SHOWN],
        "regressed_count": len(regressed),
    }
    if not judged:
        return Verdict(name, "skip", f"no slice has {minimum} labelled records", evidence=evidence)
    worst = judged[0]
    if regressed:
        first = max(regressed, key=lambda r: r["worst_loss"])
        return Verdict(
            name,
            "fail",
            f"{len(regressed)} slice(s) regress against {production_name}; worst: "
            f"{first['slice']} loses {first['worst_loss']:.3f} {first['worst_metric']} "
            f"(n={first['records']}, tolerance {tolerance:.2f})",
            evidence=evidence,
        )
    return Verdict(
        name,
        "pass",
        f"{len(judged)} slices vs {production_name}: largest loss {worst['worst_loss']:.3f} "
        f"{worst['worst_metric']} in {worst['slice']} (tolerance {tolerance:.2f})",
        evidence=evidence,
    )


def _slices(labelled: pd.DataFrame, reference: pd.DataFrame, spec: DataSpec) -> list[tuple[str, np.ndarray]]:
    slices = [("all records", np.ones(len(labelled), dtype=bool))]
    for name in spec.categorical:
        values = labelled[name].astype(str)
        for category in sorted(values.unique()):
            slices.append((f"{name} = {category}", (values == category).to_numpy()))
    for name in spec.numeric:
        column = labelled[name].astype(float).to_numpy()
        edges = np.unique(reference[name].dropna().astype(float).quantile([0.25, 0.5, 0.75]).to_numpy())
        bounds = [-np.inf, *edges, np.inf]
        for lo, hi in pairwise(bounds):
            text = (
                f"{name} <= {hi:g}"
                if lo == -np.inf
                else (f"{name} > {lo:g}" if hi == np.inf else f"{lo:g} < {name} <= {hi:g}")
            )
            slices.append((text, (column > lo) & (column <= hi)))
    return slices


def _compare(
    y: np.ndarray,
    risk_c: np.ndarray,
    risk_p: np.ndarray,
    correct_c: np.ndarray,
    correct_p: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "accuracy_candidate": float(correct_c.mean()),
        "accuracy_production": float(correct_p.mean()),
    }
    idx = rng.integers(0, y.size, size=(BOOTSTRAP, y.size))
    acc_loss = correct_p.astype(float) - correct_c.astype(float)
    losses = {"accuracy": (float(acc_loss.mean()), float(acc_loss[idx].mean(axis=1).std()))}
    if 0 < y.sum() < y.size:
        auc_c, auc_p = _auc(y[None, :], risk_c[None, :])[0], _auc(y[None, :], risk_p[None, :])[0]
        row.update(roc_auc_candidate=float(auc_c), roc_auc_production=float(auc_p))
        boot = _auc(y[idx], risk_p[idx]) - _auc(y[idx], risk_c[idx])
        losses["roc_auc"] = (float(auc_p - auc_c), float(np.nanstd(boot)))
    metric = max(losses, key=lambda k: losses[k][0])
    row.update(worst_metric=metric, worst_loss=losses[metric][0], worst_loss_se=losses[metric][1])
    return row


def _auc(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC of every row (Mann-Whitney on average ranks); NaN where a row holds one class."""
    ranks = rankdata(score, axis=1)
    pos = y.sum(axis=1)
    neg = y.shape[1] - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc: np.ndarray = ((ranks * y).sum(axis=1) - pos * (pos + 1) / 2) / (pos * neg)
    return auc
