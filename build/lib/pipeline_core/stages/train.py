"""Train stage: fit the model, record its learning curve, score it on the test split.

ROC AUC and PR AUC are computed from predicted probabilities, never from hard labels.
The positive class of every metric is the spec's unfavourable label (the risk the model
is there to detect). Time spent inside scikit-learn's fit and predict is recorded so the
benchmark can tell the pipeline's own overhead apart.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import StageError
from pipeline_core.params import RunParams
from pipeline_core.stages.common import Gate


@dataclass
class Timer:
    """Seconds spent in scikit-learn fit and predict calls."""

    fit: float = 0.0
    predict: float = 0.0


@dataclass
class TrainResult:
    """The fitted model pipeline with its metrics and learning curve."""

    model: Pipeline
    metrics: dict[str, float]
    confusion_matrix: dict[str, Any]
    learning_curve: dict[str, list[float]]
    cv_roc_auc: list[float]
    gate: Gate
    fit_seconds: float
    predict_seconds: float
    log: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "confusion_matrix": self.confusion_matrix,
            "learning_curve": self.learning_curve,
            "cv_roc_auc": self.cv_roc_auc,
            "gate": self.gate.to_dict(),
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
        }


def build_estimator(preprocessor: ColumnTransformer, params: RunParams) -> Pipeline:
    """The model pipeline (``prep`` + ``model``) for ``params.model_type``, unfitted."""
    estimator: Any
    if params.model_type == "hgb":
        n_cat = len(preprocessor.transformers[0][2])
        estimator = HistGradientBoostingClassifier(
            learning_rate=params.learning_rate,
            max_iter=params.max_iter,
            max_leaf_nodes=params.max_leaf_nodes,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf,
            l2_regularization=params.l2_regularization,
            categorical_features=list(range(n_cat)),
            early_stopping=False,  # the learning curve is the evidence; keep every iteration
            random_state=params.seed,
        )
    elif params.model_type == "random_forest":
        estimator = RandomForestClassifier(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth,
            min_samples_leaf=params.min_samples_leaf,
            random_state=params.seed,
            n_jobs=-1,
        )
    else:
        estimator = LogisticRegression(C=params.C, max_iter=params.max_iter)
    return Pipeline([("prep", preprocessor), ("model", estimator)])


def positive_column(model: Pipeline, spec: DataSpec) -> int:
    classes = [str(c) for c in model.classes_]
    if spec.positive_label not in classes:
        raise StageError(f"train: the model's classes {classes} do not include {spec.positive_label!r}")
    return classes.index(spec.positive_label)


def train(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    *,
    spec: DataSpec,
    params: RunParams,
    preprocessor: ColumnTransformer,
) -> TrainResult:
    """Fit on ``train_df`` with a fitted ``preprocessor``; evaluate on ``test_df``."""
    timer = Timer()
    for name, part in (("training", train_df), ("test", test_df)):
        if spec.target not in part.columns:
            raise StageError(f"train: the {name} split has no target column {spec.target!r}")
        outside = sorted(set(part[spec.target].dropna().astype(str)) - set(spec.labels))
        if outside:
            raise StageError(f"train: the {name} split has labels outside the spec in {spec.target!r}: {outside[:5]}")
    x_train, y_train = train_df[spec.feature_names], train_df[spec.target].astype(str)
    x_test, y_test = test_df[spec.feature_names], test_df[spec.target].astype(str)
    model = build_estimator(preprocessor, params)
    # Encoding is part of fitting and predicting (the bare scikit-learn pipeline does it inside fit).
    started = time.perf_counter()
    xt_train = preprocessor.transform(x_train)
    timer.fit += time.perf_counter() - started
    started = time.perf_counter()
    xt_test = preprocessor.transform(x_test)
    timer.predict += time.perf_counter() - started
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            model.named_steps["model"].fit(xt_train, y_train)
        except ValueError as exc:
            raise StageError(f"train: fitting {params.model_type} failed: {exc}") from exc
    timer.fit += time.perf_counter() - started
    not_converged = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    pos = positive_column(model, spec)

    started = time.perf_counter()
    proba = model.named_steps["model"].predict_proba(xt_test)[:, pos]
    timer.predict += time.perf_counter() - started
    metrics, confusion = classification_metrics(y_test.to_numpy(), proba, spec)
    curve = learning_curve(model, xt_train, y_train, xt_test, y_test, spec, params)
    cv = cross_validated_auc(model, x_train, y_train, spec, params, timer)
    metrics["cv_roc_auc_mean"] = float(np.mean(cv))
    metrics["cv_roc_auc_std"] = float(np.std(cv))

    threshold = spec.thresholds.min_roc_auc
    auc = metrics["roc_auc"]
    gate = Gate(
        auc >= threshold,
        f"test ROC AUC {auc:.4f} {'>=' if auc >= threshold else '<'} minimum {threshold:.2f}",
    )
    log = [
        f"fitted {params.model_type} on {len(train_df)} rows, tested on {len(test_df)} rows",
        f"test ROC AUC {auc:.4f}, PR AUC {metrics['pr_auc']:.4f}, accuracy {metrics['accuracy']:.4f}",
        f"{params.cv_folds}-fold CV ROC AUC {metrics['cv_roc_auc_mean']:.4f} ± {metrics['cv_roc_auc_std']:.4f}",
        f"train check: {gate.reason}",
    ]
    if not_converged:
        metrics["converged"] = 0.0
        log.insert(1, f"warning: the optimiser did not converge in max_iter={params.max_iter} iterations")
    return TrainResult(model, metrics, confusion, curve, cv, gate, timer.fit, timer.predict, log)


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, spec: DataSpec, *, threshold: float = 0.5
) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics of the positive (unfavourable) class from its predicted probabilities."""
    positive = y_true == spec.positive_label
    if positive.all() or not positive.any():
        raise StageError(f"train: the test split holds only one class ({spec.target}); cannot compute ROC AUC")
    predicted = proba >= threshold
    clipped = np.clip(proba, 1e-15, 1 - 1e-15)
    metrics = {
        "roc_auc": float(roc_auc_score(positive, proba)),
        "pr_auc": float(average_precision_score(positive, proba)),
        "base_rate": float(positive.mean()),
        "accuracy": float(accuracy_score(positive, predicted)),
        "precision": float(precision_score(positive, predicted, zero_division=0)),
        "recall": float(recall_score(positive, predicted, zero_division=0)),
        "f1": float(f1_score(positive, predicted, zero_division=0)),
        "log_loss": float(log_loss(positive, clipped, labels=[False, True])),
        "brier": float(brier_score_loss(positive, proba)),
    }
    tn, fp, fn, tp = confusion_matrix(positive, predicted, labels=[False, True]).ravel()
    confusion = {
        "labels": [spec.favourable_label, spec.positive_label],
        "matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
        "threshold": threshold,
    }
    return metrics, confusion


