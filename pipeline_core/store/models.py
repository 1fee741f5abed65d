"""SQLAlchemy 2 ORM models of the metadata store (DESIGN.md §3).

Portable SQL only: the same models and migrations run on SQLite and PostgreSQL.
Timestamps are naive UTC (``pipeline_core.store.db.utcnow``) so both engines compare
them the same way. A column that holds a word of ``pipeline_core.vocabulary`` (a state,
a space, a role, ...) stays a plain string, and a CHECK constraint built from its enum
makes the database itself refuse any other word (migration 0008). What other rows already
say is derived from them, not stored beside them (migration 0010): a deployment's current model
version and a model version's served states come from the deployment revisions.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    DateTime,
    Exists,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    literal,
    null,
    select,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

from pipeline_core.errors import IntegrityError
from pipeline_core.vocabulary import (
    DECIDED_STATES,
    SERVED_STATES,
    AlertChannel,
    AlertNotice,
    AlertStatus,
    ApprovalKind,
    CheckStatus,
    DeliveryStatus,
    DeploymentStatus,
    DocSection,
    EvidenceKind,
    FindingSeverity,
    FindingState,
    ModelState,
    Outcome,
    RetrainingStatus,
    RevisionReason,
    Role,
    RunState,
    Space,
    StageState,
    derived_state,
)


def one_of(table: str, column: str, words: type[StrEnum]) -> CheckConstraint:
    """``CHECK (column IN (...))`` over every word of ``words``, named ``ck_<table>_<column>``.

    Named, so that a later migration can find and drop or widen it on both engines.
    """
    listed = ", ".join(f"'{word}'" for word in words)
    return CheckConstraint(f"{column} IN ({listed})", name=f"ck_{table}_{column}")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def username_key(username: str) -> str:
    """The account a user name means: NFKC-normalised, then case-folded (``SAM_SCI`` is ``sam_sci``)."""
    return unicodedata.normalize("NFKC", username).casefold()


def _username_key_default(context: Any) -> str:
    return username_key(str(context.get_current_parameters()["username"]))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (one_of("users", "role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    # The name normalised (NFKC) and case-folded: one account per name, whatever its case or form.
    username_key: Mapped[str] = mapped_column(String(128), unique=True, default=_username_key_default)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("sha256", "spec_name", name="uq_datasets_sha256_spec"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    spec_name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    n_rows: Mapped[int] = mapped_column(Integer)
    n_columns: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_status_id", "status", "id"), one_of("runs", "status", RunState))

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=RunState.QUEUED)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    failed_stage: Mapped[str | None] = mapped_column(String(64))

    dataset: Mapped[Dataset] = relationship()
    stages: Mapped[list[StageResult]] = relationship(
        back_populates="run", order_by="StageResult.position", cascade="all, delete-orphan"
    )


class StageResult(Base):
    __tablename__ = "run_stages"
    __table_args__ = (
        UniqueConstraint("run_id", "name", name="uq_run_stages_run_name"),
        one_of("run_stages", "status", StageState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=StageState.PENDING)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    log: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gate_passed: Mapped[bool | None] = mapped_column(Boolean)
    gate_reason: Mapped[str | None] = mapped_column(Text)

    run: Mapped[Run] = relationship(back_populates="stages")


def scoring_path(deployment_id: int) -> str:
    """Where the scoring service serves deployment ``deployment_id`` (the WML v4 predictions API).

    Spelt once, here: ``Deployment.endpoint`` derives from it and ``services.deployments`` hands it out.
    """
    return f"/ml/v4/deployments/{deployment_id}/predictions"


class DeploymentRevision(Base):
    """Which model version a deployment served, from when to when: the rollback history.

    It is also the one record of what is served where: a deployment's current version
    (``Deployment.model_version_id``) and a model version's served states (``ModelVersion.state``)
    are read from these rows, never stored beside them.
    """

    __tablename__ = "deployment_revisions"
    __table_args__ = (one_of("deployment_revisions", "reason", RevisionReason),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # What the person said of it, in their words: a rollback's reason (migration 0015_o); None for the others.
    comment: Mapped[str | None] = mapped_column(Text)


class Deployment(Base):
    """A scoring endpoint for one model (by name) in one space, serving one of its versions at a time.

    A deployment is identified by ``(model_name, space)`` among the active ones. Derived, not stored
    (migration 0010 dropped their columns): ``model_version_id``, the version its open revision serves
    (a deleted deployment's, its last revision's); ``name``, ``<model name>-<space>``; ``endpoint``,
    ``scoring_path(id)``. The first two work in queries too.
    """

    __tablename__ = "deployments"
    __table_args__ = (one_of("deployments", "space", Space), one_of("deployments", "status", DeploymentStatus))

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    space: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # Where the deployment target serves it (backends.base.ServedModel): watsonx.ai space, asset, deployment ids.
    served: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)

    # The open revision first: a deleted deployment has none, and then its newest says what it served last.
    model_version_id: Mapped[int] = column_property(
        select(DeploymentRevision.model_version_id)
        .where(DeploymentRevision.deployment_id == id)
        .order_by(case((DeploymentRevision.ended_at.is_(None), 0), else_=1), DeploymentRevision.id.desc())
        .limit(1)
        .correlate_except(DeploymentRevision)
        .scalar_subquery()
    )

    @hybrid_property
    def name(self) -> str:
        return f"{self.model_name}-{self.space}"

    @name.inplace.expression
    @classmethod
    def _name_expression(cls) -> ColumnElement[str]:
        return cls.model_name + "-" + cls.space

    @property
    def endpoint(self) -> str:
        return scoring_path(self.id)


class DeploymentKey(Base):
    """An API key of a deployment, stored as the sha256 of the token.

    ``prefix`` is the token's first characters, so that a person can tell their key in a list
    (keys issued before migration 0015_o have none); the rest of the token is never stored.
    """

    __tablename__ = "deployment_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    prefix: Mapped[str | None] = mapped_column(String(16))
    revoked_by: Mapped[str | None] = mapped_column(String(128))


def _served_in(model_version: Any, space: Space, *, now: bool = False) -> Exists:
    """EXISTS a revision of a deployment in ``space`` serving ``model_version`` (``now``: still serving it)."""
    query = (
        select(DeploymentRevision.id)
        .join(Deployment, Deployment.id == DeploymentRevision.deployment_id)
        .where(DeploymentRevision.model_version_id == model_version, Deployment.space == space.value)
    )
    if now:
        query = query.where(DeploymentRevision.ended_at.is_(None))
    return query.correlate_except(DeploymentRevision, Deployment).exists()


def _served(model_version: Any) -> ColumnElement[str | None]:
    """What the revisions say of ``model_version``: ``vocabulary.derived_state``'s ``served``, in SQL."""
    return case(
        (_served_in(model_version, Space.PROD, now=True), literal(ModelState.IN_PRODUCTION.value, String(32))),
        (_served_in(model_version, Space.PROD), literal(ModelState.RETIRED.value, String(32))),
        (_served_in(model_version, Space.PREPROD), literal(ModelState.IN_PREPROD.value, String(32))),
        else_=null(),
    )


