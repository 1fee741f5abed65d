"""a model version can be failed; a deployment can be put back because the version it served failed

Revision ID: 0015_C
Revises: 0015_o
Create Date: 2026-12-02

A model version whose run failed, was cancelled or was reaped is now ``failed`` (it was left
``in_preprod``, served in pre-prod, as if its run had succeeded), and the dev or pre-prod
deployment that served it opens a revision for the version before, for the reason ``run_failed``.
Both CHECK constraints widen by that one word. The words are written out, as migrations are history.

Going down refuses, by their ids, while rows hold either word: the older schema cannot hold them,
and rewriting a failed version to another state would put it back in the review queue.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pipeline_core.errors import StoreError

revision: str = "0015_C"
down_revision: str | Sequence[str] | None = "0015_o"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MODEL = (
    "trained",
    "in_preprod",
    "awaiting_review",
    "approved",
    "rejected",
    "in_production",
    "retired",
    "awaiting_countersign",
)
_REASON = ("deploy", "pipeline", "approval", "rollback")
# table -> (column, its words before, the word this revision adds)
WORDS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "model_versions": ("state", _MODEL, "failed"),
    "deployment_revisions": ("reason", _REASON, "run_failed"),
}


def _in(column: str, words: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(w) for w in words)})"


def _require_foreign_keys_off(bind: sa.Connection) -> None:
    # Rebuilding a parent table with foreign keys on would delete its children (ON DELETE CASCADE).
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise StoreError(
            "migration 0015_C rebuilds tables on SQLite: run it with foreign keys off (Database.migration_connection)"
        )


def _check(table: str, words: tuple[str, ...]) -> None:
    column = WORDS[table][0]
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"ck_{table}_{column}", type_="check")
        batch.create_check_constraint(f"ck_{table}_{column}", _in(column, words))


def upgrade() -> None:
    _require_foreign_keys_off(op.get_bind())
    for table, (_, before, added) in WORDS.items():
        _check(table, (*before, added))


def downgrade() -> None:
    bind = op.get_bind()
    _require_foreign_keys_off(bind)
    held = []
    for table, (column, _, added) in WORDS.items():
        ids = [
            str(i) for i in bind.execute(sa.text(f"SELECT id FROM {table} WHERE {column} = :w"), {"w": added}).scalars()
        ]
        if ids:
            held.append(f"{table} {', '.join(ids)} ({column} {added!r})")
    if held:
        raise StoreError(
            "the schema before 0015_C cannot hold " + "; ".join(held) + ". Keep this revision, then migrate down again"
        )
    for table, (_, before, _) in reversed(WORDS.items()):
        _check(table, before)
