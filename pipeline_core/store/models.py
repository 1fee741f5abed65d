"""SQLAlchemy 2 ORM models of the metadata store (DESIGN.md §3).

Portable SQL only: the same models and migrations run on SQLite and PostgreSQL.
Timestamps are naive UTC (``pipeline_core.store.db.utcnow``) so both engines compare
them the same way. A column that holds a word of ``pipeline_core.vocabulary`` (a state,
a space, a role, ...) stays a plain string, and a CHECK constraint built from its enum
makes the database itself refuse any other word (migration 0008).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pipeline_core.vocabulary import (
    AlertStatus,
    CheckStatus,
    DeploymentStatus,
    ModelState,
    Outcome,
    RetrainingStatus,
    RevisionReason,
    Role,
    RunState,
    Space,
    StageState,
)


def one_of(table: str, column: str, words: type[StrEnum]) -> CheckConstraint:
    """``CHECK (column IN (...))`` over every word of ``words``, named ``ck_<table>_<column>``.

    Named, so that a later migration can find and drop or widen it on both engines.
    """
    listed = ", ".join(f"'{word}'" for word in words)
    return CheckConstraint(f"{column} IN ({listed})", name=f"ck_{table}_{column}")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (one_of("users", "role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)


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


class ModelVersion(Base):
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
    state: Mapped[str] = mapped_column(String(32), default=ModelState.TRAINED)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    run: Mapped[Run] = relationship()


class Deployment(Base):
    """A scoring endpoint in a space; ``model_version_id`` is the version it serves now."""

    __tablename__ = "deployments"
    __table_args__ = (one_of("deployments", "space", Space), one_of("deployments", "status", DeploymentStatus))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="", server_default="")
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    space: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str | None] = mapped_column(Text)
    # Where the deployment target serves it (backends.base.ServedModel): watsonx.ai space, asset, deployment ids.
    served: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)


class DeploymentKey(Base):
    """An API key of a deployment, stored as the sha256 of the token."""

    __tablename__ = "deployment_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class DeploymentRevision(Base):
    """Which model version a deployment served, from when to when: the rollback history."""

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
    """A critical threshold failed in an evaluation; open until someone acknowledges it."""

    __tablename__ = "alerts"
    __table_args__ = (one_of("alerts", "status", AlertStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), index=True)
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
    __table_args__ = (one_of("approvals", "outcome", Outcome),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    override_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime)


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
