"""``RunParams``: the parameters of one pipeline run, with declared constraints.

Like scikit-learn's ``_parameter_constraints``, every parameter declares its type and
range once; ``from_strings`` parses ``k=v`` pairs from the CLI or a form and names the
offending key and value when one does not fit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from pipeline_core.errors import ConfigError

ModelType = Literal["hgb", "logistic", "random_forest"]
MODEL_TYPES: tuple[str, ...] = ("hgb", "logistic", "random_forest")

# name -> (type, lower bound, upper bound, allow None); bounds are inclusive.
_CONSTRAINTS: dict[str, tuple[type, float | None, float | None, bool]] = {
    "seed": (int, 0, 2**32 - 1, False),
    "test_size": (float, 0.05, 0.5, False),
    "cv_folds": (int, 2, 20, False),
    "learning_rate": (float, 1e-4, 1.0, False),
    "max_iter": (int, 1, 10_000, False),
    "max_leaf_nodes": (int, 2, 1024, False),
    "max_depth": (int, 1, 1000, True),
    "min_samples_leaf": (int, 1, 10_000, False),
    "l2_regularization": (float, 0.0, 1e6, False),
    "n_estimators": (int, 1, 5000, False),
    "C": (float, 1e-6, 1e6, False),
}


@dataclass(frozen=True, kw_only=True)
class RunParams:
    """Parameters of a run; defaults give the reference HistGradientBoosting model."""

    model_type: ModelType = "hgb"
    seed: int = 42
    test_size: float = 0.2
    cv_folds: int = 5
    # HistGradientBoosting
    learning_rate: float = 0.1
    max_iter: int = 100
    max_leaf_nodes: int = 31
    max_depth: int | None = None
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    # RandomForest
    n_estimators: int = 200
    # LogisticRegression (max_iter is shared)
    C: float = 1.0

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ConfigError(f"parameter model_type: {self.model_type!r} is not one of {list(MODEL_TYPES)}")
        for name, (kind, low, high, nullable) in _CONSTRAINTS.items():
            value = getattr(self, name)
            if value is None and nullable:
                continue
            if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"parameter {name}: expected an integer, got {value!r}")
            if kind is float and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise ConfigError(f"parameter {name}: expected a number, got {value!r}")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ConfigError(f"parameter {name}: {value!r} is outside [{low}, {high}]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown parameter {unknown[0]!r}; known parameters: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_strings(cls, pairs: list[str]) -> RunParams:
        """Parse ``["max_iter=200", "model_type=logistic"]``."""
        values: dict[str, Any] = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ConfigError(f"parameter {pair!r}: expected key=value")
            values[key] = _coerce(key, raw.strip())
        return cls.from_dict(values)


def _coerce(key: str, raw: str) -> Any:
    if key == "model_type":
        return raw
    if key not in _CONSTRAINTS:
        known = sorted({f.name for f in fields(RunParams)})
        raise ConfigError(f"unknown parameter {key!r}; known parameters: {known}")
    kind, _, _, nullable = _CONSTRAINTS[key]
    if nullable and raw.lower() in ("none", "null", ""):
        return None
    try:
        return kind(raw) if kind is float else int(raw, 10)
    except ValueError as exc:
        raise ConfigError(f"parameter {key}: {raw!r} is not a valid {kind.__name__}") from exc
