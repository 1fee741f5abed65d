"""The validation report as a model-risk document: typed inputs in, a ``Document`` of the fixed sections out.

``build_validation_report`` reads only what ``ReportInputs`` carries (the service fills it from the
store), so the same inputs give the same document, and every renderer (HTML, PDF, DOCX) says the same.
Its sections are ``SECTION_TITLES``, always all of them and in that order: a section with nothing to
show says so in a ``Note``, so a reader can tell "not recorded" from "left out".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pipeline_core.reports import charts
from pipeline_core.reports.document import Block, Document, KeyValues, Note, Paragraph, Section, Table, readable
from pipeline_core.results import Metric
from pipeline_core.results.evaluation import EvaluationReport, MonitorName
from pipeline_core.results.tables import (
    Row,
    bias_scan_rows,
    change_rows,
    consistency_rows,
    drift_rows,
    group_rows,
    metric_rows,
    risk_rows,
)
from pipeline_core.vocabulary import OPEN_FINDING_STATES, CheckStatus, DocSection, Tier

SECTION_TITLES: tuple[str, ...] = (
    "Executive summary",
    "Decision record",
    "Model description and intended use",
    "Data and conceptual soundness",
    "Performance",
    "Fairness",
    "Explainability",
    "Model tests",
    "Comparison with the production model",
    "Findings and conditions",
    "Ongoing monitoring plan",
)
(
    EXECUTIVE_SUMMARY,
    DECISION_RECORD,
    DESCRIPTION,
    DATA,
    PERFORMANCE,
    FAIRNESS,
    EXPLAINABILITY,
    MODEL_TESTS,
    COMPARISON,
    FINDINGS,
    MONITORING,
) = SECTION_TITLES

# Which documentation sections a reader finds under which report section.
DESCRIPTION_DOCS = (DocSection.PURPOSE, DocSection.INTENDED_USERS, DocSection.OUT_OF_SCOPE, DocSection.OVERSIGHT)
DATA_DOCS = (DocSection.DATA, DocSection.FEATURES, DocSection.ASSUMPTIONS, DocSection.LIMITATIONS)
DISCRIMINATION = ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "true_positive_rate")
CALIBRATION = ("brier", "log_loss")
# The comparison's rows: the quality metrics a reader weighs a replacement by.
COMPARED = ("roc_auc", "pr_auc", "accuracy", "f1", "brier")
_TOP_CONTRIBUTIONS = 10


def _when(value: datetime | date | str | None) -> str:
    """A time as a reader reads it: to the minute, UTC as stored; a date as ISO."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value) if isinstance(value, str) else value.isoformat()


@dataclass(frozen=True, kw_only=True)
class ModelFacts:
    """A model version as the report describes it."""

    name: str
    version: int
    id: int
    state: str
    model_type: str
    artifact_sha256: str
    training_data_sha256: str
    created_by: str
    created_at: datetime | str
    run_id: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    training_metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version} (model version {self.id})"


@dataclass(frozen=True, kw_only=True)
class EvaluationFacts:
    """One stored evaluation: where and when it ran, on what data, and what it found."""

    id: int
    space: str
    created_at: datetime | str
    data_window: Mapping[str, Any]
    report: EvaluationReport


@dataclass(frozen=True, kw_only=True)
class ApprovalRow:
    """One decision of the approvals table (an approval, a rejection, a revalidation), with its countersign."""

    decided_by: str
    decided_at: datetime | str
    kind: str
    outcome: str
    comment: str = ""
    countersigned_by: str | None = None
    countersigned_at: datetime | str | None = None
    countersign_comment: str | None = None
    override_reason: str | None = None
    overridden: tuple[str, ...] = ()
    expires_at: datetime | str | None = None


@dataclass(frozen=True, kw_only=True)
class ConditionRow:
    """A condition an approval carries: who must do what by when, and whether it is met."""

    text: str
    owner: str
    due: date | str
    state: str
    finding_id: int | None = None
    met_by: str | None = None
    met_at: datetime | str | None = None


