"""What stands between a candidate and its approval: critical checks, the tier's policy, documentation, findings.

Everything here is read in the caller's transaction and returns ``Blocking`` items, so the approval,
the production check and the pages all judge a version by the same list. A blocking item is either
*overridable* (a critical check that failed or went unjudged, a required documentation section not
written: an override names it, gives a reason and takes a second validator) or not (an open
high-severity finding: it is remediated or its risk accepted, never overridden at approval).

The tier's policy (``pipeline_core.policy``) adds checks that are critical for the tier beyond those the
spec marks: such a check that failed, went unjudged *or was not run at all* blocks as the spec's own do.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from pipeline_core.policy import TierPolicy
from pipeline_core.results.evaluation import Evaluated, EvaluationReport
from pipeline_core.services.governance import _documentation
from pipeline_core.services.governance._blocking import Blocking
from pipeline_core.store.models import Evaluation, ModelVersion
from pipeline_core.vocabulary import CheckStatus

_UNSETTLED = (CheckStatus.FAIL, CheckStatus.INSUFFICIENT)

# The findings area's list of open high-severity findings of a version's model (``_findings.blocking``).
FindingsBlocking = Callable[[Session, ModelVersion], list[Blocking]]


def _entries(ev: Evaluation | Evaluated) -> tuple[int, EvaluationReport]:
    report = EvaluationReport.from_dict(ev.results) if isinstance(ev, Evaluation) else ev.report
    return ev.id, report


def _describe(name: str, value: float | None, threshold: float | None, status: CheckStatus, detail: str) -> str:
    if status == CheckStatus.INSUFFICIENT:
        return f"{name} could not be judged ({detail or 'insufficient data'})"
    shown = "no value" if value is None else f"{value:.4f}"
    return f"{name} {shown}" + ("" if threshold is None else f" fails threshold {threshold:.2f}")


def blocking_critical(
    evaluations: Sequence[Evaluation | Evaluated], *, also_critical: Collection[str] = ()
) -> list[Blocking]:
    """Every critical check (or critical model test) that failed or could not be judged, per evaluation.

    Unjudged is not passed: a critical ROC AUC on 60 records blocks approval as a failed one does.
    ``also_critical`` ("monitor:metric") are critical whatever the spec says: the tier's policy.
    """
    extra = set(also_critical)
    found: list[Blocking] = []
    for ev in evaluations:
        ev_id, report = _entries(ev)
        for check in report.checks:
            m, key = check.metric, f"{check.monitor}:{check.metric.name}"
            if (m.critical or key in extra) and m.status in _UNSETTLED:
                text = _describe(m.name, m.value, m.threshold, m.status, m.detail)
                why = "" if m.critical else " (critical for the model's tier)"
                found.append(Blocking(key, f"{text}{why} (evaluation {ev_id})"))
        if report.risk is not None:
            judged = {b.key for b in found}
            for entry in report.risk.entries:
                key = f"{entry.source}:{entry.name}"
                if (entry.critical or key in extra) and entry.status in _UNSETTLED and key not in judged:
                    text = _describe(entry.name, entry.value, entry.threshold, entry.status, entry.detail)
                    found.append(Blocking(key, f"{entry.source} {text} (evaluation {ev_id})"))
    return found


def failed_critical(evaluations: Sequence[Evaluation | Evaluated]) -> list[str]:
    """'metric value < threshold (evaluation N)' for every critical check that failed or could not be judged."""
    return [b.text for b in blocking_critical(evaluations)]


def _not_run(evaluations: Sequence[Evaluation | Evaluated], policy: TierPolicy) -> list[Blocking]:
    """The tier's critical checks that no evaluation judged at all: not run is not passed."""
    seen: set[str] = set()
    for ev in evaluations:
        _, report = _entries(ev)
        seen.update(f"{c.monitor}:{c.metric.name}" for c in report.checks)
        if report.risk is not None:
            seen.update(f"{e.source}:{e.name}" for e in report.risk.entries)
    return [
        Blocking(key, f"{key} is critical for tier {int(policy.tier)} but no evaluation of this version judged it")
        for key in policy.critical_checks
        if key not in seen
    ]


def policy_blocking(
    session: Session,
    mv: ModelVersion,
    policy: TierPolicy,
    evaluations: Sequence[Evaluation | Evaluated],
    *,
    findings: FindingsBlocking | None = None,
) -> list[Blocking]:
    """Everything that blocks approving ``mv`` under ``policy`` on ``evaluations`` (its cited evidence)."""
    found = blocking_critical(evaluations, also_critical=policy.critical_checks)
    found += _not_run(evaluations, policy)
    found += _documentation.missing_required(session, mv, required=policy.required_documentation)
    if findings is not None:
        found += findings(session, mv)
    return found


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus ``months`` calendar months, on the same day or the month's last (31 Jan + 1 = 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def expiry(decided_at: datetime, policy: TierPolicy) -> datetime:
    """When an approval decided at ``decided_at`` under ``policy`` must be revalidated by."""
    return add_months(decided_at, policy.revalidation_months)
