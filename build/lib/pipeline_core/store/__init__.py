"""Metadata store (SQLAlchemy + Alembic) and the local content-addressed artifact store."""
