"""The validation report of a model version, exported as HTML, PDF or DOCX, read from the store in one session.

It gathers what ``pipeline_core.reports.validation.ReportInputs`` holds: the version's facts, one
evaluation (default the newest), its model tests, the documentation as it stood for the version, the
decision record (the ``approvals`` rows with countersigns and overrides, and their conditions), the
model's version in production and its newest evaluation, and the tier's monitoring plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal, overload

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline_core.errors import NotFoundError
from pipeline_core.policy import TierPolicy
from pipeline_core.reports import formats
from pipeline_core.reports.document import Document
from pipeline_core.reports.validation import (
    ApprovalRow,
    ConditionRow,
    CriticalCheck,
    DecisionRecord,
    EvaluationFacts,
    FindingRow,
    ModelFacts,
    MonitoringPlan,
    ProductionFacts,
    ReportInputs,
    build_validation_report,
)
from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.services import lookup, runs
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _documentation, _inventory
from pipeline_core.services.governance import _findings as _findings_area
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import (
    Approval,
    ApprovalCondition,
    DeploymentRevision,
    Evaluation,
    ModelRecord,
    ModelVersion,
)
from pipeline_core.vocabulary import ConditionState, Space


def _model(mv: ModelVersion) -> ModelFacts:
    return ModelFacts(
        name=mv.name,
        version=mv.version,
        id=mv.id,
        state=mv.state,
        model_type=mv.model_type,
        artifact_sha256=mv.artifact_sha256,
        training_data_sha256=mv.training_data_sha256,
        created_by=mv.created_by,
        created_at=mv.created_at,
        run_id=mv.run_id,
        params=dict(mv.params),
        training_metrics={k: float(v) for k, v in mv.metrics.items() if isinstance(v, int | float)},
    )


def _evaluation(row: Evaluation) -> EvaluationFacts:
    # Read from the row, not through the monitoring area: governance has no edge to it among the service areas.
    return EvaluationFacts(
        id=row.id,
        space=row.space,
        created_at=row.created_at,
        data_window=dict(row.data_window),
        report=EvaluationReport.from_dict(row.results),
    )


def _decision(session: Session, mv: ModelVersion, today: date) -> DecisionRecord:
    approvals = session.execute(
        select(Approval).where(Approval.model_version_id == mv.id).order_by(Approval.id)
    ).scalars()
    conditions = session.execute(
        select(ApprovalCondition).where(ApprovalCondition.model_version_id == mv.id).order_by(ApprovalCondition.id)
    ).scalars()
    return DecisionRecord(
        approvals=tuple(
            ApprovalRow(
                decided_by=a.decided_by,
                decided_at=a.decided_at,
                kind=a.kind,
                outcome=a.outcome,
                comment=a.comment,
                countersigned_by=a.countersigned_by,
                countersigned_at=a.countersigned_at,
                countersign_comment=a.countersign_comment,
                override_reason=a.override_reason,
                overridden=tuple(str(o) for o in a.overridden or ()),
                expires_at=a.expires_at,
            )
            for a in approvals
        ),
        conditions=tuple(
            ConditionRow(
                text=c.text,
                owner=c.owner,
                due=c.due_date,
                # "overdue" is derived, never stored (ConditionState): open and past its due date.
                state="overdue" if c.state == ConditionState.OPEN and c.due_date < today else c.state,
                finding_id=c.finding_id,
                met_by=c.met_by,
                met_at=c.met_at,
            )
            for c in conditions
        ),
    )


def _findings(session: Session, mv: ModelVersion) -> tuple[FindingRow, ...]:
    """The model's findings raised on this version or an earlier one, open ones first, as they stand now."""
    found = _findings_area.carried(session, mv)
    return tuple(
        FindingRow(
            id=f.id,
            title=f.title,
            severity=f.severity.value,
            state=f.state.value.replace("_", " "),
            owner=f.owner,
            due=f.due_date,
            raised_on_version=f.raised_on_version,
            overdue=f.overdue,
        )
        for f in sorted(found, key=lambda f: (not f.is_open, not f.overdue, f.due_date, f.id))
    )


