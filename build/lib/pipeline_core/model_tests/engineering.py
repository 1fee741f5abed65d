"""Engineering model tests: convergence, artifact round trip, input schema, unexpected input, output schema.

The input tests exercise the model as it is served: the scorer (``pipeline_core.scoring``)
in front of the model pipeline. Its documented outcomes are the contract checked here:
a missing or extra field, an empty value, a wrong type or a non-finite number is a
``ScoringInputError`` naming the field and record; an unseen category scores and is
flagged in ``warnings``. Anything else (an exception from deep inside scikit-learn, a
NaN probability) fails the test with the case that caused it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from pipeline_core.data.expectations import Expectations
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import ScoringInputError
from pipeline_core.model_io import load_model
from pipeline_core.model_tests.results import Verdict
from pipeline_core.scoring import LoadedModel, parse_payload, score

UNSEEN = "__never_seen_category__"
MAX_SHOWN = 10


def convergence(curve: dict[str, list[float]] | None, *, expectations: Expectations) -> Verdict:
    """The validation loss does not rise over the curve's last window; the training loss falls overall.

    Noise-tolerant: the window's last third is compared with its first third (means), so a
    loss that wobbles while it flattens passes, where "every step decreases" would fail.
    """
    name = "convergence"
    if not curve or len(curve.get("validation_loss", [])) < 4:
        return Verdict(name, "skip", "no learning curve with at least 4 points was recorded for this model")
    iterations = [float(i) for i in curve["iteration"]]
    val = np.asarray(curve["validation_loss"], dtype=float)
    train = np.asarray(curve["train_loss"], dtype=float)
    bad = [i for i, v in enumerate(np.concatenate([val, train])) if not math.isfinite(v)]
    if bad:
        at = iterations[bad[0] % len(val)]
        return Verdict(
            name,
            "fail",
            f"the loss is not finite at iteration {at:g}: training diverged",
            evidence={"first_non_finite_iteration": at},
        )
    window = min(expectations.convergence_window, len(val))
    tail = val[-window:]
    third = max(1, window // 3)
    start, end = float(tail[:third].mean()), float(tail[-third:].mean())
    rise = (end - start) / start if start > 0 else 0.0
    train_first, train_last = float(train[0]), float(train[-1])
    train_drop = (train_first - train_last) / train_first if train_first > 0 else 0.0
    tolerance = expectations.convergence_tolerance
    best = int(np.argmin(val))
    above_best = (float(val[-1]) - float(val[best])) / float(val[best]) if val[best] > 0 else 0.0
    evidence = {
        "window_points": window,
        "window_iterations": iterations[-window:],
        "window_validation_loss": [round(float(v), 6) for v in tail],
        "validation_loss_start_of_window": start,
        "validation_loss_end_of_window": end,
        "validation_rise": rise,
        "tolerance": tolerance,
        "train_loss_first": train_first,
        "train_loss_last": train_last,
        "train_loss_drop": train_drop,
        "best_validation_loss": float(val[best]),
        "best_iteration": iterations[best],
        "final_above_best": above_best,
        "divergence_tolerance": expectations.divergence_tolerance,
        # What a strict "never rises" rule would have flagged on this same curve.
        "window_steps_that_rise": int(np.sum(np.diff(tail) > 0)),
    }
    problems = []
    if rise > tolerance:
        problems.append(
            f"validation loss rose {rise:.1%} over the last {window} points "
            f"({start:.4f} -> {end:.4f}; tolerance {tolerance:.0%}; best {val[best]:.4f} at iteration "
            f"{iterations[best]:g})"
        )
    if above_best > expectations.divergence_tolerance:
        problems.append(
            f"validation loss ends {above_best:.0%} above its best ({val[best]:.4f} at iteration "
            f"{iterations[best]:g} -> {val[-1]:.4f}; tolerance {expectations.divergence_tolerance:.0%}): diverged"
        )
    if train_drop <= tolerance:
        problems.append(f"training loss did not fall overall ({train_first:.4f} -> {train_last:.4f})")
    if problems:
        return Verdict(name, "fail", "; ".join(problems), evidence=evidence)
    return Verdict(
        name,
        "pass",
        f"validation loss {start:.4f} -> {end:.4f} over the last {window} points "
        f"({rise:+.1%}); training loss {train_first:.4f} -> {train_last:.4f}",
        evidence=evidence,
    )


def artifact(
    model: Pipeline, *, fetch: Callable[[], bytes], sha256: str, sample: pd.DataFrame, spec: DataSpec
) -> Verdict:
    """The stored artifact hashes to ``sha256``, loads, and scores exactly as the in-memory model."""
    name = "artifact"
    evidence: dict[str, Any] = {"sha256": sha256}
    try:
        data = fetch()
    except Exception as exc:  # noqa: BLE001 - whatever the store raises is the evidence
        return Verdict(name, "fail", f"artifact {sha256} could not be read back: {exc}", evidence=evidence)
    actual = hashlib.sha256(data).hexdigest()
    evidence.update(bytes=len(data), actual_sha256=actual)
    if actual != sha256:
        return Verdict(name, "fail", f"the stored bytes hash to {actual}, not {sha256}", evidence=evidence)
    try:
        restored = load_model(data)
    except Exception as exc:  # noqa: BLE001
        return Verdict(
            name, "fail", f"artifact {sha256[:12]} does not load: {type(exc).__name__}: {exc}", evidence=evidence
        )
    x = sample[spec.feature_names]
    expected, got = np.asarray(model.predict_proba(x)), np.asarray(restored.predict_proba(x))
    same_classes = [str(c) for c in restored.classes_] == [str(c) for c in model.classes_]
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else math.inf
    evidence.update(records_compared=len(x), max_abs_difference=diff, same_classes=same_classes)
    if not same_classes or diff > 1e-12:
        worst = int(np.argmax(np.abs(got - expected).max(axis=1))) if math.isfinite(diff) else 0
        evidence["worst_record"] = _record(x.iloc[worst])
        return Verdict(
            name,
            "fail",
            f"the stored model scores differently from the trained one "
            f"(largest probability difference {diff:g} over {len(x)} records"
            + ("" if same_classes else ", different classes")
            + ")",
            evidence=evidence,
        )
    return Verdict(
        name,
        "pass",
        f"artifact {sha256[:12]} ({len(data):,} bytes) hash verified; identical probabilities on {len(x)} records",
        evidence=evidence,
    )


def input_schema(model: Pipeline, *, spec: DataSpec, sample: pd.DataFrame) -> Verdict:
    """The model takes exactly the spec's features; the scorer names a missing or an extra field."""
    name = "input_schema"
    declared = getattr(model, "feature_names_in_", None)
    expected = spec.feature_names
    evidence: dict[str, Any] = {"spec_features": expected}
    if declared is None:
        return Verdict(
            name, "fail", "the model does not declare its input columns (fitted without names)", evidence=evidence
        )
    declared = [str(c) for c in declared]
    evidence["model_features"] = declared
    missing, extra = sorted(set(expected) - set(declared)), sorted(set(declared) - set(expected))
    evidence.update(not_taken_by_model=missing, not_in_spec=extra)
    problems = []
    if missing:
        problems.append(f"the model does not take spec feature(s) {missing}")
    if extra:
        problems.append(f"the model needs column(s) the spec does not have: {extra}")
    rows = sample.iloc[:5]
    fields, values = expected, _values(rows[expected])
    dropped = expected[0]
    cases = [
        ("all spec features", fields, values, None),
        (f"without {dropped!r}", fields[1:], [v[1:] for v in values], dropped),
        (
            "with an extra field 'unexpected_field'",
            [*fields, "unexpected_field"],
            [[*v, 1] for v in values],
            "unexpected_field",
        ),
    ]
    loaded, error = _loaded(model, spec)
    outcomes = []
    for label, f, v, must_name in cases:
        outcome = _try_score(loaded, error, spec, f, v)
        outcomes.append({"case": label, **outcome})
        if must_name is None and outcome["outcome"] != "scored":
            problems.append(f"{label}: {outcome['message']}")
        elif must_name is not None and not (outcome["outcome"] == "error" and must_name in outcome["message"]):
            problems.append(
                f"{label}: expected an error naming {must_name!r}, got {outcome['outcome']}: {outcome['message']}"
            )
    evidence["cases"] = outcomes
    if problems:
        return Verdict(name, "fail", "; ".join(problems), evidence=evidence)
    return Verdict(
        name,
        "pass",
        f"takes exactly the {len(expected)} spec features; a missing and an extra field "
        "are refused with the field named",
        evidence=evidence,
    )


