"""Datasets: register a table (bytes into the artifact store, facts into the metadata store)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from pipeline_core.backends.factory import make_s3_client
from pipeline_core.backends.s3 import read_object
from pipeline_core.data.german_credit import german_credit_spec
from pipeline_core.data.load import LoadedTable, parse_csv_bytes, read_csv_file
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DataError
from pipeline_core.services import audit
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import _thresholds
from pipeline_core.services.datasets._views import DatasetInfo
from pipeline_core.stages.validate import infer_schema
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Dataset

BUILTIN_SPECS = {"german_credit": german_credit_spec}


def builtin_spec(name: str) -> DataSpec:
    try:
        return BUILTIN_SPECS[name]()
    except KeyError as exc:
        raise DataError(f"no built-in spec named {name!r}; built-in specs: {sorted(BUILTIN_SPECS)}") from exc


def register_dataset(
    ctx: ServiceContext, actor: Principal, table: LoadedTable, *, spec: DataSpec, source: str | None = None
) -> DatasetInfo:
    """Store ``table``'s bytes and facts; the same bytes under the same spec are stored once."""
    require(ctx, actor, "register_dataset")
    with ctx.db.read() as session:
        existing = session.execute(
            select(Dataset).where(Dataset.sha256 == table.sha256, Dataset.spec_name == spec.name)
        ).scalar_one_or_none()
        if existing is not None:
            return DatasetInfo.of(existing)
    stored = ctx.artifacts.put(table.raw)
    if stored != table.sha256:
        raise DataError(f"table {table.name!r}: sha256 {table.sha256} does not match its bytes ({stored})")
    try:
        return _insert(ctx, table, spec=_thresholds.in_force(ctx, actor, spec), actor=actor.username, source=source)
    except SQLIntegrityError:
        # Another process registered the same bytes between our read and our write.
        with ctx.db.read() as session:
            return DatasetInfo.of(
                session.execute(
                    select(Dataset).where(Dataset.sha256 == table.sha256, Dataset.spec_name == spec.name)
                ).scalar_one()
            )


def _insert(ctx: ServiceContext, table: LoadedTable, *, spec: DataSpec, actor: str, source: str | None) -> DatasetInfo:
    with ctx.db.write() as session:
        dataset = Dataset(
            name=Path(table.name).name,
            sha256=table.sha256,
            spec_name=spec.name,
            spec=spec.to_dict(),
            schema=infer_schema(table.frame, spec).to_dict(),
            n_rows=len(table.frame),
            n_columns=table.frame.shape[1],
            source=source or table.name,
            created_by=actor,
            created_at=utcnow(),
        )
        session.add(dataset)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="dataset.registered",
            object_type="dataset",
            object_id=dataset.id,
            details={"sha256": table.sha256, "rows": len(table.frame), "source": dataset.source},
        )
        return DatasetInfo.of(dataset)


def register_file(ctx: ServiceContext, actor: Principal, path: str | Path, *, spec: DataSpec) -> DatasetInfo:
    """Register a CSV from a bucket object named ``s3://bucket/key`` (S3 / COS), or from a path on this
    machine inside one of the allowed data folders (setting ``data_roots``; a relative path is from the first).

    Any other path is refused with one message that names the allowed folders and says nothing of the
    path itself: whoever launches runs must not read, nor probe for, the server's other files.
    """
    require(ctx, actor, "register_dataset")
    if str(path).startswith("s3://"):
        uri = str(path)
        data = read_object(make_s3_client(ctx.settings), uri)
        return register_dataset(ctx, actor, parse_csv_bytes(data, name=uri), spec=spec, source=uri)
    table = read_csv_file(path, roots=ctx.settings.data_roots)
    return register_dataset(ctx, actor, table, spec=spec, source=table.name)


def load_frame(ctx: ServiceContext, actor: Principal, dataset: Dataset | DatasetInfo) -> pd.DataFrame:
    """The dataset's table, parsed from the verified bytes in the artifact store."""
    require(ctx, actor, "view")
    return parse_csv_bytes(ctx.artifacts.get(dataset.sha256), name=dataset.name).frame
