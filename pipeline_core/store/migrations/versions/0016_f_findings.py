"""findings: a validator's findings on a model, with owners, due dates and their states

Revision ID: 0016_f
Revises: 0016_d
Create Date: 2026-12-02

One new table; its history is the audit log's ``finding`` events. The words of its CHECK
constraints are written out, as migrations are history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_f"
down_revision: str | Sequence[str] | None = "0016_d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORDS = {
    "severity": ("high", "medium", "low"),
    "state": ("open", "remediation_proposed", "closed", "risk_accepted"),
    "evidence_kind": ("check", "model_test", "report_section", "free"),
}


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("raised_on_model_version_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("evidence_kind", sa.String(length=16), nullable=False),
        sa.Column("evidence_ref", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("raised_by", sa.String(length=128), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("remediation_note", sa.Text(), nullable=True),
        sa.Column("remediation_by", sa.String(length=128), nullable=True),
        sa.Column("remediation_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_on_model_version_id", sa.Integer(), nullable=True),
        sa.Column("verification", sa.Text(), nullable=True),
        sa.Column("accepted_by", sa.String(length=128), nullable=True),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("accepted_reason", sa.Text(), nullable=True),
        sa.Column("accepted_expires_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["raised_on_model_version_id"], ["model_versions.id"]),
        sa.ForeignKeyConstraint(["closed_on_model_version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        *(
            sa.CheckConstraint(f"{column} IN ({', '.join(repr(w) for w in words)})", name=f"ck_findings_{column}")
            for column, words in _WORDS.items()
        ),
    )
    op.create_index("ix_findings_model_name_state", "findings", ["model_name", "state"])


def downgrade() -> None:
    op.drop_index("ix_findings_model_name_state", table_name="findings")
    op.drop_table("findings")
