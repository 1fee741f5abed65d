"""A scoring service in-process (FastAPI's TestClient) over a copy of the ``challenger`` state, prod in the shadow.

Version 1 serves prod; version 2 awaits review in pre-prod and is put in the shadow of prod by dora.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pipeline_core.data.german_credit import german_credit_spec
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.deployments import ShadowInfo
from pipeline_core.serving.app import create_app
from pipeline_core.serving.payload_log import PayloadLogger
from pipeline_core.serving.registry import Registry
from pipeline_core.serving.shadow import ShadowScorer
from tests.credentials import CHEAP_HASHER
from tests.states import States, quick_settings

REASON = "Compare the retrained candidate with production on identical live traffic."


@dataclass
class Shadowed:
    ctx: ServiceContext
    app: FastAPI
    client: TestClient
    prod: int
    key: str
    shadow: ShadowInfo
    people: dict[str, Principal]
    spec: DataSpec

    @property
    def registry(self) -> Registry:
        registry: Registry = self.app.state.registry
        return registry

    @property
    def scorer(self) -> ShadowScorer:
        scorer: ShadowScorer = self.app.state.shadow_scorer
        return scorer

    @property
    def logger(self) -> PayloadLogger:
        logger: PayloadLogger = self.app.state.payload_logger
        return logger

    def body(self, frame: pd.DataFrame) -> dict[str, Any]:
        values = json.loads(frame[self.spec.feature_names].to_json(orient="values"))
        return {"input_data": [{"fields": list(self.spec.feature_names), "values": values}]}

    def post(self, frame: pd.DataFrame) -> Any:
        return self.client.post(
            deployments.scoring_path(self.prod), json=self.body(frame), headers={"Authorization": f"Bearer {self.key}"}
        )

    def settle(self) -> None:
        assert self.scorer.flush(timeout=30)
        self.logger.flush()


@contextmanager
def shadowed(states: States, folder: Path, *, start: bool = True) -> Iterator[Shadowed]:
    state = states.get("challenger")
    assert state.deployment_id is not None and state.key is not None and state.challenger_id is not None
    data = folder / "data"
    state.copy_to(data)
    ctx = open_context(quick_settings(data), password_hasher=CHEAP_HASHER)
    try:
        shadow = deployments.start_shadow(
            ctx,
            state.people["dora"],
            production_deployment_id=state.deployment_id,
            model_version_id=state.challenger_id,
            reason=REASON,
        )
        app = create_app(ctx)
        with TestClient(app) as client:
            yield Shadowed(
                ctx, app, client, state.deployment_id, state.key, shadow, dict(state.people), german_credit_spec()
            )
    finally:
        ctx.close()
