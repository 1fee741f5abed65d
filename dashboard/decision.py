"""The Review page's decision form: bound to what is on screen, submitted once, confirmed before production.

The form carries the candidate's model version, its artifact sha256, the evidence ids on screen and a
form id made when the candidate was picked; the service refuses a decision whose any of these no
longer holds, and answers a repeated form id with its first decision. After a decision the form is
gone: the page shows what was decided until the validator goes back to the queue, so a second click
(or a selector that moved on) can never decide another candidate. Approving asks once to confirm,
naming the model, version, artifact and what production serves now.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import streamlit as st

from dashboard import ui
from pipeline_core.errors import PipelineError
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import Principal, same_account
from pipeline_core.services.context import ServiceContext
from pipeline_core.vocabulary import ModelState, Space

FORMS = "review-forms"  # model version id -> the form id of its decision form
DECIDED = "review-decided"  # the decision just made: shown instead of any form until cleared
CONFIRMING = "review-confirming"  # the form id whose approval awaits its confirmation
REFUSED = "review-refused"  # the last refusal, shown above the form once the page has rerun with what it recorded


@dataclass(frozen=True)
class Decided:
    """What the last decision on this page did, in the words the page shows."""

    model_version_id: int
    headline: str
    lines: tuple[str, ...]
    ok: bool


def form_id(model_version_id: int) -> str:
    """The decision form's id for this candidate: made when it is first shown, kept until a decision."""
    forms: dict[int, str] = st.session_state.setdefault(FORMS, {})
    return forms.setdefault(model_version_id, uuid.uuid4().hex)


def show_decided() -> bool:
    """The decision just made, with a way back to the queue; True when it was shown (the page stops there)."""
    decided = st.session_state.get(DECIDED)
    if not isinstance(decided, Decided):
        return False
    (st.success if decided.ok else st.warning)(decided.headline)
    for line in decided.lines:
        st.markdown(f"- {line}")
    if st.button("Back to the review queue", key="review-back"):
        del st.session_state[DECIDED]
        st.rerun()
    return True


def _decided(model_version_id: int, headline: str, lines: list[str], *, ok: bool) -> None:
    st.session_state.pop(CONFIRMING, None)
    st.session_state.setdefault(FORMS, {}).pop(model_version_id, None)
    st.session_state[DECIDED] = Decided(model_version_id, headline, tuple(lines), ok)
    st.rerun()


def _production_now(ctx: ServiceContext, who: Principal, name: str) -> str:
    served = [d for d in deployments.list_deployments(ctx, who) if d.space == Space.PROD and d.model_name == name]
    if not served:
        return f"Production serves no version of {name} yet."
    d = served[0]
    return f"Production serves {name} model version {d.model_version_id} (artifact {d.artifact_sha256[:12]}…)."


def _outcome_lines(outcome: governance.ApprovalOutcome) -> list[str]:
    lines = [*outcome.notes, *outcome.check.reasons]
    if outcome.deployment is not None:
        lines.append(f"Deployed to prod: deployment {outcome.deployment.id} at {outcome.deployment.scoring_path}")
    if outcome.error:
        lines.append(outcome.error)
    return lines


