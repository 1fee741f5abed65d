"""Explainability monitor: global and production importance, a local SHAP explanation, a contrastive explanation.

- *Global*: permutation importance (scikit-learn) of every input feature: how much ROC AUC
  on labelled held-out records drops when that feature's values are shuffled.
- *Production*: which features drive the decisions on the evaluated records themselves, without
  labels: the mean absolute change of the model's risk probability when one feature's values are
  shuffled within a seeded sample of the window (every shuffled copy scored in one call), beside
  the same measure on the held-out records, so the two rankings compare like with like.
- *Local*: SHAP values of one record (shap's kernel explainer, model-agnostic), per
  input feature: categories are handed to shap as their index in the reference data and
  turned back into strings before the model sees them, so a one-hot-encoded feature gets
  one value, not one per category. Contributions add up to the record's probability minus
  the mean probability over the background.
- *Contrastive*: the smallest change to a record that flips the decision: every single
  change (another category seen in the reference, or a reference quantile for a number)
  is scored in one batch; the flip with the lowest cost wins (a category change costs 1, a
  number its move in reference interquartile ranges). When no single change flips, the
  change moving the probability most toward the boundary is kept and the search repeats,
  up to ``max_changes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import shap
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DataError
from pipeline_core.results import Metric, MonitorResult, insufficient


class Classifier(Protocol):
    classes_: Any

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True, kw_only=True)
class ExplainConfig:
    n_repeats: int = 5
    # Permutation importance on at most this many labelled records (each repeat predicts them once per feature).
    importance_max_samples: int = 500
    background_records: int = 50
    explained_records: int = 3
    max_evals: int = 400
    quantiles: int = 20
    max_changes: int = 3
    decision_threshold: float = 0.5
    min_records: int = 30
    # Production importance: a seeded sample of at most this many records, each feature shuffled this many times.
    production_max_samples: int = 500
    production_repeats: int = 3
    seed: int = 0


def _positive(model: Classifier, spec: DataSpec) -> int:
    classes = [str(c) for c in model.classes_]
    if spec.positive_label not in classes:
        raise DataError(f"explain: the model's classes {classes} do not include {spec.positive_label!r}")
    return classes.index(spec.positive_label)


def risk(model: Classifier, frame: pd.DataFrame, spec: DataSpec) -> np.ndarray:
    """Predicted probability of the positive (unfavourable) label for each record."""
    return np.asarray(model.predict_proba(frame[spec.feature_names]))[:, _positive(model, spec)]


def global_importance(
    model: Classifier, labelled: pd.DataFrame, *, spec: DataSpec, config: ExplainConfig
) -> list[dict[str, Any]]:
    """Every feature's permutation importance (mean and spread of the ROC AUC drop), largest first."""
    y = (labelled[spec.target].astype(str) == spec.positive_label).to_numpy()
    pos = _positive(model, spec)

    def auc(estimator: Any, x: pd.DataFrame, truth: np.ndarray) -> float:
        return float(roc_auc_score(truth, estimator.predict_proba(x)[:, pos]))

    found = permutation_importance(
        model,
        labelled[spec.feature_names],
        y,
        scoring=auc,
        n_repeats=config.n_repeats,
        random_state=config.seed,
        n_jobs=1,
        max_samples=min(config.importance_max_samples, len(labelled)),
    )
    rows: list[dict[str, Any]] = [
        {"feature": name, "importance": float(m), "std": float(s)}
        for name, m, s in zip(spec.feature_names, found.importances_mean, found.importances_std, strict=True)
    ]
    rows.sort(key=lambda r: -r["importance"])
    return rows


