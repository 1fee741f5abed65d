"""The Review page's shadow section: start and stop by role, and the comparison on identical production traffic."""

from __future__ import annotations

import json

import httpx
import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from tests.pages.conftest import PageRunner
from tests.processes import wait_for
from tests.states import State

REASON = "Compare the retrained candidate with production on identical live traffic."


def _traffic(ctx: ServiceContext, state: State, shadow_id: int, records: int) -> None:
    """``records`` production requests of one record each, sent once the scoring service shadows them."""
    url, key = ctx.settings.scoring_url, state.key
    frame = generate_german_credit(records, seed=5)
    spec_fields = [c for c in frame.columns if c != "Risk"]
    with httpx.Client(base_url=url, timeout=30) as client:
        wait_for(
            lambda: bool(client.get("/health/shadows").json()["scoring"]), timeout=20, what="the shadow to be loaded"
        )
        for i in range(records):
            row = json.loads(frame.iloc[[i]][spec_fields].to_json(orient="values"))[0]
            body = {"input_data": [{"fields": spec_fields, "values": [row]}]}
            answer = client.post(
                deployments.scoring_path(state.deployment_id or 0),
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.status_code == 200, answer.text
    wait_for(
        lambda: len(deployments.shadow_outputs(ctx, SYSTEM, shadow_id)) == records,
        timeout=30,
        what="the shadow's answers",
    )


def _section_text(at: object) -> str:
    return "\n".join(str(m.value) for m in at.markdown) + "\n".join(str(c.value) for c in at.caption)  # type: ignore[attr-defined]


def test_the_comparison_shows_both_models_on_the_same_records(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], challenger: int, starting_state: State
) -> None:
    prod = starting_state.deployment_id
    assert prod is not None
    shadow = deployments.start_shadow(
        live_ctx, people["dora"], production_deployment_id=prod, model_version_id=challenger, reason=REASON
    )
    _traffic(live_ctx, starting_state, shadow.id, 40)
    at = page("review", "vera")
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Records compared"] == "40" and shown["No shadow answer"] == "0" and shown["Labelled"] == "0"
    assert shown["Decisions agree"].endswith("%")
    text = _section_text(at)
    assert f"Shadow {shadow.id} is active" in text and "started by dora" in text
    found = monitoring.shadow_comparison(live_ctx, people["vera"], shadow.id)
    for note in (found.estimated_production.note, found.estimated_shadow.note):
        assert note in text  # what each estimate rests on, or why it was refused
    tables = [t.value for t in at.dataframe]
    fairness = next(t for t in tables if "attribute" in t.columns)
    assert set(fairness["attribute"]) == {"Sex", "Age"}
    assert "Stop the shadow" in [b.label for b in at.button]  # vera may stop it


def test_a_data_scientist_starts_the_shadow_with_a_reason(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], challenger: int, starting_state: State
) -> None:
    at = page("review", "dora")
    assert not at.exception
    field = next(t for t in at.text_input if t.label.startswith("Why start the shadow"))
    field.input("too short").run()
    next(b for b in at.button if b.label == "Start the shadow").click().run()
    assert any("must be at least a sentence" in e.value for e in at.error)
    assert deployments.list_shadows(live_ctx, people["dora"]) == []
    field = next(t for t in at.text_input if t.label.startswith("Why start the shadow"))
    field.input(REASON).run()
    next(b for b in at.button if b.label == "Start the shadow").click().run()
    assert not at.exception
    (shadow,) = deployments.list_shadows(live_ctx, people["dora"], active_only=True)
    assert (shadow.model_version_id, shadow.start_reason, shadow.started_by) == (challenger, REASON, "dora")
    assert any(f"Shadow {shadow.id} started" in s.value for s in at.success)
    (event,) = governance.list_events(live_ctx, SYSTEM, action="shadow.started")
    assert event.details["reason"] == REASON


@pytest.mark.parametrize("who", ["max"])
def test_a_manager_reads_it_without_controls(
    page: PageRunner, live_ctx: ServiceContext, people: dict[str, Principal], challenger: int, who: str
) -> None:
    at = page("review", who)
    assert not at.exception
    assert not [b for b in at.button if "shadow" in b.label]
    assert any("A data scientist or a validator starts and stops a shadow." in c.value for c in at.caption)
