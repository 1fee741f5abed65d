"""Behavioural model tests: minimum functionality, invariance, directional expectations, robustness.

Each compares the model's decisions on held-out records with the same records changed in
one declared way (CheckList's test types), so a verdict is about the model, not the data.
A decision is the model's most probable class; "risk" is the probability of the spec's
positive (unfavourable) label.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from pipeline_core.data.expectations import Expectations
from pipeline_core.data.spec import DataSpec
from pipeline_core.model_tests.results import Verdict

MAX_SHOWN = 10
SEED = 20260601


def risk_and_decision(model: Pipeline, frame: pd.DataFrame, spec: DataSpec) -> tuple[np.ndarray, np.ndarray]:
    """P(positive label) and the decided label of every record."""
    proba = np.asarray(model.predict_proba(frame[spec.feature_names]), dtype=float)
    classes = [str(c) for c in model.classes_]
    risk = proba[:, classes.index(spec.positive_label)] if spec.positive_label in classes else proba[:, -1]
    return risk, np.asarray(classes, dtype=object)[proba.argmax(axis=1)]


def typical_record(reference: pd.DataFrame, spec: DataSpec) -> dict[str, Any]:
    """The training data's median number (rounded when the column holds whole numbers) and commonest category."""
    record: dict[str, Any] = {}
    for name in spec.numeric:
        column = reference[name].dropna()
        median = float(column.median())
        record[name] = round(median) if _integral(column) else median
    for name in spec.categorical:
        record[name] = str(reference[name].dropna().astype(str).mode().iloc[0])
    return record


def minimum_functionality(
    model: Pipeline, *, spec: DataSpec, reference: pd.DataFrame, expectations: Expectations
) -> Verdict:
    """Every hand-written case in the spec gets its expected decision."""
    name = "minimum_functionality"
    if not expectations.cases:
        return Verdict(name, "skip", f"spec '{spec.name}' declares no cases")
    typical = typical_record(reference, spec)
    records = pd.DataFrame([{**typical, **case.given} for case in expectations.cases])[spec.feature_names]
    risk, decision = risk_and_decision(model, records, spec)
    rows, wrong = [], []
    for case, r, d in zip(expectations.cases, risk, decision, strict=True):
        row = {
            "case": case.name,
            "given": case.given,
            "expected": case.expected,
            "predicted": str(d),
            "risk": float(r),
            "passed": str(d) == case.expected,
        }
        rows.append(row)
        if not row["passed"]:
            wrong.append(f"{case.name!r}: expected {case.expected!r}, got {d!r} (risk {r:.2f})")
    evidence = {"cases": rows, "filled_from_training_data": typical}
    if wrong:
        return Verdict(name, "fail", f"{len(wrong)} of {len(rows)} cases wrong: " + "; ".join(wrong), evidence=evidence)
    return Verdict(name, "pass", f"all {len(rows)} declared cases decided as expected", evidence=evidence)


def invariance(
    model: Pipeline, *, spec: DataSpec, sample: pd.DataFrame, reference: pd.DataFrame, expectations: Expectations
) -> Verdict:
    """Changing only a declared-irrelevant feature (to each of its other values) flips few decisions."""
    name = "invariance"
    if not expectations.invariant:
        return Verdict(name, "skip", f"spec '{spec.name}' declares no invariant feature")
    risk, decision = risk_and_decision(model, sample, spec)
    per_feature, problems = [], []
    for inv in expectations.invariant:
        alternatives = _alternatives(inv.feature, spec, reference)
        flipped = np.zeros(len(sample), dtype=bool)
        change = np.zeros(len(sample))
        examples: list[dict[str, Any]] = []
        for value in alternatives:
            moved = (
                sample[inv.feature].astype(str) != str(value)
                if _is_cat(inv.feature, spec)
                else sample[inv.feature] != value
            )
            changed = sample.assign(**{inv.feature: value})
            r2, d2 = risk_and_decision(model, changed, spec)
            flips = moved.to_numpy() & (d2 != decision)
            change = np.maximum(change, np.where(moved, np.abs(r2 - risk), 0.0))
            for i in np.flatnonzero(flips & ~flipped)[: MAX_SHOWN - len(examples)]:
                examples.append(
                    {
                        "record": int(i),
                        "from": _plain(sample[inv.feature].iloc[i]),
                        "to": _plain(value),
                        "risk_before": float(risk[i]),
                        "risk_after": float(r2[i]),
                        "decision_before": str(decision[i]),
                        "decision_after": str(d2[i]),
                    }
                )
            flipped |= flips
        rate = float(flipped.mean())
        entry = {
            "feature": inv.feature,
            "reason": inv.reason,
            "flip_rate": rate,
            "tolerance": inv.tolerance,
            "records": len(sample),
            "flipped_records": int(flipped.sum()),
            "mean_abs_risk_change": float(change.mean()),
            "values_tried": [_plain(v) for v in alternatives],
            "examples": examples,
        }
        per_feature.append(entry)
        if rate > inv.tolerance:
            problems.append(
                f"changing only {inv.feature} flips {rate:.1%} of decisions (tolerance {inv.tolerance:.0%})"
            )
    evidence = {"features": per_feature}
    rates = ", ".join(f"{e['feature']} {e['flip_rate']:.1%}" for e in per_feature)
    if problems:
        return Verdict(name, "fail", "; ".join(problems) + f" (all: {rates})", evidence=evidence)
    return Verdict(name, "pass", f"decisions flipped by changing only: {rates}; within tolerance", evidence=evidence)


