"""derived state derived: what other rows already say is no longer stored beside them

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

Written beside 0009 (integration events) and chained after it when both were merged.

- ``deployments.model_version_id`` is dropped: what a deployment serves is its open revision
  (a deleted deployment's last one). A deployment whose revisions do not say what its row says
  (one made before revisions existed, migration 0002) first gets the revision the row implies,
  by the actor "migration 0010", so that the derived value is the stored one.
- ``deployments.endpoint`` is dropped (it was always ``scoring_path(id)``), and ``name`` gives
  way to ``model_name``: a deployment is identified by (model name, space), its name derived
  from them. ``model_name`` is the name less its ``-<space>``, as the services looked it up;
  a row named "" (before 0002) takes the name of the model it serves, and so gets a name.
  Two active deployments of one model in one space stop the migration, named: the services
  would not know which one to replace.
- ``model_versions.state`` keeps what was decided (trained, awaiting review, approved,
  rejected); in pre-prod, in production and retired are read from the revisions again. A
  version whose revisions do not say what its state says (one served before revisions existed)
  keeps its stored word, which reads as before, until a deployment moves it (the services then
  store its decision). So the column keeps its name and 0008's CHECK of every state word.
- ``model_versions.split`` (JSON, null) holds the train/test split a run trained on from now on;
  the versions registered before have none, and evaluations rebuild theirs as they did.

The words and rules are written out here as they are at this revision: a migration is history.
On SQLite, dropping columns rebuilds ``deployments`` (batch mode), which needs foreign keys off:
``Database.migrate`` turns them off and checks them before it commits.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pipeline_core.errors import StoreError

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "migration 0010"
# A state -> the decision it implies (vocabulary.decision at this revision); the rest the revisions say.
DECISION = {"in_preprod": "trained", "in_production": "approved", "retired": "approved"}
DECIDED = "CASE state " + " ".join(f"WHEN '{w}' THEN '{d}'" for w, d in DECISION.items()) + " ELSE state END"
# What a deployment serves: its open revision, else (deleted) its newest.
SERVING = (
    "(SELECT r.model_version_id FROM deployment_revisions r WHERE r.deployment_id = deployments.id "
    "ORDER BY CASE WHEN r.ended_at IS NULL THEN 0 ELSE 1 END, r.id DESC LIMIT 1)"
)


def _served(space: str, *, now: bool = False) -> str:
    """SQL: a revision of a ``space`` deployment serves (``now``: still serves) the model_versions row."""
    still = " AND r.ended_at IS NULL" if now else ""
    return (
        "EXISTS (SELECT 1 FROM deployment_revisions r JOIN deployments d ON d.id = r.deployment_id "
        f"WHERE r.model_version_id = model_versions.id AND d.space = '{space}'{still})"
    )


def _derived(decided: str) -> str:
    """SQL: a model version's state from its decision ``decided`` and its revisions (vocabulary.derived_state)."""
    return (
        f"CASE WHEN {decided} = 'approved' AND {_served('prod', now=True)} THEN 'in_production'"
        f" WHEN {decided} = 'approved' AND {_served('prod')} THEN 'retired'"
        f" WHEN {decided} = 'trained' AND NOT {_served('prod')} AND {_served('preprod')} THEN 'in_preprod'"
        f" ELSE {decided} END"
    )


def _require_foreign_keys_off(bind: sa.Connection) -> None:
    # Rebuilding a parent table with foreign keys on would delete its children or fail.
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise StoreError(
            "migration 0010 rebuilds tables on SQLite: run it with foreign keys off (Database.migration_connection)"
        )


