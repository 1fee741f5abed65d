"""Datasets: registered training data, the scored payload log, the thresholds in force per spec."""

from __future__ import annotations

from pipeline_core.services.datasets._datasets import (
    BUILTIN_SPECS,
    builtin_spec,
    load_frame,
    register_dataset,
    register_file,
)
from pipeline_core.services.datasets._payloads import (
    PayloadWindow,
    QuarantinedPayload,
    ScoredInputs,
    count_payload,
    count_quarantined_payload,
    existing_scoring_ids,
    quarantine_file,
    quarantine_payload,
    quarantined_payload,
    read_payload,
    recent_payload,
    scored_inputs,
    scoring_id,
    split_scoring_id,
    store_payload_batch,
    store_payload_frame,
)
from pipeline_core.services.datasets._thresholds import in_force as thresholds_in_force
from pipeline_core.services.datasets._thresholds import set_thresholds
from pipeline_core.services.datasets._views import DatasetInfo

__all__ = [
    "BUILTIN_SPECS",
    "DatasetInfo",
    "PayloadWindow",
    "QuarantinedPayload",
    "ScoredInputs",
    "builtin_spec",
    "count_payload",
    "count_quarantined_payload",
    "existing_scoring_ids",
    "load_frame",
    "quarantine_file",
    "quarantine_payload",
    "quarantined_payload",
    "read_payload",
    "recent_payload",
    "register_dataset",
    "register_file",
    "scored_inputs",
    "scoring_id",
    "set_thresholds",
    "split_scoring_id",
    "store_payload_batch",
    "store_payload_frame",
    "thresholds_in_force",
]
