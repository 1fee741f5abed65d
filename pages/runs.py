"""Runs: launch a pipeline run, follow its stages live, cancel it, browse history, compare two runs."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd
import streamlit as st

from dashboard import ui
from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.params import MODEL_TYPES, RunParams
from pipeline_core.services.datasets import builtin_spec
from pipeline_core.services.runs import (
    cancel_run,
    get_run,
    launch_bytes_run,
    launch_file_run,
    list_runs,
    live_workers,
    model_version_for_run,
    run_summary,
)
from pipeline_core.vocabulary import FINISHED_RUN_STATES, RunState, StageState

# Material icons: they render without an emoji font (headless Chromium on a server has none).
STAGE_ICONS: dict[str, str] = {
    StageState.PENDING: ":gray[:material/schedule:]",
    StageState.RUNNING: ":blue[:material/autorenew:]",
    StageState.SUCCEEDED: ":green[:material/check_circle:]",
    StageState.FAILED: ":red[:material/cancel:]",
    StageState.CANCELLED: ":orange[:material/block:]",
    StageState.SKIPPED: ":gray[:material/remove_circle_outline:]",
}
SELECTED = "runs.selected"
FOLLOWING = "runs.following"  # the unfinished run the page redraws on a timer

ctx, who = ui.context(), ui.principal()
st.title("Runs")

with st.expander("Launch a run", expanded=not list_runs(ctx, who, limit=1)):
    with st.form("launch"):
        sources = ["Demo data (generated)", "Upload a CSV", "A path on the server or a bucket"]
        source = st.radio("Training data", sources, horizontal=True)
        left, right = st.columns(2)
        rows = left.number_input("Demo rows", min_value=200, max_value=100_000, value=5000, step=100)
        seed = right.number_input("Seed", min_value=0, value=42, step=1)
        upload = st.file_uploader("CSV file", type=["csv"])
        path = st.text_input("Path of a CSV in an allowed data folder, or a bucket object s3://bucket/key")
        # Which folders, said before anyone types: the service refuses every other path with the same list.
        roots = ctx.settings.data_roots
        folders = ", ".join(f"`{folder}`" for folder in roots)
        where = f"folder {folders} (a relative path is taken from it)"
        if len(roots) > 1:
            where = f"folders {folders} (a relative path is taken from the first)"
        st.caption(f"Server paths are read only from the allowed data {where}. Buckets use the S3 / COS settings.")
        model_type = st.selectbox("Model", MODEL_TYPES)
        c1, c2, c3 = st.columns(3)
        max_iter = c1.number_input("max_iter (iterations / boosting rounds)", min_value=1, max_value=5000, value=100)
        learning_rate = c2.number_input("learning_rate (HGB)", min_value=0.001, max_value=1.0, value=0.1, format="%.3f")
        n_estimators = c3.number_input("n_estimators (random forest)", min_value=1, max_value=2000, value=200)
        launched = st.form_submit_button("Launch", type="primary")
    if launched:
        spec = builtin_spec("german_credit")

        def launch() -> Any:
            params = RunParams(
                model_type=cast(Any, model_type),
                seed=int(seed),
                max_iter=int(max_iter),
                learning_rate=float(learning_rate),
                n_estimators=int(n_estimators),
            )
            if source.startswith("Demo"):
                data = frame_to_csv_bytes(generate_german_credit(int(rows), seed=int(seed)))
                return launch_bytes_run(
                    ctx,
                    who,
                    data,
                    name=f"demo_{int(rows)}_{int(seed)}.csv",
                    spec=spec,
                    params=params,
                    source="generated in the dashboard",
                )
            if source.startswith("Upload"):
                if upload is None:
                    st.error("Choose a CSV file to upload first.")
                    return None
                return launch_bytes_run(
                    ctx,
                    who,
                    upload.getvalue(),
                    name=upload.name,
                    spec=spec,
                    params=params,
                    source=f"uploaded by {who.username}",
                )
            if not path.strip():
                st.error("Give the path of a CSV file first.")
                return None
            return launch_file_run(ctx, who, path.strip(), spec=spec, params=params)

        run = ui.act(launch)
        if run is not None:
            st.session_state[SELECTED] = run.id
            st.success(f"Run {run.id} queued.")

runs = list_runs(ctx, who, limit=200)
if not runs:
    ui.empty("No runs yet: launch one above (the demo data needs nothing else).")
    st.stop()

if not live_workers(ctx, who) and any(r.status == RunState.QUEUED for r in runs):
    st.warning("Runs are queued but no worker is running: start one with `python -m pipeline_core worker`.")

ids = [r.id for r in runs]
default = st.session_state.get(SELECTED, ids[0])
chosen = st.selectbox(
    "Run",
    ids,
    index=ids.index(default) if default in ids else 0,
    format_func=lambda i: next(f"run {r.id} · {r.status} · {r.created_by}" for r in runs if r.id == i),
)


def stages(run_id: int) -> None:
    """The run drawn as its stages, with its outcome; while it runs, ``live`` redraws it every 2 s."""
    summary = run_summary(get_run(ctx, who, run_id))
    status = summary["status"]
    if status in FINISHED_RUN_STATES and st.session_state.get(FOLLOWING) == run_id:
        # It finished while followed: redraw the whole page, so that the history and comparison include it.
        del st.session_state[FOLLOWING]
        st.rerun()
    cols = st.columns(max(1, len(summary["stages"])))
    for col, stage in zip(cols, summary["stages"], strict=False):
        # Seven tiles across: the icon says the status, so a finished stage's second line is its time alone.
        seconds = f"{stage['duration_seconds']:.1f} s" if stage["duration_seconds"] else ""
        below = (
            seconds if stage["status"] == StageState.SUCCEEDED and seconds else f"{stage['status']} {seconds}".strip()
        )
        name = stage["name"].replace("_", " ")
        col.markdown(f"{STAGE_ICONS.get(stage['status'], '')} **{name}**  \n{below}")
    if status == RunState.FAILED:
        st.error(f"Run {run_id} failed at {summary['failed_stage']}: {summary['error']}")
    elif status == RunState.SUCCEEDED:
        mv = model_version_for_run(ctx, who, run_id)
        if mv is not None:
            st.success(
                f"Run {run_id} succeeded: model version {mv.id} ({mv.name} v{mv.version}) is "
                f"{mv.state.replace('_', ' ')}."
            )
    elif status not in FINISHED_RUN_STATES:
        st.info(f"Run {run_id} is {status}…")
        if st.button("Cancel this run", key=f"cancel-{run_id}"):
            ui.act(lambda: cancel_run(ctx, who, run_id), success=f"Cancel requested for run {run_id}.")
    for stage in summary["stages"]:
        if stage["log"] or stage["gate"] or stage["outputs"]:
            with st.expander(f"{stage['name']}: log, gate and outputs"):
                if stage["gate"]:
                    verdict = "passed" if stage["gate"]["passed"] else "failed"
                    st.markdown(f"Gate **{verdict}**: {stage['gate']['reason']}")
                st.code("\n".join(str(line) for line in stage["log"]) or "(no log)")
                if stage["outputs"]:
                    st.json(stage["outputs"], expanded=False)


live = st.fragment(run_every=2.0)(stages)
# Only a run still going is redrawn on a timer: a finished one does not change, and a timer's reruns
# would compete with the person's clicks for nothing.
if next(r for r in runs if r.id == chosen).status in FINISHED_RUN_STATES:
    stages(chosen)
else:
    st.session_state[FOLLOWING] = chosen
    live(chosen)

st.subheader("History")
ui.records(
    [
        {
            "run": r.id,
            "status": r.status,
            "by": r.created_by,
            "model": r.params.get("model_type"),
            "created": ui.when(r.created_at, seconds=True),
            "failed stage": r.failed_stage or "",
        }
        for r in runs
    ]
)

st.subheader("Compare two runs")
finished = [r.id for r in runs if r.status == RunState.SUCCEEDED]
if len(finished) < 2:
    ui.empty("Two succeeded runs are needed to compare.")
else:
    a, b = st.columns(2)
    first = a.selectbox("First", finished, index=1, key="compare-a", format_func=lambda i: f"run {i}")
    second = b.selectbox("Second", finished, index=0, key="compare-b", format_func=lambda i: f"run {i}")
    table: dict[str, dict[str, Any]] = {}
    for run_id in (first, second):
        run = get_run(ctx, who, run_id)
        mv = model_version_for_run(ctx, who, run_id)
        column = {f"param {k}": v for k, v in run.params.items()}
        if mv is not None:
            column |= {f"metric {k}": round(v, 4) for k, v in mv.metrics.items() if isinstance(v, float)}
        column["stage seconds"] = round(sum(s.duration_seconds or 0 for s in run.stages), 2)
        table[f"run {run_id}"] = column
    # Parameters and metrics differ in type: all as text, and a dash where a run has none of them.
    ui.table(pd.DataFrame(table).map(lambda v: v if v is None or v != v else str(v)))
