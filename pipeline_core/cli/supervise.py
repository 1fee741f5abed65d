"""Process supervision: the scoring service a run's deploy stage needs, the dashboard child, and ``up``'s trio.

``running_product`` starts the scoring service (a thread of this process), the dashboard (a Streamlit
child process) and a worker (a thread), and stops all three, whatever ends the block: the block's
return, Ctrl-C, SIGTERM (which sets the ``stop`` event), or an error while starting one of them.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pipeline_core.errors import ConfigError, DeploymentError

if TYPE_CHECKING:
    from pipeline_core.config import Settings
    from pipeline_core.services.context import ServiceContext

DASHBOARD_PACKAGE = "dashboard"
# What `streamlit run` is given: the dashboard's app.py on Streamlit's server with the product's response
# headers (dashboard/launch.py). The one way the dashboard is started: `up`, `make run` and the tests use it.
DASHBOARD_LAUNCHER = "launch.py"
# What .streamlit/config.toml says, as command-line flags: Streamlit reads that file only from its working
# folder (and ~/.streamlit), which an installed package does not have; a flag also beats either file.
STREAMLIT_OPTIONS: Mapping[str, str] = {
    "server.headless": "true",
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",  # not "false": Streamlit reads that as "stacktrace" (server paths)
    "client.toolbarMode": "viewer",
    "runner.magicEnabled": "false",
}
DASHBOARD_START_SECONDS = 90.0


def scoring_alive(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url.rstrip("/") + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def scoring_service(ctx: ServiceContext, out: TextIO) -> Iterator[None]:
    """Make sure a scoring service answers at settings.scoring_url for the pipeline's deploy stage."""
    from pipeline_core.serving.server import BackgroundServer

    if scoring_alive(ctx.settings.scoring_url):
        yield
        return
    try:
        server = BackgroundServer(ctx, host=ctx.settings.serve_host, port=ctx.settings.serve_port)
    except OSError as exc:
        # Another process (a second worker starting at the same moment) took the port first.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if scoring_alive(ctx.settings.scoring_url):
                yield
                return
            time.sleep(0.2)
        raise DeploymentError(
            f"cannot start the scoring service on {ctx.settings.serve_host}:{ctx.settings.serve_port} "
            f"({exc.strerror}) and nothing answers at {ctx.settings.scoring_url}"
        ) from exc
    server.start()
    out.write(f"scoring service started in this process at {server.url}\n")
    try:
        yield
    finally:
        server.stop()


def dashboard_launcher() -> Path:
    """``launch.py`` of the installed ``dashboard`` package (a checkout's, when it runs from one).

    Located, not imported: ``pipeline_core`` never imports the UI (an import-linter contract), and
    ``find_spec`` of a top-level package reads the import path without running its code.
    """
    spec = importlib.util.find_spec(DASHBOARD_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the dashboard is not installed here: no {DASHBOARD_PACKAGE!r} package on the import path")
    launcher = Path(next(iter(spec.submodule_search_locations))) / DASHBOARD_LAUNCHER
    if not launcher.is_file():
        raise ConfigError(f"the dashboard is not installed here: {launcher} does not exist")
    return launcher


def dashboard_command(settings: Settings, launcher: Path) -> list[str]:
    """``streamlit run launch.py`` on serve_host:dashboard_port with the product's Streamlit settings as flags."""
    command = [sys.executable, "-m", "streamlit", "run", str(launcher)]
    command += [f"--server.address={settings.serve_host}", f"--server.port={settings.dashboard_port}"]
    return command + [f"--{name}={value}" for name, value in STREAMLIT_OPTIONS.items()]


def start_dashboard(ctx: ServiceContext) -> tuple[subprocess.Popen[bytes], str]:
    """Streamlit serving the dashboard over this store; returns once it answers its health check."""
    import httpx

    settings = ctx.settings
    env = {
        **os.environ,
        "MLOPS_DATA_DIR": str(settings.data_dir),
        "MLOPS_DATABASE_URL": settings.database_url,
        "MLOPS_SCORING_URL": settings.scoring_url,
    }
    log_path = settings.data_dir / "dashboard.log"
    # The child keeps this process's working folder: it reads the same mlops.toml (and a relative
    # MLOPS_CONFIG) as we did, and Streamlit the project's .streamlit/secrets.toml; a checkout's
    # .streamlit/config.toml there says what the flags say.
    with log_path.open("ab") as log_file:  # the child keeps its own handle
        command = dashboard_command(settings, dashboard_launcher())
        proc = subprocess.Popen(command, env=env, stdout=log_file, stderr=log_file)
    url = f"http://{settings.serve_host}:{settings.dashboard_port}"
    deadline = time.monotonic() + DASHBOARD_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            error = log_path.read_text(errors="replace")[-2000:]
            raise ConfigError(f"the dashboard exited with {proc.returncode} on {url}; {log_path} ends: {error}")
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise ConfigError(f"the dashboard did not answer on {url} within {DASHBOARD_START_SECONDS:.0f} s")


def stop_dashboard(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class RunningProduct:
    scoring_url: str
    dashboard_url: str
    stop: threading.Event  # set by SIGTERM; the block may wait on it


@contextmanager
def running_product(ctx: ServiceContext, out: TextIO) -> Iterator[RunningProduct]:
    """Scoring service, dashboard and a worker until the block ends; stopped in reverse order."""
    from pipeline_core.services.runs import RunWorker
    from pipeline_core.serving.server import BackgroundServer

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ExitStack() as stack:
        # Unwinding runs these callbacks last first: stop is set, the dashboard told to stop, the worker's
        # current run finished, the dashboard waited for, the scoring service stopped, SIGTERM restored.
        stack.callback(signal.signal, signal.SIGTERM, previous)
        server = BackgroundServer(ctx, host=ctx.settings.serve_host, port=ctx.settings.serve_port).start()
        stack.callback(server.stop)
        out.write(f"scoring service: {server.url} (OpenAPI docs at {server.url}/docs)\n")
        dashboard, dashboard_url = start_dashboard(ctx)
        stack.callback(stop_dashboard, dashboard)
        worker = RunWorker(ctx)
        worker_thread = threading.Thread(target=worker.serve, args=(stop,), daemon=True)
        worker_thread.start()
        stack.callback(worker_thread.join, 120)
        stack.callback(dashboard.terminate)
        stack.callback(stop.set)
        yield RunningProduct(scoring_url=server.url, dashboard_url=dashboard_url, stop=stop)