def _backfill_revisions(bind: sa.Connection) -> None:
    """Give every deployment whose revisions do not say what its row says the revision the row implies."""
    rows = bind.execute(
        sa.text(
            f"SELECT deployments.id, deployments.model_version_id, {SERVING}, deployments.space, "
            "deployments.status, deployments.created_at, deployments.updated_at, deployments.retired_at, "
            "model_versions.artifact_sha256 FROM deployments "
            "JOIN model_versions ON model_versions.id = deployments.model_version_id"
        )
    ).all()
    for dep_id, stored, serving, space, status, created_at, updated_at, retired_at, sha in rows:
        if serving == stored:
            continue
        since = updated_at or created_at
        active = status == "active"
        if active:  # the row is what was served: any other open revision ends where this one begins
            bind.execute(
                sa.text(
                    "UPDATE deployment_revisions SET ended_at = CASE WHEN started_at > :t THEN started_at ELSE :t END "
                    "WHERE deployment_id = :d AND ended_at IS NULL"
                ),
                {"t": since, "d": dep_id},
            )
        bind.execute(
            sa.text(
                "INSERT INTO deployment_revisions (deployment_id, model_version_id, artifact_sha256, reason, actor, "
                "started_at, ended_at) VALUES (:d, :m, :sha, :reason, :actor, :since, :ended)"
            ),
            {
                "d": dep_id,
                "m": stored,
                "sha": sha,
                "reason": "approval" if space == "prod" else "deploy",  # the one road to prod; elsewhere a deploy
                "actor": ACTOR,
                "since": since,
                "ended": None if active else (retired_at or since),
            },
        )


def _model_names(bind: sa.Connection) -> dict[int, str]:
    """Each deployment's model name, as the services found it by name; two active ones of a model in a space stop."""
    rows = bind.execute(
        sa.text(
            "SELECT deployments.id, deployments.name, deployments.space, deployments.status, model_versions.name "
            "FROM deployments JOIN model_versions ON model_versions.id = deployments.model_version_id "
            "ORDER BY deployments.id"
        )
    ).all()
    names: dict[int, str] = {}
    active: dict[tuple[str, str], list[int]] = {}
    for dep_id, name, space, status, served in rows:
        suffix = f"-{space}"
        names[dep_id] = name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else served
        if status == "active":
            active.setdefault((names[dep_id], space), []).append(dep_id)
    twins = [f"deployments {ids} are all active for {m!r} in {s}" for (m, s), ids in active.items() if len(ids) > 1]
    if twins:
        raise StoreError(
            "migration 0010 identifies a deployment by model and space: "
            + "; ".join(twins)
            + ". Delete all but one of each (deployments delete), then migrate again"
        )
    return names


def upgrade() -> None:
    bind = op.get_bind()
    _require_foreign_keys_off(bind)
    _backfill_revisions(bind)
    names = _model_names(bind)
    # A decision where the revisions then say what the state said; the old word where they cannot.
    bind.execute(sa.text(f"UPDATE model_versions SET state = {DECIDED} WHERE {_derived(DECIDED)} = state"))
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("split", sa.JSON(), nullable=True))
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("model_name", sa.String(length=128), nullable=True))
    for dep_id, model_name in names.items():
        bind.execute(sa.text("UPDATE deployments SET model_name = :m WHERE id = :d"), {"m": model_name, "d": dep_id})
    with op.batch_alter_table("deployments") as batch:
        batch.alter_column("model_name", existing_type=sa.String(length=128), nullable=False)
        batch.drop_index("ix_deployments_model_version_id")
        batch.drop_column("model_version_id")
        batch.drop_column("endpoint")
        batch.drop_column("name")


def downgrade() -> None:
    bind = op.get_bind()
    _require_foreign_keys_off(bind)
    # Stored again, from what they are derived from (the revisions added on the way up stay: they say
    # what was served, as the rows did).
    bind.execute(sa.text(f"UPDATE model_versions SET state = {_derived('state')}"))
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("split")
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("name", sa.String(length=128), nullable=False, server_default=""))
        batch.add_column(sa.Column("model_version_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("endpoint", sa.Text(), nullable=True))
    bind.execute(
        sa.text(
            f"UPDATE deployments SET name = model_name || '-' || space, model_version_id = {SERVING}, "
            "endpoint = '/ml/v4/deployments/' || CAST(id AS VARCHAR(20)) || '/predictions'"
        )
    )
    with op.batch_alter_table("deployments") as batch:
        batch.alter_column("model_version_id", existing_type=sa.Integer(), nullable=False)
        # Named as PostgreSQL named 0001's unnamed one (a batch rebuild on SQLite wants a name).
        batch.create_foreign_key("deployments_model_version_id_fkey", "model_versions", ["model_version_id"], ["id"])
        batch.create_index("ix_deployments_model_version_id", ["model_version_id"], unique=False)
        batch.drop_column("model_name")
