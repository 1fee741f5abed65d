"""Shared UI helpers for the pages: the store context, the signed-in user, errors, chart style.

Pages call services through ``act``: a ``PipelineError`` becomes a clear message on the
page (never a traceback), and the action returns ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import plotly.graph_objects as go
import streamlit as st

from pipeline_core.errors import PipelineError
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.deployments import DeploymentInfo

T = TypeVar("T")
PRINCIPAL = "principal"
COLOURS = {"pass": "#1b7f3b", "warn": "#b26a00", "fail": "#b3261e", "insufficient": "#5f6368", "info": "#5f6368"}


@st.cache_resource
def context() -> ServiceContext:
    """One store context per dashboard process (settings from the environment / mlops.toml)."""
    return open_context()


def principal() -> Principal:
    """The signed-in user; pages are only registered after sign-in, so this is always set there."""
    who = st.session_state.get(PRINCIPAL)
    if not isinstance(who, Principal):
        st.error("Sign in first.")
        st.stop()
    return who


def act(call: Callable[[], T], *, success: str | None = None) -> T | None:
    """Run a service call; show a ``PipelineError`` as a message naming the problem."""
    try:
        result = call()
    except PipelineError as exc:
        st.error(f"{type(exc).__name__}: {exc}")
        return None
    if success:
        st.success(success)
    return result


def styled(figure: go.Figure, *, height: int = 340) -> go.Figure:
    """One chart style for every page."""
    figure.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 40, "r": 20, "t": 40, "b": 40},
        font={"size": 12},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def status_badge(status: str) -> str:
    return f":{_streamlit_colour(status)}[{status}]"


def _streamlit_colour(status: str) -> str:
    return {"pass": "green", "warn": "orange", "fail": "red"}.get(status, "gray")


def empty(message: str) -> None:
    """An empty state that says what to do next."""
    st.info(message)


def pick_deployment(deps: list[DeploymentInfo]) -> DeploymentInfo:
    """A selectbox over ``deps``, prod first, then pre-prod and dev."""
    by_id = {d.id: d for d in sorted(deps, key=lambda d: (("prod", "preprod", "dev").index(d.space), d.id))}
    chosen = st.selectbox(
        "Deployment",
        list(by_id),
        format_func=lambda i: (f"{i}: {by_id[i].model_name} v{by_id[i].model_version} in {by_id[i].space}"),
    )
    return by_id[chosen]


def records(rows: list[dict[str, Any]]) -> None:
    st.dataframe(rows, hide_index=True, width="stretch")
