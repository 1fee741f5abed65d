"""The adversarial model test: can an applicant flip the model's decision by changing only what they can change?

A black-box evasion attack: the model is only queried (``predict_proba``), never opened. For a
seeded sample of held-out records decided unfavourable (and, reported apart, as many decided
favourable), it searches for the smallest change that flips the decision, within the spec's
threat model (``Expectations.adversarial``): only the declared mutable features move, at most
``max_features`` of them per record; a number by at most ``max_relative_change`` of its training
range, staying inside that range and whole if the training data's values are whole; a category
only to another category seen in training. Every other feature (Age, Sex, ForeignWorker in the
German credit spec) is held exactly as it is.

The search is a beam search over that discrete space, not IBM ART's HopSkipJump or Boundary
attack. Those are decision-based attacks in a continuous space (L2 / L-infinity steps towards
the decision boundary): on credit data most mutable features are categories (one-hot columns a
step leaves at 0.37) and integers, so every step would have to be projected back onto a valid
applicant, which voids the attacks' guarantees and needs thousands of queries per record. Here
the space is finite and small, so the first depth is exhaustive: every single-feature change
(each other category; 2 x ``GRID`` values across a number's budget) is scored in one batch,
and the smallest single-feature flip on that grid is found for certain. Each deeper level
extends the ``BEAM`` changes that moved the risk furthest towards a flip by one more feature.
Every candidate is a valid applicant by construction, the query count is bounded (reported as
``model_queries``), and the result depends only on the seed.

Judged direction: unfavourable to favourable, the one that matters for credit (an applicant
gaming the model into granting a loan it would refuse). A favourable decision that a small
change makes unfavourable is fragility that hurts applicants; it is reported beside, not judged.
A flip's size is the number of features changed, then the share of the budget used (a
category change uses a feature's whole budget): the smallest flips are the validator's evidence.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from pipeline_core.data.expectations import Adversarial, Expectations
from pipeline_core.data.spec import DataSpec
from pipeline_core.model_tests.behaviour import risk_and_decision
from pipeline_core.model_tests.results import Verdict

SEED = 20260604
# Values tried on each side of a number's budget; a whole number with fewer values in reach tries them all.
GRID = 8
# Partial changes kept per record from one depth to the next.
BEAM = 5
MAX_SHOWN = 10

Change = tuple[str, Any]


@dataclass(frozen=True)
class Domain:
    """The values one mutable feature may take: a training range (and its budget) or the training categories."""

    feature: str
    categories: tuple[str, ...] | None  # None: numeric
    low: float = 0.0
    high: float = 0.0
    integral: bool = False
    budget: float = 0.0  # the largest move of a number, in its units

    def moves(self, value: Any) -> list[tuple[Any, float]]:
        """Every value within budget of ``value`` and the share of the budget each uses."""
        if _missing(value):
            return []
        if self.categories is not None:
            return [(c, 1.0) for c in self.categories if c != str(value)]
        x = float(value)
        lo, hi = max(self.low, x - self.budget), min(self.high, x + self.budget)
        below, above = np.linspace(lo, x, GRID + 1)[:-1], np.linspace(x, hi, GRID + 1)[1:]
        if self.integral:  # rounded towards the record's value, so a whole number never leaves the budget
            below, above = np.ceil(below), np.floor(above)
        values = sorted({float(v) for v in (*below, *above) if lo <= v <= hi and v != x})
        return [(int(v) if self.integral else v, abs(v - x) / self.budget) for v in values]

    def describe(self) -> list[Any]:
        return list(self.categories) if self.categories is not None else [_plain(self.low), _plain(self.high)]


@dataclass(frozen=True)
class _State:
    record: int  # position in the attacked frame
    changes: tuple[Change, ...]
    used: float  # share of budget used, summed over the changes


def domains(spec: DataSpec, reference: pd.DataFrame, cfg: Adversarial) -> list[Domain]:
    """Each mutable feature's valid values, from the training data (inside the spec's valid range, if any)."""
    out = []
    for name in cfg.mutable:
        column = reference[name].dropna()
        if name in spec.categorical:
            out.append(Domain(name, tuple(sorted(column.astype(str).unique()))))
            continue
        values = column.to_numpy(dtype=float)
        if not values.size:
            continue
        low, high = float(values.min()), float(values.max())
        declared = spec.feature(name).valid_range
        if declared is not None:
            low, high = max(low, declared[0]), min(high, declared[1])
        integral = bool(np.all(np.mod(values, 1) == 0))
        out.append(Domain(name, None, low, high, integral, cfg.max_relative_change * (high - low)))
    # A whole number whose budget is under one unit cannot move at all (InstallmentPercent, 1-6, by 5%).
    return [d for d in out if d.categories is not None or (d.budget > 0 and d.budget >= (1 if d.integral else 0))]


def adversarial(
    model: Pipeline, *, spec: DataSpec, held_out: pd.DataFrame, reference: pd.DataFrame, expectations: Expectations
) -> Verdict:
    """At most ``tolerance`` of unfavourable decisions become favourable within the spec's perturbation budget."""
    name = "adversarial"
    cfg = expectations.adversarial
    if not cfg.mutable:
        return Verdict(name, "skip", f"spec '{spec.name}' declares no mutable feature to attack")
    space = domains(spec, reference, cfg)
    if not space:
        return Verdict(
            name,
            "skip",
            f"no mutable feature of spec '{spec.name}' can move within the budget in the training data's range",
        )
    risk, decision = risk_and_decision(model, held_out, spec)
    rng = np.random.default_rng(SEED)
    queries = len(held_out)
    results = {}
    # Risk is P(unfavourable): a decision's margin is its distance from the two classes' tie.
    sure = np.abs(risk - 0.5) >= cfg.margin
    for start, target in (
        (spec.unfavourable_label, spec.favourable_label),
        (spec.favourable_label, spec.unfavourable_label),
    ):
        positions = np.flatnonzero((decision == start) & sure)
        if positions.size > cfg.records:
            positions = np.sort(rng.choice(positions, size=cfg.records, replace=False))
        attacked = held_out.iloc[positions]
        flips, asked = _attack(model, spec, attacked, risk[positions], start=start, target=target, space=space, cfg=cfg)
        queries += asked
        results[target] = (len(attacked), flips)
    attacked_n, flips = results[spec.favourable_label]
    reverse_n, reverse = results[spec.unfavourable_label]
    rate = len(flips) / attacked_n if attacked_n else 0.0
    reverse_rate = len(reverse) / reverse_n if reverse_n else 0.0
    by_feature = Counter(c["feature"] for f in flips for c in f["changes"])
    evidence = {
        "judged": f"{spec.unfavourable_label} -> {spec.favourable_label}",
        "flip_rate": rate,
        "tolerance": cfg.tolerance,
        "records_attacked": attacked_n,
        "flipped_records": len(flips),
        "reverse_flip_rate": reverse_rate,
        "reverse_records_attacked": reverse_n,
        "reverse_flipped_records": len(reverse),
        "max_features": cfg.max_features,
        "max_relative_change": cfg.max_relative_change,
        "margin": cfg.margin,
        "model_queries": queries,
        "seed": SEED,
        "mutable": [d.feature for d in space],
        "cannot_move_within_budget": [f for f in cfg.mutable if f not in {d.feature for d in space}],
        "held_fixed": [f for f in spec.feature_names if f not in cfg.mutable],
        "valid_values": {d.feature: d.describe() for d in space},
        "flips_by_feature": dict(by_feature.most_common()),
        "smallest_flips": flips[:MAX_SHOWN],
        "smallest_reverse_flips": reverse[:MAX_SHOWN],
    }
    budget = (
        f"at most {cfg.max_features} of {len(space)} mutable features "
        f"(numbers by up to {cfg.max_relative_change:.0%} of their range)"
    )
    summary = (
        f"changing {budget} turns {rate:.1%} of {attacked_n} {spec.unfavourable_label!r} decisions "
        f"made with risk >= {0.5 + cfg.margin:.2f} into {spec.favourable_label!r} (tolerance {cfg.tolerance:.0%})"
    )
    if by_feature:
        top, count = by_feature.most_common(1)[0]
        summary += f"; {count} of {len(flips)} flips change {top}"
        smallest = flips[0]
        summary += f"; smallest: record {smallest['record']}, " + ", ".join(
            f"{c['feature']} {c['from']} -> {c['to']}" for c in smallest["changes"]
        )
    summary += f"; {reverse_rate:.1%} of {reverse_n} {spec.favourable_label!r} decisions the other way (not judged)"
    return Verdict(name, "fail" if rate > cfg.tolerance else "pass", summary, evidence=evidence)


