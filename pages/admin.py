"""Admin: users, their roles and whether they may sign in; each spec's thresholds."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial

import streamlit as st

from dashboard import ui
from pipeline_core.services import datasets, governance
from pipeline_core.services.datasets import BUILTIN_SPECS
from pipeline_core.vocabulary import Role

ctx, who = ui.context(), ui.principal()
st.title("Admin")

st.subheader("Users")
listed = ui.act(lambda: governance.list_users(ctx, who))
if listed is None:
    st.stop()
ui.records([{"user": name, "role": role, "disabled": disabled} for name, role, disabled in listed])

with st.form("add-user"):
    st.markdown("**Add a user**")
    c1, c2, c3 = st.columns(3)
    username = c1.text_input("User name")
    role = c2.selectbox("Role", [r.value for r in Role])
    password = c3.text_input("Initial password (12+ characters)", type="password")
    if st.form_submit_button("Add user"):
        ui.act(
            lambda: governance.add_user(ctx, who, username=username.strip(), role=role, password=password),
            success=f"User {username.strip()} added as {role}.",
        )

with st.form("set-role"):
    st.markdown("**Change a role**")
    c1, c2 = st.columns(2)
    target = c1.selectbox("User", [name for name, _, _ in listed])
    new_role = c2.selectbox("New role", [r.value for r in Role], key="new-role")
    if st.form_submit_button("Change role"):
        ui.act(
            lambda: governance.set_role(ctx, who, username=target, role=new_role),
            success=f"{target} is now {new_role}.",
        )

with st.form("account-state"):
    st.markdown("**Disable or enable an account**")
    st.caption(
        "A disabled account cannot sign in, and an open session of it is signed out at its next click. "
        "The last enabled admin cannot be disabled or demoted."
    )
    c1, c2 = st.columns(2)
    account = c1.selectbox("Account", [name for name, _, _ in listed], key="account")
    reason = c2.text_input("Reason (for the audit record)", key="account-reason")
    disable, enable = st.columns(2)
    if disable.form_submit_button("Disable account"):
        ui.act(
            lambda: governance.disable_user(ctx, who, username=account, reason=reason),
            success=f"{account} is disabled.",
        )
    if enable.form_submit_button("Enable account"):
        ui.act(
            lambda: governance.enable_user(ctx, who, username=account, reason=reason),
            success=f"{account} is enabled.",
        )

st.subheader("Thresholds per spec")
st.caption(
    "New runs and production evaluations judge against these; a pre-prod evaluation keeps the thresholds "
    "its data was registered with."
)
for name, make in BUILTIN_SPECS.items():
    spec = datasets.thresholds_in_force(ctx, who, make())
    with st.form(f"thresholds-{name}"):
        st.markdown(f"**{name}**")
        values: dict[str, float | int] = {}
        cols = st.columns(4)
        for i, (key, value) in enumerate(asdict(spec.thresholds).items()):
            col = cols[i % 4]
            if isinstance(value, int):
                values[key] = int(col.number_input(key, min_value=1, value=value, step=1, key=f"{name}-{key}"))
            else:
                values[key] = float(
                    col.number_input(
                        key,
                        min_value=0.0,
                        max_value=1.0,
                        value=float(value),
                        step=0.01,
                        format="%.3f",
                        key=f"{name}-{key}",
                    )
                )
        if st.form_submit_button("Save thresholds"):
            ui.act(partial(datasets.set_thresholds, ctx, who, spec, values), success=f"Thresholds of {name} saved.")
