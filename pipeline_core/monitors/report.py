"""The validation report: one self-contained HTML file with every monitor's evidence and its charts.

A validator downloads it and files it with the decision. Plotly's JavaScript is inlined
once, so the file opens offline; every value shown comes from the evaluation's report, and
every section is present even when its monitor had too little data (it then says so). Its
tables are the Review page's (``pipeline_core.results.tables``).
PDF is not produced: a browser's "print to PDF" of this file keeps the charts, which a
server-side converter here would have to re-render without JavaScript.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from pipeline_core.monitors.figures import confusion_figure
from pipeline_core.results import MonitorResult, tables
from pipeline_core.results.evaluation import EvaluationReport, MonitorName, RiskLevel
from pipeline_core.results.tables import VERDICT, Row
from pipeline_core.vocabulary import CheckStatus

SECTIONS = ("Summary", "Quality", "Fairness", "Drift", "Explainability", "Model tests", "Factsheet")
_COLOURS = {"pass": "#1b7f3b", "warn": "#b26a00", "fail": "#b3261e", "insufficient": "#5f6368", "info": "#5f6368"}
_RISK_COLOURS = {RiskLevel.LOW: "#1b7f3b", RiskLevel.MEDIUM: "#b26a00", RiskLevel.HIGH: "#b3261e"}
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#202124}
h1{font-size:1.6rem} h2{border-bottom:1px solid #dadce0;padding-bottom:.3rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem} td,th{border:1px solid #dadce0;padding:.3rem .6rem;
text-align:left} th{background:#f1f3f4} .status{font-weight:600} .note{color:#5f6368}
.risk{display:inline-block;padding:.3rem .8rem;border-radius:4px;color:#fff;font-weight:600}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return _e(value)


def _status(status: str) -> str:
    return f'<span class="status" style="color:{_COLOURS.get(status, "#202124")}">{_e(status)}</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rows(rows: Sequence[Row]) -> str:
    """Rows of ``pipeline_core.results.tables`` as an HTML table, the verdict coloured; nothing for no rows."""
    if not rows:
        return ""
    headers = list(rows[0])
    return _table(headers, [[_status(r[h]) if h == VERDICT else _fmt(r[h]) for h in headers] for r in rows])


class _Charts:
    """Plotly figures as HTML; the first one carries plotly.js for the whole file."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, figure: go.Figure) -> str:
        figure.update_layout(template="plotly_white", height=360, margin={"l": 40, "r": 20, "t": 40, "b": 40})
        out: str = figure.to_html(full_html=False, include_plotlyjs=self.first, config={"displaylogo": False})
        self.first = False
        return out


def _bar(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    threshold: float | None = None,
    horizontal: bool = False,
) -> go.Figure:
    bar = (
        go.Bar(y=list(labels), x=list(values), orientation="h")
        if horizontal
        else go.Bar(x=list(labels), y=list(values))
    )
    figure = go.Figure(bar, layout={"title": title})
    if threshold is not None:
        if horizontal:
            figure.add_vline(x=threshold, line_dash="dash", line_color="#b3261e")
        else:
            figure.add_hline(y=threshold, line_dash="dash", line_color="#b3261e")
    return figure


def _insufficient(result: MonitorResult | None, name: str) -> str | None:
    if result is None:
        return f'<p class="note">No {name} results in this evaluation.</p>'
    if result.status == CheckStatus.INSUFFICIENT:
        return f'<p class="note">{_e(result.metrics[0].detail)}</p>'
    return None


def _window(window: Mapping[str, Any]) -> str:
    return "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in window.items()) or "–"


