"""The dashboard's entry point: sign-in, then only the pages the user's role may open.

Started as ``streamlit run dashboard/launch.py`` (what ``up`` runs), which serves this script with
the product's response headers. Users sign in against the store (argon2 hashes); when
OIDC is configured in ``.streamlit/secrets.toml`` (an ``[auth]`` section), "Sign in with
SSO" uses ``st.login`` and the identity's e-mail must match a user in the store, whose
role applies. A page a role may not open is not registered with ``st.navigation``, so its
URL does not open either; the services refuse the action again regardless.
"""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from dashboard.navigation import CATALOGUE, PAGES, ROLE_PAGES
from pipeline_core.errors import AuthError, NotFoundError
from pipeline_core.services import governance


def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def _sso_signed_in() -> bool:
    return bool(st.user.get("is_logged_in", False))


def _sign_in() -> None:
    st.title("Model governance")
    st.caption("Sign in to launch runs, review candidates and watch production models.")
    with st.form("sign-in"):
        username = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            # Where the attempt came from, for the audit record of a refusal.
            source = f"dashboard {getattr(st.context, 'ip_address', None) or 'unknown address'}"
            st.session_state[ui.PRINCIPAL] = governance.authenticate(
                ui.context(), username.strip(), password, source=source
            )
        except AuthError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    if _sso_configured():
        if not _sso_signed_in():
            st.button("Sign in with SSO", on_click=st.login)
        else:
            email = str(st.user.get("email", ""))
            try:
                st.session_state[ui.PRINCIPAL] = governance.get_principal(ui.context(), email)
                st.rerun()
            except NotFoundError:
                st.error(f"{email} has no account here; ask an admin to add it with a role.")


def main() -> None:
    st.set_page_config(page_title="Model governance", layout="wide")
    who = st.session_state.get(ui.PRINCIPAL)
    if who is None:
        st.session_state["pages"] = []
        _sign_in()
        return
    keys = ROLE_PAGES.get(who.role, ["overview"])
    st.session_state["pages"] = keys
    pages = [
        st.Page(PAGES / CATALOGUE[k][0], title=CATALOGUE[k][1], icon=CATALOGUE[k][2], url_path=k, default=(i == 0))
        for i, k in enumerate(keys)
    ]
    with st.sidebar:
        st.markdown(f"**{who.username}** · {who.role.replace('_', ' ')}")
        if st.button("Sign out"):
            del st.session_state[ui.PRINCIPAL]
            if _sso_configured() and _sso_signed_in():
                st.logout()
            st.rerun()
    st.navigation(pages).run()


main()