def _production(session: Session, mv: ModelVersion) -> ProductionFacts | None:
    """The version the model's active prod deployment serves (as ``compare_with_production`` finds it)."""
    serving = lookup.in_production(session, mv.name)
    if serving is None:
        return None
    deployment_id, prod = serving
    since = session.execute(
        select(DeploymentRevision.started_at).where(
            DeploymentRevision.deployment_id == deployment_id, DeploymentRevision.ended_at.is_(None)
        )
    ).scalar_one_or_none()
    # Its production evaluations say how it does now; before any, its pre-prod one is what it was approved on.
    newest = session.execute(
        select(Evaluation)
        .where(Evaluation.model_version_id == prod.id)
        .order_by((Evaluation.space == Space.PROD.value).desc(), Evaluation.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return ProductionFacts(model=_model(prod), evaluation=None if newest is None else _evaluation(newest), since=since)


def _plan(session: Session, mv: ModelVersion, policy: TierPolicy, evaluation: EvaluationFacts) -> MonitoringPlan:
    critical = [
        CriticalCheck(
            name=f"{c.monitor}:{c.metric.name}",
            threshold=c.metric.threshold,
            direction=c.metric.direction if c.metric.direction != "none" else "",
            source="the spec",
        )
        for c in evaluation.report.checks
        if c.metric.critical
    ]
    named = {c.name for c in critical}
    critical.extend(
        CriticalCheck(name=key, threshold=None, source=f"tier {int(policy.tier)} policy")
        for key in policy.critical_checks
        if key not in named
    )
    expires = session.execute(
        select(Approval.expires_at)
        .where(Approval.model_version_id == mv.id, Approval.expires_at.is_not(None))
        .order_by(Approval.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return MonitoringPlan(
        tier=_inventory.tier_of(session, mv.name),
        approvals_required=policy.approvals,
        revalidation_months=policy.revalidation_months,
        critical_checks=tuple(critical),
        next_revalidation=expires,
    )


def report_inputs(
    ctx: ServiceContext,
    session: Session,
    mv: ModelVersion,
    evaluation: Evaluation,
    model_tests: Sequence[dict[str, object]],
) -> ReportInputs:
    """Everything the report shows of ``mv`` and ``evaluation``, read in ``session``."""
    facts = _evaluation(evaluation)
    doc = _documentation.read(session, mv.name, mv)
    record = session.execute(select(ModelRecord).where(ModelRecord.name == mv.name)).scalar_one_or_none()
    policy = _inventory.policy_for(session, mv.name, ctx.settings.policies())
    return ReportInputs(
        model=_model(mv),
        evaluation=facts,
        model_tests=tuple(model_tests),
        documentation={s.section: s.text for s in doc.sections},
        decision=_decision(session, mv, utcnow().date()),
        findings=_findings(session, mv),
        production=_production(session, mv),
        monitoring=_plan(session, mv, policy, facts),
        owner=None if record is None else record.owner,
        business_use=None if record is None else record.business_use,
    )


@overload
def validation_report(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    evaluation_id: int | None = None,
    fmt: Literal["html"] = "html",
) -> str: ...


@overload
def validation_report(
    ctx: ServiceContext,
    actor: Principal,
    model_version_id: int,
    *,
    evaluation_id: int | None = None,
    fmt: Literal["pdf", "docx"],
) -> bytes: ...


@overload
def validation_report(
    ctx: ServiceContext, actor: Principal, model_version_id: int, *, evaluation_id: int | None = None, fmt: str
) -> str | bytes: ...


def validation_report(
    ctx: ServiceContext, actor: Principal, model_version_id: int, *, evaluation_id: int | None = None, fmt: str = "html"
) -> str | bytes:
    """The report of ``evaluation_id`` (default: the version's newest evaluation): HTML text, or PDF / DOCX bytes.

    ``fmt`` other than html, pdf, docx is a ``ConfigError`` naming it.
    """
    require(ctx, actor, "view")
    chosen = formats.format_of(fmt)
    return formats.render(_document(ctx, actor, model_version_id, evaluation_id), chosen)


def every_format(ctx: ServiceContext, actor: Principal, model_version_id: int) -> dict[str, bytes]:
    """The report of the version's newest evaluation in every format, by extension: built once, rendered thrice
    (the evidence pack's; its caller has checked the actor's permission)."""
    document = _document(ctx, actor, model_version_id, None)
    out: dict[str, bytes] = {}
    for fmt in formats.FORMATS:
        rendered = formats.render(document, fmt)
        out[fmt] = rendered.encode("utf-8") if isinstance(rendered, str) else rendered
    return out


def _document(ctx: ServiceContext, actor: Principal, model_version_id: int, evaluation_id: int | None) -> Document:
    with ctx.db.read() as session:
        lookup.model_version(session, model_version_id)
        query = select(Evaluation.id).where(Evaluation.model_version_id == model_version_id)
        if evaluation_id is not None:
            query = query.where(Evaluation.id == evaluation_id)
        found = session.execute(query.order_by(Evaluation.id.desc()).limit(1)).scalar_one_or_none()
    if found is None:
        raise NotFoundError(
            f"model version {model_version_id} has no evaluation"
            + (f" {evaluation_id}" if evaluation_id is not None else "")
        )
    tested = runs.latest_model_tests(ctx, actor, model_version_id)
    with ctx.db.read() as session:
        mv = lookup.model_version(session, model_version_id)
        evaluation = session.get(Evaluation, found)
        assert evaluation is not None  # evaluations are never deleted
        inputs = report_inputs(ctx, session, mv, evaluation, tested.report.entries() if tested else ())
    return build_validation_report(inputs)
