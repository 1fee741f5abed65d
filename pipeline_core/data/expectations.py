"""What a spec expects of its models: the model tests' cases, invariances, directions and tolerances.

A ``DataSpec`` carries one ``Expectations``; the model test suite reads everything it
judges by from it, so a spec for other data declares its own cases and expectations and
the suite needs no code change. Every field is checked when the spec is built: a case
naming a feature the spec does not have, a category it does not know or a tolerance
outside [0, 1] is refused with the field named.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pipeline_core.errors import DataError

# The suite's tests, in the order they run and are shown.
MODEL_TESTS: tuple[str, ...] = (
    "convergence",
    "artifact",
    "input_schema",
    "unexpected_input",
    "output_schema",
    "minimum_functionality",
    "invariance",
    "directional",
    "robustness",
    "slice_regression",
    "adversarial",
)
# The model's contract with its callers: a model failing one of these must not reach pre-prod.
# Convergence is not among them: on small data the default booster overfits (its validation
# loss ends well above its best) yet still ranks well; the validator weighs that, with the evidence.
DEFAULT_CRITICAL: tuple[str, ...] = ("artifact", "input_schema", "unexpected_input", "output_schema")

Direction = Literal["increases_risk", "decreases_risk"]
Value = str | float


@dataclass(frozen=True)
class Case:
    """A hand-written applicant and the decision a sound model must make for it.

    ``given`` holds the features that define the case; the others take the training
    data's typical value (median of a number, most frequent category), shown in the evidence.
    """

    name: str
    given: dict[str, Value]
    expected: str


@dataclass(frozen=True)
class Invariance:
    """Changing only ``feature`` should change at most ``tolerance`` of the decisions."""

    feature: str
    tolerance: float = 0.05
    reason: str = ""


@dataclass(frozen=True)
class Monotone:
    """Raising ``feature`` (by ``step`` interquartile ranges) should not move the risk the other way.

    Fails when more than ``tolerance`` of the records move against ``direction`` by more
    than ``margin`` in predicted probability (a tree's small steps are not a violation).
    """

    feature: str
    direction: Direction = "increases_risk"
    step: float = 1.0
    tolerance: float = 0.25
    margin: float = 0.02


@dataclass(frozen=True)
class Robustness:
    """Numbers moved by up to ``relative`` of their value (kept in the training range), ``repeats`` times."""

    relative: float = 0.03
    repeats: int = 5
    tolerance: float = 0.05


@dataclass(frozen=True)
class Adversarial:
    """A black-box evasion attack's threat model: what an applicant may change, by how much, and the tolerance.

    Only the ``mutable`` features move (an applicant can change them: the loan asked for, a
    guarantor); every other feature is held as it is. A record may have at most ``max_features``
    of them changed; a number moves by at most ``max_relative_change`` of its training range (and
    stays in it, a whole number staying whole); a category becomes only one seen in training.
    Only decisions made with a ``margin`` are attacked (a risk at least that far from 0.5): one on
    the boundary flips under any change to any feature the model uses, which says nothing of the
    model. Fails when more than ``tolerance`` of the unfavourable decisions attacked (at most
    ``records`` of them, and as many favourable ones, reported apart) become favourable within
    that budget. An empty ``mutable`` declares no threat model: the test is skipped.
    """

    mutable: tuple[str, ...] = ()
    max_features: int = 2
    max_relative_change: float = 0.05
    margin: float = 0.20
    tolerance: float = 0.10
    records: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.mutable, tuple) or not all(isinstance(f, str) and f for f in self.mutable):
            raise DataError(f"expectations: adversarial.mutable = {self.mutable!r} is not a list of feature names")
        if len(set(self.mutable)) != len(self.mutable):
            raise DataError(f"expectations: adversarial.mutable {list(self.mutable)} names a feature twice")

    def check_against(self, features: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        """Refuse a mutable feature the spec does not have."""
        for name in self.mutable:
            if name not in features:
                raise DataError(f"expectations: adversarial.mutable feature {name!r} is not in the spec")


@dataclass(frozen=True)
class Expectations:
    """Everything the model tests of one spec judge by; the defaults suit any binary classifier."""

    cases: tuple[Case, ...] = ()
    invariant: tuple[Invariance, ...] = ()
    monotone: tuple[Monotone, ...] = ()
    robustness: Robustness = field(default_factory=Robustness)
    adversarial: Adversarial = field(default_factory=Adversarial)
    # Convergence: the validation loss over the last ``convergence_window`` points of its
    # curve may rise by at most this share of its value; training loss must fall overall;
    # and the loss may end at most ``divergence_tolerance`` above its best (a curve that
    # climbed and then levelled off has diverged even if its last window is flat).
    convergence_window: int = 20
    convergence_tolerance: float = 0.02
    divergence_tolerance: float = 0.25
    # Slice regression against the production model: largest allowed loss of ROC AUC or accuracy.
    slice_tolerance: float = 0.05
    slice_min_records: int = 50
    # Behavioural tests look at up to this many held-out records.
    max_records: int = 1000
    critical: tuple[str, ...] = DEFAULT_CRITICAL

    def __post_init__(self) -> None:
        for name, value in (
            ("convergence_tolerance", self.convergence_tolerance),
            ("divergence_tolerance", self.divergence_tolerance),
            ("slice_tolerance", self.slice_tolerance),
            ("robustness.relative", self.robustness.relative),
            ("robustness.tolerance", self.robustness.tolerance),
            ("adversarial.max_relative_change", self.adversarial.max_relative_change),
            ("adversarial.tolerance", self.adversarial.tolerance),
            ("adversarial.margin", self.adversarial.margin),
            *((f"invariant[{i.feature}].tolerance", i.tolerance) for i in self.invariant),
            *((f"monotone[{m.feature}].tolerance", m.tolerance) for m in self.monotone),
            *((f"monotone[{m.feature}].margin", m.margin) for m in self.monotone),
        ):
            _unit(name, value)
        if self.adversarial.margin >= 0.5:
            raise DataError(
                f"expectations: adversarial.margin = {self.adversarial.margin!r} is not below 0.5 "
                "(a risk cannot be that far from 0.5: no decision would be attacked)"
            )
        for name, number in (
            ("convergence_window", self.convergence_window),
            ("slice_min_records", self.slice_min_records),
            ("max_records", self.max_records),
            ("robustness.repeats", self.robustness.repeats),
            ("adversarial.max_features", self.adversarial.max_features),
            ("adversarial.records", self.adversarial.records),
        ):
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise DataError(f"expectations: {name} = {number!r} is not a whole number >= 1")
        for m in self.monotone:
            if m.direction not in ("increases_risk", "decreases_risk"):
                raise DataError(f"expectations: monotone[{m.feature}].direction {m.direction!r} is not "
                                "'increases_risk' or 'decreases_risk'")
            if not (isinstance(m.step, int | float) and math.isfinite(m.step) and m.step > 0):
                raise DataError(f"expectations: monotone[{m.feature}].step {m.step!r} is not a positive number")
        unknown = sorted(set(self.critical) - set(MODEL_TESTS))
        if unknown:
            raise DataError(f"expectations: critical names unknown model test(s) {unknown}; known: {list(MODEL_TESTS)}")
        names = [c.name for c in self.cases]
        if len(set(names)) != len(names):
            raise DataError("expectations: two cases share a name")

    def check_against(self, *, features: dict[str, tuple[str, tuple[str, ...]]], labels: tuple[str, str]) -> None:
        """Refuse features, categories or labels the spec does not have (``features``: name -> kind, categories)."""
        for case in self.cases:
            where = f"expectations: case {case.name!r}"
            if case.expected not in labels:
                raise DataError(f"{where}: expected {case.expected!r} is not one of {list(labels)}")
            if not case.given:
                raise DataError(f"{where}: 'given' names no feature")
            for name, value in case.given.items():
                if name not in features:
                    raise DataError(f"{where}: feature {name!r} is not in the spec")
                kind, categories = features[name]
                if kind == "numeric" and (isinstance(value, bool) or not isinstance(value, int | float)):
                    raise DataError(f"{where}: {name} = {value!r} is not a number")
                if kind == "categorical" and (not isinstance(value, str) or (categories and value not in categories)):
                    raise DataError(f"{where}: {name} = {value!r} is not one of {list(categories)}")
        for inv in self.invariant:
            if inv.feature not in features:
                raise DataError(f"expectations: invariant feature {inv.feature!r} is not in the spec")
        for m in self.monotone:
            if m.feature not in features:
                raise DataError(f"expectations: monotone feature {m.feature!r} is not in the spec")
            if features[m.feature][0] != "numeric":
                raise DataError(f"expectations: monotone feature {m.feature!r} is not numeric")
        self.adversarial.check_against(features)

    def is_critical(self, test: str) -> bool:
        return test in self.critical

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Expectations:
        try:
            return cls(
                cases=tuple(Case(c["name"], dict(c["given"]), c["expected"]) for c in data.get("cases", ())),
                invariant=tuple(Invariance(**i) for i in data.get("invariant", ())),
                monotone=tuple(Monotone(**m) for m in data.get("monotone", ())),
                robustness=Robustness(**data.get("robustness", {})),
                adversarial=_adversarial_from_dict(data.get("adversarial", {})),
                **{k: data[k] for k in _SCALARS if k in data},
                critical=tuple(data.get("critical", DEFAULT_CRITICAL)),
            )
        except (KeyError, TypeError) as exc:
            raise DataError(f"expectations are malformed: {exc!r}") from exc


_SCALARS = ("convergence_window", "convergence_tolerance", "divergence_tolerance", "slice_tolerance", "slice_min_records", "max_records")


def _adversarial_from_dict(data: dict[str, Any]) -> Adversarial:
    # Specs stored before the adversarial test existed have no "adversarial": they declare no threat model.
    if not isinstance(data, dict):
        raise DataError(f"expectations: adversarial {data!r} is not a mapping")
    mutable = data.get("mutable", ())
    if not isinstance(mutable, list | tuple):
        raise DataError(f"expectations: adversarial.mutable = {mutable!r} is not a list of feature names")
    return Adversarial(**{**data, "mutable": tuple(mutable)})


def _unit(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise DataError(f"expectations: {name} = {value!r} is not a number in [0, 1]")
