"""alerts without an evaluation: a model version's artifact that failed its integrity check

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02

An alert said until now that a critical threshold failed in an evaluation; it now also
says that a model version's artifact was refused (missing, altered on disk, or not loading) when
it was to be approved, deployed or served. Such an alert has no evaluation: ``alerts.evaluation_id``
becomes nullable, and its ``monitor`` says "integrity" (``services.deployments``).

On SQLite the change rebuilds ``alerts`` (batch mode), which needs foreign keys off:
``Database.migrate`` turns them off and checks them before it commits. Going down refuses, by
their ids, while alerts without an evaluation exist: the older schema cannot hold them, and
dropping an alert would drop the record of a refusal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pipeline_core.errors import StoreError

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("evaluation_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    bind = op.get_bind()
    orphans = [str(i) for i in bind.execute(sa.text("SELECT id FROM alerts WHERE evaluation_id IS NULL")).scalars()]
    if orphans:
        raise StoreError(
            f"alerts {', '.join(orphans)} have no evaluation (integrity failures); the schema before 0012 cannot "
            "hold them. Keep this revision, or export and delete them, then migrate down again"
        )
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("evaluation_id", existing_type=sa.Integer(), nullable=False)