def unexpected_input(model: Pipeline, *, spec: DataSpec, sample: pd.DataFrame) -> Verdict:
    """None, NaN, wrong types, empty strings: a clear error naming the field; unseen categories: a flagged score."""
    name = "unexpected_input"
    fields = spec.feature_names
    base = _values(sample.iloc[:1][fields])[0]
    cases: list[tuple[str, Any, str]] = []  # (field, value, expected outcome)
    for feature in spec.numeric:
        cases += [
            (feature, None, "error"),
            (feature, math.nan, "error"),
            (feature, "abc", "error"),
            (feature, "", "error"),
            (feature, math.inf, "error"),
        ]
    for feature in spec.categorical:
        cases += [
            (feature, None, "error"),
            (feature, "", "error"),
            (feature, "   ", "error"),
            (feature, 3, "error"),
            (feature, UNSEEN, "flagged"),
        ]
    loaded, error = _loaded(model, spec)
    failures, outcomes = [], {"error": 0, "flagged": 0}
    for feature, value, wanted in cases:
        record = list(base)
        record[fields.index(feature)] = value
        outcome = _try_score(loaded, error, spec, fields, [record])
        got = outcome["outcome"]
        if got == "scored":
            flagged = [w for w in outcome["warnings"] if w.get("field") == feature]
            got = "flagged" if flagged else "scored without a flag"
            if not all(math.isfinite(p) for p in outcome["probabilities"][0]):
                got = "scored with non-finite probabilities"
        ok = got == wanted and (got != "error" or feature in outcome["message"])
        if ok:
            outcomes[got] += 1
        else:
            failures.append(
                {
                    "field": feature,
                    "value": repr(value),
                    "expected": wanted,
                    "got": got,
                    "message": outcome.get("message", ""),
                }
            )
    evidence = {
        "cases": len(cases),
        "clear_errors": outcomes["error"],
        "flagged_scores": outcomes["flagged"],
        "failures": failures[:MAX_SHOWN],
        "failure_count": len(failures),
        "documented_outcome": "ScoringInputError naming field and record (HTTP 400); an unseen category "
        "scores with a warning naming field and value",
    }
    if failures:
        first = failures[0]
        return Verdict(
            name,
            "fail",
            f"{len(failures)} of {len(cases)} unexpected inputs had no defined outcome; "
            f"first: {first['field']}={first['value']} -> {first['got']} {first['message'][:160]}",
            evidence=evidence,
        )
    return Verdict(
        name,
        "pass",
        f"{len(cases)} unexpected inputs: {outcomes['error']} refused with the field named, "
        f"{outcomes['flagged']} unseen categories scored and flagged",
        evidence=evidence,
    )


