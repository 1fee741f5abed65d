"""The dashboard's entry point: sign-in, then only the pages the user's role may open.

Started as ``streamlit run dashboard/launch.py`` (what ``up`` runs), which serves this script with
the product's response headers. Users sign in against the store (argon2 hashes); when
OIDC is configured in ``.streamlit/secrets.toml`` (an ``[auth]`` section), "Sign in with
SSO" uses ``st.login`` and the identity's e-mail must match a user in the store, whose
role applies. A page a role may not open is not registered with ``st.navigation``, so its
URL does not open either; the services refuse the action again regardless.

The signed-in user is read again from the store on every run of the page (``current``): an
admin demoted meanwhile loses the Admin page at their next click, and a disabled or deleted
account is signed out then, with a message saying so.
"""

from __future__ import annotations

import streamlit as st

from dashboard import decision, ui
from dashboard.navigation import CATALOGUE, PAGES, pages_for
from pipeline_core.errors import AuthError, NotFoundError
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal

SIGNED_OUT = "signed_out"  # why the last session ended, shown above the sign-in form


def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def _sso_signed_in() -> bool:
    return bool(st.user.get("is_logged_in", False))


def _source() -> str:
    """Where a sign-in comes from, for throttling and the audit record: the client's address as Streamlit sees it."""
    address = getattr(st.context, "ip_address", None)
    # Not every runtime knows the client (a bare script run, AppTest hands a stand-in): then the dashboard at large.
    return f"dashboard:{address}" if isinstance(address, str) and address else "dashboard"


ROLE_CHANGED = "role-changed"  # said once, on the first page run under the new role


def current(who: Principal) -> Principal | None:
    """``who`` as the store has them now (role, account enabled); None when the account is disabled or gone."""
    try:
        return governance.get_principal(ui.context(), who.username)
    except NotFoundError:
        return None


def _sign_out(message: str | None = None) -> None:
    del st.session_state[ui.PRINCIPAL]
    if message:
        st.session_state[SIGNED_OUT] = message
    if _sso_configured() and _sso_signed_in():
        st.logout()


def _sign_in() -> None:
    st.title("Model governance")
    st.caption("Sign in to launch runs, review candidates and watch production models.")
    if SIGNED_OUT in st.session_state:
        st.warning(st.session_state[SIGNED_OUT])
    with st.form("sign-in"):
        username = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            st.session_state[ui.PRINCIPAL] = governance.authenticate(
                ui.context(), username.strip(), password, source=_source()
            )
        except AuthError as exc:
            st.error(str(exc))
        else:
            st.session_state.pop(SIGNED_OUT, None)
            st.rerun()
    if _sso_configured():
        if not _sso_signed_in():
            st.button("Sign in with SSO", on_click=st.login)
        else:
            email = str(st.user.get("email", ""))
            try:
                st.session_state[ui.PRINCIPAL] = governance.get_principal(ui.context(), email)
                st.session_state.pop(SIGNED_OUT, None)
                st.rerun()
            except NotFoundError:
                st.error(f"{email} has no account here; ask an admin to add it with a role.")


def main() -> None:
    st.set_page_config(page_title="Model governance", layout="wide")
    signed_in = st.session_state.get(ui.PRINCIPAL)
    who = current(signed_in) if signed_in is not None else None
    if signed_in is not None and who is None:
        _sign_out(f"You were signed out: the account {signed_in.username!r} is disabled or no longer exists.")
    if who is None:
        st.session_state["pages"] = []
        _sign_in()
        return
    # The store's role from now on, for the pages' own checks too (ui.principal reads it from here).
    if signed_in is not None and signed_in.role != who.role:
        st.session_state[ROLE_CHANGED] = (
            f"Your role changed from {signed_in.role.replace('_', ' ')} to {who.role.replace('_', ' ')}: "
            "you see the pages it has, and an action your old role allowed was not carried out."
        )
        st.session_state.pop(decision.CONFIRMING, None)  # a confirmation asked under the old role is void
    st.session_state[ui.PRINCIPAL] = who
    keys = pages_for(who.role)
    st.session_state["pages"] = keys
    pages = [
        st.Page(PAGES / CATALOGUE[k][0], title=CATALOGUE[k][1], icon=CATALOGUE[k][2], url_path=k, default=(i == 0))
        for i, k in enumerate(keys)
    ]
    changed = st.session_state.pop(ROLE_CHANGED, None)
    if changed:
        st.warning(changed)
    with st.sidebar:
        st.markdown(f"**{who.username}** · {who.role.replace('_', ' ')}")
        if st.button("Sign out"):
            _sign_out()
            st.rerun()
    st.navigation(pages).run()


main()
