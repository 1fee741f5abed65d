"""Integrations: Watson OpenScale and IBM AI Factsheets kept in step with the store.

Subscriptions, scored records and evaluations are called directly by the areas that make them.
Decisions and pre-prod evaluations reach the services as domain events (``services.events``),
delivered after their commit by ``deliver``, retried with back-off, and listed by ``not_in_sync``
until every sink has them.
"""

from __future__ import annotations

from pipeline_core.services.integrations._dispatch import (
    RETRY,
    SINK_LABELS,
    RetryPolicy,
    SyncFailure,
    UnsyncedDelivery,
    configured_sinks,
    deliver,
    not_in_sync,
    sync_now,
)
from pipeline_core.services.integrations._factsheets import candidate_facts as factsheets_candidate_facts
from pipeline_core.services.integrations._openscale import KEY as OPENSCALE_KEY
from pipeline_core.services.integrations._openscale import ExternalEvaluation
from pipeline_core.services.integrations._openscale import evaluate as openscale_evaluate
from pipeline_core.services.integrations._openscale import log_feedback as openscale_log_feedback
from pipeline_core.services.integrations._openscale import log_scored as openscale_log_scored
from pipeline_core.services.integrations._openscale import subscribe as openscale_subscribe
from pipeline_core.services.integrations._openscale import subscription_of as openscale_subscription_of

__all__ = [
    "OPENSCALE_KEY",
    "RETRY",
    "SINK_LABELS",
    "ExternalEvaluation",
    "RetryPolicy",
    "SyncFailure",
    "UnsyncedDelivery",
    "configured_sinks",
    "deliver",
    "factsheets_candidate_facts",
    "not_in_sync",
    "openscale_evaluate",
    "openscale_log_feedback",
    "openscale_log_scored",
    "openscale_subscribe",
    "openscale_subscription_of",
    "sync_now",
]
