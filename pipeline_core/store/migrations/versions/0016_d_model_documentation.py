"""model documentation: one append-only row per section revision

Revision ID: 0016_d
Revises: 0016_p
Create Date: 2026-12-02

A data scientist's documentation of a model, section by section; each write is a new row, never an
edit, so what a version's validator read can always be shown again. Triggers refuse UPDATE and
DELETE, as 0003's do for the audit log. The section words are written out, as migrations are history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_d"
down_revision: str | Sequence[str] | None = "0016_p"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECTIONS = (
    "purpose",
    "intended_users",
    "out_of_scope",
    "data",
    "features",
    "assumptions",
    "limitations",
    "oversight",
)
MESSAGE = "model documentation is append-only"


def upgrade() -> None:
    op.create_table(
        "model_documentation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("section", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("written_by", sa.String(length=128), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(
            f"section IN ({', '.join(repr(s) for s in SECTIONS)})", name="ck_model_documentation_section"
        ),
    )
    op.create_index("ix_model_documentation_model_name_section", "model_documentation", ["model_name", "section"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER model_documentation_no_{event.lower()} BEFORE {event} ON model_documentation "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION model_documentation_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER model_documentation_no_change BEFORE UPDATE OR DELETE ON model_documentation "
            "FOR EACH ROW EXECUTE FUNCTION model_documentation_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS model_documentation_no_update")
        op.execute("DROP TRIGGER IF EXISTS model_documentation_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS model_documentation_no_change ON model_documentation")
        op.execute("DROP FUNCTION IF EXISTS model_documentation_append_only()")
    op.drop_index("ix_model_documentation_model_name_section", table_name="model_documentation")
    op.drop_table("model_documentation")
