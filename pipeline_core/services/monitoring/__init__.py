"""Monitoring: evaluations, labelled feedback, alerts (acknowledged, then resolved), the comparison with production.

Every reader gets frozen DTOs: an ``EvaluationInfo`` carries its ``EvaluationReport``
(``pipeline_core.results.evaluation``), an ``AlertInfo`` and a ``RetrainingRequestInfo`` their
stored facts, a ``ProductionComparison`` the candidate and production scored on the same records, a
``ShadowComparison`` production and its shadow candidate on the same production traffic;
no caller sees a store row.
"""

from __future__ import annotations

from pipeline_core.services.monitoring._comparison import (
    ComparedModel,
    PairedComparison,
    ProductionComparison,
    compare_with_production,
)
from pipeline_core.services.monitoring._evaluations import (
    AlertInfo,
    EvaluationError,
    EvaluationInfo,
    EvaluationOutcome,
    ModelFrames,
    RetrainingRequestInfo,
    acknowledge_alert,
    checks,
    drifted_records,
    due_deployments,
    evaluate_deployment,
    evaluate_externally,
    feedback_frame,
    get_evaluation,
    list_alerts,
    list_evaluations,
    list_retraining_requests,
    model_frames,
    resolve_alert,
    results_document,
    score_frame,
    store_evaluation,
)
from pipeline_core.services.monitoring._feedback import (
    FeedbackBatch,
    count_feedback,
    parse_feedback,
    upload_feedback,
)
from pipeline_core.services.monitoring._shadow_comparison import (
    EstimatedPerformance,
    ShadowComparison,
    estimated_performance,
    shadow_comparison,
)

__all__ = [
    "AlertInfo",
    "ComparedModel",
    "EstimatedPerformance",
    "EvaluationError",
    "EvaluationInfo",
    "EvaluationOutcome",
    "FeedbackBatch",
    "ModelFrames",
    "PairedComparison",
    "ProductionComparison",
    "RetrainingRequestInfo",
    "ShadowComparison",
    "acknowledge_alert",
    "checks",
    "compare_with_production",
    "count_feedback",
    "drifted_records",
    "due_deployments",
    "estimated_performance",
    "evaluate_deployment",
    "evaluate_externally",
    "feedback_frame",
    "get_evaluation",
    "list_alerts",
    "list_evaluations",
    "list_retraining_requests",
    "model_frames",
    "parse_feedback",
    "resolve_alert",
    "results_document",
    "score_frame",
    "shadow_comparison",
    "store_evaluation",
    "upload_feedback",
]