def render_validation_report(
    *,
    title: str,
    model: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    report: EvaluationReport,
    model_tests: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The report as one HTML document. ``model`` holds the model version's facts and lineage, ``evaluation``
    the evaluation's id, space, time and data window; ``report`` is what it found."""
    chart = _Charts()
    parts = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="note">Evaluation {_e(evaluation.get("id", "–"))} · {_e(evaluation.get("space", ""))} · '
        f"{_e(evaluation.get('created_at', ''))} · data: {_e(_window(evaluation.get('data_window', {})))}</p>",
    ]
    parts.append("<nav>" + " · ".join(f'<a href="#{s.lower().replace(" ", "-")}">{s}</a>' for s in SECTIONS) + "</nav>")

    risk = report.risk
    parts.append('<section id="summary"><h2>Summary</h2>')
    if risk is not None:
        parts.append(
            f'<p>Risk level <span class="risk" style="background:{_RISK_COLOURS[risk.level]}">{_e(risk.level)}</span>'
            f" · {_e(risk.counts.describe())}</p>"
        )
        parts.append(_rows(tables.risk_rows(risk)))
    else:
        parts.append('<p class="note">No risk evaluation in this evaluation.</p>')
    parts.append("</section>")

    quality = report.monitor(MonitorName.QUALITY)
    parts.append('<section id="quality"><h2>Quality</h2>')
    parts.append(_insufficient(quality, "quality") or "")
    if quality is not None and quality.status != CheckStatus.INSUFFICIENT:
        parts.append(_rows(tables.metric_rows(quality.metrics)))
        cm = report.confusion_matrix
        if cm is not None:
            figure = confusion_figure(cm, title=f"Confusion matrix (threshold {cm.threshold})")
            parts.append(chart(figure))
    parts.append("</section>")

    fairness = report.monitor(MonitorName.FAIRNESS)
    parts.append('<section id="fairness"><h2>Fairness</h2>')
    parts.append(_insufficient(fairness, "fairness") or "")
    if fairness is not None:
        parts.append(_rows(tables.metric_rows(fairness.metrics)))
        parts.append(_rows(tables.group_rows(report.fairness_groups)))
        scan = report.bias_scan
        if scan:
            parts.append("<h3>Bias scan: groups with the lowest disparate impact</h3>")
            parts.append(_rows(tables.bias_scan_rows(scan)))
            threshold = next((m.threshold for m in fairness.metrics if m.name.startswith("disparate_impact")), None)
            parts.append(
                chart(
                    _bar(
                        "Disparate impact of the scanned groups",
                        [g.group for g in scan][::-1],
                        [g.disparate_impact for g in scan][::-1],
                        threshold=threshold,
                        horizontal=True,
                    )
                )
            )
    parts.append("</section>")

    drift = report.monitor(MonitorName.DRIFT)
    parts.append('<section id="drift"><h2>Drift</h2>')
    parts.append(_insufficient(drift, "drift") or "")
    if drift is not None and drift.status != CheckStatus.INSUFFICIENT:
        parts.append(_rows(tables.metric_rows(m for m in drift.metrics if not m.name.startswith("drift["))))
        features = tables.most_drifted_first(report.drift_features)
        threshold = next((m.threshold for m in drift.metrics if m.name.startswith("drift[")), None)
        parts.append(
            chart(
                _bar(
                    "Drift per feature", [f.feature for f in features], [f.value for f in features], threshold=threshold
                )
            )
        )
        parts.append(_rows(tables.drift_rows(features)))
        consistency = report.data_consistency
        if consistency is not None:
            parts.append(
                f"<h3>Data consistency</h3><p>{consistency.records} records break a constraint "
                f"learned from the training data.</p>"
            )
            parts.append(_rows(tables.consistency_rows(consistency)))
        drop = report.accuracy_drop
        if drop is not None:
            parts.append("<h3>Drop in accuracy and drifted records</h3>")
            if drop.estimated_drop is None:
                parts.append(f'<p class="note">{_e(drop.reason)}</p>')
            else:
                parts.append(
                    f"<p>Estimated accuracy {_fmt(drop.estimated_accuracy)} against "
                    f"{_fmt(drop.reference_accuracy)} on held-out data; "
                    f"{drop.likely_mispredicted} records likely mispredicted.</p>"
                )
                parts.append(_rows(tables.drifted_record_rows(drop.records[:20])))
    parts.append("</section>")

    explain = report.monitor(MonitorName.EXPLAINABILITY)
    parts.append('<section id="explainability"><h2>Explainability</h2>')
    parts.append(_insufficient(explain, "explainability") or "")
    if explain is not None and explain.status != CheckStatus.INSUFFICIENT:
        importance = report.global_importance
        parts.append(
            chart(
                _bar(
                    "Global importance (drop in ROC AUC when shuffled)",
                    [r.feature for r in importance][::-1],
                    [r.importance for r in importance][::-1],
                    horizontal=True,
                )
            )
        )
        for item in report.explanations:
            local, contrast = item.local, item.contrastive
            top = local.contributions[:10]
            parts.append(
                f"<h3>Record {item.record} {_e(item.scoring_id or '')}: probability "
                f"{_fmt(local.probability)} (base {_fmt(local.base_value)})</h3>"
            )
            parts.append(
                chart(
                    _bar(
                        "SHAP contributions",
                        [f"{c.feature} = {c.value}" for c in top][::-1],
                        [c.shap for c in top][::-1],
                        horizontal=True,
                    )
                )
            )
            verb = "flips" if contrast.flipped else "does not flip"
            parts.append(
                f"<p>Contrastive: this change {verb} the decision {_e(contrast.decision)} → "
                f"{_e(contrast.new_decision)} (probability {_fmt(contrast.new_probability)}).</p>"
            )
            parts.append(_rows(tables.change_rows(contrast)))
    parts.append("</section>")
    parts.append('<section id="model-tests"><h2>Model tests</h2>')
    if model_tests:
        parts.append(
            _table(
                ["test", "verdict", "critical", "evidence"],
                [
                    [
                        _e(t["name"]),
                        _status(str(t["status"])),
                        "yes" if t.get("critical") else "",
                        _e(t.get("detail", "")),
                    ]
                    for t in model_tests
                ],
            )
        )
    else:
        parts.append('<p class="note">No model test results are stored for this model version.</p>')
    parts.append("</section>")

    parts.append('<section id="factsheet"><h2>Factsheet</h2>')
    parts.append(_table(["fact", "value"], [[_e(k), _e(v)] for k, v in model.items()]))
    parts.append("</section>")
    body = "\n".join(p for p in parts if p)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
