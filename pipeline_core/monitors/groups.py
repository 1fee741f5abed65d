"""Group masks: a spec's monitored/reference groups, and the bands the bias scan walks."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from pipeline_core.data.spec import GroupSpec


def group_mask(column: pd.Series, group: GroupSpec) -> np.ndarray:
    """Records in ``group``: one of its categories, or inside its closed numeric range."""
    if group.range is not None:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        return (values >= group.range[0]) & (values <= group.range[1])
    return column.astype(str).isin(group.values).to_numpy()


@dataclass(frozen=True)
class ScanGroup:
    feature: str
    description: str
    mask: np.ndarray


def scan_groups(current: pd.DataFrame, reference: pd.DataFrame, *, categorical: list[str], numeric: list[str],
                bands: int) -> list[ScanGroup]:  # fmt: skip
    """Every category of every categorical feature; for numbers, quantile bands of the reference
    data and the one-sided tails at each inner edge (``Age > 44``), which isolate a skew at one end."""
    groups: list[ScanGroup] = []
    for name in categorical:
        column = current[name].astype(str)
        for value in sorted(column.unique()):
            groups.append(ScanGroup(name, f"{name} = {value}", (column == value).to_numpy()))
    quantiles = np.linspace(0.0, 1.0, bands + 1)
    for name in numeric:
        values = pd.to_numeric(current[name], errors="coerce").to_numpy(dtype=float)
        edges = np.unique(np.quantile(pd.to_numeric(reference[name], errors="coerce").dropna(), quantiles))
        # Tails first: where a band and a tail hold the same records, the tail reads better.
        for edge in edges[1:-1]:
            groups.append(ScanGroup(name, f"{name} > {edge:g}", values > edge))
            groups.append(ScanGroup(name, f"{name} <= {edge:g}", values <= edge))
        for lo, hi in pairwise(edges):
            groups.append(ScanGroup(name, f"{lo:g} < {name} <= {hi:g}", (values > lo) & (values <= hi)))
    return groups