def _decided(state: str) -> ModelState:
    """``state`` when it is a decision, the only part of a model version's state that is stored."""
    decided = ModelState(state)
    if decided in SERVED_STATES:
        raise ValueError(
            f"{decided} is derived from the deployment revisions; a model version stores only a decision "
            f"({', '.join(sorted(DECIDED_STATES))})"
        )
    return decided


def _positions_sha256(positions: Sequence[int]) -> str:
    """sha256 of row positions written as decimal numbers joined by commas (anyone can recompute it)."""
    return hashlib.sha256(",".join(str(int(p)) for p in positions).encode("ascii")).hexdigest()


class ModelVersion(Base):
    """A trained model: its artifact, lineage, the split it was trained on, and its state.

    The state has two parts. What was decided (trained, awaiting review, approved, rejected) is stored,
    in ``review_state``. Where it has been served (in pre-prod, in production, retired) is what its
    deployment revisions say, ``deployed_state``. ``state`` joins them (``vocabulary.derived_state``) on
    a loaded row and in a query alike (``ModelVersion.state == "in_production"``); assigning it stores a
    decision, nothing else. The stored column keeps its name ``state`` and 0008's CHECK of every state
    word: a version served before revisions existed keeps its whole state there (migration 0010) until
    a deployment moves it.
    """

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        one_of("model_versions", "state", ModelState),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    training_data_sha256: Mapped[str] = mapped_column(String(64))
    model_type: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    review_state: Mapped[str] = mapped_column("state", String(32), default=ModelState.TRAINED)
    # The run's train/test split (``record_split``); None for versions registered before migration 0010.
    split: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    deployed_state: Mapped[str | None] = column_property(_served(id))

    run: Mapped[Run] = relationship()

    @hybrid_property
    def state(self) -> str:
        return derived_state(self.review_state, self.deployed_state)

    @state.inplace.setter
    def _state_setter(self, value: str) -> None:
        self.review_state = _decided(value)

    @state.inplace.expression
    @classmethod
    def _state_expression(cls) -> ColumnElement[str]:
        decided = cls.review_state
        prod, prod_now = _served_in(cls.id, Space.PROD), _served_in(cls.id, Space.PROD, now=True)
        return case(
            (and_(decided == ModelState.APPROVED.value, prod_now), literal(ModelState.IN_PRODUCTION.value, String(32))),
            (and_(decided == ModelState.APPROVED.value, prod), literal(ModelState.RETIRED.value, String(32))),
            (
                and_(decided == ModelState.TRAINED.value, ~prod, _served_in(cls.id, Space.PREPROD)),
                literal(ModelState.IN_PREPROD.value, String(32)),
            ),
            else_=decided,
        )

    @state.inplace.update_expression
    @classmethod
    def _state_update(cls, value: Any) -> list[tuple[Any, Any]]:
        return [(cls.review_state, _decided(value).value)]

    def record_split(self, *, dataset_sha256: str, n_rows: int, train: Sequence[int], test: Sequence[int]) -> None:
        """Store the split its run trained and tested on: row positions into the dataset's frame.

        Positions count rows of the frame ``services.datasets.load_frame`` parses from the dataset's
        bytes, in order (validate resets the index, so a position is also its row label there). The
        dataset's sha256, the number of rows and a sha256 of each list prove the split belongs to those
        bytes and was not altered (``stored_split``).
        """
        train_list, test_list = [int(p) for p in train], [int(p) for p in test]
        self.split = {
            "dataset_sha256": dataset_sha256,
            "n_rows": int(n_rows),
            "train": train_list,
            "test": test_list,
            "train_sha256": _positions_sha256(train_list),
            "test_sha256": _positions_sha256(test_list),
        }

    def stored_split(self, *, dataset_sha256: str, n_rows: int) -> tuple[list[int], list[int]] | None:
        """The stored (train, test) positions, proven against the dataset; None when none was stored.

        An ``IntegrityError`` names what does not hold: another dataset, another number of rows, a list
        that no longer hashes to its sha256, or lists that do not split the rows in two.
        """
        if self.split is None:
            return None
        doc, what = self.split, f"model version {self.id}: its stored split"
        if doc.get("dataset_sha256") != dataset_sha256:
            raise IntegrityError(f"{what} is of dataset {doc.get('dataset_sha256')}, not {dataset_sha256}")
        if doc.get("n_rows") != n_rows:
            raise IntegrityError(f"{what} counts {doc.get('n_rows')} rows; the dataset has {n_rows}")
        train, test = list(doc.get("train", ())), list(doc.get("test", ()))
        for part, positions in (("train", train), ("test", test)):
            if _positions_sha256(positions) != doc.get(f"{part}_sha256"):
                raise IntegrityError(f"{what}: its {part} positions do not hash to {doc.get(f'{part}_sha256')}")
        if sorted(train + test) != list(range(n_rows)):
            raise IntegrityError(f"{what} does not split the dataset's {n_rows} rows into train and test")
        return train, test


