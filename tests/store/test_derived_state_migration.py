"""Migration 0010: a store with rows upgrades, and every value now derived reads as it was stored, on both engines.

A deployment's model version, name and endpoint, and a model version's state, are read after the
upgrade from the rows they are derived from; each equals the column 0008 stored. Rows from before
deployment revisions existed get the revision their deployment row implies; a version whose
revisions cannot say its state keeps its word. Down again, the columns come back with those values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, insert, select, text
from sqlalchemy.orm import Session

from pipeline_core.errors import StoreError
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import MIGRATIONS, Database
from pipeline_core.store.models import Deployment, DeploymentRevision, ModelVersion

BEFORE = "0008"
T0 = datetime(2026, 11, 27, 9, 0)
# model version id -> (model name, state as 0008 stored it)
VERSIONS = {
    1: ("german_credit", "retired"),  # prod served it, then 2 replaced it
    2: ("german_credit", "in_production"),
    3: ("german_credit", "awaiting_review"),  # pre-prod served it, then 4, 5 and 7 took its place
    4: ("german_credit", "in_preprod"),  # its run failed after the deploy stage: never reviewed
    5: ("german_credit", "rejected"),
    6: ("german_credit", "trained"),  # served in dev only
    7: ("german_credit", "approved"),  # its prod deployment failed: approved, never served in prod
    8: ("other", "in_preprod"),  # served by a pre-prod deployment since deleted
    9: ("legacy", "in_production"),  # served by a prod deployment made before revisions (0002)
    10: ("german_credit", "retired"),  # nothing says where it was served: its word is all there is
}
# deployment id -> (name, served model version, space, status) as 0008 stored them
DEPLOYMENTS = {
    1: ("german_credit-prod", 2, "prod", "active"),
    2: ("german_credit-preprod", 4, "preprod", "active"),
    3: ("german_credit-dev", 6, "dev", "active"),
    4: ("other-preprod", 8, "preprod", "deleted"),
    5: ("", 9, "prod", "active"),  # before 0002: no name, no revision
}
# (deployment, model version, still serving), oldest first
REVISIONS = [(1, 1, False), (1, 2, True), (2, 3, False), (2, 5, False), (2, 7, False), (2, 4, True), (3, 6, True)]
REVISIONS += [(4, 8, False)]
DECISIONS = {1: "approved", 2: "approved", 4: "trained", 8: "trained", 9: "approved", 10: "retired"}


def _populate(session: Session) -> None:
    """The rows above, written through the tables of ``BEFORE`` (the models are the newest schema)."""
    connection = session.connection()
    tables = MetaData()
    tables.reflect(connection)

    def add(table: str, **row: Any) -> None:
        connection.execute(insert(tables.tables[table]).values(**row))

    add("users", id=1, username="dora", role="data_scientist", disabled=False, created_at=T0)
    add("users", id=2, username="max", role="manager", disabled=False, created_at=T0)
    add(
        "datasets",
        id=1,
        name="d",
        sha256="d" * 64,
        spec_name="german_credit",
        spec={},
        schema={},
        n_rows=1,
        n_columns=1,
        source="s",
        created_by="dora",
        created_at=T0,
    )
    for mv_id, (name, state) in VERSIONS.items():
        add(
            "runs",
            id=mv_id,
            status="succeeded",
            dataset_id=1,
            params={},
            created_by="dora",
            created_at=T0,
            cancel_requested=False,
        )
        add(
            "model_versions",
            id=mv_id,
            name=name,
            version=mv_id,
            run_id=mv_id,
            dataset_id=1,
            artifact_sha256=f"{mv_id:x}" * 64,
            training_data_sha256="d" * 64,
            model_type="hgb",
            params={},
            metrics={},
            lineage={},
            state=state,
            created_by="dora",
            created_at=T0,
        )
    for dep_id, (name, mv_id, space, status) in DEPLOYMENTS.items():
        add(
            "deployments",
            id=dep_id,
            name=name,
            model_version_id=mv_id,
            space=space,
            status=status,
            endpoint=f"/ml/v4/deployments/{dep_id}/predictions",
            created_by="vera",
            created_at=T0,
            updated_at=T0 + timedelta(hours=dep_id),
            retired_at=T0 + timedelta(days=1) if status == "deleted" else None,
        )
    for i, (dep_id, mv_id, serving) in enumerate(REVISIONS):
        add(
            "deployment_revisions",
            deployment_id=dep_id,
            model_version_id=mv_id,
            artifact_sha256=f"{mv_id:x}" * 64,
            reason="approval" if DEPLOYMENTS[dep_id][2] == "prod" else "pipeline",
            actor="vera",
            started_at=T0 + timedelta(minutes=i),
            ended_at=None if serving else T0 + timedelta(minutes=i + 1),
        )


def _stored(db: Database) -> tuple[dict[int, str], dict[int, tuple[str, int, str]]]:
    """What the 0008 columns hold: each version's state; each deployment's name, version and endpoint."""
    with db.read() as session:
        states = dict(session.execute(text("SELECT id, state FROM model_versions")).tuples().all())
        rows = session.execute(text("SELECT id, name, model_version_id, endpoint FROM deployments")).all()
    return states, {d: (name, mv, endpoint) for d, name, mv, endpoint in rows}


def _alembic(db: Database, action: Callable[[Config, str], None], revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.migration_connection() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def _at_0008_with_rows(url: str) -> Database:
    db = Database(url)
    db.migrate(BEFORE)
    with db.write() as session:
        _populate(session)
    return db


def test_every_derived_value_reads_as_it_was_stored(fresh_url: str, ctx: ServiceContext) -> None:
    db = _at_0008_with_rows(fresh_url)
    states, deps = _stored(db)
    db.migrate()
    with db.read() as session:
        loaded = {mv.id: mv for mv in session.execute(select(ModelVersion)).scalars()}
        assert {i: mv.state for i, mv in loaded.items()} == states  # on a loaded row ...
        assert dict(session.execute(select(ModelVersion.id, ModelVersion.state)).tuples().all()) == states  # in SQL
        assert {i: mv.review_state for i, mv in loaded.items()} == {i: DECISIONS.get(i, s) for i, s in states.items()}
        assert all(mv.split is None for mv in loaded.values())  # registered before the split was stored
        found = {d.id: d for d in session.execute(select(Deployment)).scalars()}
        assert {i: (d.name, d.model_version_id, d.endpoint) for i, d in found.items()} == {
            **deps,
            5: ("legacy-prod", 9, deps[5][2]),  # named after the model it serves: before 0002 it had no name
        }
        assert {i: d.model_name for i, d in found.items()} == {1: "german_credit", 2: "german_credit"} | {
            3: "german_credit",
            4: "other",
            5: "legacy",
        }
        backfilled = session.execute(select(DeploymentRevision).where(DeploymentRevision.actor == "migration 0010"))
        (revision,) = backfilled.scalars().all()
        assert (revision.deployment_id, revision.model_version_id, revision.reason, revision.ended_at) == (
            5,
            9,
            "approval",
            None,
        )
        assert revision.started_at == T0 + timedelta(hours=5)  # since the row last changed
    # The services read the derived values as they read the columns.
    ctx.db = db
    max_ = Principal("max", "manager")
    listed = {d.id: (d.name, d.model_version_id) for d in deployments.list_deployments(ctx, max_, include_deleted=True)}
    assert listed == {i: (n, mv) for i, (n, mv, _) in deps.items()} | {5: ("legacy-prod", 9)}
    assert [c.model_version_id for c in governance.review_queue(ctx, max_)] == [3]
    db.dispose()


def test_down_again_the_columns_hold_what_was_derived(fresh_url: str) -> None:
    db = _at_0008_with_rows(fresh_url)
    states, deps = _stored(db)
    db.migrate()
    _alembic(db, command.downgrade, BEFORE)
    assert _stored(db) == (states, {**deps, 5: ("legacy-prod", 9, deps[5][2])})
    db.migrate()
    with db.read() as session:
        assert dict(session.execute(select(ModelVersion.id, ModelVersion.state)).tuples().all()) == states
        assert session.execute(select(Deployment.model_version_id).where(Deployment.id == 5)).scalar() == 9
    db.dispose()


def test_two_active_deployments_of_one_model_in_one_space_stop_the_migration_by_name(fresh_url: str) -> None:
    db = _at_0008_with_rows(fresh_url)
    with db.write() as session:  # a prod deployment made before 0002 beside the one made after
        session.execute(
            text(
                "INSERT INTO deployments (id, name, model_version_id, space, status, created_by, created_at) "
                "VALUES (6, '', 1, 'prod', 'active', 'vera', :t)"
            ),
            {"t": T0},
        )
    with pytest.raises(StoreError, match=r"deployments \[1, 6\] are all active for 'german_credit' in prod"):
        db.migrate()
    with db.read() as session:  # nothing changed: still 0008, no revision added
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == BEFORE
        assert session.execute(text("SELECT count(*) FROM deployment_revisions")).scalar() == len(REVISIONS)
    db.dispose()
