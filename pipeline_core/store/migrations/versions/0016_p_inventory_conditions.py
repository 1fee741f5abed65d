"""the model inventory (owner, business use, materiality tier), conditions of approval, approval kind and expiry

Revision ID: 0016_p
Revises: 0015_C
Create Date: 2026-12-02

``models`` holds one row per model name: who owns it, what it is for, its tier and why.
``approval_conditions`` holds the conditions an approval (or a revalidation) carries. ``approvals``
gains ``kind`` ('approval' or 'revalidation'; existing rows are approvals) and ``expires_at``
(None on rows from before: they never expire, as nobody set a revalidation interval for them).
Going down drops what this revision added; the conditions and tiers are lost with it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_p"
down_revision: str | Sequence[str] | None = "0015_C"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("spec_name", sa.String(128), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("business_use", sa.Text, nullable=True),
        sa.Column("tier", sa.Integer, nullable=True),
        sa.Column("tier_reason", sa.Text, nullable=True),
        sa.Column("tier_set_by", sa.String(128), nullable=True),
        sa.Column("tier_set_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("tier IS NULL OR tier IN (1, 2, 3)", name="ck_models_tier"),
    )
    op.create_table(
        "approval_conditions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("approval_id", sa.Integer, sa.ForeignKey("approvals.id"), nullable=False, index=True),
        sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False, index=True),
        sa.Column("model_name", sa.String(128), nullable=False, index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("finding_id", sa.Integer, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("met_by", sa.String(128), nullable=True),
        sa.Column("met_at", sa.DateTime, nullable=True),
        sa.Column("met_note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("state IN ('open', 'met')", name="ck_approval_conditions_state"),
    )
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="approval"))
        batch.add_column(sa.Column("expires_at", sa.DateTime, nullable=True))
        batch.create_check_constraint("ck_approvals_kind", "kind IN ('approval', 'revalidation')")


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_constraint("ck_approvals_kind", type_="check")
        batch.drop_column("expires_at")
        batch.drop_column("kind")
    op.drop_table("approval_conditions")
    op.drop_table("models")
