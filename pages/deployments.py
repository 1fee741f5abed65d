"""Deployments: spaces and endpoints, a copyable curl example, score a record, API keys, roll back prod."""

from __future__ import annotations

import json
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import ui
from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.errors import PipelineError
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import PERMISSIONS
from pipeline_core.services.deployments import score_over_http
from pipeline_core.vocabulary import DeploymentStatus, Space

ctx, who = ui.context(), ui.principal()
st.title("Deployments")

deps = [d for d in deployments.list_deployments(ctx, who) if d.status == DeploymentStatus.ACTIVE]
if not deps:
    step = ui.next_step(
        who,
        scientist="Launch a run on the Runs page: it deploys its model to pre-prod, and a validator's approval "
        "to prod.",
        validator="A data scientist's run deploys its model to pre-prod; approving it on the Review page deploys it to "
        "prod.",
        others="A data scientist's run deploys its model to pre-prod; a validator's approval deploys it to prod.",
    )
    ui.empty(f"No deployments yet. {step}")
    st.stop()


def _standing(model_version_id: int) -> str:
    """The prod version's approval as a person weighs it: when it must be revalidated, or that it expired."""
    try:
        case = governance.revalidation_case(ctx, who, model_version_id)
    except PipelineError as exc:
        return f"unknown: {exc}"
    if case.expires_at is None:
        return f"approval {case.standing_approval_id}, no expiry on record"
    day = case.expires_at.date().isoformat()
    return f"EXPIRED on {day}: revalidate" if case.expired else f"approval {case.standing_approval_id}, until {day}"


base = ctx.settings.scoring_url.rstrip("/")
for space in (Space.PROD, Space.PREPROD, Space.DEV):  # what is live first
    in_space = [d for d in deps if d.space == space]
    if in_space:
        st.subheader(space)
        ui.records(
            [
                {
                    "deployment": d.id,
                    "model": f"{d.model_name} v{d.model_version}",
                    "model version": d.model_version_id,
                    "endpoint": base + d.scoring_path,
                    "updated": ui.when(d.updated_at or d.created_at),
                    **({"approval": _standing(d.model_version_id)} if space == Space.PROD else {}),
                }
                for d in in_space
            ]
        )

dep = ui.pick_deployment(deps)
spec = deployments.deployment_spec(ctx, who, dep.id)
example = generate_german_credit(1, seed=1)[spec.feature_names]
payload = {"input_data": [{"fields": spec.feature_names, "values": json.loads(example.to_json(orient="values"))}]}
st.markdown(f"**Call it** (an API key comes from `python -m pipeline_core keys issue --deployment {dep.id}`):")
st.code(
    f"curl -s -X POST {base}{dep.scoring_path} \\\n  -H 'Authorization: Bearer $MLOPS_API_KEY' "
    f"-H 'Content-Type: application/json' \\\n  -d '{json.dumps(payload)}'",
    language="bash",
)

st.subheader("Score a record")
can_issue = who.role in PERMISSIONS["deploy_nonprod"]
if not can_issue:
    st.info(f"Scoring from here uses a short-lived API key, which a {who.role.replace('_', ' ')} may not issue.")
else:
    with st.form("score"):
        values: dict[str, object] = {}
        columns = st.columns(4)
        for i, name in enumerate(spec.feature_names):
            default = example[name].iloc[0]
            col = columns[i % 4]
            if name in spec.numeric and float(default).is_integer():  # a count or an amount: no "27.00"
                values[name] = col.number_input(name, value=int(default), step=1)
            elif name in spec.numeric:
                values[name] = col.number_input(name, value=float(default))
            else:
                choices = list(spec.feature(name).categories) or [str(default)]
                values[name] = col.selectbox(
                    name, choices, index=choices.index(str(default)) if str(default) in choices else 0
                )
        scored = st.form_submit_button("Score", type="primary")
    if scored:
        record = pd.DataFrame(
            [{k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in values.items()}]
        )
        answer = ui.act(
            lambda: score_over_http(ctx, who, dep.id, record, spec=spec, label=f"dashboard score by {who.username}")
        )
        if answer is not None:
            row = answer.iloc[0]
            st.success(
                f"{row['prediction']} (probability of {spec.positive_label} {row['probability']:.3f}); "
                f"scoring id {row['scoring_id']}"
            )

if can_issue:
    st.subheader("API keys")
    keys = deployments.list_keys(ctx, who, dep.id)
    active, revoked = [k for k in keys if k.active], [k for k in keys if not k.active]
    if not active:
        st.caption(f"Deployment {dep.id} has no active API key.")
    for k in active:
        line, press = st.columns([6, 1], vertical_alignment="center")
        line.markdown(
            f"**key {k.id}** · `{k.prefix or 'issued before prefixes were kept'}…` · {k.label} · "
            f"issued by {k.created_by} {ui.when(k.created_at)}"
        )
        # By id, a prod key is its issuer's or an admin's to revoke; the service decides, this only says so.
        theirs = dep.space == Space.PROD and k.created_by.casefold() != who.username.casefold()
        barred = theirs and not ui.can(who, "revoke_prod_key")
        if press.button(
            "Revoke",
            key=f"revoke-key-{k.id}",
            disabled=barred,
            help=f"A prod key is revoked by an admin or by who issued it ({k.created_by})." if barred else None,
        ):
            done = ui.act(partial(deployments.revoke_key, ctx, who, key_id=k.id))
            if done is not None:
                st.success(f"API key {done.id} revoked: the scoring service refuses it from its next refresh.")
    if revoked:
        with st.expander(f"Revoked keys ({len(revoked)})"):
            ui.records(
                [
                    {
                        "key": k.id,
                        "starts with": k.prefix,
                        "label": k.label,
                        "issued by": k.created_by,
                        "revoked by": k.revoked_by,
                        "revoked": ui.when(k.revoked_at),
                    }
                    for k in revoked
                ]
            )

if dep.space == Space.PROD and ui.can(who, "rollback"):
    st.subheader("Roll back")
    target = deployments.rollback_target(ctx, who, deployment_id=dep.id)
    said = target.explanation[:1].upper() + target.explanation[1:] + "."
    if target.model_version_id is None:
        st.info(said)  # no button to press for nothing
    else:
        st.caption(said)
        reason = st.text_area(
            "Why roll back (at least a sentence; kept with the revision and in the audit log)", key="rollback-reason"
        )
        confirm = st.checkbox(
            f"I want deployment {dep.id} to serve model version {target.model_version_id} again", key="rollback-confirm"
        )
        if st.button("Roll back", disabled=not confirm):
            result = ui.act(lambda: deployments.rollback(ctx, who, reason=reason, deployment_id=dep.id))
            if result is not None:
                st.success(f"Deployment {dep.id} now serves model version {result.deployment.model_version_id}.")
