"""Run the scoring service: in the foreground (``serve``) or on a background thread."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from pipeline_core.errors import DeploymentError
from pipeline_core.services.context import ServiceContext
from pipeline_core.serving.app import create_app


def serve_forever(ctx: ServiceContext, *, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn's shutdown runs the app's lifespan (payload drain)."""
    uvicorn.run(create_app(ctx), host=host, port=port, log_level="warning", access_log=False)


class BackgroundServer:
    """The scoring service on a thread, on ``port`` (0: any free port); for tests, benches, smoke tests."""

    def __init__(
        self, ctx: ServiceContext, *, host: str = "127.0.0.1", port: int = 0, log_payload: bool | None = None
    ) -> None:
        self.host = host
        self.app = create_app(ctx, log_payload=log_payload)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise DeploymentError(f"the scoring service did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
