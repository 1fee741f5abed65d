"""The scoring service in-process (FastAPI's TestClient) over a copy of the ``live`` starting state.

No socket and no server thread: a request is a function call through the ASGI app, so a test can
send thousands of them in seconds. The app is the real one (``create_app``), with its registry and
payload logger running, over a store copied from the session's ``live`` template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pipeline_core.data.german_credit import german_credit_spec
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import deployments
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.serving.app import create_app
from pipeline_core.serving.payload_log import PayloadLogger
from tests.credentials import CHEAP_HASHER
from tests.states import States, quick_settings

JSON = "application/json"


@dataclass
class Served:
    ctx: ServiceContext
    app: FastAPI
    client: TestClient
    deployment_id: int
    key: str
    spec: DataSpec

    @property
    def path(self) -> str:
        return deployments.scoring_path(self.deployment_id)

    @property
    def logger(self) -> PayloadLogger:
        logger: PayloadLogger | None = self.app.state.payload_logger
        assert logger is not None, "the app was created without payload logging"
        return logger

    def payload(self, frame: pd.DataFrame) -> dict[str, Any]:
        values = json.loads(frame[self.spec.feature_names].to_json(orient="values"))
        return {"input_data": [{"fields": list(self.spec.feature_names), "values": values}]}

    def post(self, body: Any, *, content_type: str | None = JSON, key: str | None = None) -> httpx.Response:
        """POST ``body`` (bytes or str as they are, anything else as JSON) with the deployment's key."""
        headers = {"Authorization": f"Bearer {key or self.key}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        content = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.post(self.path, content=content, headers=headers)


@contextmanager
def served(states: States, folder: Path, **settings: Any) -> Iterator[Served]:
    """The app over a copy of the ``live`` state in ``folder``, with these settings overridden."""
    state = states.get("live")
    assert state.deployment_id is not None and state.key is not None
    data = folder / "data"
    state.copy_to(data)
    ctx = open_context(quick_settings(data, **settings), password_hasher=CHEAP_HASHER)
    try:
        app = create_app(ctx)
        with TestClient(app) as client:
            yield Served(ctx, app, client, state.deployment_id, state.key, german_credit_spec())
    finally:
        ctx.close()
