"""Fit the German credit generator's loadings and link to the real IBM file.

Usage: python bench/calibrate_generator.py [PATH]   (default ../shared/data/...csv)

For each feature it finds the loading whose generated univariate ROC AUC (target-encoded
category, or the raw number) matches the real one, then prints the default model's
ROC AUC on real and generated data. Copy the printed loadings into
pipeline_core/data/german_credit.py when they change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from pipeline_core.data import german_credit as gc
from pipeline_core.params import RunParams
from pipeline_core.stages.prepare import build_preprocessor
from pipeline_core.stages.train import build_estimator

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "german_credit_data_biased_training.csv"


def univariate_auc(frame: pd.DataFrame, column: str) -> float:
    y = (frame[gc.TARGET] == "Risk").to_numpy()
    x = frame[column]
    score = x.map(frame.groupby(column)[gc.TARGET].apply(lambda s: (s == "Risk").mean())) if x.dtype == object else x
    return float(roc_auc_score(y, score.astype(float)))


def model_auc(frame: pd.DataFrame) -> float:
    spec = gc.german_credit_spec()
    x = frame[spec.feature_names]
    y = (frame[gc.TARGET] == "Risk").astype(int)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)
    params = RunParams()
    model = build_estimator(build_preprocessor(spec, params.model_type), params)
    model.fit(xtr, ytr)
    return float(roc_auc_score(yte, model.predict_proba(xte)[:, 1]))


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    real = pd.read_csv(path)
    loadings = dict(gc.LOADINGS)
    rate = float((real[gc.TARGET] == "Risk").mean())
    lo, hi = -4.0, 2.0
    for _ in range(20):
        mid = (lo + hi) / 2
        drawn = gc.generate_german_credit(50000, seed=0, link=(gc.LINK_SLOPE, mid))
        if (drawn[gc.TARGET] == "Risk").mean() < rate:
            lo = mid
        else:
            hi = mid
    print(f"LINK_INTERCEPT = {(lo + hi) / 2:.2f}  (risk rate {rate:.3f})")
    for _ in range(3):
        sample = gc.generate_german_credit(20000, seed=1, loadings=loadings)
        for col in gc.COLUMNS:
            target = univariate_auc(real, col)
            lo, hi = 0.0, 0.95
            for _ in range(12):
                mid = (lo + hi) / 2
                sample = gc.generate_german_credit(20000, seed=1, loadings={**loadings, col: mid})
                if univariate_auc(sample, col) < target:
                    lo = mid
                else:
                    hi = mid
            loadings[col] = round((lo + hi) / 2, 3)
    print("LOADINGS =", loadings)
    print(f"real file model ROC AUC:      {model_auc(real):.4f}")
    print(
        f"generated (5000) model ROC AUC: {model_auc(gc.generate_german_credit(5000, seed=0, loadings=loadings)):.4f}"
    )


if __name__ == "__main__":
    main()
