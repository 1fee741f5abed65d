"""Alembic environment: migrations run on the connection the application hands over."""

from alembic import context
from sqlalchemy import Connection, create_engine

from pipeline_core.store.models import Base

config = context.config
connection = config.attributes.get("connection")


def run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    # `alembic revision --autogenerate` from a shell: MLOPS_ALEMBIC_URL names the database.
    import os

    engine = create_engine(os.environ.get("MLOPS_ALEMBIC_URL", "sqlite:///data/mlops.db"))
    with engine.begin() as conn:
        run(conn)
