"""domain events and their deliveries to the external services (the integrations' outbox)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28

``domain_events`` holds what the product decided or measured that an external service must
learn of (a candidate's pre-prod evaluation, a validator's decision), written in the transaction
of the change and its audit event. ``event_deliveries`` holds one row per event and sink
(OpenScale, AI Factsheets): its status, attempts, last error and when it may be tried again.

As in 0008, the words of the vocabulary columns are written out as they were when this revision
was made, and named CHECK constraints make the database refuse any other; a new event kind, sink
or delivery status needs a new revision. Both tables are new: no SQLite table is rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("candidate_evaluated", "decision_recorded")
SINKS = ("openscale", "factsheets")
STATUSES = ("pending", "delivered", "failed")


def _in(column: str, words: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(w) for w in words)})"


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(_in("kind", KINDS), name="ck_domain_events_kind"),
    )
    op.create_index("ix_domain_events_model_version_id", "domain_events", ["model_version_id"])
    op.create_table(
        "event_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("sink", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["domain_events.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "sink", name="uq_event_deliveries_event_id_sink"),
        sa.CheckConstraint(_in("sink", SINKS), name="ck_event_deliveries_sink"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_event_deliveries_status"),
    )
    # The dispatcher's question: which pending deliveries are due?
    op.create_index("ix_event_deliveries_status_next_attempt_at", "event_deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_event_deliveries_status_next_attempt_at", table_name="event_deliveries")
    op.drop_table("event_deliveries")
    op.drop_index("ix_domain_events_model_version_id", table_name="domain_events")
    op.drop_table("domain_events")
