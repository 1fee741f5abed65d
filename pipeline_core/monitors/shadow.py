"""Shadow comparison: production and its shadow candidate on the same production records (pure).

``records`` holds, per production record the shadow answered: the features, production's
``prediction`` and ``probability`` (of the positive label), the shadow's ``shadow_prediction`` and
``shadow_probability``, and the spec's target where feedback labelled the record (missing elsewhere).
From it: the agreement of the two decisions, both score distributions on one set of bins, the
realised ROC AUC and accuracy of both on the labelled records, and each protected attribute's
disparate impact under both models on the very same records (a group below the spec's minimum is
reported, not judged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline_core.data.columns import PREDICTION, PROBABILITY
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.groups import group_mask

SHADOW_PREDICTION = "shadow_prediction"
SHADOW_PROBABILITY = "shadow_probability"


@dataclass(frozen=True)
class ScoreHistogram:
    """Both models' probabilities of the positive label counted on the same bins (``edges``: bins + 1 values)."""

    edges: tuple[float, ...]
    production: tuple[int, ...]
    shadow: tuple[int, ...]


@dataclass(frozen=True)
class Realised:
    """One model's performance on the labelled records: how many, ROC AUC (None with one class only), accuracy."""

    records: int
    roc_auc: float | None
    accuracy: float | None


@dataclass(frozen=True)
class GroupImpact:
    """One protected attribute's disparate impact under both models, on the same records."""

    attribute: str
    monitored: str
    reference: str
    monitored_records: int
    reference_records: int
    minimum: int  # the spec's fairness_min_records: below it in either group, reported, not judged
    production: float | None  # None: a group is empty or its reference receives no favourable outcome
    shadow: float | None

    @property
    def judged(self) -> bool:
        return min(self.monitored_records, self.reference_records) >= self.minimum


@dataclass(frozen=True)
class ShadowReport:
    records: int
    agreed: int
    histogram: ScoreHistogram
    labelled: int
    realised_production: Realised | None  # None: no record is labelled
    realised_shadow: Realised | None
    fairness: tuple[GroupImpact, ...]

    @property
    def agreement_rate(self) -> float | None:
        return self.agreed / self.records if self.records else None


def agreement(production: pd.Series, shadow: pd.Series) -> int:
    """How many records both models decide alike."""
    return int((production.astype(str).to_numpy() == shadow.astype(str).to_numpy()).sum())


def histogram(production: np.ndarray, shadow: np.ndarray, *, bins: int = 10) -> ScoreHistogram:
    """Both sets of probabilities counted on ``bins`` equal bins of [0, 1] (1.0 in the last bin)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = [np.histogram(np.clip(values, 0.0, 1.0), bins=edges)[0] for values in (production, shadow)]
    return ScoreHistogram(
        tuple(float(e) for e in edges), tuple(int(c) for c in counts[0]), tuple(int(c) for c in counts[1])
    )


def realised(truth: np.ndarray, predictions: np.ndarray, probabilities: np.ndarray, *, positive: str) -> Realised:
    """ROC AUC of ``probabilities`` (of ``positive``) and accuracy of ``predictions`` against ``truth`` (labels)."""
    n = len(truth)
    if n == 0:
        return Realised(0, None, None)
    y = truth.astype(str) == positive
    auc = float(roc_auc_score(y, probabilities)) if 0 < y.sum() < n else None
    return Realised(n, auc, float((predictions.astype(str) == truth.astype(str)).mean()))


def _impact(favourable: np.ndarray, monitored: np.ndarray, reference: np.ndarray) -> float | None:
    if not monitored.any() or not reference.any():
        return None
    base = favourable[reference].mean()
    return None if base == 0 else float(favourable[monitored].mean() / base)


def disparate_impacts(records: pd.DataFrame, *, spec: DataSpec) -> tuple[GroupImpact, ...]:
    """Each protected attribute's P(favourable | monitored) / P(favourable | reference), production and shadow."""
    production = (records[PREDICTION].astype(str) == spec.favourable_label).to_numpy()
    shadow = (records[SHADOW_PREDICTION].astype(str) == spec.favourable_label).to_numpy()
    found = []
    for attr in spec.protected:
        monitored = group_mask(records[attr.name], attr.monitored)
        reference = group_mask(records[attr.name], attr.reference)
        found.append(
            GroupImpact(
                attr.name,
                attr.monitored.describe(),
                attr.reference.describe(),
                int(monitored.sum()),
                int(reference.sum()),
                spec.thresholds.fairness_min_records,
                _impact(production, monitored, reference),
                _impact(shadow, monitored, reference),
            )
        )
    return tuple(found)


def compare_shadow(records: pd.DataFrame, *, spec: DataSpec, bins: int = 10) -> ShadowReport:
    """Production and its shadow on ``records`` (the module says which columns it reads)."""
    labelled = records[records[spec.target].notna()] if spec.target in records.columns else records.iloc[:0]
    sides: list[Realised | None] = [None, None]
    if len(labelled):
        truth = labelled[spec.target].to_numpy()
        for i, (prediction, probability) in enumerate(
            ((PREDICTION, PROBABILITY), (SHADOW_PREDICTION, SHADOW_PROBABILITY))
        ):
            sides[i] = realised(
                truth,
                labelled[prediction].to_numpy(),
                labelled[probability].to_numpy(dtype=float),
                positive=spec.positive_label,
            )
    realised_production, realised_shadow = sides
    return ShadowReport(
        records=len(records),
        agreed=agreement(records[PREDICTION], records[SHADOW_PREDICTION]),
        histogram=histogram(
            records[PROBABILITY].to_numpy(dtype=float), records[SHADOW_PROBABILITY].to_numpy(dtype=float), bins=bins
        ),
        labelled=len(labelled),
        realised_production=realised_production,
        realised_shadow=realised_shadow,
        fairness=disparate_impacts(records, spec=spec),
    )
