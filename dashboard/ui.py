"""Shared UI helpers for the pages: the store context, the signed-in user, errors, tables, chart style.

Pages call services through ``act``: a ``PipelineError`` becomes a clear message on the
page (never a traceback), and the action returns ``None``. Tables go through ``records`` or
``table``: a missing value shows as a dash and a nested value as text, never as Python.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from pipeline_core.errors import PipelineError
from pipeline_core.services.authz import PERMISSIONS, Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.deployments import DeploymentInfo

logger = logging.getLogger(__name__)
T = TypeVar("T")
PRINCIPAL = "principal"
MISSING = "–"  # what a table shows where there is no value
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
    """Run a service call; show a ``PipelineError`` as a message naming the problem, anything else as a notice."""
    try:
        result = call()
    except PipelineError as exc:
        st.error(f"{type(exc).__name__}: {exc}")
        return None
    except Exception:
        # A bug, not the person's input: its message and traceback name the server's files and code, so
        # they go to the dashboard's log, and the page says only that the action did not complete.
        logger.exception("a dashboard action failed unexpectedly")
        st.error("The action stopped on an unexpected error; its details are in the dashboard's log on the server.")
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


def over_time(frame: pd.DataFrame, *, x: str, y: str, color: str, band: tuple[str, str] | None = None) -> go.Figure:
    """One line per ``color`` over the times in ``x``. A single time is drawn inside the hour around it:
    left to plotly, the axis of one point spans a millisecond, ticked in fractions of a second.

    ``band``: the columns of each value's 95% interval (lower, upper), drawn as error bars where known.
    """
    if band is not None and frame[list(band)].notna().any().any():
        lower, upper = band
        spread = frame.assign(_above=frame[upper] - frame[y], _below=frame[y] - frame[lower])
        figure = px.line(spread, x=x, y=y, color=color, markers=True, error_y="_above", error_y_minus="_below")
    else:
        figure = px.line(frame, x=x, y=y, color=color, markers=True)
    times = pd.to_datetime(frame[x])
    # Minutes repeat on every tick when the evaluations are minutes apart: then show the seconds, not the date.
    short = times.max() - times.min() < pd.Timedelta(hours=1)
    figure.update_xaxes(tickformat="%H:%M:%S" if short else "%Y-%m-%d %H:%M", nticks=6)
    if times.nunique() == 1:
        moment = times.iloc[0]
        figure.update_xaxes(range=[moment - pd.Timedelta(minutes=30), moment + pd.Timedelta(minutes=30)])
    return styled(figure)


def status_badge(status: str) -> str:
    return f":{_streamlit_colour(status)}[{status}]"


def _streamlit_colour(status: str) -> str:
    return {"pass": "green", "warn": "orange", "fail": "red"}.get(status, "gray")


def empty(message: str) -> None:
    """An empty state that says what to do next."""
    st.info(message)


def next_step(who: Principal, *, scientist: str, others: str, validator: str | None = None) -> str:
    """What an empty page tells ``who`` to do next: what their role may do about it, or who does it."""
    if can(who, "launch_run"):
        return scientist
    if validator is not None and can(who, "approve"):
        return validator
    return others


def pick_deployment(deps: list[DeploymentInfo]) -> DeploymentInfo:
    """A selectbox over ``deps``, prod first, then pre-prod and dev."""
    by_id = {d.id: d for d in sorted(deps, key=lambda d: (("prod", "preprod", "dev").index(d.space), d.id))}
    chosen = st.selectbox(
        "Deployment",
        list(by_id),
        format_func=lambda i: (f"{i}: {by_id[i].model_name} v{by_id[i].model_version} in {by_id[i].space}"),
    )
    return by_id[chosen]


def can(who: Principal, action: str) -> bool:
    """Whether ``who``'s role may do ``action`` (the services check again when it is done)."""
    return who.role in PERMISSIONS.get(action, frozenset())


def when(value: datetime | str | None, *, seconds: bool = False) -> str:
    """A time as people read it (``2026-01-31 14:05``); ISO strings from factsheets too."""
    if value is None or value == "":
        return MISSING
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def cell(value: Any) -> Any:
    """A value as a table cell: a dash for nothing, text for a mapping or a list, anything else as is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, Mapping):
        return "; ".join(f"{k.replace('_', ' ') if isinstance(k, str) else k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return ", ".join(_text(v) for v in value) if value else MISSING
    return value


def _text(value: Any) -> str:
    shown = cell(value)
    return f"({shown})" if isinstance(value, Mapping) and value else str(shown)


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell through ``cell``; a column that then mixes numbers and dashes becomes text (Arrow needs one type)."""
    out = frame.map(cell) if len(frame) else frame.copy()
    for column in out.columns:
        kinds = {type(v) for v in out[column]}
        if len(kinds) > 1 and str in kinds:
            out[column] = out[column].map(str)
    return out


def records(rows: list[dict[str, Any]], *, every_row: bool = False) -> None:
    """Rows of a table, one dict per row; ``every_row``: as tall as its rows, not scrolling inside itself."""
    frame = _readable(pd.DataFrame(rows))
    if every_row:
        st.dataframe(frame, hide_index=True, width="stretch", height="content")
    else:
        st.dataframe(frame, hide_index=True, width="stretch")


def table(frame: pd.DataFrame) -> None:
    """A table whose index names its rows (a comparison: one column per thing compared), every row in view."""
    st.dataframe(_readable(frame), width="stretch", height="content")


def timeline(events: Sequence[Mapping[str, Any]]) -> None:
    """A factsheet's lineage: who did what to what, when, oldest first."""
    records(
        [
            {"when": when(e["at"], seconds=True), "who": e["actor"], "what": e["action"], "on": e["object"]}
            for e in events
        ]
    )
