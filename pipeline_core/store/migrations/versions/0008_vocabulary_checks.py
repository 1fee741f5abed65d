"""vocabulary columns refuse any word outside pipeline_core.vocabulary

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

Every column that holds a word of the product's vocabulary (run and stage states, model
version states, spaces, deployment statuses, revision reasons, roles, outcomes, evaluation
and model test verdicts, alert and retraining request statuses) gets a named CHECK
constraint, so the database itself refuses a misspelt or unknown state whoever writes it.
The two verdict columns widen from 8 to 16 characters so that every verdict word fits.

The words are written out here, as they were when this revision was made: a migration is
history and must not change when the vocabulary grows (a new word needs a new revision,
and ``tests/store/test_vocabulary_migration.py`` says so). On SQLite, adding a constraint
rebuilds the table (batch mode), which needs foreign keys off: ``Database.migrate`` turns
them off and checks them before it commits.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pipeline_core.errors import StoreError

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN = ("queued", "running", "succeeded", "failed", "cancelled")
_STAGE = ("pending", "running", "succeeded", "failed", "cancelled", "skipped")
_MODEL = ("trained", "in_preprod", "awaiting_review", "approved", "rejected", "in_production", "retired")
_SPACE = ("dev", "preprod", "prod")
_VERDICT = ("fail", "warn", "insufficient", "pass", "info")

# table -> (column, its words), in the order the tables are rebuilt.
WORDS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "users": (("role", ("data_scientist", "validator", "manager", "admin")),),
    "runs": (("status", _RUN),),
    "run_stages": (("status", _STAGE),),
    "model_versions": (("state", _MODEL),),
    "deployments": (("space", _SPACE), ("status", ("active", "deleted"))),
    "deployment_revisions": (("reason", ("deploy", "pipeline", "approval", "rollback")),),
    "evaluations": (("space", _SPACE), ("status", _VERDICT)),
    "model_test_runs": (("status", _VERDICT),),
    "approvals": (("outcome", ("approved", "rejected")),),
    "alerts": (("status", ("open", "acknowledged")),),
    "retraining_requests": (("status", ("open", "launched")),),
}
# String(8) until now: "insufficient" did not fit.
WIDENED = {"evaluations": "status", "model_test_runs": "status"}


def _in(column: str, words: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(w) for w in words)})"


def _refuse_unknown_words(bind: sa.Connection) -> None:
    """Name every stored word the new constraints would refuse, instead of the engine's bare refusal."""
    found = []
    for table, columns in WORDS.items():
        for column, words in columns:
            rows = bind.execute(sa.text(f"SELECT DISTINCT {column} FROM {table} WHERE NOT ({_in(column, words)})"))
            found += [f"{table}.{column} = {value!r}" for (value,) in rows]
    if found:
        raise StoreError(
            "migration 0008: rows hold words outside the vocabulary: " + "; ".join(found) + ". Correct them, then "
            "migrate again"
        )


def _require_foreign_keys_off(bind: sa.Connection) -> None:
    # Rebuilding a parent table with foreign keys on would delete its children (ON DELETE CASCADE).
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise StoreError(
            "migration 0008 rebuilds tables on SQLite: run it with foreign keys off (Database.migration_connection)"
        )


def upgrade() -> None:
    bind = op.get_bind()
    _require_foreign_keys_off(bind)
    _refuse_unknown_words(bind)
    for table, columns in WORDS.items():
        with op.batch_alter_table(table) as batch:
            if table in WIDENED:
                batch.alter_column(
                    WIDENED[table],
                    existing_type=sa.String(length=8),
                    type_=sa.String(length=16),
                    existing_nullable=False,
                )
            for column, words in columns:
                batch.create_check_constraint(f"ck_{table}_{column}", _in(column, words))


def downgrade() -> None:
    _require_foreign_keys_off(op.get_bind())
    for table, columns in reversed(WORDS.items()):
        with op.batch_alter_table(table) as batch:
            for column, _ in columns:
                batch.drop_constraint(f"ck_{table}_{column}", type_="check")
            if table in WIDENED:
                batch.alter_column(
                    WIDENED[table],
                    existing_type=sa.String(length=16),
                    type_=sa.String(length=8),
                    existing_nullable=False,
                )
