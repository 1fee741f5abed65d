"""alerts counted per deployment and check, and their notifications' deliveries

Revision ID: 0017_a
Revises: 0017_c
Create Date: 2026-12-02

- ``alerts.occurrences`` / ``last_seen_at`` / ``last_evaluation_id`` / ``last_value``: a failing check
  whose (deployment, monitor, metric) has an alert that is not resolved counts on it rather than opening
  another. Existing alerts were each seen once, when raised.
- ``alert_deliveries``: each notification of an alert (raised, resolved) to each configured channel
  (email, webhook), with its message, attempts, last error, next attempt and delivery time.

The words of the CHECK constraints are written out, as migrations are history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_a"
down_revision: str | Sequence[str] | None = "0017_c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORDS = {
    "notice": ("raised", "resolved"),
    "channel": ("email", "webhook"),
    "status": ("pending", "delivered", "failed"),
}


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_evaluation_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_value", sa.Float(), nullable=True))
        batch.create_foreign_key("fk_alerts_last_evaluation_id", "evaluations", ["last_evaluation_id"], ["id"])
        batch.create_index("ix_alerts_deployment_id_monitor_metric", ["deployment_id", "monitor", "metric"])
    op.execute("UPDATE alerts SET last_seen_at = created_at, last_evaluation_id = evaluation_id, last_value = value")
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("notice", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("id"),
        *(
            sa.CheckConstraint(
                f"{column} IN ({', '.join(repr(w) for w in words)})", name=f"ck_alert_deliveries_{column}"
            )
            for column, words in _WORDS.items()
        ),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_index("ix_alert_deliveries_status_next_attempt_at", "alert_deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_status_next_attempt_at", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_alert_id", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_deployment_id_monitor_metric")
        batch.drop_constraint("fk_alerts_last_evaluation_id", type_="foreignkey")
        batch.drop_column("last_value")
        batch.drop_column("last_evaluation_id")
        batch.drop_column("last_seen_at")
        batch.drop_column("occurrences")
