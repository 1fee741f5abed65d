"""Validate stage: statistics, an inferred schema, anomalies against spec and reference.

The schema inferred from reference training data is stored with the dataset; new data
is checked against the spec (columns, types, declared categories, valid ranges, labels) and, when a
reference schema is given, against it (unseen categories, out-of-range values, null-rate
jumps). Blocking anomalies close the gate (the IBM pipeline's "val check") and the report
names each one with its column, count and example rows. The seeded stratified split is
made here so every later stage sees the same rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from pipeline_core.data.spec import DataSpec
from pipeline_core.stages.common import Gate

AnomalyKind = Literal[
    "missing_column",
    "extra_column",
    "wrong_type",
    "unseen_category",
    "out_of_range",
    "outside_valid_range",
    "null_rate_jump",
    "missing_label",
    "duplicates",
    "label_outside_spec",
    "too_few_rows",
]
MAX_EXAMPLES = 5
MIN_ROWS_PER_CLASS = 10


@dataclass(frozen=True)
class ColumnSchema:
    """What one column looked like in the reference data."""

    name: str
    kind: Literal["numeric", "categorical", "target"]
    null_rate: float
    categories: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Schema:
    """A schema inferred from reference data: one ``ColumnSchema`` per spec column."""

    columns: tuple[ColumnSchema, ...]
    n_rows: int

    def column(self, name: str) -> ColumnSchema | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"n_rows": self.n_rows, "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        cols = tuple(
            ColumnSchema(
                name=c["name"],
                kind=c["kind"],
                null_rate=float(c["null_rate"]),
                categories=tuple(c.get("categories", ())),
                min=c.get("min"),
                max=c.get("max"),
            )
            for c in data["columns"]
        )
        return cls(columns=cols, n_rows=int(data["n_rows"]))


@dataclass(frozen=True)
class Anomaly:
    """One problem found in the data; ``blocking`` ones stop the run."""

    kind: AnomalyKind
    column: str | None
    detail: str
    blocking: bool
    count: int = 0
    example_lines: tuple[int, ...] = ()

    def describe(self) -> str:
        where = f"column {self.column!r}: " if self.column else ""
        rows = f" (e.g. lines {', '.join(str(r) for r in self.example_lines)})" if self.example_lines else ""
        return f"{self.kind}: {where}{self.detail}{rows}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "example_lines": list(self.example_lines)}


@dataclass
class ValidationResult:
    """Statistics, inferred schema, anomalies, the split and the gate."""

    stats: dict[str, dict[str, Any]]
    schema: Schema
    anomalies: list[Anomaly]
    gate: Gate
    clean: pd.DataFrame | None = None
    train_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    test_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    log: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.blocking]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stats": self.stats,
            "schema": self.schema.to_dict(),
            "anomalies": [a.to_dict() for a in self.anomalies],
            "gate": self.gate.to_dict(),
            "n_train": int(self.train_index.size),
            "n_test": int(self.test_index.size),
        }


def column_stats(frame: pd.DataFrame, spec: DataSpec) -> dict[str, dict[str, Any]]:
    """Per-column count, nulls and distribution summary."""
    stats: dict[str, dict[str, Any]] = {}
    nulls = frame.isna().sum()
    numeric = [c for c in frame.columns if c in spec.numeric and pd.api.types.is_numeric_dtype(frame[c])]
    described = frame[numeric].describe() if numeric else pd.DataFrame()  # one pass for every numeric column
    for name in frame.columns:
        n_null = int(nulls[name])
        entry: dict[str, Any] = {
            "count": len(frame) - n_null,
            "nulls": n_null,
            "null_rate": n_null / max(len(frame), 1),
        }
        if name in numeric:
            for key in ("mean", "std", "min", "25%", "50%", "75%", "max"):
                value = described.at[key, name]
                entry[key] = None if pd.isna(value) else float(value)  # type: ignore[arg-type]
        else:
            counts = frame[name].value_counts()
            entry["distinct"] = int(counts.size)
            entry["top"] = {str(k): int(v) for k, v in counts.head(20).items()}
        stats[str(name)] = entry
    return stats


def infer_schema(frame: pd.DataFrame, spec: DataSpec) -> Schema:
    """The schema of reference data: categories seen, numeric ranges, null rates."""
    cols = []
    for name in [*spec.feature_names, spec.target]:
        if name not in frame.columns:
            continue
        col = frame[name]
        null_rate = float(col.isna().mean())
        if name == spec.target:
            cols.append(ColumnSchema(name, "target", null_rate, tuple(sorted(col.dropna().astype(str).unique()))))
        elif name in spec.numeric:
            num = pd.to_numeric(col, errors="coerce")
            lo, hi = num.min(), num.max()
            cols.append(
                ColumnSchema(
                    name,
                    "numeric",
                    null_rate,
                    (),
                    None if pd.isna(lo) else float(lo),
                    None if pd.isna(hi) else float(hi),
                )
            )
        else:
            cols.append(ColumnSchema(name, "categorical", null_rate, tuple(sorted(col.dropna().astype(str).unique()))))
    return Schema(tuple(cols), len(frame))


def training_ranges(frame: pd.DataFrame, spec: DataSpec) -> dict[str, tuple[float, float]]:
    """Each numeric feature's [min, max] in ``frame`` (the training split): what the model has seen."""
    ranges = {}
    for name in spec.numeric:
        if name in frame.columns:
            col = pd.to_numeric(frame[name], errors="coerce")
            lo, hi = col.min(), col.max()
            if not (pd.isna(lo) or pd.isna(hi)):
                ranges[name] = (float(lo), float(hi))
    return ranges


