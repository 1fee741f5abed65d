"""Fixtures: a live scoring service over a store holding one pre-prod deployment, and its API key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import deployments, evaluations
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.payloads import count_payload
from tests.processes import wait_for
from tests.services.helpers import make_candidate


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
            return self.client.post(path or self.path, content=body, headers=headers)
        return self.client.post(path or self.path, json=body, headers=headers)


@pytest.fixture
def live(live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path, spec: DataSpec) -> Iterator[Live]:
    mv = make_candidate(live_ctx, people["dora"], tmp_path)
    dep = next(d for d in deployments.list_deployments(live_ctx, people["dora"]) if d.space == "preprod")
    key = deployments.issue_key(live_ctx, people["dora"], dep.id, label="tests")
    # The pipeline's smoke test scored 5 records and its evaluation the test split; let the payload
    # logger store them first, so that tests counting records start from a settled number.
    evaluated = evaluations.list_evaluations(live_ctx, people["dora"], model_version_id=mv)[0].data_window["records"]
    wait_for(lambda: count_payload(live_ctx, deployment_id=dep.id) == 5 + evaluated, timeout=10,
             what="the pipeline's payload")  # fmt: skip
    with httpx.Client(base_url=live_ctx.settings.scoring_url, timeout=30) as client:
        yield Live(live_ctx, client, dep.id, key, spec, people, mv)


@pytest.fixture(scope="session")
def applicants() -> pd.DataFrame:
    return generate_german_credit(1000, seed=11)
