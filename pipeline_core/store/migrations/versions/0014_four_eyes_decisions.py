"""four-eyes decisions: an approval awaiting countersign, bound to what was seen, idempotent per form

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

- ``model_versions.state`` takes ``awaiting_countersign``: an approval that overrides a failed or
  unjudged critical check waits for a second validator before the version may reach production.
- ``approvals.outcome`` takes ``pending``: that first signature, until it is countersigned
  (``approved``) or the candidate is rejected.
- ``approvals.request_id``: the decision form's id, unique. Submitting one form twice (a double
  click) finds the first decision instead of making another.
- ``approvals.overridden``: the critical checks the override lifts, each named.
- ``approvals.seen``: the evidence on the validator's screen when they decided (evaluation and model
  test run ids), which the service compared with the candidate's current evidence.
- ``approvals.countersigned_by`` / ``countersigned_at`` / ``countersign_comment``: the second
  signature.

The words are written out as they are at this revision (a migration is history). On SQLite the
constraint change rebuilds the tables (batch mode) with foreign keys off, as ``Database.migrate`` runs it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pipeline_core.errors import StoreError

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MODEL_BEFORE = ("trained", "in_preprod", "awaiting_review", "approved", "rejected", "in_production", "retired")
_MODEL = (*_MODEL_BEFORE, "awaiting_countersign")
_OUTCOME_BEFORE = ("approved", "rejected")
_OUTCOME = (*_OUTCOME_BEFORE, "pending")


def _in(column: str, words: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(w) for w in words)})"


def _recheck(table: str, column: str, words: tuple[str, ...]) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"ck_{table}_{column}", type_="check")
        batch.create_check_constraint(f"ck_{table}_{column}", _in(column, words))


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("overridden", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("seen", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("countersigned_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("countersigned_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("countersign_comment", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_approvals_request_id", ["request_id"])
    _recheck("approvals", "outcome", _OUTCOME)
    _recheck("model_versions", "state", _MODEL)


def downgrade() -> None:
    bind = op.get_bind()
    pending = [str(i) for i in bind.execute(sa.text("SELECT id FROM approvals WHERE outcome = 'pending'")).scalars()]
    if pending:
        raise StoreError(
            f"approvals {', '.join(pending)} await countersign; the schema before 0014 cannot hold them. "
            "Countersign or reject them, then migrate down again"
        )
    _recheck("model_versions", "state", _MODEL_BEFORE)
    _recheck("approvals", "outcome", _OUTCOME_BEFORE)
    with op.batch_alter_table("approvals") as batch:
        batch.drop_constraint("uq_approvals_request_id", type_="unique")
        for column in ("countersign_comment", "countersigned_at", "countersigned_by", "seen", "overridden"):
            batch.drop_column(column)
        batch.drop_column("request_id")