def validate(
    frame: pd.DataFrame,
    *,
    spec: DataSpec,
    reference: Schema | None = None,
    seed: int = 42,
    test_size: float = 0.2,
) -> ValidationResult:
    """Check ``frame`` against ``spec`` (and ``reference``), then split it when it passes."""
    frame = frame.reset_index(drop=True)
    clean, anomalies = find_anomalies(frame, spec=spec, reference=reference)
    if spec.target in clean.columns:
        _check_class_sizes(clean[spec.target], spec, anomalies)
    stats = column_stats(clean, spec)
    schema = infer_schema(clean, spec)
    blocking = [a for a in anomalies if a.blocking]
    log = [f"validated {len(frame)} rows x {frame.shape[1]} columns against spec '{spec.name}'"]
    log += [("BLOCKING " if a.blocking else "warning ") + a.describe() for a in anomalies]
    if blocking:
        gate = Gate(
            False,
            f"{len(blocking)} blocking anomal{'y' if len(blocking) == 1 else 'ies'}: "
            + "; ".join(a.describe() for a in blocking),
        )
        log.append(f"val check: {gate.reason}")
        return ValidationResult(stats, schema, anomalies, gate, None, log=log)

    index = np.arange(len(clean))
    train_idx, test_idx = train_test_split(index, test_size=test_size, stratify=clean[spec.target], random_state=seed)
    gate = Gate(True, f"no blocking anomalies ({len(anomalies)} warning(s)); split {len(train_idx)}/{len(test_idx)}")
    log.append(f"val check: {gate.reason}")
    return ValidationResult(stats, schema, anomalies, gate, clean, np.sort(train_idx), np.sort(test_idx), log=log)


def find_anomalies(
    frame: pd.DataFrame, *, spec: DataSpec, reference: Schema | None = None, extra_ok: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, list[Anomaly]]:
    """Typed copy of ``frame`` and its anomalies against the spec and ``reference`` (no split).

    Used for training data here and for feedback records; ``extra_ok`` names columns that
    are expected beyond the spec (a feedback file's ``scoring_id``).
    """
    anomalies: list[Anomaly] = []
    frame = frame.reset_index(drop=True)
    clean = frame.copy()
    expected = [*spec.feature_names, spec.target]
    for name in expected:
        if name not in frame.columns:
            anomalies.append(Anomaly("missing_column", name, "required by the spec but absent from the data", True))
    for name in frame.columns:
        if name not in expected and name not in extra_ok:
            anomalies.append(Anomaly("extra_column", str(name), "not in the spec; it is ignored", False))

    for name in spec.numeric:
        if name in frame.columns:
            clean[name] = _check_numeric(frame[name], name, anomalies)
            _check_valid_range(clean[name], spec, name, anomalies)
    for name in spec.categorical:
        if name in frame.columns:
            clean[name] = frame[name].where(frame[name].isna(), frame[name].astype(str).str.strip())
            _check_categories(clean[name], name, spec.feature(name).categories, reference, anomalies)
    if spec.target in frame.columns:
        clean[spec.target] = frame[spec.target].where(frame[spec.target].isna(), frame[spec.target].astype(str))
        _check_labels(clean[spec.target], spec, anomalies)
    if reference is not None:
        _check_against_reference(clean, spec, reference, anomalies)
    _check_duplicates(frame, anomalies)
    return clean, anomalies


def _examples(mask: pd.Series) -> tuple[int, ...]:
    # Line numbers of the CSV file, as an editor shows them: the header is line 1.
    return tuple(int(i) + 2 for i in mask[mask].index[:MAX_EXAMPLES])


def _check_numeric(col: pd.Series, name: str, anomalies: list[Anomaly]) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        anomalies.append(Anomaly("wrong_type", name, "expected numbers, got true/false values", True, len(col)))
        return col
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        values = sorted({repr(v) for v in col[bad].head(MAX_EXAMPLES)})
        anomalies.append(
            Anomaly(
                "wrong_type",
                name,
                f"expected numbers, found {int(bad.sum())} non-numeric value(s) such as " + ", ".join(values),
                True,
                int(bad.sum()),
                _examples(bad),
            )
        )
    return converted