def _attack(
    model: Pipeline,
    spec: DataSpec,
    attacked: pd.DataFrame,
    risk: np.ndarray,
    *,
    start: str,
    target: str,
    space: list[Domain],
    cfg: Adversarial,
) -> tuple[list[dict[str, Any]], int]:
    """The smallest flip to ``target`` found for each record of ``attacked`` (smallest first) and the queries made."""
    towards_favourable = target == spec.favourable_label
    states = [_State(i, (), 0.0) for i in range(len(attacked))]
    found: dict[int, tuple[_State, float]] = {}
    queries = 0
    # A move is from the record's own value (a feature changes at most once), so each is listed once.
    options = {d.feature: [d.moves(v) for v in attacked[d.feature].to_numpy(dtype=object)] for d in space}
    for _ in range(cfg.max_features):
        candidates = [
            _State(s.record, (*s.changes, (d.feature, v)), s.used + used)
            for s in states
            if s.record not in found
            for d in space
            if d.feature not in {f for f, _ in s.changes}
            for v, used in options[d.feature][s.record]
        ]
        if not candidates:
            break
        new_risk, new_decision = risk_and_decision(model, _frame(attacked, candidates, space), spec)
        queries += len(candidates)
        for state, r, d in zip(candidates, new_risk, new_decision, strict=True):
            if d == target and (state.record not in found or state.used < found[state.record][0].used):
                found[state.record] = (state, float(r))
        # The beam: per record still standing, the changes that moved its risk furthest towards the flip.
        order = np.argsort(new_risk if towards_favourable else -new_risk, kind="stable")
        kept: dict[int, list[_State]] = {}
        seen: set[tuple[int, frozenset[Change]]] = set()
        for i in order:
            state = candidates[i]
            key = (state.record, frozenset(state.changes))
            if state.record in found or key in seen or len(kept.get(state.record, [])) >= BEAM:
                continue
            seen.add(key)
            kept.setdefault(state.record, []).append(state)
        states = [s for group in kept.values() for s in group]
    flips = [
        _evidence(attacked, state, float(risk[state.record]), after, start=start, target=target)
        for state, after in found.values()
    ]
    flips.sort(key=lambda f: (f["features_changed"], f["budget_used"], str(f["record"])))
    return flips, queries


