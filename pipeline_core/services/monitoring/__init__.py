"""Monitoring: evaluations, labelled feedback, alerts and their notifications, the comparison with production,
estimates beside what came true.

Every reader gets frozen DTOs: an ``EvaluationInfo`` carries its ``EvaluationReport``
(``pipeline_core.results.evaluation``), an ``AlertInfo`` and a ``RetrainingRequestInfo`` their
stored facts (an alert's model version, occurrences and newest sighting), a ``DeliveryInfo`` how one
notification of an alert to one channel went, a ``ProductionComparison`` the candidate and production
scored on the same records, a
``ShadowComparison`` production and its shadow candidate on the same production traffic; no caller sees a
store row.
"""

from __future__ import annotations

from pipeline_core.services.monitoring._alerts import (
    AlertInfo,
    ChannelInfo,
    acknowledge_alert,
    alert_channels,
    list_alerts,
    resolve_alert,
)
from pipeline_core.services.monitoring._comparison import (
    ComparedModel,
    PairedComparison,
    ProductionComparison,
    compare_with_production,
)
from pipeline_core.services.monitoring._estimates import EstimateVsRealised, estimate_history
from pipeline_core.services.monitoring._evaluations import (
    EvaluationError,
    EvaluationInfo,
    EvaluationOutcome,
    ModelFrames,
    RetrainingRequestInfo,
    checks,
    drifted_records,
    evaluate_deployment,
    evaluate_externally,
    feedback_frame,
    get_evaluation,
    list_evaluations,
    list_retraining_requests,
    model_frames,
    results_document,
    retraining_request,
    score_frame,
    store_evaluation,
)
from pipeline_core.services.monitoring._feedback import (
    FeedbackBatch,
    count_feedback,
    parse_feedback,
    upload_feedback,
)
from pipeline_core.services.monitoring._notifications import (
    DeliveryFailure,
    DeliveryInfo,
    DeliveryRound,
    deliver_notifications,
    list_deliveries,
)
from pipeline_core.services.monitoring._schedule import (
    EvaluationClaimInfo,
    claim_evaluation,
    due_deployments,
    evaluate_if_due,
)
from pipeline_core.services.monitoring._shadow_comparison import (
    EstimatedPerformance,
    ShadowComparison,
    estimated_performance,
    shadow_comparison,
)

__all__ = [
    "AlertInfo",
    "ChannelInfo",
    "ComparedModel",
    "DeliveryFailure",
    "DeliveryInfo",
    "DeliveryRound",
    "EstimateVsRealised",
    "EstimatedPerformance",
    "EvaluationClaimInfo",
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
    "alert_channels",
    "checks",
    "claim_evaluation",
    "compare_with_production",
    "count_feedback",
    "deliver_notifications",
    "drifted_records",
    "due_deployments",
    "estimate_history",
    "estimated_performance",
    "evaluate_deployment",
    "evaluate_externally",
    "evaluate_if_due",
    "feedback_frame",
    "get_evaluation",
    "list_alerts",
    "list_deliveries",
    "list_evaluations",
    "list_retraining_requests",
    "model_frames",
    "parse_feedback",
    "resolve_alert",
    "results_document",
    "retraining_request",
    "score_frame",
    "shadow_comparison",
    "store_evaluation",
    "upload_feedback",
]