def probability_sensitivity(
    model: Classifier, frame: pd.DataFrame, *, spec: DataSpec, config: ExplainConfig
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per feature, the mean absolute change of the risk probability when it is shuffled within ``frame``.

    Label-free, so it runs on production traffic. Returns the mean and the spread over the repeats,
    in ``spec.feature_names`` order, and the number of records it was measured on.
    """
    n = min(config.production_max_samples, len(frame))
    sample = frame.sample(n, random_state=config.seed) if len(frame) > n else frame
    sample = sample[spec.feature_names].reset_index(drop=True)
    base = risk(model, sample, spec)
    rng = np.random.default_rng(config.seed)
    copies = []
    for _ in range(config.production_repeats):
        for name in spec.feature_names:
            shuffled = sample.copy()
            shuffled[name] = sample[name].iloc[rng.permutation(n)].to_numpy()  # as values: no realigning by index
            copies.append(shuffled)
    scored = risk(model, pd.concat(copies, ignore_index=True), spec)
    change = np.abs(scored.reshape(config.production_repeats, len(spec.feature_names), n) - base).mean(axis=2)
    return change.mean(axis=0), change.std(axis=0), n


def production_importance(
    model: Classifier,
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    spec: DataSpec,
    config: ExplainConfig,
) -> dict[str, Any]:
    """Importance on ``current`` (the window) beside the same label-free measure on ``reference`` (held-out)."""
    method = (
        f"mean absolute change of the predicted probability of {spec.positive_label!r} when the feature is "
        "shuffled within the records"
    )
    if len(current) < config.min_records:
        return {
            "method": method,
            "records": len(current),
            "features": [],
            "reason": f"insufficient data: {len(current)} < {config.min_records}",
        }
    # One thread: a batch of a few tens of thousands of rows, where OpenMP's start-up and spin-waiting cost more
    # than they save (measured with the default model: 0.36 s of CPU against 1.35 s on a busy machine).
    with threadpool_limits(limits=1):
        now, now_spread, n = probability_sensitivity(model, current, spec=spec, config=config)
        then, _, m = probability_sensitivity(model, reference, spec=spec, config=config)
    order, before = np.argsort(-now, kind="stable"), np.argsort(-then, kind="stable")
    reference_rank = {int(j): r + 1 for r, j in enumerate(before)}
    features = [
        {
            "feature": spec.feature_names[j],
            "importance": float(now[j]),
            "std": float(now_spread[j]),
            "reference_importance": float(then[j]),
            "rank": r + 1,
            "reference_rank": reference_rank[int(j)],
        }
        for r, j in enumerate(order)
    ]
    return {"method": method, "records": n, "reference_records": m, "features": features}


class _Codec:
    """Records as float matrices for shap, and back: categories by their index in the reference."""

    def __init__(self, reference: pd.DataFrame, spec: DataSpec) -> None:
        self.spec = spec
        self.categories = {
            n: np.array(sorted(reference[n].astype(str).unique()), dtype=object) for n in spec.categorical
        }

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.spec.feature_names)), dtype=float)
        for j, name in enumerate(self.spec.feature_names):
            if name in self.categories:
                known = list(self.categories[name])
                values = frame[name].astype(str)
                if not values.isin(known).all():
                    self.categories[name] = np.array(known + sorted(set(values) - set(known)), dtype=object)
                out[:, j] = pd.Index(self.categories[name]).get_indexer(pd.Index(values))
            else:
                out[:, j] = pd.to_numeric(frame[name], errors="coerce")
        return out

    def decode(self, matrix: np.ndarray) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for j, name in enumerate(self.spec.feature_names):
            if name in self.categories:
                columns[name] = self.categories[name][matrix[:, j].astype(int)]
            else:
                columns[name] = matrix[:, j]
        return pd.DataFrame(columns)


def local_explanation(
    model: Classifier, record: pd.Series, reference: pd.DataFrame, *, spec: DataSpec, config: ExplainConfig
) -> dict[str, Any]:
    """SHAP values of ``record``'s risk probability, one per feature, largest magnitude first."""
    codec = _Codec(reference, spec)
    x = codec.encode(record.to_frame().T)
    n_background = min(config.background_records, len(reference))
    background = codec.encode(reference.sample(n_background, random_state=config.seed))
    pos = _positive(model, spec)

    def f(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict_proba(codec.decode(matrix)))[:, pos]

    # Kernel SHAP rather than shap's permutation explainer: the same additive values, without
    # the ~10 s numba compilation the permutation explainer costs in every new process.
    np.random.seed(config.seed)  # shap's kernel explainer samples coalitions from numpy's global state
    explainer = shap.KernelExplainer(f, background)
    nsamples = max(config.max_evals, 2 * len(spec.feature_names) + 2)
    values = np.asarray(explainer.shap_values(x, nsamples=nsamples, silent=True)).reshape(-1)
    contributions = [
        {"feature": name, "value": _plain(record[name]), "shap": float(v)}
        for name, v in zip(spec.feature_names, values, strict=True)
    ]
    contributions.sort(key=lambda c: -abs(c["shap"]))
    return {
        "method": "shap.kernel",
        "base_value": float(np.asarray(explainer.expected_value).reshape(-1)[0]),
        "probability": float(f(x)[0]),
        "contributions": contributions,
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def contrastive(
    model: Classifier, record: pd.Series, reference: pd.DataFrame, *, spec: DataSpec, config: ExplainConfig
) -> dict[str, Any]:
    """The smallest change to ``record`` that flips its decision, or the closest one found."""
    current = pd.DataFrame([{name: _plain(record[name]) for name in spec.feature_names}])
    start = float(risk(model, current, spec)[0])
    flagged = start >= config.decision_threshold
    candidates = _candidate_values(reference, spec, config)
    spread = {n: _iqr(reference[n]) for n in spec.numeric}
    changes: list[dict[str, Any]] = []
    probability = start
    for _ in range(config.max_changes):
        moves = []
        changed = {c["feature"] for c in changes}
        for name, values in candidates.items():
            if name in changed:
                continue
            for value in values:
                if _same(current.at[0, name], value):
                    continue
                cost = (
                    1.0 if name in spec.categorical else abs(float(value) - float(current[name].iloc[0])) / spread[name]
                )
                moves.append({"feature": name, "from": _plain(current.at[0, name]), "to": _plain(value), "cost": cost})
        if not moves:
            break
        batch = current.loc[np.zeros(len(moves), dtype=int)].reset_index(drop=True)
        for i, move in enumerate(moves):
            batch.at[i, move["feature"]] = move["to"]
        p = risk(model, batch, spec)
        flips = (p < config.decision_threshold) if flagged else (p >= config.decision_threshold)
        if flips.any():
            best = min(np.flatnonzero(flips), key=lambda i: (moves[i]["cost"], abs(p[i] - start)))
            changes.append({**moves[best], "probability": float(p[best])})
            probability = float(p[best])
            return _contrast(start, probability, flagged, True, changes, spec)
        # No single change flips: keep the one that moves furthest toward the boundary.
        best = int(np.argmin(p) if flagged else np.argmax(p))
        changes.append({**moves[best], "probability": float(p[best])})
        probability = float(p[best])
        current.at[0, moves[best]["feature"]] = moves[best]["to"]
    return _contrast(start, probability, flagged, False, changes, spec)


def _contrast(
    start: float, end: float, flagged: bool, flipped: bool, changes: list[dict[str, Any]], spec: DataSpec
) -> dict[str, Any]:
    decision = spec.positive_label if flagged else spec.favourable_label
    other = spec.favourable_label if flagged else spec.positive_label
    return {
        "decision": decision,
        "probability": start,
        "flipped": flipped,
        "new_decision": other if flipped else decision,
        "new_probability": end,
        "changes": changes,
    }


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(float(a) == float(b))
    except (TypeError, ValueError):
        return str(a) == str(b)


def _iqr(column: pd.Series) -> float:
    values = pd.to_numeric(column, errors="coerce").dropna()
    q1, q3 = np.quantile(values, [0.25, 0.75]) if len(values) else (0.0, 1.0)
    return float(q3 - q1) or float(values.std() or 1.0)


def _candidate_values(reference: pd.DataFrame, spec: DataSpec, config: ExplainConfig) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name in spec.feature_names:
        if name in spec.categorical:
            out[name] = sorted(reference[name].astype(str).unique())
        else:
            values = pd.to_numeric(reference[name], errors="coerce").dropna()
            grid = np.unique(np.quantile(values, np.linspace(0, 1, config.quantiles + 1)))
            integer = pd.api.types.is_integer_dtype(reference[name])
            out[name] = [round(v) if integer else float(v) for v in grid]
    return out


def explainability(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    spec: DataSpec,
    model: Classifier,
    config: ExplainConfig | None = None,
    importance: list[dict[str, Any]] | None = None,
) -> MonitorResult:
    """Global importance on labelled ``reference``, production importance on ``current`` beside it; local and
    contrastive explanations of records of ``current``.

    Global importance depends only on the model and ``reference``: pass ``importance`` computed
    earlier (``global_importance``) to reuse it across evaluations of the same model version.
    """
    config = config or ExplainConfig()
    labelled = reference[reference[spec.target].notna()] if spec.target in reference.columns else reference.iloc[:0]
    n = len(labelled)
    if n < config.min_records:
        return MonitorResult(
            "explainability", [insufficient("global_importance", n, config.min_records)], n, config.min_records
        )
    if importance is None:
        importance = global_importance(model, labelled, spec=spec, config=config)
    metrics = [Metric(f"importance[{r['feature']}]", r["importance"], detail=f"± {r['std']:.4f}") for r in importance]
    explained = []
    sample = current.head(config.explained_records)
    for i, (_, record) in enumerate(sample.iterrows()):
        explained.append(
            {
                "record": i,
                **({"scoring_id": str(record["scoring_id"])} if "scoring_id" in record else {}),
                "local": local_explanation(model, record, reference, spec=spec, config=config),
                "contrastive": contrastive(model, record, reference, spec=spec, config=config),
            }
        )
    window = production_importance(model, current, reference, spec=spec, config=config)
    details = {"global_importance": importance, "production_importance": window, "explanations": explained}
    return MonitorResult("explainability", metrics, n, config.min_records, details)