def output_schema(model: Pipeline, *, spec: DataSpec, sample: pd.DataFrame) -> Verdict:
    """Predictions from the label set; probabilities finite, in [0, 1], summing to 1, agreeing with the label."""
    name = "output_schema"
    classes = [str(c) for c in getattr(model, "classes_", [])]
    evidence: dict[str, Any] = {"classes": classes, "labels": list(spec.labels), "records": len(sample)}
    problems = []
    if sorted(classes) != sorted(spec.labels):
        problems.append(f"the model's classes {classes} are not the spec's labels {list(spec.labels)}")
    loaded, error = _loaded(model, spec)
    outcome = _try_score(loaded, error, spec, spec.feature_names, _values(sample[spec.feature_names]))
    if outcome["outcome"] != "scored":
        problems.append(f"scoring {len(sample)} held-out records failed: {outcome['message']}")
        return Verdict(name, "fail", "; ".join(problems), evidence=evidence)
    labels, proba = outcome["labels"], np.asarray(outcome["probabilities"], dtype=float)
    bad: list[dict[str, Any]] = []
    if proba.ndim != 2 or proba.shape[1] != len(spec.labels):
        problems.append(f"probabilities have shape {list(proba.shape)}, expected [{len(sample)}, {len(spec.labels)}]")
    else:
        for i, (label, p) in enumerate(zip(labels, proba, strict=True)):
            issue = _output_issue(label, p, classes, spec)
            if issue:
                bad.append({"record": i, "prediction": label, "probabilities": [float(v) for v in p], "issue": issue})
        if bad:
            problems.append(
                f"{len(bad)} of {len(sample)} outputs break the schema; first: record {bad[0]['record']} "
                f"{bad[0]['issue']}"
            )
    evidence.update(bad_outputs=bad[:MAX_SHOWN], bad_count=len(bad))
    if problems:
        return Verdict(name, "fail", "; ".join(problems), evidence=evidence)
    return Verdict(
        name,
        "pass",
        f"{len(sample)} outputs: labels from {', '.join(repr(str(label)) for label in spec.labels)}, probabilities "
        "in [0, 1] "
        "summing to 1 and agreeing with the label",
        evidence=evidence,
    )


