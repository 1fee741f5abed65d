"""columnar payload chunks, alerts, retraining requests, evaluation authors

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Payload moves from one JSON request/response pair per request to columnar chunks
(Arrow IPC) so an evaluation reads a million records cheaply. Requests logged before
keep their JSON and are copied into chunks here, so no scored record is lost.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payload_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("n_records", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_payload_chunks_deployment_id_last_at", "payload_chunks", ["deployment_id", "last_at"])
    with op.batch_alter_table("payload_batches") as batch:
        batch.add_column(sa.Column("chunk_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("chunk_offset", sa.Integer(), nullable=True))
        batch.alter_column("request", existing_type=sa.Text(), nullable=True)
        batch.alter_column("response", existing_type=sa.Text(), nullable=True)
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("created_by", sa.String(length=128), nullable=True))
        batch.create_index("ix_evaluations_deployment_id_created_at", ["deployment_id", "created_at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), sa.ForeignKey("evaluations.id"), nullable=False),
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployments.id"), nullable=True),
        sa.Column("model_version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("monitor", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_evaluation_id", "alerts", ["evaluation_id"])
    op.create_table(
        "retraining_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("model_version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), sa.ForeignKey("evaluations.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("drifted_records", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("launched_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_retraining_requests_deployment_id", "retraining_requests", ["deployment_id"])
    _copy_json_payload_into_chunks()


def _copy_json_payload_into_chunks() -> None:
    """One chunk per request logged as JSON; the same columns the payload logger writes."""
    # Every process loads the migration scripts to learn the schema's head: pandas and pyarrow only when run.
    import pandas as pd
    import pyarrow as pa

    bind = op.get_bind()
    # Typed columns, so timestamps come back as datetimes on every engine.
    batches = sa.table(
        "payload_batches",
        sa.column("id", sa.Integer),
        sa.column("request_id", sa.String),
        sa.column("deployment_id", sa.Integer),
        sa.column("model_version_id", sa.Integer),
        sa.column("created_at", sa.DateTime),
        sa.column("request", sa.Text),
        sa.column("response", sa.Text),
        sa.column("chunk_id", sa.Integer),
    )
    rows = bind.execute(
        sa.select(batches).where(batches.c.chunk_id.is_(None), batches.c.request.is_not(None)).order_by(batches.c.id)
    ).all()
    chunks = sa.table(
        "payload_chunks",
        sa.column("id", sa.Integer),
        sa.column("deployment_id", sa.Integer),
        sa.column("model_version_id", sa.Integer),
        sa.column("first_at", sa.DateTime),
        sa.column("last_at", sa.DateTime),
        sa.column("n_records", sa.Integer),
        sa.column("data", sa.LargeBinary),
    )
    positive_index: dict[int, int] = {}
    for mv_id, spec_json in bind.execute(
        sa.text("SELECT m.id, d.spec FROM model_versions m JOIN datasets d ON d.id = m.dataset_id")
    ).all():
        spec = json.loads(spec_json) if isinstance(spec_json, str) else spec_json
        unfavourable = next(label for label in spec["labels"] if label != spec["favourable_label"])
        positive_index[mv_id] = sorted(spec["labels"]).index(unfavourable)
    for row in rows:
        block = json.loads(row.request)["input_data"][0]
        response = json.loads(row.response)
        frame = pd.DataFrame(block["values"], columns=block["fields"])
        values: list[Any] = response["predictions"][0]["values"]
        frame["prediction"] = [label for label, _ in values]
        # Old rows kept every class probability in the model's class order, which scikit-learn
        # sorts; the logger now keeps the probability of the spec's positive (unfavourable) label.
        positive = positive_index[row.model_version_id]
        frame["probability"] = [float(p[positive]) for _, p in values]
        frame["scoring_id"] = [f"{row.request_id}-{i}" for i in range(len(frame))]
        unseen = [0] * len(frame)
        for warning in response.get("warnings", []):
            unseen[int(warning["record"])] += 1
        frame["unseen"] = unseen
        table = pa.Table.from_pandas(frame, preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as writer:
            writer.write_table(table)
        chunk_id = bind.execute(
            chunks.insert().returning(chunks.c.id),
            {
                "deployment_id": row.deployment_id,
                "model_version_id": row.model_version_id,
                "first_at": row.created_at,
                "last_at": row.created_at,
                "n_records": len(frame),
                "data": sink.getvalue().to_pybytes(),
            },
        ).scalar_one()
        bind.execute(
            sa.text("UPDATE payload_batches SET chunk_id = :c, chunk_offset = 0 WHERE id = :i"),
            {"c": chunk_id, "i": row.id},
        )


def downgrade() -> None:
    op.drop_index("ix_retraining_requests_deployment_id", table_name="retraining_requests")
    op.drop_table("retraining_requests")
    op.drop_index("ix_alerts_evaluation_id", table_name="alerts")
    op.drop_table("alerts")
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_index("ix_evaluations_deployment_id_created_at")
        batch.drop_column("created_by")
    with op.batch_alter_table("payload_batches") as batch:
        batch.drop_column("chunk_offset")
        batch.drop_column("chunk_id")
    op.drop_index("ix_payload_chunks_deployment_id_last_at", table_name="payload_chunks")
    op.drop_table("payload_chunks")
