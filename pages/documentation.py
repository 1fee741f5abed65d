"""Documentation: a model's documentation section by section, with who wrote each and when; a data scientist edits it.

A validator and a manager read it (as it stands now, or as it stood for one version); a data scientist
writes it in one form, each section with what a validator looks for. Only the sections whose text
changed are written (``governance.write_documentation`` keeps every revision).
"""

from __future__ import annotations

import re

import streamlit as st

from dashboard import ui
from pipeline_core.services import governance
from pipeline_core.services.governance._documentation import MAX_TEXT
from pipeline_core.services.runs import list_model_versions
from pipeline_core.vocabulary import DocSection

# What a model-risk validator expects to read in each section, in a bank's words.
HELP: dict[DocSection, str] = {
    DocSection.PURPOSE: "The business decision the model supports (e.g. accept or decline consumer loans up to "
    "EUR 50,000), the product and portfolio, and how its score is used in the decision.",
    DocSection.INTENDED_USERS: "Who uses the score and in which process: credit officers, the automated "
    "decision engine, collections; their training and what they may override.",
    DocSection.OUT_OF_SCOPE: "Uses the model must not be put to: other products or segments, pricing, limits, "
    "marketing, applicants outside the population it was developed on.",
    DocSection.DATA: "Where the development data come from, the observation and performance period, exclusions, "
    "the definition of default, and how representative the sample is of today's applicants.",
    DocSection.FEATURES: "Why each input is in the model and what economic sense its effect makes; protected or "
    "proxy attributes and why they are (not) used.",
    DocSection.ASSUMPTIONS: "What the model takes for granted: stable economic conditions, unchanged acceptance "
    "policy, reject inference, the chosen cut-off and its rationale.",
    DocSection.LIMITATIONS: "Known weaknesses: thin segments, periods not covered, sensitivity to data quality, "
    "where performance or fairness is weaker, and how each is mitigated.",
    DocSection.OVERSIGHT: "How people oversee it (EU AI Act art. 14): who reviews which decisions, when a score "
    "must be overridden or escalated, and how to stop using it.",
}


def _plain(text: str) -> str:
    """``text`` as markdown that shows it as written (a limitation may well mention ``*`` or ``$``)."""
    return re.sub(r"([\\`*_{}\[\]<>#$|~])", r"\\\1", text)


ctx, who = ui.context(), ui.principal()
st.title("Documentation")

versions = list_model_versions(ctx, who, limit=500)
if not versions:
    step = ui.next_step(
        who,
        scientist="Launch a run on the Runs page, then document its model here.",
        others="A data scientist's run registers a model; its documentation is written here.",
    )
    ui.empty(f"No models yet. {step}")
    st.stop()
models = sorted({v.name for v in versions})
model = st.selectbox("Model", models)
numbers = sorted((v.version for v in versions if v.name == model), reverse=True)
NOW = "now (what the next version carries forward)"
stood = st.selectbox(
    "As it stood for", [NOW, *numbers], format_func=lambda v: v if isinstance(v, str) else f"version {v}"
)
version = stood if isinstance(stood, int) else None
doc = ui.act(lambda: governance.documentation(ctx, who, model, version=version))
if doc is None:
    st.stop()

missing = [s.title for s in doc.sections if s.text is None]
if missing:
    st.warning("Not written yet: " + ", ".join(missing) + ".")
for s in doc.sections:
    st.subheader(s.title)
    if s.text is None:
        st.caption("Not written.")
        continue
    st.markdown(_plain(s.text))
    st.caption(f"Written by {s.written_by}, {ui.when(s.written_at)}, for version {s.for_version}.")

if ui.can(who, "write_documentation"):
    st.divider()
    st.subheader("Edit the documentation")
    st.caption(
        f"Saved for {model}'s newest version (v{numbers[0]}); later versions carry it forward. "
        f"Every save is kept; at most {MAX_TEXT:,} characters per section."
    )
    current = doc if version is None else governance.documentation(ctx, who, model)
    with st.form(f"documentation-{model}"):
        texts = {
            s.section: st.text_area(s.title, value=s.text or "", help=HELP[s.section], key=f"doc-{model}-{s.section}")
            for s in current.sections
        }
        saved = st.form_submit_button("Save documentation")
    if saved:
        changed = {k: v for k, v in texts.items() if v != (current.text(k) or "") and (v.strip() or current.text(k))}
        if not changed:
            st.info("Nothing changed: no section was written.")
        else:
            wrote = ui.act(lambda: governance.write_documentation(ctx, who, model, sections=changed))
            if wrote is not None:
                titles = ", ".join(s.heading for s in wrote.written) or "none"
                st.success(f"Saved: {titles}.")
