"""shadow: candidate model versions scoring production traffic in the shadow, and what they said

Revision ID: 0017_s
Revises: 0017_a
Create Date: 2026-12-02

Two new tables. ``shadow_assignments``: which candidate shadows which production deployment, who
started and stopped it and why; a partial unique index keeps one active shadow per deployment.
``shadow_chunks``: the shadow's predictions, columnar, keyed by the production scoring ids.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_s"
down_revision: str | Sequence[str] | None = "0017_a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shadow_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("production_deployment_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("started_by", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("start_reason", sa.Text(), nullable=False),
        sa.Column("stopped_by", sa.String(length=128), nullable=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["production_deployment_id"], ["deployments.id"]),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shadow_assignments_model_version_id", "shadow_assignments", ["model_version_id"])
    op.create_index(
        "uq_shadow_assignments_active",
        "shadow_assignments",
        ["production_deployment_id"],
        unique=True,
        sqlite_where=sa.text("stopped_at IS NULL"),
        postgresql_where=sa.text("stopped_at IS NULL"),
    )
    op.create_table(
        "shadow_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shadow_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("n_records", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["shadow_id"], ["shadow_assignments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shadow_chunks_shadow_id_id", "shadow_chunks", ["shadow_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_shadow_chunks_shadow_id_id", table_name="shadow_chunks")
    op.drop_table("shadow_chunks")
    op.drop_index("uq_shadow_assignments_active", table_name="shadow_assignments")
    op.drop_index("ix_shadow_assignments_model_version_id", table_name="shadow_assignments")
    op.drop_table("shadow_assignments")
