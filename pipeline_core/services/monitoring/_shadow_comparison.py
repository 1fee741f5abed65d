"""Shadow comparison: production and its shadow candidate on identical production traffic.

The records compared are the production records the shadow answered (its answers joined to the
production payload by scoring id); production records of the shadow's period it has no answer for
(dropped by a full queue, or its model failed) are counted and said. Labels are the production
deployment's linked feedback, joined by scoring id. The figures are ``monitors.shadow``'s; the
estimated performance of both (no labels needed) is ``estimated_performance``: the evaluations' own estimate,
each model checked for calibration on its own held-out split.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select

from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.estimate import estimate_performance
from pipeline_core.monitors.shadow import SHADOW_PREDICTION, SHADOW_PROBABILITY, ShadowReport, compare_shadow
from pipeline_core.results.evidence import performance_estimate
from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow, read_payload
from pipeline_core.services.deployments import ShadowInfo
from pipeline_core.services.monitoring._evaluations import feedback_frame, model_frames
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import PayloadBatch


@dataclass(frozen=True)
class EstimatedPerformance:
    """A model's performance estimated from its probabilities alone, or why there is none."""

    roc_auc: float | None
    roc_auc_interval: tuple[float, float] | None
    accuracy: float | None
    note: str  # what the estimate rests on, or why it is refused or not available


@dataclass(frozen=True)
class ShadowComparison:
    """Production and its shadow on the same production records."""

    shadow: ShadowInfo
    production_model_version_id: int  # what the production deployment serves now
    production_version: int
    period: str  # the shadow's period, as a person reads it
    production_records: int  # production records scored in the shadow's period
    missing: int  # of those, the ones the shadow has no answer for (dropped or failed)
    report: ShadowReport
    estimated_production: EstimatedPerformance
    estimated_shadow: EstimatedPerformance

    @property
    def records(self) -> int:
        return self.report.records


def estimated_performance(current: pd.DataFrame, held_out: pd.DataFrame, *, spec: DataSpec) -> EstimatedPerformance:
    """A model's performance on ``current`` (its answers) estimated without labels, after checking its calibration
    on ``held_out`` (its scored test split): the evaluations' own estimate (``monitors.estimate``), or why not."""
    found = performance_estimate(estimate_performance(current, held_out, spec=spec))
    if found is None or found.refused:
        return EstimatedPerformance(None, None, None, f"estimate refused: {found.refused if found else 'no estimate'}")
    checked = found.calibration
    basis = f"estimated from the probabilities of {found.records:,} records"
    if checked is not None:
        basis += f"; held-out calibration error {checked.expected_calibration_error:.3f}"
        basis += ", recalibrated on the held-out" if checked.recalibrated else ""
    return EstimatedPerformance(found.roc_auc, found.roc_auc_interval, found.accuracy, basis)


def _records_between(ctx: ServiceContext, deployment_id: int, since: datetime, until: datetime | None) -> int:
    query = select(func.coalesce(func.sum(PayloadBatch.n_records), 0)).where(
        PayloadBatch.deployment_id == deployment_id, PayloadBatch.created_at >= since
    )
    if until is not None:
        query = query.where(PayloadBatch.created_at <= until)
    with ctx.db.read() as session:
        return int(session.execute(query).scalar() or 0)


def shadow_comparison(ctx: ServiceContext, actor: Principal, shadow_id: int, *, bins: int = 10) -> ShadowComparison:
    """Production and shadow ``shadow_id`` on the production records the shadow answered (the module says how)."""
    require(ctx, actor, "view")
    shadow = deployments.get_shadow(ctx, actor, shadow_id)
    production = deployments.get_deployment(ctx, actor, shadow.production_deployment_id)
    spec = deployments.deployment_spec(ctx, actor, production.id)
    answers = deployments.shadow_outputs(ctx, actor, shadow_id).rename(
        columns={PREDICTION: SHADOW_PREDICTION, PROBABILITY: SHADOW_PROBABILITY}
    )
    window = PayloadWindow(since=shadow.started_at, until=shadow.stopped_at)
    payload = read_payload(ctx, actor, production.id, window, scoring_ids=True)
    if payload.empty or answers.empty:
        columns = [*spec.feature_names, PREDICTION, PROBABILITY, SHADOW_PREDICTION, SHADOW_PROBABILITY, spec.target]
        records = pd.DataFrame({c: pd.Series(dtype=float if "probability" in c else object) for c in columns})
    else:
        payload[SCORING_ID] = payload[SCORING_ID].astype(str)
        records = payload.merge(answers, on=SCORING_ID, how="inner", validate="one_to_one")
        feedback = feedback_frame(ctx, actor, production.id, spec)
        labels = feedback.loc[feedback[SCORING_ID].notna(), [SCORING_ID, spec.target]].drop_duplicates(SCORING_ID)
        records = records.drop(columns=[spec.target], errors="ignore").merge(labels, on=SCORING_ID, how="left")
    report = compare_shadow(records, spec=spec, bins=bins)
    scored = _records_between(ctx, production.id, shadow.started_at, shadow.stopped_at)
    until = f"{shadow.stopped_at:%Y-%m-%d %H:%M}" if shadow.stopped_at is not None else f"now ({utcnow():%H:%M})"
    period = f"{shadow.started_at:%Y-%m-%d %H:%M} to {until}"
    if records.empty:
        none = EstimatedPerformance(None, None, None, "no record compared yet")
        estimates = (none, none)
    else:
        production_frames = model_frames(ctx, actor, production.model_version_id)
        shadow_frames = model_frames(ctx, actor, shadow.model_version_id)
        shadow_view = records.drop(columns=[PREDICTION, PROBABILITY]).rename(
            columns={SHADOW_PREDICTION: PREDICTION, SHADOW_PROBABILITY: PROBABILITY}
        )
        estimates = (
            estimated_performance(records, production_frames.held_out, spec=spec),
            estimated_performance(shadow_view, shadow_frames.held_out, spec=spec),
        )
    return ShadowComparison(
        shadow,
        production.model_version_id,
        production.model_version,
        period,
        scored,
        max(scored - report.records, 0),
        report,
        *estimates,
    )
