"""The scoring API over real HTTP: the WML contract, every class of bad payload, auth."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline_core.model_io import load_model
from pipeline_core.services import deployments
from pipeline_core.services.authz import SYSTEM
from tests.live import Live
from tests.processes import wait_for

Mutate = Callable[[dict[str, Any]], Any]


def _block(p: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = p["input_data"][0]
    return block


def _set_value(field: str, value: Any) -> Mutate:
    def mutate(p: dict[str, Any]) -> dict[str, Any]:
        i = _block(p)["fields"].index(field)
        _block(p)["values"][1][i] = value
        return p

    return mutate


def _drop_field(field: str) -> Mutate:
    def mutate(p: dict[str, Any]) -> dict[str, Any]:
        i = _block(p)["fields"].index(field)
        del _block(p)["fields"][i]
        for row in _block(p)["values"]:
            del row[i]
        return p

    return mutate


def test_valid_payload_scores_like_the_model(live: Live, applicants: pd.DataFrame) -> None:
    batch = applicants.iloc[:50]
    response = live.post(live.payload(batch))
    assert response.status_code == 200, response.text
    body = response.json()
    block = body["predictions"][0]
    assert block["fields"] == ["prediction", "probability"]
    model = load_model(
        live.ctx.artifacts.get(deployments.get_deployment(live.ctx, SYSTEM, live.deployment_id).artifact_sha256)
    )
    expected = model.predict_proba(batch[live.spec.feature_names])
    got = np.array([p for _, p in block["values"]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert [label for label, _ in block["values"]] == list(model.classes_[expected.argmax(axis=1)])
    assert len(set(body["scoring_ids"])) == 50 and body["warnings"] == []
    assert body["model_version_id"] == live.model_version_id


def test_unseen_category_scores_and_is_flagged(live: Live, applicants: pd.DataFrame) -> None:
    payload = live.payload(applicants.iloc[:3])
    _set_value("LoanPurpose", "spaceship")(payload)
    response = live.post(payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["predictions"][0]["values"]) == 3
    assert body["warnings"] == [{"record": 1, "field": "LoanPurpose", "value": "spaceship", "issue": "unseen_category"}]


def test_a_value_inside_the_valid_range_but_outside_the_training_range_scores_with_a_warning(
    live: Live, applicants: pd.DataFrame
) -> None:
    lineage = deployments.get_deployment(live.ctx, SYSTEM, live.deployment_id)
    payload = live.payload(applicants.iloc[:3])
    _set_value("Age", 99)(payload)  # a possible applicant (valid: 18-100), older than anyone in the training split
    response = live.post(payload)
    assert response.status_code == 200, response.text
    warnings = response.json()["warnings"]
    assert len(warnings) == 1, (warnings, lineage)
    (warning,) = warnings
    assert {k: warning[k] for k in ("record", "field", "value", "issue")} == {
        "record": 1,
        "field": "Age",
        "value": 99,
        "issue": "outside_training_range",
    }
    low, high = warning["training_range"]
    assert 18 <= low <= high < 99


@pytest.mark.parametrize(
    ("mutate", "status", "match"),
    [
        (_drop_field("Age"), 400, r"missing field\(s\) \['Age'\]"),
        (
            lambda p: (_block(p)["fields"].append("Colour"), [r.append("red") for r in _block(p)["values"]], p)[-1],
            400,
            r"unexpected field\(s\) \['Colour'\]",
        ),
        (_set_value("Age", "forty"), 400, r"field 'Age', record 1: 'forty' is not a number"),
        (_set_value("Age", True), 400, r"field 'Age', record 1: True is not a number"),
        (_set_value("Sex", 1), 400, r"field 'Sex', record 1: 1 is not a string"),
        (_set_value("Age", None), 400, r"field 'Age', record 1: value is empty \(null\)"),
        (_set_value("Sex", ""), 400, r"field 'Sex', record 1: '' is not a non-empty category"),
        (_set_value("LoanAmount", math.nan), 400, r"field 'LoanAmount', record 1: NaN is not a JSON number"),
        (_set_value("LoanAmount", math.inf), 400, r"field 'LoanAmount', record 1: Infinity is not a JSON number"),
        (lambda p: (_block(p)["values"][0].pop(), p)[-1], 400, r"record 0 has 19 values for 20 fields"),
        (
            lambda p: {"input_data": [{"fields": _block(p)["fields"], "values": []}]},
            400,
            r"must be a non-empty list of records",
        ),
        (lambda p: (_block(p)["values"].__setitem__(0, "row"), p)[-1], 400, r"record 0 must be a list"),
        (lambda p: {"input": p["input_data"]}, 400, r"unknown top-level field 'input'"),
        (lambda p: [p], 400, r"body must be a JSON object"),
        (lambda p: {"input_data": []}, 400, r"'input_data' must be a list holding one object"),
        (lambda p: (_block(p)["values"].extend(_block(p)["values"] * 2000), p)[-1], 413, r"the limit is 10000"),
        (_set_value("Age", -5), 400, r"field 'Age', record 1: -5 is outside the valid range \[18, 100\]"),
        (_set_value("Age", 250), 400, r"field 'Age', record 1: 250 is outside the valid range \[18, 100\]"),
        (_set_value("Age", 17.5), 400, r"field 'Age', record 1: 17.5 is outside the valid range \[18, 100\]"),
        (_set_value("LoanDuration", 0), 400, r"field 'LoanDuration', record 1: 0 is outside the valid range \[1,"),
    ],
    ids=[
        "missing-field",
        "extra-field",
        "string-for-number",
        "bool-for-number",
        "number-for-category",
        "null",
        "empty-string",
        "nan",
        "infinity",
        "short-record",
        "no-records",
        "record-not-a-list",
        "wrong-envelope",
        "not-an-object",
        "empty-input-data",
        "too-many-rows",
        "age-negative",
        "age-250",
        "age-below-18",
        "loan-duration-0",
    ],
)
def test_bad_payloads_are_4xx_naming_field_and_value(
    live: Live, applicants: pd.DataFrame, mutate: Mutate, status: int, match: str
) -> None:
    body = mutate(live.payload(applicants.iloc[:5]))
    # NaN and Infinity are not JSON, but Python's and many clients' encoders emit them: send them raw.
    response = live.post(json.dumps(body, allow_nan=True))
    assert response.status_code == status, response.text
    message = response.json()["errors"][0]["message"]
    import re

    assert re.search(match, message), message


@pytest.mark.parametrize(
    ("body", "match"),
    [(b"{not json", r"not valid JSON at line 1 column 2"), (b"", r"not valid JSON"), (b"\xff\xfe", r"not valid JSON")],
    ids=["malformed", "empty-body", "not-utf8"],
)
def test_malformed_bodies_are_400(live: Live, body: bytes, match: str) -> None:
    import re

    response = live.post(body)
    assert response.status_code == 400
    assert re.search(match, response.json()["errors"][0]["message"])


def test_authentication_and_authorisation(live: Live, applicants: pd.DataFrame) -> None:
    payload = live.payload(applicants.iloc[:2])
    assert live.client.post(live.path, json=payload).status_code == 401  # no key
    assert live.client.post(live.path, json=payload, headers={"Authorization": "Basic abc"}).status_code == 401
    assert live.post(payload, key="mlk_not-a-real-key").status_code == 401
    dev = deployments.deploy(live.ctx, live.people["dora"], live.model_version_id, space="dev")
    assert dev.api_key is not None
    wrong = live.post(payload, key=dev.api_key)
    assert wrong.status_code == 403 and f"not a key of deployment {live.deployment_id}" in wrong.text
    assert live.post(payload, key=dev.api_key, path=dev.deployment.scoring_path).status_code == 200
    # Revocation and deletion reach the running service at its next refresh (every 0.5 s), no restart.
    deployments.revoke_key(live.ctx, live.people["dora"], live.key)
    wait_for(lambda: live.post(payload).status_code == 401, timeout=5, what="the revoked key to be refused")
    deployments.delete_deployment(live.ctx, live.people["dora"], dev.deployment.id)
    wait_for(
        lambda: live.post(payload, key=dev.api_key, path=dev.deployment.scoring_path).status_code == 401,
        timeout=5,
        what="the deleted deployment's key to be refused",
    )


def test_health_and_openapi(live: Live) -> None:
    assert live.client.get("/health").json()["status"] == "ok"
    spec = live.client.get("/openapi.json").json()
    assert "/ml/v4/deployments/{deployment_id}/predictions" in spec["paths"]
    assert live.client.get("/docs").status_code == 200
    assert live.client.post("/ml/v4/deployments/abc/predictions", json={}).status_code == 400