def learning_curve(
    model: Pipeline,
    xt_train: np.ndarray,
    y_train: pd.Series,
    xt_test: np.ndarray,
    y_test: pd.Series,
    spec: DataSpec,
    params: RunParams,
) -> dict[str, list[float]]:
    """Training and validation (held-out test split) log-loss per iteration."""
    estimator = model.named_steps["model"]
    pos = positive_column(model, spec)
    ytr = (y_train == spec.positive_label).to_numpy()
    yte = (y_test == spec.positive_label).to_numpy()
    iterations: list[float] = []
    train_loss: list[float] = []
    val_loss: list[float] = []

    def record(i: int, p_train: np.ndarray, p_test: np.ndarray) -> None:
        iterations.append(float(i))
        train_loss.append(_loss(ytr, p_train))
        val_loss.append(_loss(yte, p_test))

    if isinstance(estimator, HistGradientBoostingClassifier):
        stages = zip(estimator.staged_predict_proba(xt_train), estimator.staged_predict_proba(xt_test), strict=True)
        for i, (ptr, pte) in enumerate(stages, start=1):
            record(i, ptr[:, pos], pte[:, pos])
    elif isinstance(estimator, RandomForestClassifier):
        # Average the first k trees' probabilities: the forest "after k iterations".
        tr = np.cumsum([t.predict_proba(xt_train)[:, pos] for t in estimator.estimators_], axis=0)
        te = np.cumsum([t.predict_proba(xt_test)[:, pos] for t in estimator.estimators_], axis=0)
        for k in range(len(estimator.estimators_)):
            record(k + 1, tr[k] / (k + 1), te[k] / (k + 1))
    else:
        # lbfgs is deterministic: a fit capped at k iterations is the full fit's state at k.
        n_iter = int(np.max(estimator.n_iter_))
        checkpoints = sorted({max(1, round(n_iter * f / 20)) for f in range(1, 21)})
        for k in checkpoints:
            partial = clone(estimator).set_params(max_iter=k)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                partial.fit(xt_train, y_train)
            record(k, partial.predict_proba(xt_train)[:, pos], partial.predict_proba(xt_test)[:, pos])
    return {"iteration": iterations, "train_loss": train_loss, "validation_loss": val_loss}


def cross_validated_auc(
    model: Pipeline,
    x_train: pd.DataFrame,
    y_train: pd.Series,
    spec: DataSpec,
    params: RunParams,
    timer: Timer,
) -> list[float]:
    """Stratified k-fold ROC AUC on the training split; each fold refits the whole pipeline."""
    folds = StratifiedKFold(n_splits=params.cv_folds, shuffle=True, random_state=params.seed)
    scores = []
    for fit_idx, val_idx in folds.split(x_train, y_train):
        fold = clone(model)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # reported once, for the final fit
            fold.fit(x_train.iloc[fit_idx], y_train.iloc[fit_idx])
        timer.fit += time.perf_counter() - started
        started = time.perf_counter()
        proba = fold.predict_proba(x_train.iloc[val_idx])[:, positive_column(fold, spec)]
        timer.predict += time.perf_counter() - started
        scores.append(float(roc_auc_score(y_train.iloc[val_idx] == spec.positive_label, proba)))
    return scores


def _loss(y: np.ndarray, p: np.ndarray) -> float:
    # Plain numpy: called once per iteration, where sklearn's input checks would dominate.
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))
