"""Deployments: endpoints per space, scoring keys, revisions, the serving snapshot, scoring a frame."""

from __future__ import annotations

from pipeline_core.services.deployments._endpoints import (
    KEY_PREFIX,
    DeploymentInfo,
    DeployResult,
    RevisionInfo,
    ServingEntry,
    ServingSnapshot,
    delete_deployment,
    deploy,
    deploy_candidate,
    deploy_to_production,
    deployment_spec,
    get_deployment,
    hash_key,
    issue_key,
    list_deployments,
    revisions,
    revoke_key,
    rollback,
    scoring_path,
    served_model,
    serving_snapshot,
)
from pipeline_core.services.deployments._scoring_client import score_over_http

__all__ = [
    "KEY_PREFIX",
    "DeployResult",
    "DeploymentInfo",
    "RevisionInfo",
    "ServingEntry",
    "ServingSnapshot",
    "delete_deployment",
    "deploy",
    "deploy_candidate",
    "deploy_to_production",
    "deployment_spec",
    "get_deployment",
    "hash_key",
    "issue_key",
    "list_deployments",
    "revisions",
    "revoke_key",
    "rollback",
    "score_over_http",
    "scoring_path",
    "served_model",
    "serving_snapshot",
]
