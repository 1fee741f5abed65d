"""The validation report's document: its fixed sections in order, readable cells, and a note wherever nothing is."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from pipeline_core.reports.document import Block, Document, Figure, KeyValues, Note, Paragraph, Section, Table
from pipeline_core.reports.validation import SECTION_TITLES, DecisionRecord, build_validation_report
from pipeline_core.results.evaluation import EvaluationReport
from tests.reports.inputs import inputs, report


def _walk(blocks: tuple[Block, ...]) -> Iterator[Block]:
    for block in blocks:
        yield block
        if isinstance(block, Section):
            yield from _walk(block.blocks)


def _texts(section: Section) -> list[str]:
    out: list[str] = []
    for block in _walk(section.blocks):
        if isinstance(block, Paragraph | Note):
            out.append(block.text)
        elif isinstance(block, KeyValues):
            out.extend(f"{k}: {v}" for k, v in block.rows)
        elif isinstance(block, Table):
            out.extend(" | ".join(row) for row in (block.headers, *block.rows))
        elif isinstance(block, Section):
            out.append(block.title)
    return out


def _text(document: Document, title: str) -> str:
    return "\n".join(_texts(document.section(title)))


def test_the_sections_are_the_fixed_ones_in_order() -> None:
    assert len(SECTION_TITLES) == 11 and SECTION_TITLES[0] == "Executive summary"
    for given in (inputs(), inputs(decision=DecisionRecord(), production=None, monitoring=None, documentation=None)):
        assert tuple(s.title for s in build_validation_report(given).sections) == SECTION_TITLES


def test_the_decision_record_names_who_decided_and_countersigned_and_when() -> None:
    text = _text(build_validation_report(inputs()), "Decision record")
    for word in ("vera", "2026-11-20 09:30 UTC", "victor", "2026-11-21 14:05 UTC", "Re-check disparate impact"):
        assert word in text, word
    assert "The approval expires on 2027-11-21 14:05 UTC." in text
    summary = _text(build_validation_report(inputs()), "Executive summary")
    assert "approval approved by vera, 2026-11-20 09:30 UTC; countersigned by victor" in summary


def test_an_override_names_its_reason_and_what_it_lifts() -> None:
    given = inputs()
    (approval,) = given.decision.approvals
    overridden = replace(approval, override_reason="Business need, agreed.", overridden=("quality:roc_auc",))
    document = build_validation_report(replace(given, decision=replace(given.decision, approvals=(overridden,))))
    assert "Business need, agreed. (lifts: quality:roc_auc)" in _text(document, "Decision record")


def test_performance_has_discrimination_calibration_stability_and_charts() -> None:
    performance = build_validation_report(inputs()).section("Performance")
    titles = [b.title for b in performance.blocks if isinstance(b, Section)]
    assert titles == ["Discrimination", "Calibration", "Stability across segments"]
    figures = [b.caption for b in _walk(performance.blocks) if isinstance(b, Figure)]
    assert figures == [
        "ROC curve",
        "Precision-recall curve",
        "Calibration curve (10 bins)",
        "Score distribution per class",
        "true positive rate per protected group (n = records)",
    ]
    text = _text(build_validation_report(inputs()), "Performance")
    assert "roc_auc | 0.8100 | 0.6000" in text and "brier | 0.1600" in text
    assert "age | monitored | age < 25 | 60 | 0.6200 | 0.7000 | 0.3000" in text


def test_no_cell_is_a_raw_dict() -> None:
    document = build_validation_report(inputs())
    for section in document.sections:
        for text in _texts(section):
            assert "{" not in text and "}" not in text, (section.title, text)
    assert "C | 1.0000" in _text(document, "Model description and intended use")


_NO_FAIRNESS = EvaluationReport.judge([m for m in report().monitors if m.monitor != "fairness"])
_NO_CURVES = EvaluationReport.judge(
    [replace(m, details={}) if m.monitor == "quality" else m for m in report().monitors]
)


@pytest.mark.parametrize(
    ("changes", "title", "says"),
    [
        ({"decision": DecisionRecord()}, "Decision record", "No decision has been recorded for this model version"),
        ({"decision": DecisionRecord()}, "Decision record", "No conditions of approval were set."),
        ({"findings": ()}, "Findings and conditions", "No findings have been recorded for this model."),
        ({"decision": DecisionRecord()}, "Findings and conditions", "No condition of approval is open."),
        ({"production": None}, "Comparison with the production model", "No model german_credit is in production"),
        ({"model_tests": ()}, "Model tests", "No model test results are stored for this model version."),
        ({"monitoring": None}, "Ongoing monitoring plan", "No monitoring plan was available to this report."),
        ({"documentation": None}, "Model description and intended use", "documentation was not available"),
        ({}, "Model description and intended use", "Intended users\nNot written."),
        ({}, "Explainability", "No explainability results in this evaluation."),
        ({}, "Data and conceptual soundness", "No drift results in this evaluation"),
        ({"evaluation": _NO_FAIRNESS}, "Fairness", "No fairness results in this evaluation."),
        ({"evaluation": _NO_FAIRNESS}, "Performance", "No segments were measured in this evaluation."),
        ({"evaluation": _NO_CURVES}, "Performance", "ROC curve: not stored for this evaluation"),
    ],
    ids=[
        "no-decision",
        "no-conditions",
        "no-findings",
        "no-open-condition",
        "no-production",
        "no-model-tests",
        "no-plan",
        "no-documentation",
        "section-not-written",
        "no-explainability",
        "no-drift",
        "no-fairness",
        "no-segments",
        "no-curves",
    ],
)
def test_a_section_with_no_data_says_so(changes: dict[str, object], title: str, says: str) -> None:
    evaluated = changes.get("evaluation")
    if isinstance(evaluated, EvaluationReport):
        changes = {"evaluation": replace(inputs().evaluation, report=evaluated)}
    assert says in _text(build_validation_report(inputs(**changes)), title)


def test_the_production_comparison_sets_both_models_side_by_side() -> None:
    text = _text(build_validation_report(inputs()), "Comparison with the production model")
    assert "model version | german_credit v2 (model version 7) | german_credit v1 (model version 3)" in text
    assert "evaluation | 31 (preprod, 2026-11-19 10:00 UTC) | no evaluation stored" in text
    same = inputs()
    itself = replace(same, production=replace(same.production, model=same.model))  # type: ignore[type-var]
    assert "This model version is the one in production." in _text(
        build_validation_report(itself), "Comparison with the production model"
    )


def test_the_monitoring_plan_states_tier_interval_and_thresholds() -> None:
    text = _text(build_validation_report(inputs()), "Ongoing monitoring plan")
    assert "Materiality tier: 1 (high)" in text and "Revalidation interval: every 12 months" in text
    assert "quality:roc_auc | 0.6000 | higher is better | the spec" in text


def test_a_first_signature_awaiting_its_countersign_says_so() -> None:
    given = inputs()
    (approval,) = given.decision.approvals
    pending = replace(approval, outcome="pending", countersigned_by=None, countersigned_at=None)
    document = build_validation_report(replace(given, decision=replace(given.decision, approvals=(pending,))))
    summary = _text(document, "Executive summary")
    assert "approval by vera, 2026-11-20 09:30 UTC, awaiting a second validator's countersign" in summary
