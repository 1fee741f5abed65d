"""What a validator reads about a model beyond one version's evidence: earlier versions' decisions, required sections.

``version_decisions`` lists, for each version of a model before the one under review, every decision made
on it (approvals, rejections, a first signature awaiting countersign, revalidations) with who, when, the
comment and the countersign; a version nobody decided is listed once, undecided, with its state, so a
validator sees the whole line of the model. ``required_documentation`` names the documentation sections
the model's tier policy requires (an untiered model is tier 1's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from pipeline_core.errors import NotFoundError
from pipeline_core.services.authz import Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.governance import _inventory
from pipeline_core.store.models import Approval, ModelVersion
from pipeline_core.vocabulary import ApprovalKind, DocSection, ModelState, Outcome, Tier


@dataclass(frozen=True)
class VersionDecision:
    """One decision on an earlier version of a model (``outcome`` None: the version was never decided)."""

    model_version_id: int
    version: int
    state: ModelState
    outcome: Outcome | None = None
    kind: ApprovalKind = ApprovalKind.APPROVAL
    decided_by: str = ""
    decided_at: datetime | None = None
    comment: str = ""
    override: str = ""  # the override's reason; empty without one
    countersigned_by: str = ""
    countersigned_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class RequiredDocumentation:
    """The sections the model's tier policy requires written before a version of it is approved."""

    model_name: str
    tier: Tier | None  # None: untiered (treated as the policy's most material tier)
    sections: tuple[DocSection, ...]


def version_decisions(
    ctx: ServiceContext, actor: Principal, model_name: str, *, before_version: int | None = None
) -> list[VersionDecision]:
    """Every decision on the versions of ``model_name`` numbered below ``before_version`` (None: all), newest
    version first and, within a version, its newest decision first."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        query = select(ModelVersion).where(ModelVersion.name == model_name)
        if before_version is not None:
            query = query.where(ModelVersion.version < before_version)
        versions = list(session.execute(query.order_by(ModelVersion.version.desc())).scalars())
        known = versions or session.execute(select(ModelVersion.id).where(ModelVersion.name == model_name)).first()
        if not known:
            raise NotFoundError(f"model {model_name[:128]!r} has no versions")
        approvals: dict[int, list[Approval]] = {}
        for a in session.execute(
            select(Approval)
            .where(Approval.model_version_id.in_([mv.id for mv in versions]))
            .order_by(Approval.id.desc())
        ).scalars():
            approvals.setdefault(a.model_version_id, []).append(a)
        out: list[VersionDecision] = []
        for mv in versions:
            state = ModelState(mv.state)
            decided = approvals.get(mv.id, [])
            if not decided:
                out.append(VersionDecision(mv.id, mv.version, state))
            out += [
                VersionDecision(
                    mv.id,
                    mv.version,
                    state,
                    outcome=Outcome(a.outcome),
                    kind=ApprovalKind(a.kind or ApprovalKind.APPROVAL),
                    decided_by=a.decided_by,
                    decided_at=a.decided_at,
                    comment=a.comment,
                    override=a.override_reason or "",
                    countersigned_by=a.countersigned_by or "",
                    countersigned_at=a.countersigned_at,
                    expires_at=a.expires_at,
                )
                for a in decided
            ]
        return out


def required_documentation(ctx: ServiceContext, actor: Principal, model_name: str) -> RequiredDocumentation:
    """The documentation sections ``model_name``'s tier policy (the settings' policies) requires."""
    require(ctx, actor, "view")
    with ctx.db.read() as session:
        tier = _inventory.tier_of(session, model_name)
        policy = _inventory.policy_for(session, model_name, ctx.settings.policies())
    return RequiredDocumentation(model_name, tier, tuple(policy.required_documentation))