def _check_valid_range(col: pd.Series, spec: DataSpec, name: str, anomalies: list[Anomaly]) -> None:
    # Blocking: a value the feature cannot take (an age of -5) is a broken record, not a rare applicant.
    feature = spec.feature(name)
    if feature.valid_range is None or not pd.api.types.is_numeric_dtype(col):
        return
    low, high = feature.valid_range
    outside = col.notna() & ((col < low) | (col > high))
    if outside.any():
        values = ", ".join(f"{v:g}" for v in col[outside].head(MAX_EXAMPLES))
        anomalies.append(
            Anomaly(
                "outside_valid_range",
                name,
                f"{int(outside.sum())} value(s) outside the valid range {feature.describe_range()} of spec "
                f"'{spec.name}', such as {values}",
                True,
                int(outside.sum()),
                _examples(outside),
            )
        )


def _check_categories(
    col: pd.Series, name: str, declared: tuple[str, ...], reference: Schema | None, anomalies: list[Anomaly]
) -> None:
    known: tuple[str, ...] = declared
    blocking = bool(declared)
    if not known and reference is not None and (ref := reference.column(name)) is not None:
        known = ref.categories
    if not known:
        return
    unseen = col.notna() & ~col.isin(known)
    if unseen.any():
        values = sorted(col[unseen].astype(str).unique())
        source = "the spec" if blocking else "the reference data"
        anomalies.append(
            Anomaly(
                "unseen_category",
                name,
                f"{int(unseen.sum())} value(s) not among the categories of {source}: "
                + ", ".join(repr(v) for v in values[:MAX_EXAMPLES]),
                blocking,
                int(unseen.sum()),
                _examples(unseen),
            )
        )


def _check_labels(col: pd.Series, spec: DataSpec, anomalies: list[Anomaly]) -> None:
    missing = col.isna()
    if missing.any():
        anomalies.append(
            Anomaly(
                "missing_label",
                spec.target,
                f"{int(missing.sum())} row(s) have no label",
                True,
                int(missing.sum()),
                _examples(missing),
            )
        )
    outside = col.notna() & ~col.isin(spec.labels)
    if outside.any():
        values = sorted(col[outside].astype(str).unique())
        anomalies.append(
            Anomaly(
                "label_outside_spec",
                spec.target,
                f"{int(outside.sum())} label(s) not in {list(spec.labels)}: "
                + ", ".join(repr(v) for v in values[:MAX_EXAMPLES]),
                True,
                int(outside.sum()),
                _examples(outside),
            )
        )


def _check_class_sizes(col: pd.Series, spec: DataSpec, anomalies: list[Anomaly]) -> None:
    counts = col[col.isin(spec.labels)].value_counts()
    for label in spec.labels:
        n = int(counts.get(label, 0))
        if n < MIN_ROWS_PER_CLASS:
            anomalies.append(
                Anomaly(
                    "too_few_rows",
                    spec.target,
                    f"{n} row(s) labelled {label!r}; at least {MIN_ROWS_PER_CLASS} are needed to train and test",
                    True,
                    n,
                )
            )


def _check_against_reference(clean: pd.DataFrame, spec: DataSpec, reference: Schema, anomalies: list[Anomaly]) -> None:
    limit = spec.thresholds.max_null_rate_increase
    for ref in reference.columns:
        if ref.name not in clean.columns:
            continue
        col = clean[ref.name]
        null_rate = float(col.isna().mean())
        if null_rate > ref.null_rate + limit:
            anomalies.append(
                Anomaly(
                    "null_rate_jump",
                    ref.name,
                    f"null rate {null_rate:.1%} against {ref.null_rate:.1%} in the reference data",
                    False,
                    int(col.isna().sum()),
                    _examples(col.isna()),
                )
            )
        if ref.kind == "numeric" and ref.min is not None and ref.max is not None and pd.api.types.is_numeric_dtype(col):
            outside = (col < ref.min) | (col > ref.max)
            if outside.any():
                anomalies.append(
                    Anomaly(
                        "out_of_range",
                        ref.name,
                        f"{int(outside.sum())} value(s) outside the reference range [{ref.min:g}, {ref.max:g}]",
                        False,
                        int(outside.sum()),
                        _examples(outside),
                    )
                )


def _check_duplicates(frame: pd.DataFrame, anomalies: list[Anomaly]) -> None:
    dup = frame.duplicated()
    if dup.any():
        anomalies.append(
            Anomaly(
                "duplicates",
                None,
                f"{int(dup.sum())} row(s) repeat an earlier row exactly",
                False,
                int(dup.sum()),
                _examples(dup),
            )
        )
