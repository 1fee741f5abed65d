"""Keeps the external monitor service (IBM OpenScale) in step with the product: subscriptions, records, decisions.

With ``monitor_backend = "ibm"`` every deployment watsonx.ai serves is subscribed in
OpenScale when it is created; records scored through the product and labelled feedback
are logged to the subscription; an evaluation runs OpenScale's monitors and stores their
measurements as an evaluation of its own (``data_window.source = "openscale"``) beside the
local one, judged by the same thresholds; approving or rejecting a candidate sets the
risk evaluation status of its pre-prod subscription (delivered by the dispatcher, ``_dispatch``).
Without an external monitor service every function here does nothing and says so (None, or
"not configured").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from pipeline_core.backends.base import ModelToServe, MonitorSubscription, ServedModel
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.mrm import risk_summary
from pipeline_core.results.evaluation import EvaluationReport
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import count_payload
from pipeline_core.store.models import Deployment, FeedbackRecord
from pipeline_core.vocabulary import Space

KEY = "openscale"  # where a deployment's ``served`` document keeps its subscription


def subscribe(
    ctx: ServiceContext, actor: Principal, served: ServedModel, model: ModelToServe
) -> MonitorSubscription | None:
    """Subscribe a deployment the external target serves; None when there is nothing to subscribe."""
    require(ctx, actor, "sync_integrations")
    if ctx.monitors is None or served.backend == "local":
        return None
    return ctx.monitors.subscribe(served, spec=model.spec, model_name=model.name)


def subscription_of(served: dict[str, Any] | None) -> MonitorSubscription | None:
    return MonitorSubscription.from_dict(served[KEY]) if served and served.get(KEY) else None


def _subscription(ctx: ServiceContext, deployment_id: int) -> MonitorSubscription | None:
    if ctx.monitors is None:
        return None
    with ctx.db.read() as session:
        dep = session.get(Deployment, deployment_id)
        return subscription_of(dep.served if dep is not None else None)


def log_scored(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    part: pd.DataFrame,
    *,
    spec: DataSpec,
    labels: Sequence[str],
    probabilities: Sequence[Sequence[float]],
) -> None:
    """Log records scored through the product (smoke tests, evaluations, the dashboard) as payload."""
    require(ctx, actor, "sync_integrations")
    sub = _subscription(ctx, deployment_id)
    if sub is None or ctx.monitors is None:
        return
    values = json.loads(part[spec.feature_names].to_json(orient="values"))
    ctx.monitors.log_payload(sub, fields=spec.feature_names, values=values, labels=labels, probabilities=probabilities)


def log_feedback(
    ctx: ServiceContext, actor: Principal, deployment_id: int, frame: pd.DataFrame, *, spec: DataSpec
) -> None:
    """Log labelled records (features and the true label) as feedback."""
    require(ctx, actor, "sync_integrations")
    sub = _subscription(ctx, deployment_id)
    if sub is None or ctx.monitors is None:
        return
    columns = [*spec.feature_names, spec.target]
    values = json.loads(frame[columns].to_json(orient="values"))
    ctx.monitors.log_feedback(sub, fields=columns, values=values)


@dataclass(frozen=True)
class ExternalEvaluation:
    """What the external monitors measured (with its risk summary) and the window they measured it on."""

    report: EvaluationReport
    data_window: dict[str, Any]  # stored as the evaluation's window: source, subscription, record counts


def evaluate(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    *,
    spec: DataSpec,
    model_tests: Sequence[dict[str, Any]] = (),
    feedback_records: int | None = None,
) -> ExternalEvaluation | None:
    """Run the external monitors now: (their report with its risk summary, the data window); None without them."""
    require(ctx, actor, "sync_integrations")
    sub = _subscription(ctx, deployment_id)
    if sub is None or ctx.monitors is None:
        return None
    payload = count_payload(ctx, actor, deployment_id=deployment_id)
    if feedback_records is None:
        with ctx.db.read() as session:
            query = (
                select(func.count()).select_from(FeedbackRecord).where(FeedbackRecord.deployment_id == deployment_id)
            )
            feedback_records = int(session.execute(query).scalar() or 0)
    records = {"quality": feedback_records, "fairness": payload, "drift": payload}
    results = ctx.monitors.evaluate(sub, spec=spec, records=records)
    report = EvaluationReport.judge(results, risk_summary(results, model_tests=model_tests))
    window = {
        "source": KEY,
        "subscription_id": sub.subscription_id,
        "feedback_records": feedback_records,
        "payload_records": payload,
    }
    return ExternalEvaluation(report, window)


def set_decision(ctx: ServiceContext, model_version_id: int, *, approved: bool) -> str:
    """Set the risk evaluation status of the candidate's pre-prod subscription(s); what was done.

    The dispatcher's OpenScale sink for a decision (``_dispatch``): a ``PipelineError`` from the
    service propagates for it to record, back off and retry.
    """
    if ctx.monitors is None:
        return "not configured"
    with ctx.db.read() as session:
        deps = session.execute(
            select(Deployment).where(Deployment.model_version_id == model_version_id, Deployment.space == Space.PREPROD)
        ).scalars()
        subs = [s for s in (subscription_of(d.served) for d in deps) if s is not None]
    if not subs:  # served locally, or its pre-prod deployment was replaced since: nothing watches it
        return f"no OpenScale subscription watches a pre-prod deployment of model version {model_version_id}"
    for sub in subs:
        ctx.monitors.set_risk_status(sub, approved=approved)
    status = "approved" if approved else "rejected"
    return f"risk evaluation status {status} on subscription(s) {', '.join(s.subscription_id for s in subs)}"
