"""Group masks and counts: a spec's monitored/reference groups, and the groups the bias scan walks.

The scan never builds a mask per group: categories are counted on their codes with
``np.bincount``, and numeric groups (quantile bands and one-sided tails) are index ranges
of the sorted column, counted with ``searchsorted`` on a cumulative sum. Two numeric
groups hold the same records exactly when their index ranges are equal, which is how a
band that equals a tail is recognised.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import cast

import numpy as np
import pandas as pd

from pipeline_core.data.spec import GroupSpec


def group_mask(column: pd.Series, group: GroupSpec) -> np.ndarray:
    """Records in ``group``: one of its categories, or inside its closed numeric range."""
    if group.range is not None:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        return (values >= group.range[0]) & (values <= group.range[1])
    if isinstance(column.dtype, pd.CategoricalDtype):
        inside = np.array([str(c) in group.values for c in column.cat.categories], dtype=bool)
        codes = column.cat.codes.to_numpy()
        return (codes >= 0) & inside[np.maximum(codes, 0)] if inside.size else np.zeros(len(column), dtype=bool)
    return column.astype(str).isin(group.values).to_numpy()


# The scan reads columns by name: a frame, or the frame's columns with its categories coded once.
Columns = Mapping[str, pd.Series] | pd.DataFrame


def as_categories(column: pd.Series) -> pd.Series:
    """A categorical column as pandas categories of its values' text (missing: no category), coded once."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column
    codes, uniques = pd.factorize(column)
    labels = [str(u) for u in uniques]
    if len(set(labels)) < len(labels):  # 1 and "1" read alike: categories of the text, the slow way
        return column.astype(str).where(column.notna()).astype("category")
    # from_codes takes the codes' array as is (the stubs ask for a sequence): no copy of a million ints.
    coded = pd.Categorical.from_codes(cast("Sequence[int]", codes), categories=pd.Index(labels))
    return pd.Series(coded, index=column.index, name=column.name)


@dataclass(frozen=True)
class GroupCount:
    """How many records a scanned group holds, and how many of them got the favourable outcome."""

    feature: str
    description: str
    records: int
    favourable: float
    key: tuple[object, ...]  # equal keys: the same records


def _category_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), [str(c) for c in column.cat.categories]
    codes, uniques = pd.factorize(column.astype(str).where(column.notna()))
    return codes, [str(u) for u in uniques]


def scan_counts(
    current: Columns,
    reference: pd.DataFrame,
    favourable: np.ndarray,
    *,
    categorical: list[str],
    numeric: list[str],
    bands: int,
) -> Iterator[GroupCount]:
    """Every category of every categorical feature; for numbers, the one-sided tails at each inner
    quantile edge of the reference (``Age > 44``, which isolate a skew at one end), then the bands."""
    weights = favourable.astype(float)
    for name in categorical:
        codes, labels = _category_codes(current[name])
        valid = codes >= 0
        n = np.bincount(codes[valid], minlength=len(labels))
        fav = np.bincount(codes[valid], weights=weights[valid], minlength=len(labels))
        for k in sorted(range(len(labels)), key=lambda i: labels[i]):
            if n[k]:
                yield GroupCount(name, f"{name} = {labels[k]}", int(n[k]), float(fav[k]), (name, "=", labels[k]))
    quantiles = np.linspace(0.0, 1.0, bands + 1)
    for name in numeric:
        values = pd.to_numeric(current[name], errors="coerce").to_numpy(dtype=float)
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        finite = int(np.count_nonzero(~np.isnan(ordered)))
        cumulative = np.concatenate([[0.0], np.cumsum(weights[order])])

        def upto(x: float, ordered: np.ndarray = ordered, finite: int = finite) -> int:
            return min(int(np.searchsorted(ordered, x, side="right")), finite)

        def count(name: str, text: str, lo: int, hi: int, cumulative: np.ndarray = cumulative) -> GroupCount:
            return GroupCount(name, text, hi - lo, float(cumulative[hi] - cumulative[lo]), (name, lo, hi))

        edges = np.unique(np.quantile(pd.to_numeric(reference[name], errors="coerce").dropna(), quantiles))
        # Tails first: where a band and a tail hold the same records, the tail reads better.
        for edge in edges[1:-1]:
            yield count(name, f"{name} > {edge:g}", upto(edge), finite)
            yield count(name, f"{name} <= {edge:g}", 0, upto(edge))
        for lo, hi in pairwise(edges):
            yield count(name, f"{lo:g} < {name} <= {hi:g}", upto(lo), upto(hi))


