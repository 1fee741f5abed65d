"""The Review page's shadow section: the candidate in the shadow of production, its controls and the comparison.

A data scientist or a validator starts the shadow (the candidate then scores every production
request after its response, apart) and stops it, each with a reason; everyone reads the comparison of
both models on the production records the shadow answered: agreement, score distributions, realised
and estimated performance, disparate impact on the same records.
"""

from __future__ import annotations

from itertools import pairwise

import plotly.graph_objects as go
import streamlit as st

from dashboard import ui
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import DeploymentInfo, ShadowInfo
from pipeline_core.services.monitoring import ShadowComparison
from pipeline_core.vocabulary import Space


def _production(ctx: ServiceContext, who: Principal, model_name: str) -> DeploymentInfo | None:
    return next(
        (d for d in deployments.list_deployments(ctx, who) if d.space == Space.PROD and d.model_name == model_name),
        None,
    )


def render_shadow(ctx: ServiceContext, who: Principal, candidate: governance.Candidate) -> None:
    """The section for ``candidate`` (the Review page's chosen one)."""
    st.markdown("#### In the shadow of production")
    production = _production(ctx, who, candidate.name)
    if production is None:
        ui.empty(f"No version of {candidate.name} serves in prod: there is no production traffic to shadow.")
        return
    running = deployments.list_shadows(ctx, who, production_deployment_id=production.id, active_only=True)
    other = next((s for s in running if s.model_version_id != candidate.model_version_id), None)
    mine = deployments.list_shadows(ctx, who, model_version_id=candidate.model_version_id)
    active = next((s for s in mine if s.active and s.production_deployment_id == production.id), None)
    st.caption(
        f"Prod deployment {production.id} serves {production.model_name} v{production.model_version}. In the "
        "shadow, the candidate scores every production request after its response is sent; production's answers "
        "and payload are never the shadow's."
    )
    _controls(ctx, who, candidate, production, active, other)
    shown = active or next(iter(mine), None)  # the active shadow, else the newest one
    if shown is None:
        return
    found = ui.act(lambda: monitoring.shadow_comparison(ctx, who, shown.id))
    if found is not None:
        _comparison(found)


def _controls(
    ctx: ServiceContext,
    who: Principal,
    candidate: governance.Candidate,
    production: DeploymentInfo,
    active: ShadowInfo | None,
    other: ShadowInfo | None,
) -> None:
    if active is not None:
        st.markdown(
            f"**Shadow {active.id} is active** since {ui.when(active.started_at)}, started by {active.started_by}: "
            f"{active.start_reason}"
        )
    elif other is not None:
        st.info(
            f"Prod deployment {production.id} is shadowed by model version {other.model_version_id} (shadow "
            f"{other.id}, started by {other.started_by}); one shadow at a time: it must be stopped first."
        )
    if not ui.can(who, "shadow"):
        st.caption("A data scientist or a validator starts and stops a shadow.")
        return
    verb = "Stop" if active is not None else "Start"
    reason = st.text_input(
        f"Why {verb.lower()} the shadow (a sentence, kept and audited)",
        key=f"shadow-reason-{candidate.model_version_id}",
    )
    if not st.button(f"{verb} the shadow", key=f"shadow-{verb.lower()}", disabled=other is not None and active is None):
        return
    if active is not None:
        done = ui.act(lambda: deployments.stop_shadow(ctx, who, active.id, reason=reason))
        if done is not None:
            st.success(f"Shadow {done.id} stopped; what it said stays below.")
    else:
        started = ui.act(
            lambda: deployments.start_shadow(
                ctx,
                who,
                production_deployment_id=production.id,
                model_version_id=candidate.model_version_id,
                reason=reason,
            )
        )
        if started is not None:
            st.success(
                f"Shadow {started.id} started: the scoring service scores production's traffic with "
                f"v{started.version} from its next refresh."
            )


def _estimated(value: float | None, band: tuple[float, float] | None) -> float | str | None:
    """An estimate with its interval where it has one, as one cell."""
    shown = _figure(value)
    return shown if band is None or value is None else f"{shown} [{band[0]:.3f}, {band[1]:.3f}]"


def _figure(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _comparison(found: ShadowComparison) -> None:
    report = found.report
    state = (
        "active" if found.shadow.active else f"stopped {ui.when(found.shadow.stopped_at)} by {found.shadow.stopped_by}"
    )
    st.caption(
        f"Shadow {found.shadow.id} ({state}): candidate v{found.shadow.version} against production "
        f"v{found.production_version} on identical production traffic, {found.period}."
    )
    rate = "–" if report.agreement_rate is None else f"{report.agreement_rate:.1%}"
    for column, (label, value) in zip(
        st.columns(4),
        (
            ("Records compared", f"{report.records:,}"),
            ("Decisions agree", rate),
            ("Labelled", f"{report.labelled:,}"),
            ("No shadow answer", f"{found.missing:,}"),
        ),
        strict=True,
    ):
        column.metric(label, value)
    if found.missing:
        st.caption(
            f"{found.missing:,} of the {found.production_records:,} production records of the period have no "
            "shadow answer (its queue was full, or its model failed): they are left out of every figure here."
        )
    if not report.records:
        ui.empty("The shadow has answered no production request yet: the comparison fills as traffic arrives.")
        return
    edges = report.histogram.edges
    middles = [(a + b) / 2 for a, b in pairwise(edges)]
    figure = go.Figure(
        [
            go.Bar(x=middles, y=list(report.histogram.production), name=f"production v{found.production_version}"),
            go.Bar(x=middles, y=list(report.histogram.shadow), name=f"shadow v{found.shadow.version}"),
        ]
    )
    figure.update_layout(barmode="group", xaxis_title="probability of the unfavourable outcome", yaxis_title="records")
    st.markdown("**Score distributions** of both models on the same records")
    st.plotly_chart(ui.styled(figure, height=320), key="shadow-scores")
    rows = []
    for metric, pick in (("ROC AUC", "roc_auc"), ("accuracy", "accuracy")):
        realised = [
            getattr(side, pick) if side is not None else None
            for side in (report.realised_production, report.realised_shadow)
        ]
        estimated = [getattr(e, pick) for e in (found.estimated_production, found.estimated_shadow)]
        rows.append(
            {
                "figure": f"realised {metric} ({report.labelled:,} labelled)",
                "production": _figure(realised[0]),
                "shadow": _figure(realised[1]),
            }
        )
        bands = [
            e.roc_auc_interval if pick == "roc_auc" else None
            for e in (found.estimated_production, found.estimated_shadow)
        ]
        rows.append(
            {
                "figure": f"estimated {metric}" + (" [95% interval]" if pick == "roc_auc" else ""),
                "production": _estimated(estimated[0], bands[0]),
                "shadow": _estimated(estimated[1], bands[1]),
            }
        )
    st.markdown("**Performance** where feedback labelled the records, and estimated from the probabilities")
    ui.records(rows, every_row=True)
    notes = {found.estimated_production.note, found.estimated_shadow.note}
    st.caption("; ".join(sorted(notes)))
    st.markdown("**Fairness** on the same records: disparate impact of each protected attribute")
    ui.records(
        [
            {
                "attribute": g.attribute,
                "groups": f"{g.monitored} vs {g.reference}",
                "records": f"{g.monitored_records:,} / {g.reference_records:,}",
                "production": _figure(g.production),
                "shadow": _figure(g.shadow),
                "judged": "yes" if g.judged else f"no: fewer than {g.minimum} in a group",
            }
            for g in report.fairness
        ],
        every_row=True,
    )