def _output_issue(label: str, p: np.ndarray, classes: list[str], spec: DataSpec) -> str:
    if label not in spec.labels:
        return f"prediction {label!r} is not a label"
    if not np.all(np.isfinite(p)):
        return "a probability is not finite"
    if p.min() < 0 or p.max() > 1:
        return f"probabilities {p.tolist()} are outside [0, 1]"
    if abs(float(p.sum()) - 1) > 1e-6:
        return f"probabilities sum to {float(p.sum()):.6f}"
    if classes and classes[int(np.argmax(p))] != label:
        return f"prediction {label!r} is not the most probable class"
    return ""


def _loaded(model: Pipeline, spec: DataSpec) -> tuple[LoadedModel | None, str]:
    try:
        return LoadedModel.build(model, spec), ""
    except Exception as exc:  # noqa: BLE001 - the scorer cannot even be built for this model
        return None, f"the scorer cannot be built for this model: {type(exc).__name__}: {exc}"


def _try_score(
    loaded: LoadedModel | None, error: str, spec: DataSpec, fields: list[str], values: list[list[Any]]
) -> dict[str, Any]:
    """Score through the scorer; a ``ScoringInputError`` is a defined outcome, anything else a crash."""
    if loaded is None:
        return {"outcome": "crash", "message": error}
    payload = {"input_data": [{"fields": fields, "values": values}]}
    try:
        f, v = parse_payload(payload, spec, max_rows=max(len(values), 1))
        result = score(loaded, f, v)
    except ScoringInputError as exc:
        return {"outcome": "error", "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - exactly what the test exists to catch
        return {"outcome": "crash", "message": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return {
        "outcome": "scored",
        "message": "",
        "labels": result.labels,
        "probabilities": result.probabilities,
        "warnings": result.warnings,
    }


def _values(frame: pd.DataFrame) -> list[list[Any]]:
    """Records as JSON would carry them (Python ints, floats and strings)."""
    values: list[list[Any]] = json.loads(frame.to_json(orient="values"))
    return values


def _record(row: pd.Series) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(row.to_json())
    return record