@dataclass(frozen=True)
class Partition:
    """One feature's records split into disjoint groups: ``codes[i]`` is record i's group (-1: in none)."""

    feature: str
    codes: np.ndarray
    labels: tuple[str, ...]

    @cached_property
    def slots(self) -> np.ndarray:
        """The codes shifted by one, 0 for "in no group": an index that needs no mask."""
        dtype = np.int32 if len(self.labels) < 2**15 else np.int64
        return (self.codes + 1).astype(dtype)

    @cached_property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.slots, minlength=len(self.labels) + 1)[1:]


def _configured_label(name: str, group: GroupSpec) -> str:
    if group.range is not None:
        return f"{group.range[0]:g} <= {name} <= {group.range[1]:g}"
    return f"{name} = {group.describe()}" if len(group.values) == 1 else f"{name} in {{{group.describe()}}}"


def configured_partition(column: pd.Series, name: str, monitored: GroupSpec, reference: GroupSpec) -> Partition:
    """A protected attribute's monitored group (0) and reference group (1), as the spec configures them."""
    codes = np.full(len(column), -1, dtype=np.int64)
    codes[group_mask(column, reference)] = 1
    codes[group_mask(column, monitored)] = 0
    return Partition(name, codes, (_configured_label(name, monitored), _configured_label(name, reference)))


def scan_partition(current: Columns, reference: pd.DataFrame, name: str, *, numeric: bool, bands: int) -> Partition:
    """A feature's categories, or its quantile bands on the reference (the scan's bands, ``lo < x <= hi``)."""
    if not numeric:
        codes, labels = _category_codes(current[name])
        return Partition(name, np.asarray(codes, dtype=np.int64), tuple(f"{name} = {label}" for label in labels))
    values = pd.to_numeric(current[name], errors="coerce").to_numpy(dtype=float)
    edges = np.unique(
        np.quantile(pd.to_numeric(reference[name], errors="coerce").dropna(), np.linspace(0.0, 1.0, bands + 1))
    )
    codes = np.searchsorted(edges, values, side="left") - 1
    # Outside the reference's range (or missing) a record is in no band, as the scan's bands count it.
    codes[(codes < 0) | (codes >= len(edges) - 1) | np.isnan(values)] = -1
    bands_text = tuple(f"{lo:g} < {name} <= {hi:g}" for lo, hi in pairwise(edges))
    return Partition(name, codes.astype(np.int64), bands_text)


@dataclass(frozen=True)
class CrossCount:
    """Every pair of one group of ``first`` and one of ``second``: records and favourable outcomes per pair."""

    first: Partition
    second: Partition
    records: np.ndarray  # (groups of first, groups of second)
    favourable: np.ndarray
    redundant: np.ndarray  # the pair holds exactly the records of one of its two groups


def cross_count(first: Partition, second: Partition, favourable: np.ndarray) -> CrossCount:
    """The two partitions crossed with one ``bincount`` over combined codes (no mask, no copy per pair)."""
    ka, kb = len(first.labels) + 1, len(second.labels) + 1
    # Each record's (first slot, second slot, favourable) as one index: records and favourable outcomes at once.
    key = (first.slots.astype(np.int64) * kb + second.slots) * 2 + favourable
    counts = np.bincount(key, minlength=ka * kb * 2).reshape(ka, kb, 2)[1:, 1:]
    records = counts.sum(axis=-1)
    redundant = (records == first.sizes[:, None]) | (records == second.sizes[None, :])
    return CrossCount(first, second, records, counts[..., 1].astype(float), redundant)