@dataclass(frozen=True, kw_only=True)
class DecisionRecord:
    approvals: tuple[ApprovalRow, ...] = ()
    conditions: tuple[ConditionRow, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FindingRow:
    """A validation finding as the report lists it."""

    id: int
    title: str
    severity: str
    state: str
    owner: str | None = None
    due: date | str | None = None
    raised_on_version: int | None = None
    overdue: bool = False


@dataclass(frozen=True, kw_only=True)
class ProductionFacts:
    """The version in production of the same model, and its newest evaluation (None: none stored)."""

    model: ModelFacts
    evaluation: EvaluationFacts | None = None
    since: datetime | str | None = None


@dataclass(frozen=True, kw_only=True)
class CriticalCheck:
    name: str  # "monitor:metric"
    threshold: float | None
    direction: str = ""
    source: str = ""  # where it is made critical: the spec, the tier's policy


@dataclass(frozen=True, kw_only=True)
class MonitoringPlan:
    """What the tier asks once the version is in production."""

    tier: Tier | None  # None: untiered, governed as the most material tier
    approvals_required: int
    revalidation_months: int
    critical_checks: tuple[CriticalCheck, ...] = ()
    next_revalidation: datetime | date | str | None = None


@dataclass(frozen=True, kw_only=True)
class ReportInputs:
    """Everything the validation report shows; the optional parts are None (or empty) when not recorded."""

    model: ModelFacts
    evaluation: EvaluationFacts
    model_tests: Sequence[Mapping[str, Any]] = ()
    documentation: Mapping[DocSection, str | None] | None = None
    decision: DecisionRecord = field(default_factory=DecisionRecord)
    findings: Sequence[FindingRow] = ()
    production: ProductionFacts | None = None  # None: no model of this name is in production
    monitoring: MonitoringPlan | None = None
    owner: str | None = None
    business_use: str | None = None


def _table(rows: Sequence[Row], caption: str = "") -> Table | None:
    """Rows of ``pipeline_core.results.tables`` as a ``Table``; None for no rows."""
    if not rows:
        return None
    headers = tuple(rows[0])
    return Table(headers, tuple(tuple(readable(r[h]) for h in headers) for r in rows), caption=caption)


def _blocks(*blocks: Block | None) -> tuple[Block, ...]:
    return tuple(b for b in blocks if b is not None)


def _metric(report: EvaluationReport, name: str) -> Metric | None:
    quality = report.monitor(MonitorName.QUALITY)
    return next((m for m in quality.metrics if m.name == name), None) if quality is not None else None


def _value(metric: Metric | None) -> str:
    return "–" if metric is None or metric.value is None else readable(float(metric.value))


def _window(window: Mapping[str, Any]) -> str:
    return "; ".join(f"{str(k).replace('_', ' ')} {readable(v)}" for k, v in window.items()) or "–"


def _latest(decision: DecisionRecord) -> ApprovalRow | None:
    return decision.approvals[-1] if decision.approvals else None


def _decision_text(row: ApprovalRow | None) -> str:
    if row is None:
        return "no decision recorded"
    if row.outcome == "pending" and not row.countersigned_by:
        return f"{row.kind} by {row.decided_by}, {_when(row.decided_at)}, awaiting a second validator's countersign"
    text = f"{row.kind} {row.outcome} by {row.decided_by}, {_when(row.decided_at)}"
    if row.countersigned_by:
        text += f"; countersigned by {row.countersigned_by}, {_when(row.countersigned_at)}"
    return text


def _executive_summary(inputs: ReportInputs) -> Section:
    report = inputs.evaluation.report
    risk = report.risk
    open_conditions = [c for c in inputs.decision.conditions if c.state != "met"]
    open_findings = [f for f in inputs.findings if f.state in OPEN_FINDING_STATES]
    facts: dict[str, object] = {
        "Model": inputs.model.label,
        "State": inputs.model.state,
        "Materiality tier": _tier(inputs.monitoring),
        "Evaluation": f"{inputs.evaluation.id} ({inputs.evaluation.space}, {_when(inputs.evaluation.created_at)})",
        "Verdict of the evaluation": report.status.value,
        "Risk level": "not evaluated" if risk is None else f"{risk.level.value} ({risk.counts.describe()})",
        "ROC AUC": _value(_metric(report, "roc_auc")),
        "Decision": _decision_text(_latest(inputs.decision)),
        "Open conditions": str(len(open_conditions)),
        "Open findings": str(len(open_findings)),
        "Production model": ("none in production" if inputs.production is None else inputs.production.model.label),
    }
    failed = report.failed_critical
    unjudged = report.unjudged_critical
    blocks: list[Block] = [KeyValues.of(facts)]
    if failed or unjudged:
        blocks.append(
            Table(
                ("check", "value", "threshold", "verdict", "detail"),
                tuple(
                    (
                        f"{c.monitor}:{c.metric.name}",
                        _value(c.metric),
                        readable(c.metric.threshold),
                        c.metric.status.value,
                        c.metric.detail,
                    )
                    for c in (*failed, *unjudged)
                ),
                caption="Critical checks that failed or could not be judged",
            )
        )
    else:
        blocks.append(Paragraph("Every critical check of this evaluation passed."))
    return Section(EXECUTIVE_SUMMARY, tuple(blocks))


def _decision_record(decision: DecisionRecord) -> Section:
    blocks: list[Block] = []
    if decision.approvals:
        blocks.append(
            Table(
                (
                    "decided by",
                    "decided at",
                    "kind",
                    "outcome",
                    "comment",
                    "countersigned by",
                    "countersigned at",
                    "override reason",
                ),
                tuple(
                    (
                        a.decided_by,
                        _when(a.decided_at),
                        a.kind,
                        a.outcome,
                        a.comment or "–",
                        a.countersigned_by or "–",
                        _when(a.countersigned_at),
                        (a.override_reason or "–")
                        + (f" (lifts: {', '.join(a.overridden)})" if a.override_reason and a.overridden else ""),
                    )
                    for a in decision.approvals
                ),
                caption="Decisions on this model version, oldest first",
            )
        )
        expiring = [a for a in decision.approvals if a.expires_at is not None]
        if expiring:
            blocks.append(Paragraph(f"The approval expires on {_when(expiring[-1].expires_at)}."))
    else:
        blocks.append(Note("No decision has been recorded for this model version yet."))
    if decision.conditions:
        blocks.append(_conditions_table(decision.conditions, "Conditions of approval"))
    else:
        blocks.append(Note("No conditions of approval were set."))
    return Section(DECISION_RECORD, tuple(blocks))


def _conditions_table(conditions: Sequence[ConditionRow], caption: str) -> Table:
    return Table(
        ("condition", "owner", "due", "state", "finding", "met by"),
        tuple(
            (
                c.text,
                c.owner,
                _when(c.due),
                c.state,
                "–" if c.finding_id is None else str(c.finding_id),
                "–" if not c.met_by else f"{c.met_by}, {_when(c.met_at)}",
            )
            for c in conditions
        ),
        caption=caption,
    )


def _documentation(documentation: Mapping[DocSection, str | None] | None, sections: Sequence[DocSection]) -> Section:
    if documentation is None:
        return Section("Documentation", (Note("The model's documentation was not available to this report."),))
    return Section(
        "Documentation",
        tuple(
            Section(
                s.heading,
                (Paragraph(text),) if (text := documentation.get(s)) else (Note("Not written."),),
            )
            for s in sections
        ),
    )


def _description(inputs: ReportInputs) -> Section:
    m = inputs.model
    facts = KeyValues.of(
        {
            "Model": m.label,
            "Owner": inputs.owner or "–",
            "Business use": inputs.business_use or "–",
            "Model type": m.model_type,
            "State": m.state,
            "Created by": m.created_by,
            "Created at": _when(m.created_at),
            "Pipeline run": "–" if m.run_id is None else str(m.run_id),
            "Artifact sha256": m.artifact_sha256,
        }
    )
    params = (
        Table(("parameter", "value"), tuple((str(k), readable(v)) for k, v in m.params.items()), caption="Parameters")
        if m.params
        else Note("No training parameters were recorded.")
    )
    return Section(DESCRIPTION, (facts, params, _documentation(inputs.documentation, DESCRIPTION_DOCS)))


def _data(inputs: ReportInputs) -> Section:
    m, evaluation = inputs.model, inputs.evaluation
    report = evaluation.report
    blocks: list[Block] = [
        KeyValues.of(
            {
                "Training data sha256": m.training_data_sha256,
                "Evaluation data": _window(evaluation.data_window),
            }
        )
    ]
    if m.training_metrics:
        blocks.append(
            Table(
                ("metric", "value"),
                tuple((str(k), readable(v)) for k, v in m.training_metrics.items()),
                caption="Metrics recorded by the training run",
            )
        )
    drift = report.monitor(MonitorName.DRIFT)
    if drift is None:
        blocks.append(Note("No drift results in this evaluation: the data was not compared with the training data."))
    elif drift.status == CheckStatus.INSUFFICIENT:
        blocks.append(Note(drift.metrics[0].detail))
    else:
        blocks.append(
            _table(drift_rows(report.drift_features), "Drift of each feature against the training data")
            or Note("No feature was compared for drift.")
        )
        consistency = report.data_consistency
        if consistency is not None:
            blocks.append(
                Paragraph(f"{consistency.records} records break a constraint learned from the training data.")
            )
            blocks.extend(_blocks(_table(consistency_rows(consistency), "Constraints broken, by column")))
    blocks.append(_documentation(inputs.documentation, DATA_DOCS))
    return Section(DATA, tuple(blocks))


def _performance(report: EvaluationReport) -> Section:
    quality = report.monitor(MonitorName.QUALITY)
    if quality is None:
        return Section(PERFORMANCE, (Note("No quality results in this evaluation."),))
    if quality.status == CheckStatus.INSUFFICIENT:
        return Section(PERFORMANCE, (Note(quality.metrics[0].detail),))
    curves = quality.details.get("curves")
    auc, pr_auc = _metric(report, "roc_auc"), _metric(report, "pr_auc")
    by_name = {m.name: m for m in quality.metrics}
    discrimination = [by_name[n] for n in DISCRIMINATION if n in by_name]
    calibration = [by_name[n] for n in CALIBRATION if n in by_name]
    others = [m for m in quality.metrics if m.name not in DISCRIMINATION + CALIBRATION]
    cm = report.confusion_matrix
    confusion = (
        Table(
            ("true \\ predicted", *cm.labels),
            tuple((label, *(str(n) for n in row)) for label, row in zip(cm.labels, cm.matrix, strict=True)),
            caption=f"Confusion matrix at threshold {cm.threshold:g}",
        )
        if cm is not None
        else None
    )
    return Section(
        PERFORMANCE,
        (
            Paragraph(f"Measured on {quality.n_records} labelled records."),
            Section(
                "Discrimination",
                _blocks(
                    _table(metric_rows([*discrimination, *others]), "Discrimination metrics"),
                    confusion,
                    charts.roc(curves, auc.value if auc else None),
                    charts.pr(curves, pr_auc.value if pr_auc else None),
                ),
            ),
            Section(
                "Calibration",
                _blocks(
                    _table(metric_rows(calibration), "Calibration metrics (lower is better)"),
                    charts.calibration(curves),
                    charts.score_distribution(curves),
                ),
            ),
            _stability(report),
        ),
    )


def _group_label(attribute: str, group: str) -> str:
    """A group as a chart labels it: its description, which names the attribute unless it is a bare value."""
    return group if attribute in group else f"{attribute}: {group}"


def _stability(report: EvaluationReport) -> Section:
    """Performance per segment: each protected attribute's groups (rates with counts), and the lowest scan slices."""
    groups = report.fairness_groups
    rows = [
        (
            g.attribute,
            role,
            rates.group,
            str(rates.n),
            readable(rates.favourable_rate),
            readable(rates.tpr),
            readable(rates.fpr),
        )
        for g in groups
        for role, rates in (("monitored", g.monitored), ("reference", g.reference))
    ]
    blocks: list[Block] = []
    if rows:
        blocks.append(
            Table(
                (
                    "attribute",
                    "role",
                    "group",
                    "records",
                    "favourable rate",
                    "true positive rate",
                    "false positive rate",
                ),
                tuple(rows),
                caption="Rates per segment",
            )
        )
        tpr = [(_group_label(g.attribute, r.group), r.tpr, r.n) for g in groups for r in (g.monitored, g.reference)]
        if all(value is not None for _, value, _ in tpr):
            blocks.append(charts.per_group([(label, float(v or 0.0), n) for label, v, n in tpr], "true positive rate"))
        else:
            blocks.append(Note("True positive rates per segment need the true labels, which this evaluation lacks."))
    else:
        blocks.append(Note("No segments were measured in this evaluation."))
    drop = report.accuracy_drop
    if drop is not None:
        if drop.estimated_drop is None:
            blocks.append(Note(f"Drop in accuracy: not estimated ({drop.reason})."))
        else:
            blocks.append(
                Paragraph(
                    f"Drop in accuracy: estimated accuracy {readable(drop.estimated_accuracy)} against "
                    f"{readable(drop.reference_accuracy)} on held-out data. Records to label: "
                    f"{report.to_label.describe()}."
                )
            )
    return Section("Stability across segments", tuple(blocks))


def _fairness(report: EvaluationReport) -> Section:
    fairness = report.monitor(MonitorName.FAIRNESS)
    if fairness is None:
        return Section(FAIRNESS, (Note("No fairness results in this evaluation."),))
    blocks: list[Block] = list(
        _blocks(
            _table(metric_rows(fairness.metrics), "Fairness metrics"),
            _table(group_rows(report.fairness_groups), "Monitored and reference groups"),
        )
    )
    if report.fairness_groups:
        blocks.append(
            charts.per_group(
                [
                    (_group_label(g.attribute, rates.group), rates.favourable_rate, rates.n)
                    for g in report.fairness_groups
                    for rates in (g.monitored, g.reference)
                ],
                "favourable rate",
            )
        )
    scan = report.bias_scan
    blocks.append(
        _table(bias_scan_rows(scan), "Bias scan: the groups with the lowest disparate impact")
        or Note("The bias scan found no group to report.")
    )
    return Section(FAIRNESS, tuple(blocks))


def _explainability(report: EvaluationReport) -> Section:
    explain = report.monitor(MonitorName.EXPLAINABILITY)
    if explain is None:
        return Section(EXPLAINABILITY, (Note("No explainability results in this evaluation."),))
    if explain.status == CheckStatus.INSUFFICIENT:
        return Section(EXPLAINABILITY, (Note(explain.metrics[0].detail),))
    blocks: list[Block] = []
    importance = report.global_importance
    if importance:
        blocks.append(
            Table(
                ("feature", "importance", "std"),
                tuple((r.feature, readable(r.importance), readable(r.std)) for r in importance),
                caption="Global importance: drop in ROC AUC when the feature is shuffled",
            )
        )
    else:
        blocks.append(Note("No global importance was computed."))
    for item in report.explanations:
        local, contrast = item.local, item.contrastive
        verb = "flips" if contrast.flipped else "does not flip"
        blocks.append(
            Section(
                f"Record {item.record}" + (f" ({item.scoring_id})" if item.scoring_id else ""),
                _blocks(
                    Paragraph(f"Probability {readable(local.probability)} (base value {readable(local.base_value)})."),
                    Table(
                        ("feature", "value", "SHAP contribution"),
                        tuple(
                            (c.feature, readable(c.value), readable(c.shap))
                            for c in local.contributions[:_TOP_CONTRIBUTIONS]
                        ),
                        caption="Largest contributions",
                    ),
                    Paragraph(
                        f"Contrastive: the change below {verb} the decision {contrast.decision} to "
                        f"{contrast.new_decision} (probability {readable(contrast.new_probability)})."
                    ),
                    _table(change_rows(contrast), "Changes, in the order made"),
                ),
            )
        )
    return Section(EXPLAINABILITY, tuple(blocks))


def _model_tests(entries: Sequence[Mapping[str, Any]], report: EvaluationReport) -> Section:
    """The model test suite's verdicts, then every test the risk level counts (the monitors' checks among them)."""
    blocks: list[Block] = []
    if entries:
        blocks.append(
            Table(
                ("test", "verdict", "critical", "evidence"),
                tuple(
                    (str(t["name"]), str(t["status"]), "yes" if t.get("critical") else "", str(t.get("detail", "")))
                    for t in entries
                ),
                caption="Model test suite",
            )
        )
    else:
        blocks.append(Note("No model test results are stored for this model version."))
    if report.risk is not None:
        blocks.extend(_blocks(_table(risk_rows(report.risk), "Every test the risk level counts")))
    else:
        blocks.append(Note("No risk evaluation in this evaluation: its tests were not counted."))
    return Section(MODEL_TESTS, tuple(blocks))


def _comparison(inputs: ReportInputs) -> Section:
    production = inputs.production
    if production is None:
        return Section(
            COMPARISON, (Note(f"No model {inputs.model.name} is in production: there is nothing to compare with."),)
        )
    if production.model.id == inputs.model.id:
        return Section(COMPARISON, (Note("This model version is the one in production."),))
    ours, theirs = inputs.evaluation, production.evaluation

    def summary(e: EvaluationFacts | None) -> list[str]:
        if e is None:
            return ["no evaluation stored", "–", "–", *("–" for _ in COMPARED)]
        risk = e.report.risk_level
        return [
            f"{e.id} ({e.space}, {_when(e.created_at)})",
            e.report.status.value,
            "–" if risk is None else risk.value,
            *(_value(_metric(e.report, name)) for name in COMPARED),
        ]

    labels = ["model version", "created at", "artifact sha256", "evaluation", "verdict", "risk level", *COMPARED]
    left = [inputs.model.label, _when(inputs.model.created_at), inputs.model.artifact_sha256[:16], *summary(ours)]
    right = [
        production.model.label,
        _when(production.model.created_at),
        production.model.artifact_sha256[:16],
        *summary(theirs),
    ]
    blocks: list[Block] = [
        Table(
            ("", "candidate", "production"),
            tuple(zip(labels, left, right, strict=True)),
            caption="Each model's own newest evaluation (not the same records unless both say so)",
        )
    ]
    if production.since is not None:
        blocks.append(Paragraph(f"{production.model.label} has served production since {_when(production.since)}."))
    return Section(COMPARISON, tuple(blocks))


def _findings(inputs: ReportInputs) -> Section:
    blocks: list[Block] = []
    if inputs.findings:
        blocks.append(
            Table(
                ("finding", "title", "severity", "state", "owner", "due", "raised on"),
                tuple(
                    (
                        str(f.id),
                        f.title,
                        f.severity,
                        f.state + (" (overdue)" if f.overdue else ""),
                        f.owner or "–",
                        _when(f.due),
                        "–" if f.raised_on_version is None else f"v{f.raised_on_version}",
                    )
                    for f in inputs.findings
                ),
                caption="Findings of the validation",
            )
        )
    else:
        blocks.append(Note("No findings have been recorded for this model."))
    open_conditions = [c for c in inputs.decision.conditions if c.state != "met"]
    if open_conditions:
        blocks.append(_conditions_table(open_conditions, "Conditions still open"))
    else:
        blocks.append(Note("No condition of approval is open."))
    return Section(FINDINGS, tuple(blocks))


def _tier(plan: MonitoringPlan | None) -> str:
    if plan is None:
        return "–"
    if plan.tier is None:
        return "untiered (governed as tier 1)"
    return f"{int(plan.tier)} ({plan.tier.name.lower()})"


def _monitoring(inputs: ReportInputs) -> Section:
    plan = inputs.monitoring
    if plan is None:
        return Section(MONITORING, (Note("No monitoring plan was available to this report."),))
    blocks: list[Block] = [
        KeyValues.of(
            {
                "Materiality tier": _tier(plan),
                "Validators required to approve": str(plan.approvals_required),
                "Revalidation interval": f"every {plan.revalidation_months} months",
                "Next revalidation due": _when(plan.next_revalidation),
            }
        )
    ]
    if plan.critical_checks:
        blocks.append(
            Table(
                ("critical check", "threshold", "direction", "made critical by"),
                tuple(
                    (c.name, readable(c.threshold), c.direction.replace("_", " ") or "–", c.source or "–")
                    for c in plan.critical_checks
                ),
                caption="Critical checks every production evaluation judges",
            )
        )
    else:
        blocks.append(Note("No critical check is defined."))
    return Section(MONITORING, tuple(blocks))


def build_validation_report(inputs: ReportInputs) -> Document:
    """The report of ``inputs``: one section per ``SECTION_TITLES`` entry, in that order."""
    m, e = inputs.model, inputs.evaluation
    risk = e.report.risk
    sections = (
        _executive_summary(inputs),
        _decision_record(inputs.decision),
        _description(inputs),
        _data(inputs),
        _performance(e.report),
        _fairness(e.report),
        _explainability(e.report),
        _model_tests(inputs.model_tests, e.report),
        _comparison(inputs),
        _findings(inputs),
        _monitoring(inputs),
    )
    assert tuple(s.title for s in sections) == SECTION_TITLES  # the order is the contract
    return Document(
        title=f"Validation report: {m.name} v{m.version}",
        subtitle=(
            f"Model version {m.id} · evaluation {e.id} ({e.space}, {_when(e.created_at)})"
            + f" · data: {_window(e.data_window)}"
            + ("" if risk is None else f" · risk level {risk.level.value}")
        ),
        sections=sections,
    )
