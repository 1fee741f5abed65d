"""``DataSpec``: what a dataset must look like and how its models are judged.

A spec names the target and its favourable label, every feature with its kind (and, for
a numeric one, optionally the range of values it can validly take), the protected attributes with the groups the fairness monitor compares, the thresholds
the gates and monitors apply, and the expectations the model tests judge by. Specs are
plain frozen dataclasses so they serialise to JSON for the store and the factsheet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import math
from typing import Any, Literal

from pipeline_core.data.expectations import Expectations
from pipeline_core.errors import DataError

FeatureKind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class FeatureSpec:
    """One input column: numeric (int or float) or categorical (strings).

    ``valid_range`` (numeric only, optional) is the closed interval of values the feature can
    take at all (an age of -5 is not an applicant): a value outside is refused wherever data
    enters, which is not the same as a value the model merely never saw in training.
    """

    name: str
    kind: FeatureKind
    categories: tuple[str, ...] = ()
    valid_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "categorical"):
            raise DataError(f"feature '{self.name}': kind must be numeric or categorical, got {self.kind!r}")
        if self.valid_range is None:
            return
        if self.kind != "numeric":
            raise DataError(f"feature '{self.name}': a valid range is for numeric features; it is {self.kind}")
        if not isinstance(self.valid_range, tuple) or len(self.valid_range) != 2:
            raise DataError(f"feature '{self.name}': valid range {self.valid_range!r} is not a pair [min, max]")
        for end, value in zip(("min", "max"), self.valid_range, strict=True):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise DataError(f"feature '{self.name}': valid range {end} {value!r} is not a finite number")
        low, high = self.valid_range
        if low > high:
            raise DataError(f"feature '{self.name}': valid range min {low:g} is above its max {high:g}")

    def is_valid(self, value: float) -> bool:
        """Whether ``value`` is inside the valid range (always, when the feature declares none)."""
        return self.valid_range is None or self.valid_range[0] <= value <= self.valid_range[1]

    def describe_range(self) -> str:
        """``[18, 100]``: the valid range as messages quote it."""
        return "" if self.valid_range is None else f"[{self.valid_range[0]:g}, {self.valid_range[1]:g}]"


@dataclass(frozen=True)
class GroupSpec:
    """A group of a protected attribute: a set of categories or a closed numeric range."""

    values: tuple[str, ...] = ()
    range: tuple[float, float] | None = None

    def describe(self) -> str:
        if self.range is not None:
            return f"{self.range[0]:g}-{self.range[1]:g}"
        return ", ".join(self.values)


@dataclass(frozen=True)
class ProtectedAttribute:
    """A protected attribute, its monitored (minority) and reference (majority) groups."""

    name: str
    monitored: GroupSpec
    reference: GroupSpec


@dataclass(frozen=True)
class Thresholds:
    """Gate and monitor thresholds (DESIGN.md §6 for the German credit reference values)."""

    min_roc_auc: float = 0.60
    quality_min_records: int = 100
    disparate_impact: float = 0.95
    fairness_min_records: int = 100
    drift: float = 0.10
    drift_min_records: int = 100
    # Validation: a null rate this much above the reference is an anomaly.
    max_null_rate_increase: float = 0.05

    def __post_init__(self) -> None:
        for name in ("min_roc_auc", "disparate_impact", "drift", "max_null_rate_increase"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise DataError(f"threshold {name}: {value!r} is not a number in [0, 1]")
        for name in ("quality_min_records", "fairness_min_records", "drift_min_records"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DataError(f"threshold {name}: {value!r} is not a whole number >= 1")


@dataclass(frozen=True)
class DataSpec:
    """Target, favourable label, features and protected attributes of one kind of data."""

    name: str
    target: str
    labels: tuple[str, str]
    favourable_label: str
    features: tuple[FeatureSpec, ...]
    protected: tuple[ProtectedAttribute, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    expectations: Expectations = field(default_factory=Expectations)

    def __post_init__(self) -> None:
        if self.favourable_label not in self.labels:
            raise DataError(
                f"spec '{self.name}': favourable label {self.favourable_label!r} is not one of {list(self.labels)}"
            )
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise DataError(f"spec '{self.name}': duplicate feature names")
        if self.target in names:
            raise DataError(f"spec '{self.name}': target '{self.target}' is also listed as a feature")
        for attr in self.protected:
            if attr.name not in names:
                raise DataError(f"spec '{self.name}': protected attribute '{attr.name}' is not a feature")
        try:
            self.expectations.check_against(
                features={f.name: (f.kind, f.categories) for f in self.features}, labels=self.labels
            )
        except DataError as exc:
            raise DataError(f"spec '{self.name}': {exc}") from exc
        # A protected attribute is never the applicant's to change: an attack that moved it would
        # test discrimination, which the invariance test and the fairness monitor judge.
        for attr in self.protected:
            if attr.name in self.expectations.adversarial.mutable:
                raise DataError(
                    f"spec '{self.name}': expectations: adversarial.mutable names protected attribute "
                    f"'{attr.name}'; an applicant cannot change it"
                )

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    @property
    def unfavourable_label(self) -> str:
        return next(label for label in self.labels if label != self.favourable_label)

    @property
    def positive_label(self) -> str:
        """The class whose probability the models report: the unfavourable outcome (risk)."""
        return self.unfavourable_label

    def feature(self, name: str) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise DataError(f"spec '{self.name}': no feature named '{name}'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataSpec:
        try:
            return cls(
                name=data["name"],
                target=data["target"],
                labels=(data["labels"][0], data["labels"][1]),
                favourable_label=data["favourable_label"],
                features=tuple(_feature_from_dict(f) for f in data["features"]),
                protected=tuple(
                    ProtectedAttribute(
                        p["name"], _group_from_dict(p["monitored"]), _group_from_dict(p["reference"])
                    )
                    for p in data.get("protected", ())
                ),
                thresholds=Thresholds(**data.get("thresholds", {})),
                expectations=Expectations.from_dict(data.get("expectations", {})),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise DataError(f"spec {data.get('name', '?')!r} is malformed: {exc!r}") from exc


def _feature_from_dict(data: dict[str, Any]) -> FeatureSpec:
    # Specs stored before valid ranges existed have no "valid_range": such a feature declares none.
    rng = data.get("valid_range")
    if rng is not None and (not isinstance(rng, list | tuple) or len(rng) != 2):
        raise DataError(f"feature {data.get('name', '?')!r}: valid range {rng!r} is not a pair [min, max]")
    return FeatureSpec(
        data["name"], data["kind"], tuple(data.get("categories", ())), (rng[0], rng[1]) if rng is not None else None
    )


def _group_from_dict(data: dict[str, Any]) -> GroupSpec:
    rng = data.get("range")
    return GroupSpec(
        values=tuple(data.get("values", ())),
        range=(float(rng[0]), float(rng[1])) if rng is not None else None,
    )