def directional(
    model: Pipeline, *, spec: DataSpec, sample: pd.DataFrame, reference: pd.DataFrame, expectations: Expectations
) -> Verdict:
    """Raising a declared feature, all else equal, moves the risk the declared way on most records."""
    name = "directional"
    if not expectations.monotone:
        return Verdict(name, "skip", f"spec '{spec.name}' declares no monotone expectation")
    risk, _ = risk_and_decision(model, sample, spec)
    per_feature, problems = [], []
    for m in expectations.monotone:
        column = reference[m.feature].dropna()
        q1, q3 = float(column.quantile(0.25)), float(column.quantile(0.75))
        iqr = q3 - q1 if q3 > q1 else float(column.std() or 1.0)
        step = m.step * iqr
        before = sample[m.feature].astype(float).to_numpy()
        after = np.minimum(before + step, float(column.max()))
        if _integral(column):
            after = np.ceil(after)
        movable = after > before
        r2, _ = risk_and_decision(model, sample.assign(**{m.feature: after}), spec)
        delta = (r2 - risk) if m.direction == "increases_risk" else (risk - r2)
        against = movable & (delta < -m.margin)
        n = int(movable.sum())
        share = float(against.sum() / n) if n else 0.0
        order = np.argsort(np.where(against, delta, np.inf))[: min(MAX_SHOWN, int(against.sum()))]
        examples = [
            {
                "record": int(i),
                "before": float(before[i]),
                "after": float(after[i]),
                "risk_before": float(risk[i]),
                "risk_after": float(r2[i]),
            }
            for i in order
        ]
        entry = {
            "feature": m.feature,
            "direction": m.direction,
            "step": step,
            "step_iqr": m.step,
            "records_moved": n,
            "share_against": share,
            "tolerance": m.tolerance,
            "margin": m.margin,
            "mean_risk_change": float((r2 - risk)[movable].mean()) if n else 0.0,
            "examples": examples,
        }
        per_feature.append(entry)
        if share > m.tolerance:
            way = "lowers" if m.direction == "increases_risk" else "raises"
            problems.append(
                f"raising {m.feature} by {step:g} {way} the risk on {share:.1%} of records "
                f"(tolerance {m.tolerance:.0%})"
            )
    evidence = {"features": per_feature}
    shares = ", ".join(f"{e['feature']} {e['share_against']:.1%}" for e in per_feature)
    if problems:
        return Verdict(name, "fail", "; ".join(problems) + f" (all: {shares})", evidence=evidence)
    return Verdict(
        name, "pass", f"records moving against the expected direction: {shares}; within tolerance", evidence=evidence
    )


def robustness(
    model: Pipeline, *, spec: DataSpec, sample: pd.DataFrame, reference: pd.DataFrame, expectations: Expectations
) -> Verdict:
    """Numbers moved by a few percent (kept in the training range) flip at most a tolerance of decisions."""
    name = "robustness"
    cfg = expectations.robustness
    if not spec.numeric:
        return Verdict(name, "skip", f"spec '{spec.name}' has no numeric feature to perturb")
    rng = np.random.default_rng(SEED)
    risk, decision = risk_and_decision(model, sample, spec)
    flips_per_record = np.zeros(len(sample), dtype=int)
    examples: list[dict[str, Any]] = []
    for _ in range(cfg.repeats):
        moved = sample.copy()
        for feature in spec.numeric:
            column = reference[feature].dropna()
            values = sample[feature].astype(float).to_numpy()
            new = values * (1 + rng.uniform(-cfg.relative, cfg.relative, size=values.size))
            if _integral(column):
                new = np.rint(new)
            moved[feature] = np.clip(new, float(column.min()), float(column.max()))
        r2, d2 = risk_and_decision(model, moved, spec)
        flips = d2 != decision
        for i in np.flatnonzero(flips)[: MAX_SHOWN - len(examples)]:
            changes = {
                f: [_plain(sample[f].iloc[i]), _plain(moved[f].iloc[i])]
                for f in spec.numeric
                if moved[f].iloc[i] != sample[f].iloc[i]
            }
            examples.append(
                {"record": int(i), "changes": changes, "risk_before": float(risk[i]), "risk_after": float(r2[i])}
            )
        flips_per_record += flips
    rate = float(flips_per_record.sum() / (len(sample) * cfg.repeats))
    evidence = {
        "flip_rate": rate,
        "tolerance": cfg.tolerance,
        "relative_perturbation": cfg.relative,
        "repeats": cfg.repeats,
        "records": len(sample),
        "perturbed_records": len(sample) * cfg.repeats,
        "records_flipped_at_least_once": int((flips_per_record > 0).sum()),
        "features": spec.numeric,
        "examples": examples,
    }
    summary = (
        f"perturbing numbers by up to {cfg.relative:.0%} flips {rate:.1%} of decisions "
        f"(tolerance {cfg.tolerance:.0%}, {len(sample)} records x {cfg.repeats})"
    )
    return Verdict(name, "fail" if rate > cfg.tolerance else "pass", summary, evidence=evidence)


def _alternatives(feature: str, spec: DataSpec, reference: pd.DataFrame) -> list[Any]:
    if _is_cat(feature, spec):
        declared = spec.feature(feature).categories
        return list(declared) if declared else sorted(reference[feature].dropna().astype(str).unique())
    column = reference[feature].dropna()
    values = column.quantile([0.1, 0.3, 0.5, 0.7, 0.9]).to_numpy()
    return sorted({round(v) if _integral(column) else float(v) for v in values})


def _is_cat(feature: str, spec: DataSpec) -> bool:
    return feature in spec.categorical


def _integral(column: pd.Series) -> bool:
    values = column.to_numpy(dtype=float)
    return bool(values.size) and bool(np.all(np.equal(np.mod(values, 1), 0)))


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