def form(
    ctx: ServiceContext,
    who: Principal,
    candidate: governance.Candidate,
    *,
    evaluation_ids: list[int],
) -> None:
    """The decision on ``candidate``: approve (or countersign) after a confirmation, or reject."""
    refused = governance.decision_refused(ctx, who, candidate.model_version_id)
    pending = candidate.pending if candidate.state == ModelState.AWAITING_COUNTERSIGN else None
    mine = pending is not None and same_account(pending.decided_by, who.username)
    if refused:
        st.info(f"Approve and Reject are disabled: {refused}")
    integrity = bool(candidate.integrity_alerts)
    if integrity:
        st.info("Approve is disabled while the artifact's integrity check fails (see above); Reject stays open.")
    blocking = [b for b in candidate.blocking if b.overridable]
    fixed = [b for b in candidate.blocking if not b.overridable]
    st.caption(_policy_line(candidate))
    if fixed:
        st.error(
            "Approval is blocked, and no override lifts it:\n\n"
            + "\n".join(f"- {b.text}" for b in fixed)
            + "\n\nAn open high-severity finding is closed on a later version or its risk accepted by a second "
            "validator."
        )
    if pending is not None:
        what = (
            f"overrides {', '.join(pending.overridden)}: “{pending.override}”"
            if pending.overridden
            else f"is the first of the {candidate.approvals_needed} independent approvals its tier needs"
        )
        st.warning(
            f"Approval {pending.approval_id} by {pending.decided_by} ({ui.when(pending.decided_at)}) {what}. It "
            "awaits a second validator's countersign before the production check can pass."
        )
        if mine:
            st.info("You gave this approval: a second validator must countersign it. You may still reject it.")
    elif blocking:
        st.warning(
            "Blocking: critical checks that failed or could not be judged, required documentation not written:\n\n"
            + "\n".join(f"- {b.text}" for b in blocking)
            + "\n\nApproving needs an override naming each of them with a reason of at least a sentence, and "
            "then a second validator's countersign."
        )
    token = form_id(candidate.model_version_id)
    refusal = st.session_state.pop(REFUSED, None)
    if refusal:
        st.error(refusal)
    comment = st.text_area("Comment (required)", key=f"decision-comment-{token}")
    override, lifted = "", []
    if blocking and pending is None:
        keys = sorted({b.key for b in blocking})
        lifted = st.multiselect("Checks this override lifts (name each)", keys, key=f"override-checks-{token}")
        override = st.text_area("Override reason (at least a sentence)", key=f"override-{token}")
    conditions = _conditions_editor(token) if pending is None else []
    st.caption(
        f"This decision is bound to model version {candidate.model_version_id}, artifact "
        f"{candidate.artifact_sha256[:12]}…, evaluations {evaluation_ids or 'none'} and model test runs "
        f"{list(candidate.model_test_run_ids) or 'none'}; if any of them changes before you submit, it is refused."
    )
    approve_label = "Countersign…" if pending is not None else "Approve…"
    approve_col, reject_col = st.columns(2)
    no_approve = bool(refused) or integrity or mine or bool(fixed)
    if approve_col.button(approve_label, type="primary", disabled=no_approve, key="approve"):
        st.session_state[CONFIRMING] = token
    if reject_col.button("Reject", disabled=bool(refused), key="reject"):
        rejected = ui.act(
            lambda: governance.reject(
                ctx,
                who,
                candidate.model_version_id,
                comment=comment,
                artifact_sha256=candidate.artifact_sha256,
                request_id=f"{token}-reject",
            )
        )
        if rejected is not None:
            _decided(
                candidate.model_version_id,
                f"{candidate.name} v{candidate.version} (model version {candidate.model_version_id}) rejected "
                f"(decision {rejected}).",
                [f"Comment: {comment.strip()}"],
                ok=True,
            )
    if st.session_state.get(CONFIRMING) == token and not no_approve:
        _confirm(
            ctx,
            who,
            candidate,
            token=token,
            comment=comment,
            override=override,
            lifted=lifted,
            evaluation_ids=evaluation_ids,
            conditions=conditions,
        )


def _policy_line(candidate: governance.Candidate) -> str:
    tier = f"Tier {int(candidate.tier)}" if candidate.tier else "Not tiered yet (judged as tier 1)"
    needs = "two independent validators (an approval and a countersign)" if candidate.approvals_needed > 1 else "one"
    months = f"; the approval stands {candidate.revalidation_months} months, then the model is revalidated"
    return f"{tier}: approval needs {needs}{months if candidate.revalidation_months else ''}."


MAX_FORM_CONDITIONS = 5


