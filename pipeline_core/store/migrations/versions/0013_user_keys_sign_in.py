"""user keys and sign-in failures: one account per name whatever its case; failed sign-ins counted, locked

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

- ``users.username_key``: the name Unicode-normalised (NFKC) and case-folded, unique. ``SAM_SCI``
  beside ``sam_sci`` was two accounts, so separation of duties compared two names for one person.
  Two existing accounts with one key stop the migration, both named: which of them is the person
  is for an admin to decide (rename or disable one), not for a migration.
- ``users.failed_sign_ins`` and ``users.locked_until``: wrong passwords in a row, and until when
  the account refuses sign-in after too many.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pipeline_core.errors import StoreError

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(username: str) -> str:
    """services.governance's user key at this revision: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", username).casefold()


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_key", sa.String(128), nullable=True))
        batch.add_column(sa.Column("failed_sign_ins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
    connection = op.get_bind()
    users = connection.execute(sa.text("SELECT id, username FROM users ORDER BY id")).all()
    seen: dict[str, str] = {}
    for user_id, username in users:
        key = _key(username)
        if key in seen:
            raise StoreError(
                f"users {seen[key]!r} and {username!r} are one name in different case or form; "
                "rename or remove one of them, then migrate again"
            )
        seen[key] = username
        connection.execute(sa.text("UPDATE users SET username_key = :k WHERE id = :i"), {"k": key, "i": user_id})
    with op.batch_alter_table("users") as batch:
        batch.alter_column("username_key", existing_type=sa.String(128), nullable=False)
        batch.create_unique_constraint("uq_users_username_key", ["username_key"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_username_key", type_="unique")
        batch.drop_column("locked_until")
        batch.drop_column("failed_sign_ins")
        batch.drop_column("username_key")
