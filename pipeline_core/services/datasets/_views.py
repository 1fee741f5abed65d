"""What the datasets area hands out: ``DatasetInfo``, a registered dataset's facts (never the ORM row)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline_core.store.models import Dataset


@dataclass(frozen=True)
class DatasetInfo:
    """A registered table: its name, content hash, spec (as registered), schema and size."""

    id: int
    name: str
    sha256: str
    spec_name: str
    spec: Mapping[str, Any]
    schema: Mapping[str, Any]
    n_rows: int
    n_columns: int
    source: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, row: Dataset) -> DatasetInfo:
        return cls(
            row.id,
            row.name,
            row.sha256,
            row.spec_name,
            dict(row.spec),
            dict(row.schema),
            row.n_rows,
            row.n_columns,
            row.source,
            row.created_by,
            row.created_at,
        )