def _conditions_editor(token: str) -> list[governance.ConditionInput]:
    """Conditions of approval as typed: text, owner, due date, the finding it answers (optional)."""
    count = int(
        st.number_input(
            "Conditions of approval", min_value=0, max_value=MAX_FORM_CONDITIONS, value=0, key=f"conditions-{token}"
        )
    )
    found = []
    for i in range(count):
        box = st.container(border=True)
        text = box.text_input(f"Condition {i + 1}: what must be done", key=f"condition-text-{token}-{i}")
        owner_col, due_col, finding_col = box.columns(3)
        owner = owner_col.text_input("Owner (account)", key=f"condition-owner-{token}-{i}")
        due = due_col.date_input("Due date", value=None, key=f"condition-due-{token}-{i}")
        finding = finding_col.number_input(
            "Finding it answers (0: none)", min_value=0, step=1, value=0, key=f"condition-finding-{token}-{i}"
        )
        # Each typed row is handed on as typed (an empty or undated one too): the service names what is wrong.
        found.append(
            governance.ConditionInput(
                text=text,
                owner=owner,
                due_date=due if isinstance(due, date) else None,  # type: ignore[arg-type]
                finding_id=int(finding) or None,
            )
        )
    return found


def _refused_then_rerun(call: Callable[[], governance.ApprovalOutcome]) -> governance.ApprovalOutcome | None:
    """The decision's outcome; a refusal is kept and the page run again, so that the buttons drawn above it
    already reflect what the refusal recorded (an artifact that failed its check disables Approve)."""
    try:
        return call()
    except PipelineError as exc:
        st.session_state[REFUSED] = f"{type(exc).__name__}: {exc}"
        st.session_state.pop(CONFIRMING, None)
        st.rerun()


def _confirm(
    ctx: ServiceContext,
    who: Principal,
    candidate: governance.Candidate,
    *,
    token: str,
    comment: str,
    override: str,
    lifted: list[str],
    evaluation_ids: list[int],
    conditions: list[governance.ConditionInput],
) -> None:
    pending = candidate.pending if candidate.state == ModelState.AWAITING_COUNTERSIGN else None
    waits = pending is None and (bool(override) or candidate.approvals_needed > 1)
    goes = "awaits a second validator's countersign" if waits else "is deployed to production"
    box = st.container(border=True)
    box.markdown(
        f"**Confirm: {'countersign' if pending else 'approve'} {candidate.name} v{candidate.version}** "
        f"(model version {candidate.model_version_id}, artifact `{candidate.artifact_sha256}`). "
        f"{_production_now(ctx, who, candidate.name)} After this it {goes}."
    )
    yes, no = box.columns(2)
    if no.button("Cancel", key="confirm-cancel"):
        st.session_state.pop(CONFIRMING, None)
        st.rerun()
    if not yes.button("Confirm approval" if waits else "Confirm and deploy", type="primary", key="confirm"):
        return
    with st.spinner("Recording the decision, running the production deployment check and deploying…"):
        if pending is not None:
            outcome = _refused_then_rerun(
                lambda: governance.countersign(
                    ctx,
                    who,
                    candidate.model_version_id,
                    approval_id=pending.approval_id,
                    comment=comment,
                    artifact_sha256=candidate.artifact_sha256,
                )
            )
        else:
            outcome = _refused_then_rerun(
                lambda: governance.approve(
                    ctx,
                    who,
                    candidate.model_version_id,
                    comment=comment,
                    artifact_sha256=candidate.artifact_sha256,
                    evidence=evaluation_ids,
                    model_tests=list(candidate.model_test_run_ids),
                    override_reason=override or None,
                    overrides=lifted or None,
                    request_id=token,
                    conditions=conditions,
                )
            )
    if outcome is None:
        st.session_state.pop(CONFIRMING, None)
        return
    what = (
        "countersigned" if pending is not None else ("approved, pending countersign" if outcome.pending else "approved")
    )
    verdict = (
        "" if outcome.pending else f" Production deployment check: {'passed' if outcome.check.passed else 'failed'}."
    )
    _decided(
        candidate.model_version_id,
        f"{candidate.name} v{candidate.version} (model version {candidate.model_version_id}) {what} "
        f"(approval {outcome.approval_id}).{verdict}",
        _outcome_lines(outcome),
        ok=outcome.error is None,
    )