def _frame(attacked: pd.DataFrame, candidates: list[_State], space: list[Domain]) -> pd.DataFrame:
    """One row per candidate: its record with the candidate's changes applied."""
    frame = attacked.iloc[[c.record for c in candidates]].reset_index(drop=True)
    updates: dict[str, tuple[list[int], list[Any]]] = {}
    for row, state in enumerate(candidates):
        for feature, value in state.changes:
            rows, values = updates.setdefault(feature, ([], []))
            rows.append(row)
            values.append(value)
    kinds = {d.feature: d for d in space}
    for feature, (rows, values) in updates.items():
        d = kinds[feature]
        column = frame[feature].to_numpy(copy=True)
        if d.categories is not None:
            column = column.astype(object)
        elif not d.integral:  # a whole-number column would truncate a fractional move
            column = column.astype(float)
        column[rows] = values
        frame[feature] = column
    return frame


def _evidence(
    attacked: pd.DataFrame, state: _State, before: float, after: float, *, start: str, target: str
) -> dict[str, Any]:
    record = attacked.iloc[state.record]
    changes = [{"feature": f, "from": _plain(record[f]), "to": _plain(v)} for f, v in state.changes]
    return {
        "record": _plain(attacked.index[state.record]),
        "feature": ", ".join(c["feature"] for c in changes),  # names the Review page's caption of the changes
        "features_changed": len(changes),
        "budget_used": round(state.used, 4),
        "decision_before": start,
        "decision_after": target,
        "risk_before": round(before, 4),
        "risk_after": round(after, 4),
        "changes": changes,
    }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or bool(pd.isna(value))


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars to Python, a whole float to an int."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
