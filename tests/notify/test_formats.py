"""Each webhook format says the model version, the check and its figures; the body is exactly what is signed."""

from __future__ import annotations

import json

from pipeline_core.notify import formats
from pipeline_core.notify.message import AlertMessage
from pipeline_core.vocabulary import AlertNotice

RAISED = AlertMessage(
    notice=AlertNotice.RAISED,
    alert_id=7,
    model_name="german-credit",
    model_version=3,
    model_version_id=12,
    deployment_id=2,
    space="prod",
    monitor="quality",
    metric="roc_auc",
    value=0.5812,
    threshold=0.6,
    occurrences=1,
    evaluation_id=40,
    summary="german-credit v3: roc_auc = 0.5812, threshold 0.6000 fails its critical threshold (prod, evaluation 40)",
    at="2026-12-02T16:00:00Z",
)


def test_the_message_names_the_model_version_and_the_check() -> None:
    assert RAISED.subject == "[alert 7 raised] german-credit v3: quality roc_auc (prod deployment 2)"
    assert "Model: german-credit v3 (model version id 12), prod deployment 2" in RAISED.text
    assert "Check: quality roc_auc: roc_auc = 0.5812, threshold 0.6000" in RAISED.text
    assert "Seen 1 time; evaluation 40" in RAISED.text
    assert AlertMessage.from_dict(json.loads(json.dumps(RAISED.to_dict()))) == RAISED


def test_plain_json_carries_every_fact() -> None:
    sent = json.loads(formats.body(RAISED, "json"))
    assert sent["model"] == "german-credit v3" and sent["notice"] == "raised" and sent["value"] == 0.5812
    assert sent["subject"] == RAISED.subject and sent["text"] == RAISED.text


def test_slack_has_text_and_blocks() -> None:
    sent = json.loads(formats.body(RAISED, "slack"))
    assert sent["text"] == RAISED.subject
    assert [b["type"] for b in sent["blocks"]] == ["header", "section"]
    assert sent["blocks"][1]["text"] == {"type": "mrkdwn", "text": RAISED.text}


def test_teams_is_a_message_card_with_the_figures_as_facts() -> None:
    resolved = AlertMessage(
        **{**RAISED.__dict__, "notice": AlertNotice.RESOLVED, "comment": "the check passed again in evaluation 41"}
    )
    sent = json.loads(formats.body(resolved, "teams"))
    assert (sent["@type"], sent["@context"]) == ("MessageCard", "https://schema.org/extensions")
    assert sent["themeColor"] == "2EA043" and sent["title"].startswith("[alert 7 resolved] german-credit v3")
    facts = {f["name"]: f["value"] for f in sent["sections"][0]["facts"]}
    assert facts["Value"] == "0.5812" and facts["Threshold"] == "0.6000" and facts["Model"] == "german-credit v3"
    assert facts["Resolved"] == "the check passed again in evaluation 41"
