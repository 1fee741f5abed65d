"""Integrations: Watson OpenScale and IBM AI Factsheets kept in step with the store."""

from __future__ import annotations

from pipeline_core.services.integrations._factsheets import candidate_facts as factsheets_candidate_facts
from pipeline_core.services.integrations._factsheets import publish_candidate as factsheets_publish_candidate
from pipeline_core.services.integrations._factsheets import publish_decision as factsheets_publish_decision
from pipeline_core.services.integrations._openscale import KEY as OPENSCALE_KEY
from pipeline_core.services.integrations._openscale import evaluate as openscale_evaluate
from pipeline_core.services.integrations._openscale import log_feedback as openscale_log_feedback
from pipeline_core.services.integrations._openscale import log_scored as openscale_log_scored
from pipeline_core.services.integrations._openscale import record_decision as openscale_record_decision
from pipeline_core.services.integrations._openscale import subscribe as openscale_subscribe
from pipeline_core.services.integrations._openscale import subscription_of as openscale_subscription_of

__all__ = [
    "OPENSCALE_KEY",
    "factsheets_candidate_facts",
    "factsheets_publish_candidate",
    "factsheets_publish_decision",
    "openscale_evaluate",
    "openscale_log_feedback",
    "openscale_log_scored",
    "openscale_record_decision",
    "openscale_subscribe",
    "openscale_subscription_of",
]
