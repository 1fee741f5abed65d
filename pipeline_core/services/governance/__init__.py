"""Governance: approvals, the audit log, factsheets, reports, evidence packs, users, documentation, findings,
the model inventory and production history."""

from __future__ import annotations

from pipeline_core.services.governance._approval_policy import blocking_critical, failed_critical
from pipeline_core.services.governance._approvals import (
    ApprovalOutcome,
    ProductionCheck,
    approve,
    countersign,
    deploy_approved,
    production_check,
    reject,
)
from pipeline_core.services.governance._audit_log import AuditEventInfo, chain_status, list_events
from pipeline_core.services.governance._blocking import Blocking
from pipeline_core.services.governance._conditions import (
    ConditionInfo,
    ConditionInput,
    list_conditions,
    mark_condition_met,
)
from pipeline_core.services.governance._documentation import (
    DocumentationInfo,
    DocumentationWrite,
    SectionText,
    documentation,
    write_documentation,
)
from pipeline_core.services.governance._due import DueItem, sweep_due
from pipeline_core.services.governance._evidence_pack import PackVerification, evidence_pack, verify_pack
from pipeline_core.services.governance._factsheets import Factsheet, factsheet, factsheet_html, factsheet_json
from pipeline_core.services.governance._findings import (
    FindingEvent,
    FindingInfo,
    RiskAcceptance,
    accept_risk,
    close_finding,
    get_finding,
    list_findings,
    may_remediate,
    propose_remediation,
    raise_finding,
)
from pipeline_core.services.governance._history import (
    PeriodCondition,
    ProductionPeriod,
    production_history,
    served_on,
)
from pipeline_core.services.governance._inventory import ModelInfo, inventory, set_model_info, set_tier
from pipeline_core.services.governance._queue import (
    Candidate,
    DecisionInfo,
    PendingApproval,
    decision_refused,
    decisions,
    review_queue,
)
from pipeline_core.services.governance._reports import validation_report
from pipeline_core.services.governance._revalidation import (
    RevalidationCase,
    RevalidationResult,
    revalidate,
    revalidation_case,
)
from pipeline_core.services.governance._review_history import (
    RequiredDocumentation,
    VersionDecision,
    required_documentation,
    version_decisions,
)
from pipeline_core.services.governance._users import (
    MIN_PASSWORD_LENGTH,
    UserInfo,
    add_first_admin,
    add_user,
    authenticate,
    disable_user,
    enable_user,
    get_principal,
    list_users,
    set_password,
    set_role,
    user_count,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ApprovalOutcome",
    "AuditEventInfo",
    "Blocking",
    "Candidate",
    "ConditionInfo",
    "ConditionInput",
    "DecisionInfo",
    "DocumentationInfo",
    "DocumentationWrite",
    "DueItem",
    "Factsheet",
    "FindingEvent",
    "FindingInfo",
    "ModelInfo",
    "PackVerification",
    "PendingApproval",
    "PeriodCondition",
    "ProductionCheck",
    "ProductionPeriod",
    "RequiredDocumentation",
    "RevalidationCase",
    "RevalidationResult",
    "RiskAcceptance",
    "SectionText",
    "UserInfo",
    "VersionDecision",
    "accept_risk",
    "add_first_admin",
    "add_user",
    "approve",
    "authenticate",
    "blocking_critical",
    "chain_status",
    "close_finding",
    "countersign",
    "decision_refused",
    "decisions",
    "deploy_approved",
    "disable_user",
    "documentation",
    "enable_user",
    "evidence_pack",
    "factsheet",
    "factsheet_html",
    "factsheet_json",
    "failed_critical",
    "get_finding",
    "get_principal",
    "inventory",
    "list_conditions",
    "list_events",
    "list_findings",
    "list_users",
    "mark_condition_met",
    "may_remediate",
    "production_check",
    "production_history",
    "propose_remediation",
    "raise_finding",
    "reject",
    "required_documentation",
    "revalidate",
    "revalidation_case",
    "review_queue",
    "served_on",
    "set_model_info",
    "set_password",
    "set_role",
    "set_tier",
    "sweep_due",
    "user_count",
    "validation_report",
    "verify_pack",
    "version_decisions",
    "write_documentation",
]
