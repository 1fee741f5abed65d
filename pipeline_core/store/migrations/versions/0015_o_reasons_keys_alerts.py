"""reasons for rollbacks and alerts, API keys a person can tell apart and revoke, resolved alerts

Revision ID: 0015_o
Revises: 0014
Create Date: 2026-12-02

- ``deployment_revisions.comment``: why a person rolled prod back, in their words (at least a
  sentence, ``services.reasons``). Revisions opened by a deploy or an approval have none.
- ``deployment_keys.prefix``: the token's first characters, to tell keys apart in a list; keys
  issued before have none (their token was never stored). ``deployment_keys.revoked_by``: who.
- ``alerts.acknowledged_at`` / ``acknowledge_comment``: when and why it was acknowledged;
  ``alerts.resolved_by`` / ``resolved_at`` / ``resolve_comment``: how it ended.
- ``alerts.status`` takes ``resolved``.

The words are written out as they are at this revision (a migration is history). On SQLite the
constraint change rebuilds ``alerts`` (batch mode) with foreign keys off, as ``Database.migrate`` runs it.
Going down refuses while resolved alerts exist, naming them: the older schema cannot hold them, and
turning them back into acknowledged ones would say something nobody said.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from pipeline_core.errors import StoreError

revision: str = "0015_o"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ALERT_BEFORE = ("open", "acknowledged")
_ALERT = (*_ALERT_BEFORE, "resolved")
_ALERT_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("acknowledged_at", sa.DateTime()),
    ("acknowledge_comment", sa.Text()),
    ("resolved_by", sa.String(128)),
    ("resolved_at", sa.DateTime()),
    ("resolve_comment", sa.Text()),
)


def _in(column: str, words: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(w) for w in words)})"


def upgrade() -> None:
    with op.batch_alter_table("deployment_revisions") as batch:
        batch.add_column(sa.Column("comment", sa.Text(), nullable=True))
    with op.batch_alter_table("deployment_keys") as batch:
        batch.add_column(sa.Column("prefix", sa.String(16), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(128), nullable=True))
    with op.batch_alter_table("alerts") as batch:
        for name, type_ in _ALERT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
        batch.drop_constraint("ck_alerts_status", type_="check")
        batch.create_check_constraint("ck_alerts_status", _in("status", _ALERT))


def downgrade() -> None:
    bind = op.get_bind()
    resolved = [str(i) for i in bind.execute(sa.text("SELECT id FROM alerts WHERE status = 'resolved'")).scalars()]
    if resolved:
        raise StoreError(
            f"alerts {', '.join(resolved)} are resolved; the schema before 0015_o cannot hold them. "
            "Keep this revision, or export and delete them, then migrate down again"
        )
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("ck_alerts_status", type_="check")
        batch.create_check_constraint("ck_alerts_status", _in("status", _ALERT_BEFORE))
        for name, _ in reversed(_ALERT_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("deployment_keys") as batch:
        batch.drop_column("revoked_by")
        batch.drop_column("prefix")
    with op.batch_alter_table("deployment_revisions") as batch:
        batch.drop_column("comment")
