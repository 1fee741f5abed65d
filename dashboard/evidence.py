"""The evidence pack's download button for a model version: the signed zip, built only when it is clicked."""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from pipeline_core.errors import PipelineError
from pipeline_core.services import governance
from pipeline_core.services.authz import Principal, refusal
from pipeline_core.services.context import ServiceContext

logger = logging.getLogger(__name__)
HELP = (
    "One zip for a regulator or auditor: the validation report, documentation, factsheet, model tests, "
    "evaluations, audit events with the chain's verification and the EU AI Act Annex IV index, with a manifest "
    "of every file's sha256 signed with the audit key (`evidence verify PACK.zip` checks it)."
)


def pack_builder(ctx: ServiceContext, who: Principal, model_version_id: int) -> Callable[[], bytes]:
    """What the button calls on click (on a thread of its own): the pack, or an error fit to show."""

    def build() -> bytes:
        try:
            return governance.evidence_pack(ctx, who, model_version_id)
        except PipelineError:
            raise  # its message names the problem (a role changed since the page was drawn, a version gone)
        except Exception as exc:
            # A bug: its details name the server's code, so they go to the log, not to the browser.
            logger.exception("the evidence pack of model version %s could not be built", model_version_id)
            raise RuntimeError("the evidence pack could not be built; its details are in the dashboard's log") from exc

    return build


def evidence_pack_button(
    ctx: ServiceContext, who: Principal, model_version_id: int, *, model_name: str, version: int
) -> None:
    """An "Evidence pack (zip)" download button; greyed, saying why, for a role that may not export one."""
    refused = refusal(ctx, who, "export_evidence")
    st.download_button(
        "Evidence pack (zip)",
        data=pack_builder(ctx, who, model_version_id),
        file_name=f"evidence-{model_name}-v{version}.zip",
        mime="application/zip",
        key=f"evidence-pack-{model_version_id}",
        on_click="ignore",  # building the pack is the click's whole work: no rerun of the page
        disabled=refused is not None,
        help=refused or HELP,
        icon=":material/folder_zip:",
    )
