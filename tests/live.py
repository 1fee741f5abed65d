"""Fixtures: a live scoring service over a store holding one pre-prod deployment, and its API key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pandas as pd
import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.states import State


@dataclass
class Live:
    ctx: ServiceContext
    client: httpx.Client
    deployment_id: int
    key: str
    spec: DataSpec
    people: dict[str, Principal]
    model_version_id: int

    @property
    def path(self) -> str:
        return deployments.scoring_path(self.deployment_id)

    def payload(self, frame: pd.DataFrame) -> dict[str, Any]:
        import json

        values = json.loads(frame[self.spec.feature_names].to_json(orient="values"))
        return {"input_data": [{"fields": self.spec.feature_names, "values": values}]}

    def post(self, body: Any, *, key: str | None = None, path: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        if isinstance(body, bytes | str):
            headers["Content-Type"] = "application/json"  # the service refuses a body of no declared type (415)
            return self.client.post(path or self.path, content=body, headers=headers)
        return self.client.post(path or self.path, json=body, headers=headers)


@pytest.fixture
def live(
    live_ctx: ServiceContext, people: dict[str, Principal], starting_state: State, spec: DataSpec
) -> Iterator[Live]:
    """dora's candidate served in pre-prod by the test's scoring service, its payload settled, and a key."""
    mv, dep, key = starting_state.model_version_id, starting_state.deployment_id, starting_state.key
    assert mv is not None and dep is not None and key is not None
    with httpx.Client(base_url=live_ctx.settings.scoring_url, timeout=30) as client:
        yield Live(live_ctx, client, dep, key, spec, people, mv)


@pytest.fixture(scope="session")
def applicants() -> pd.DataFrame:
    return generate_german_credit(1000, seed=11)
