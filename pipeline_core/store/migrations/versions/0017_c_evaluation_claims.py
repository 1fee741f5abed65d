"""evaluation claims: one scheduled evaluation per deployment and due time, however many workers

Revision ID: 0017_c
Revises: 0016_f
Create Date: 2026-12-02

One new table; a claim is unique per (deployment, the newest evaluation it fell due after).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_c"
down_revision: str | Sequence[str] | None = "0016_f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("after_evaluation_id", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=160), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("evaluation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"]),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("deployment_id", "after_evaluation_id", name="uq_evaluation_claims_due"),
    )


def downgrade() -> None:
    op.drop_table("evaluation_claims")