class PayloadChunk(Base):
    """The records of many scoring requests in one columnar (Parquet) block.

    The payload logger writes one chunk per flush and deployment: features, prediction,
    probability of the positive label and scoring id per record. Evaluations read a
    window of chunks, so a million records are a few hundred blobs, not a million rows.
    """

    __tablename__ = "payload_chunks"
    __table_args__ = (Index("ix_payload_chunks_deployment_id_last_at", "deployment_id", "last_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer)
    model_version_id: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(DateTime)
    last_at: Mapped[datetime] = mapped_column(DateTime)
    n_records: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PayloadBatch(Base):
    """One scoring request: how many records, by which model, and where its records are.

    Record ``i`` of a request has scoring id ``<request_id>-<i>`` and is row
    ``chunk_offset + i`` of chunk ``chunk_id``. ``request`` and ``response`` hold the
    JSON exchanged for requests logged before payload went columnar (migration 0004).
    """

    __tablename__ = "payload_batches"
    __table_args__ = (Index("ix_payload_batches_deployment_id_id", "deployment_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(32), unique=True)
    deployment_id: Mapped[int] = mapped_column(Integer)
    model_version_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    n_records: Mapped[int] = mapped_column(Integer)
    chunk_id: Mapped[int | None] = mapped_column(Integer)
    chunk_offset: Mapped[int | None] = mapped_column(Integer)
    request: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)


class FeedbackRecord(Base):
    """A labelled record for a deployment, linked to the scoring id it labels when known."""

    __tablename__ = "feedback_records"
    __table_args__ = (Index("ix_feedback_records_deployment_id_id", "deployment_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    batch_id: Mapped[str] = mapped_column(String(64), index=True)
    scoring_id: Mapped[str | None] = mapped_column(String(64), index=True)
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    label: Mapped[str] = mapped_column(String(128))
    uploaded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Evaluation(Base):
    """One run of the monitors: pre-prod (test split) or production (a payload window)."""

    __tablename__ = "evaluations"
    __table_args__ = (
        Index("ix_evaluations_deployment_id_created_at", "deployment_id", "created_at"),
        one_of("evaluations", "space", Space),
        one_of("evaluations", "status", CheckStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    space: Mapped[str] = mapped_column(String(16))
    data_window: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str | None] = mapped_column(String(128))


class ModelTestRun(Base):
    """One run of the model test suite on a model version: by its pipeline run, or on demand."""

    __tablename__ = "model_test_runs"
    __table_args__ = (one_of("model_test_runs", "status", CheckStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    status: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[float] = mapped_column(Float)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Alert(Base):
    """A critical threshold failed in an evaluation, or a model version's artifact failed its integrity check.

    Open until someone acknowledges it, saying what they do about it; resolved (from acknowledged) with a comment
    saying how it ended (migration 0015_o). An integrity alert has no evaluation (migration 0012): its
    monitor is "integrity", and its message names the model version, the expected and found hashes.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        one_of("alerts", "status", AlertStatus),
        Index("ix_alerts_deployment_id_monitor_metric", "deployment_id", "monitor", "metric"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id"), index=True)
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    monitor: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(128))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledge_comment: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolve_comment: Mapped[str | None] = mapped_column(Text)
    # One alert per (deployment, check) while it is not resolved (migration 0017_a): a later failing evaluation
    # counts one more occurrence and stamps when, which evaluation and what value it saw last.
    occurrences: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id"))
    last_value: Mapped[float | None] = mapped_column(Float)


class RetrainingRequest(Base):
    """Raised by a failed production evaluation; done when a retraining run is launched from it."""

    __tablename__ = "retraining_requests"
    __table_args__ = (one_of("retraining_requests", "status", RetrainingStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"))
    reason: Mapped[str] = mapped_column(Text)
    drifted_records: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=RetrainingStatus.OPEN)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    launched_by: Mapped[str | None] = mapped_column(String(128))


class SpecThresholds(Base):
    """An admin's thresholds for a spec: new datasets and production evaluations use them."""

    __tablename__ = "spec_thresholds"

    spec_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (one_of("approvals", "outcome", Outcome), one_of("approvals", "kind", ApprovalKind))

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    override_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime)
    # The decision form's id: one form submitted twice finds its first decision, never makes another.
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    overridden: Mapped[list[Any] | None] = mapped_column(JSON)  # the critical checks an override lifts, named
    seen: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the evidence on screen when it was decided
    countersigned_by: Mapped[str | None] = mapped_column(String(128))
    countersigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    countersign_comment: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="approval", server_default="approval")  # ApprovalKind
    # decided_at (or the countersign) + the tier's revalidation interval; None on rows from before tiers.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEvent(Base):
    """Append-only; ``hash`` chains each event to the one before it (``seq`` - 1)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)
    current_run_id: Mapped[int | None] = mapped_column(Integer)


class DomainEvent(Base):
    """Something the product decided or measured that external services must learn of (the outbox).

    Written in the transaction of the change and its audit event (``services.events.record``), so one
    never exists without the other. ``kind`` is an ``EventKind``; the CHECK constraints of this table
    and of ``event_deliveries`` are made by migration 0009 from the vocabulary's words.
    """

    __tablename__ = "domain_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class EventDelivery(Base):
    """One event's delivery to one sink (``Sink``): its ``DeliveryStatus``, attempts and the last error.

    A dispatcher claims a delivery by an UPDATE guarded by the status and the attempts it read (and
    no live claim), so two processes never deliver one at once; ``next_attempt_at`` is when it may be
    tried (again), None once delivered or no automatic attempt is left.
    """

    __tablename__ = "event_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "sink", name="uq_event_deliveries_event_id_sink"),
        Index("ix_event_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("domain_events.id"))
    sink: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)  # when a dispatcher took it; None: nobody holds it
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    detail: Mapped[str | None] = mapped_column(Text)  # what the delivery did, e.g. "not configured"


class ModelRecord(Base):
    """A model of the inventory, by name: its owner, business use and materiality tier (None: untiered)."""

    __tablename__ = "models"
    __table_args__ = (CheckConstraint("tier IS NULL OR tier IN (1, 2, 3)", name="ck_models_tier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    spec_name: Mapped[str | None] = mapped_column(String(128))
    owner: Mapped[str | None] = mapped_column(String(128))
    business_use: Mapped[str | None] = mapped_column(Text)
    tier: Mapped[int | None] = mapped_column(Integer)
    tier_reason: Mapped[str | None] = mapped_column(Text)
    tier_set_by: Mapped[str | None] = mapped_column(String(128))
    tier_set_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ApprovalCondition(Base):
    """A condition an approval carries: who must do what by when; ``finding_id`` a finding it answers (no FK)."""

    __tablename__ = "approval_conditions"
    __table_args__ = (CheckConstraint("state IN ('open', 'met')", name="ck_approval_conditions_state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), index=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    model_name: Mapped[str] = mapped_column(String(128), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(128))
    due_date: Mapped[date] = mapped_column(Date)
    finding_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # ConditionState
    met_by: Mapped[str | None] = mapped_column(String(128))
    met_at: Mapped[datetime | None] = mapped_column(DateTime)
    met_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class DocumentationRevision(Base):
    """One section of a model's documentation as a data scientist wrote it, for one of its versions.

    Append-only (migration 0016_d's triggers refuse UPDATE and DELETE): a new text is a new row, so the
    documentation as it stood for any version can be shown (``services.governance._documentation``).
    """

    __tablename__ = "model_documentation"
    __table_args__ = (
        one_of("model_documentation", "section", DocSection),
        Index("ix_model_documentation_model_name_section", "model_name", "section"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    section: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))  # the version it was written for
    written_by: Mapped[str] = mapped_column(String(128))
    written_at: Mapped[datetime] = mapped_column(DateTime)


class Finding(Base):
    """A validator's finding on a model (by name), raised on one version and carried to every later one until
    closed (verified on a later version) or its risk accepted (migration 0016_f). Its history is the audit log's
    ``finding`` events: one record of what happened, not a second one that could disagree with it."""

    __tablename__ = "findings"
    __table_args__ = (
        Index("ix_findings_model_name_state", "model_name", "state"),
        one_of("findings", "severity", FindingSeverity),
        one_of("findings", "state", FindingState),
        one_of("findings", "evidence_kind", EvidenceKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    raised_on_model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32), default=FindingState.OPEN)
    evidence_kind: Mapped[str] = mapped_column(String(16))
    evidence_ref: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(128))
    due_date: Mapped[date] = mapped_column(Date)
    raised_by: Mapped[str] = mapped_column(String(128))
    raised_at: Mapped[datetime] = mapped_column(DateTime)
    remediation_note: Mapped[str | None] = mapped_column(Text)
    remediation_by: Mapped[str | None] = mapped_column(String(128))
    remediation_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(128))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_on_model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    verification: Mapped[str | None] = mapped_column(Text)
    accepted_by: Mapped[str | None] = mapped_column(String(128))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime)
    accepted_reason: Mapped[str | None] = mapped_column(Text)
    accepted_expires_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class EvaluationClaim(Base):
    """A worker's claim on one scheduled evaluation of a deployment (migration 0017_c).

    An evaluation falls due after the deployment's newest evaluation (``after_evaluation_id``, 0 before the
    first); the pair is unique, so however many workers find it due at once, one inserts the claim and
    evaluates. A claim whose evaluation could not run is deleted, so that a later turn tries again; one
    left unfinished past ``evaluation_claim_timeout`` (its worker died) is taken over.
    """

    __tablename__ = "evaluation_claims"
    __table_args__ = (UniqueConstraint("deployment_id", "after_evaluation_id", name="uq_evaluation_claims_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    after_evaluation_id: Mapped[int] = mapped_column(Integer)
    claimed_by: Mapped[str] = mapped_column(String(160))
    claimed_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id"))


class AlertDelivery(Base):
    """One notification of an alert (raised, resolved) to one channel, and how its delivery went (migration 0017_a).

    Queued in the transaction of the alert's change, with the message as it was then; sent by a dispatcher
    that claims it by an UPDATE guarded by the status and attempts it read (as ``EventDelivery``).
    ``next_attempt_at`` is when it may be tried (again), None once delivered or given up.
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        one_of("alert_deliveries", "notice", AlertNotice),
        one_of("alert_deliveries", "channel", AlertChannel),
        one_of("alert_deliveries", "status", DeliveryStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    notice: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ShadowAssignment(Base):
    """A candidate model version scoring a production deployment's traffic in the shadow (migration 0017_s).

    Active while ``stopped_at`` is None; one active shadow per production deployment, which the partial
    unique index makes the database itself refuse to break. ``artifact_sha256`` is the candidate's
    artifact when the shadow started: the scoring service loads exactly it, verified.
    """

    __tablename__ = "shadow_assignments"
    __table_args__ = (
        Index(
            "uq_shadow_assignments_active",
            "production_deployment_id",
            unique=True,
            sqlite_where=text("stopped_at IS NULL"),
            postgresql_where=text("stopped_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    production_deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    started_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    start_reason: Mapped[str] = mapped_column(Text)
    stopped_by: Mapped[str | None] = mapped_column(String(128))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)
    stop_reason: Mapped[str | None] = mapped_column(Text)


class ShadowChunk(Base):
    """What a shadow model said of many production records, in one columnar block (migration 0017_s).

    Columns: the production scoring id, the shadow's prediction and its probability of the positive label;
    the production payload (``PayloadChunk``) holds the inputs and production's answers under the same ids.
    """

    __tablename__ = "shadow_chunks"
    __table_args__ = (Index("ix_shadow_chunks_shadow_id_id", "shadow_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shadow_id: Mapped[int] = mapped_column(ForeignKey("shadow_assignments.id"))
    model_version_id: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(DateTime)
    last_at: Mapped[datetime] = mapped_column(DateTime)
    n_records: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
