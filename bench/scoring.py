"""Benchmark: scoring latency and throughput, HTTP vs in-process vs MLflow's model server.

Usage: python bench/scoring.py [--single 1000] [--batches 50] [--rounds 5] [--load 1200]

One default model (HistGradientBoosting on 5,000 generated rows) is trained through the
pipeline and deployed to pre-prod. Then, for that same model, it prints medians and
tails of: single-record latency (p50, p99) and batch-of-1,000 throughput (rows/s)
- in-process ``predict_proba`` on a ready DataFrame (the floor);
- through HTTP to ``python -m pipeline_core serve`` (its own process, keep-alive client),
  with payload logging on (write-ahead log on, synced in the background every 10 ms, the
  default; on and synced before each answer; off) and off: the cost of logging, of the log
  and of a sync per answer, all measured interleaved in one run: ``--rounds`` rounds, each
  sending every call to every service in turn; a figure is the median of the rounds' figures
  and an overhead the ratio of two such medians (each round's ratios are printed too);
- through HTTP to ``mlflow models serve`` of the same pipeline, when ``.venv-mlflow``
  exists (``make bench-mlflow`` creates it from requirements-mlflow.txt).
Then a load run per client count (16 and 64 concurrent clients, ``--load`` one-record
requests in all): the service is killed (SIGKILL) half-way, started again (it replays its
write-ahead log) and the store is read: acknowledged, stored, lost, 5xx and 503 answers,
with the log and without it.
Then the shadow run (``--shadow-only`` runs it alone): a model in prod and a second version in pre-prod,
one service process, rounds alternating without and with the second version in the shadow of prod
(started and stopped through the service between rounds): single-record p50/p95 and batch-of-1,000
throughput of prod in both, and their ratios; the shadow's own counts (scored, dropped) at the end.
Targets: ahead of MLflow everywhere; single p50 <= in-process p50 + 2 ms; batch throughput
>= 50% of in-process; payload logging overhead <= 10%; write-ahead log overhead <= 10%;
with the log, lost 0 and 5xx 0 (503s are back-pressure, counted apart); with a shadow, prod's p50, p95
and throughput within noise of without (ratios near 1).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from pipeline_core.config import Settings
from pipeline_core.data.columns import UNSEEN
from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.model_io import load_model
from pipeline_core.params import RunParams
from pipeline_core.services import deployments, governance
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.datasets import existing_scoring_ids
from pipeline_core.services.runs import RunWorker, launch_file_run, model_version_for_run
from pipeline_core.serving.payload_log import PayloadLogger
from pipeline_core.serving.server import BackgroundServer

REPO = Path(__file__).resolve().parents[1]
MLFLOW_VENV = REPO / ".venv-mlflow"
BENCH_PASSWORD = "bench-only-password"
# The same fitted pipeline, saved as an MLflow model that answers with predict_proba.
MLFLOW_SAVE = (
    "import sys, joblib, mlflow.sklearn; mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2], "
    "serialization_format='cloudpickle', pyfunc_predict_fn='predict_proba')"
)  # a throwaway store in a temp folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000.0, q))


def timed(call: Callable[[], object], n: int, warmup: int = 30) -> list[float]:
    for _ in range(warmup):
        call()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def prepare(root: Path) -> tuple[ServiceContext, int, str, Any, str]:
    ctx = open_context(Settings(data_dir=root / "store", data_roots=(root,)))  # credit.csv below
    admin = governance.add_first_admin(ctx, username="bench_admin", password=BENCH_PASSWORD)
    ds = governance.add_user(ctx, admin, username="bench_ds", role="data_scientist", password=BENCH_PASSWORD)
    data = root / "credit.csv"
    data.write_bytes(frame_to_csv_bytes(generate_german_credit(5000, seed=0)))
    with BackgroundServer(ctx) as server:  # the deploy stage smoke-tests through HTTP
        from dataclasses import replace

        ctx.settings = replace(ctx.settings, scoring_url=server.url)
        run = launch_file_run(ctx, ds, str(data), spec=german_credit_spec(), params=RunParams())
        worker = RunWorker(ctx)
        assert worker.claim(run.id)
        assert worker.execute(run.id) == "succeeded"
        worker.stop()
    mv = model_version_for_run(ctx, SYSTEM, run.id)
    assert mv is not None
    dep = next(d for d in deployments.list_deployments(ctx, ds) if d.space == "preprod")
    key = deployments.issue_key(ctx, ds, dep.id, label="bench")
    return ctx, dep.id, key, load_model(ctx.artifacts.get(mv.artifact_sha256)), mv.artifact_sha256


def start_process(command: list[str], env: dict[str, str], health: str, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {proc.returncode}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{' '.join(command)} did not become healthy")


def http_figures(
    targets: dict[str, tuple[str, Callable[[pd.DataFrame], dict[str, Any]], dict[str, str]]],
    single_rows: pd.DataFrame,
    batch: pd.DataFrame,
    n_single: int,
    n_batches: int,
    rounds: int,
) -> tuple[dict[str, dict[str, float]], list[dict[str, dict[str, float]]]]:
    """Each target's figures: the median over ``rounds`` rounds of each round's p50 and batch rows/s.

    Within a round every call goes to every target in turn, in a fresh random order each time
    (A/B/A/B...), so that machine noise and position in the turn (measured: the first call is
    slower) hit all alike; a round disturbed by another process as a whole is outvoted by the
    others. p99 is over all rounds' calls (a tail needs them all). Returns the figures and each round's.
    """
    rng = random.Random(0)
    clients = {name: httpx.Client(timeout=60, headers=headers) for name, (_, _, headers) in targets.items()}
    singles = {
        name: [json.dumps(make(single_rows.iloc[[i % len(single_rows)]])).encode() for i in range(64)]
        for name, (_, make, _) in targets.items()
    }
    bigs = {name: json.dumps(make(batch)).encode() for name, (_, make, _) in targets.items()}
    json_type = {"Content-Type": "application/json"}
    order = list(targets)

    def interleaved(bodies: Callable[[str, int], bytes], n: int) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {name: [] for name in targets}
        for i in range(n):
            rng.shuffle(order)
            for name in order:
                started = time.perf_counter()
                r = clients[name].post(targets[name][0], content=bodies(name, i), headers=json_type)
                r.raise_for_status()
                out[name].append(time.perf_counter() - started)
        return out

    def one(name: str, i: int) -> bytes:
        return singles[name][i % 64]

    def big(name: str, i: int) -> bytes:
        return bigs[name]

    interleaved(one, 30)  # warm-up: connections, caches, the model's first calls
    interleaved(big, 3)
    per_round: list[dict[str, dict[str, float]]] = []
    all_single: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(rounds):
        single = interleaved(one, max(1, n_single // rounds))
        many = interleaved(big, max(1, n_batches // rounds))
        per_round.append(
            {
                name: {"p50": percentile(single[name], 50), "rows_per_s": len(batch) / statistics.median(many[name])}
                for name in targets
            }
        )
        for name in targets:
            all_single[name] += single[name]
    for client in clients.values():
        client.close()
    figures = {
        name: {
            "p50": statistics.median(r[name]["p50"] for r in per_round),
            "p99": percentile(all_single[name], 99),
            "rows_per_s": statistics.median(r[name]["rows_per_s"] for r in per_round),
        }
        for name in targets
    }
    return figures, per_round


LOGGED, PER_ANSWER, NO_WAL, UNLOGGED = (
    "HTTP, this service (payload logged)",
    "HTTP, this service (logged, WAL sync per answer)",
    "HTTP, this service (logged, no WAL)",
    "HTTP, this service (no payload log)",
)
# name, payload logging, write-ahead log, an fdatasync before each answer (the default: logged, log synced every 10 ms)
VARIANTS = (
    (LOGGED, True, True, False),
    (PER_ANSWER, True, True, True),
    (NO_WAL, True, False, False),
    (UNLOGGED, False, False, False),
)


def service_env(root: Path, port: int, *, logging: bool, wal: bool, per_answer: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    return env | {
        "MLOPS_DATA_DIR": str(root / "store"),
        "MLOPS_SERVE_PORT": str(port),
        "MLOPS_PAYLOAD_LOGGING": "1" if logging else "0",
        "MLOPS_PAYLOAD_WAL": "1" if wal else "0",
        "MLOPS_PAYLOAD_WAL_SYNC_INTERVAL": "0" if per_answer else "0.01",
    }


def start_service(
    root: Path, port: int, *, logging: bool = True, wal: bool = True, per_answer: bool = False
) -> subprocess.Popen[bytes]:
    env = service_env(root, port, logging=logging, wal=wal, per_answer=per_answer)
    command = [sys.executable, "-m", "pipeline_core", "serve"]
    return start_process(command, env, f"http://127.0.0.1:{port}/health", root)


def load_run(
    ctx: ServiceContext, root: Path, dep_id: int, key: str, rows: pd.DataFrame, *, clients: int, total: int, wal: bool
) -> dict[str, int]:
    """``clients`` threads post one-record requests; SIGKILL half-way, restart, and count what was kept."""
    port = free_port()
    proc = start_service(root, port, wal=wal)
    fields = list(rows.columns)
    bodies = [json.dumps(wml_body(fields)(rows.iloc[[i % len(rows)]])).encode() for i in range(64)]
    path = deployments.scoring_path(dep_id)
    acknowledged: list[str] = []
    counts = {"5xx": 0, "503": 0, "unanswered": 0}
    lock = threading.Lock()
    per_client = max(1, total // clients)

    def client(k: int) -> None:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            for i in range(per_client):
                try:
                    r = c.post(path, content=bodies[(k + i) % len(bodies)], headers=headers)
                except httpx.HTTPError:
                    with lock:
                        counts["unanswered"] += per_client - i
                    return
                with lock:
                    if r.status_code == 200:
                        acknowledged.extend(r.json()["scoring_ids"])
                    elif r.status_code == 503:
                        counts["503"] += 1
                    elif r.status_code >= 500:
                        counts["5xx"] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    while len(acknowledged) < per_client * clients // 2 and any(t.is_alive() for t in threads):
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    at_kill = len(acknowledged)
    proc.kill()  # SIGKILL: no drain, no lifespan; only what is on disk survives
    proc.wait(timeout=60)
    for t in threads:
        t.join()
    again = start_service(root, free_port(), wal=wal)  # replays the killed service's log, if it kept one
    wanted = set(acknowledged)
    deadline = time.monotonic() + 30
    stored: set[str] = set()
    while time.monotonic() < deadline:
        stored = existing_scoring_ids(ctx, SYSTEM, dep_id, sorted(wanted))
        if stored == wanted:
            break
        time.sleep(0.2)
    again.terminate()
    again.wait(timeout=60)
    return {
        "clients": clients,
        "acknowledged": len(wanted),
        "stored": len(stored),
        "lost": len(wanted - stored),
        "5xx": counts["5xx"],
        "503": counts["503"],
        "requests_per_s": int(at_kill / elapsed) if elapsed else 0,
    }


def wml_body(spec_fields: list[str]) -> Callable[[pd.DataFrame], dict[str, Any]]:
    def body(frame: pd.DataFrame) -> dict[str, Any]:
        return {"input_data": [{"fields": spec_fields, "values": json.loads(frame.to_json(orient="values"))}]}

    return body


def mlflow_body(frame: pd.DataFrame) -> dict[str, Any]:
    return {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}


def log_call_cost(folder: Path, fields: list[str], rows: pd.DataFrame, calls: int) -> dict[str, float]:
    """Median microseconds of one ``PayloadLogger.log`` call with the default log and without, interleaved.

    The log's added latency alone, without HTTP and scoring around it (their noise is the larger).
    """
    body = json.dumps(wml_body(fields)(rows)).encode()
    values = json.loads(body)["input_data"][0]["values"]
    n = len(values)

    def store(batch: Sequence[dict[str, Any]]) -> int:
        return sum(int(r["n_records"]) for r in batch)

    loggers = {
        "WAL": PayloadLogger(store, quarantine=lambda r, e: None, wal_dir=folder, wal_sync_interval=0.01),
        "no WAL": PayloadLogger(store, quarantine=lambda r, e: None, wal_dir=None),
    }
    times: dict[str, list[float]] = {name: [] for name in loggers}
    order = list(loggers)
    for _ in range(calls):
        random.shuffle(order)
        for name in order:
            record = {
                "request_id": uuid.uuid4().hex,
                "deployment_id": 1,
                "model_version_id": 1,
                "n_records": n,
                "created_at": datetime.now(UTC).replace(tzinfo=None),
                "fields": fields,
                "values": values,
                "predictions": ["No Risk"] * n,
                "probabilities": [0.25] * n,
                UNSEEN: [0] * n,
            }
            started = time.perf_counter()
            loggers[name].log(record, body)
            times[name].append(time.perf_counter() - started)
    for logger in loggers.values():
        logger.close()
    return {name: statistics.median(t) * 1e6 for name, t in times.items()}


SHADOW_REASON = "The benchmark measures production latency with and without a shadow candidate."


def train(ctx: ServiceContext, ds: Any, data: Path) -> Any:
    run = launch_file_run(ctx, ds, str(data), spec=german_credit_spec(), params=RunParams())
    worker = RunWorker(ctx)
    assert worker.claim(run.id)
    assert worker.execute(run.id) == "succeeded"
    worker.stop()
    mv = model_version_for_run(ctx, SYSTEM, run.id)
    assert mv is not None
    return mv


def prepare_shadow(root: Path) -> tuple[ServiceContext, int, int, str, Any]:
    """A store with version 1 approved into prod and version 2 awaiting review in pre-prod; prod's key."""
    from dataclasses import replace

    from pipeline_core.vocabulary import DocSection

    ctx = open_context(Settings(data_dir=root / "store", data_roots=(root,)))
    admin = governance.add_first_admin(ctx, username="bench_admin", password=BENCH_PASSWORD)
    ds = governance.add_user(ctx, admin, username="bench_ds", role="data_scientist", password=BENCH_PASSWORD)
    val = governance.add_user(ctx, admin, username="bench_val", role="validator", password=BENCH_PASSWORD)
    with BackgroundServer(ctx) as server:  # the deploy stage and the production check score through HTTP
        ctx.settings = replace(ctx.settings, scoring_url=server.url)
        versions = []
        for seed in (0, 1):
            data = root / f"credit-{seed}.csv"
            data.write_bytes(frame_to_csv_bytes(generate_german_credit(5000, seed=seed)))
            versions.append(train(ctx, ds, data))
            if seed == 0:
                mv = versions[0]
                texts = {section: f"{section.heading} of the benchmark's model." for section in DocSection}
                governance.write_documentation(ctx, ds, mv.name, sections=texts, model_version_id=mv.id)
                governance.set_tier(ctx, admin, mv.name, tier=3, reason="The benchmark's model, tiered for the run.")
                outcome = governance.approve(
                    ctx, val, mv.id, comment="approved for the benchmark", artifact_sha256=mv.artifact_sha256
                )
                assert outcome.deployment is not None, outcome
                prod = outcome.deployment.id
    key = deployments.issue_key(ctx, ds, prod, label="bench")
    return ctx, prod, versions[1].id, key, ds


def shadow_figures(args: argparse.Namespace, applicants: pd.DataFrame) -> dict[str, Any]:
    """Prod's latency and throughput in rounds without and with a shadow, one service process (module docstring)."""
    spec = german_credit_spec()
    singles, batch = applicants.iloc[:64], applicants.iloc[:1000]
    make = wml_body(spec.feature_names)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ctx, prod, candidate, key, ds = prepare_shadow(root)
        port = free_port()
        proc = start_service(root, port)
        base = f"http://127.0.0.1:{port}"
        url = base + deployments.scoring_path(prod)
        one = [json.dumps(make(singles.iloc[[i]])).encode() for i in range(64)]
        big = json.dumps(make(batch)).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        rounds: list[tuple[bool, dict[str, float]]] = []
        try:
            with httpx.Client(timeout=60, headers=headers) as client:

                def shadowed(expected: bool) -> None:
                    deadline = time.monotonic() + 30
                    while bool(client.get(base + "/health/shadows").json()["scoring"]) != expected:
                        if time.monotonic() > deadline:
                            raise RuntimeError("the service did not pick up the shadow's start or stop")
                        time.sleep(0.1)

                for _ in range(30):  # warm-up
                    client.post(url, content=one[0]).raise_for_status()
                shadow_id = None
                for i in range(2 * args.rounds):
                    on = i % 2 == 1
                    if on:
                        shadow_id = deployments.start_shadow(
                            ctx, ds, production_deployment_id=prod, model_version_id=candidate, reason=SHADOW_REASON
                        ).id
                    elif shadow_id is not None:
                        deployments.stop_shadow(ctx, ds, shadow_id, reason=SHADOW_REASON)
                    shadowed(on)
                    single = []
                    for j in range(max(1, args.single // args.rounds)):
                        started = time.perf_counter()
                        client.post(url, content=one[j % 64]).raise_for_status()
                        single.append(time.perf_counter() - started)
                    many = []
                    for _ in range(max(1, args.batches // args.rounds)):
                        started = time.perf_counter()
                        client.post(url, content=big).raise_for_status()
                        many.append(time.perf_counter() - started)
                    rounds.append(
                        (
                            on,
                            {
                                "p50": percentile(single, 50),
                                "p95": percentile(single, 95),
                                "rows_per_s": len(batch) / statistics.median(many),
                            },
                        )
                    )
                stats = client.get(base + "/health/shadows").json()
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            ctx.close()
    out: dict[str, Any] = {"rounds": rounds, "stats": stats}
    for on in (False, True):
        mine = [r for o, r in rounds if o == on]
        out["with" if on else "without"] = {
            k: statistics.median(r[k] for r in mine) for k in ("p50", "p95", "rows_per_s")
        }
    return out


def print_shadow(found: dict[str, Any]) -> None:
    off, on = found["without"], found["with"]
    print("\nshadow: prod's answers without and with a shadow candidate (one service process, alternating rounds)")
    print(f"  {'':<16} {'p50 ms':>8} {'p95 ms':>8} {'batch rows/s':>13}")
    for name, fig in (("without shadow", off), ("with shadow", on)):
        print(f"  {name:<16} {fig['p50']:8.2f} {fig['p95']:8.2f} {fig['rows_per_s']:13,.0f}")
    print(
        f"  ratio with/without: p50 {on['p50'] / off['p50']:.3f}, p95 {on['p95'] / off['p95']:.3f}, "
        f"throughput {on['rows_per_s'] / off['rows_per_s']:.3f}   (target: within noise of 1)"
    )
    print("  per round:")
    for i, (shadow_on, r) in enumerate(found["rounds"], 1):
        print(
            f"    {i:>3} {'with' if shadow_on else 'without':<8} p50 {r['p50']:6.2f}  p95 {r['p95']:6.2f}  "
            f"{r['rows_per_s']:9,.0f} rows/s"
        )
    s = found["stats"]
    print(
        f"  the shadow scored {s['scored']:,} records, dropped {s['dropped']:,} (queue full), "
        f"failed {s['failed']:,}, not stored {s['unstored']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; each figure is their median")
    parser.add_argument("--load", type=int, default=1200, help="one-record requests per load run (0: no load runs)")
    parser.add_argument("--shadow-only", action="store_true", help="only the shadow run")
    args = parser.parse_args()
    spec = german_credit_spec()
    applicants = generate_german_credit(2000, seed=5)[spec.feature_names]
    if args.shadow_only:
        print_shadow(shadow_figures(args, applicants))
        return
    singles, batch = applicants.iloc[:64], applicants.iloc[:1000]
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ctx, dep_id, key, model, artifact_sha = prepare(root)

        one_row = [singles.iloc[[i]] for i in range(64)]
        count = iter(range(10**9))
        single = timed(lambda: model.predict_proba(one_row[next(count) % 64]), args.single)
        batches = timed(lambda: model.predict_proba(batch), args.batches, warmup=3)
        rows["in-process predict_proba"] = {
            "p50": percentile(single, 50),
            "p99": percentile(single, 99),
            "rows_per_s": len(batch) / statistics.median(batches),
        }

        targets: dict[str, tuple[str, Callable[[pd.DataFrame], dict[str, Any]], dict[str, str]]] = {}
        per_round: list[dict[str, dict[str, float]]] = []
        procs = []
        try:
            for name, logging, wal, per_answer in VARIANTS:
                port = free_port()
                procs.append(start_service(root, port, logging=logging, wal=wal, per_answer=per_answer))
                targets[name] = (
                    f"http://127.0.0.1:{port}{deployments.scoring_path(dep_id)}",
                    wml_body(spec.feature_names),
                    {"Authorization": f"Bearer {key}"},
                )
            mlflow = MLFLOW_VENV / "bin" / "mlflow"
            if mlflow.exists():
                saved = root / "mlflow_model"
                artifact = root / "model.joblib"
                artifact.write_bytes(ctx.artifacts.get(artifact_sha))
                python = str(MLFLOW_VENV / "bin" / "python")
                subprocess.run([python, "-c", MLFLOW_SAVE, str(artifact), str(saved)], check=True)
                port = free_port()
                env = dict(os.environ) | {"PATH": f"{MLFLOW_VENV / 'bin'}:{os.environ.get('PATH', '')}"}
                command = [
                    str(mlflow),
                    "models",
                    "serve",
                    "-m",
                    str(saved),
                    "--env-manager",
                    "local",
                    "-p",
                    str(port),
                    "-h",
                    "127.0.0.1",
                ]
                procs.append(start_process(command, env, f"http://127.0.0.1:{port}/health", root))
                targets["HTTP, mlflow models serve"] = (f"http://127.0.0.1:{port}/invocations", mlflow_body, {})
            figures, per_round = http_figures(targets, singles, batch, args.single, args.batches, args.rounds)
            rows |= figures
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=60)
        load_configs = [(clients, wal) for clients in (16, 64) for wal in (True, False)] if args.load else []
        loads = [
            load_run(ctx, root, dep_id, key, singles, clients=clients, total=args.load, wal=wal)
            for clients, wal in load_configs
        ]
        ctx.close()
        costs = {
            n: log_call_cost(root / f"log-cost-{n}", spec.feature_names, applicants.iloc[:n], calls)
            for n, calls in ((1, 2000), (1000, 200))
        }

    print(
        f"\nscoring one model (HistGradientBoosting, 20 features); {args.single} single-record calls, "
        f"{args.batches} batches of 1,000 rows; over HTTP each p50 and rows/s is the median of {args.rounds} "
        "interleaved rounds' figures (p99 over all calls); in ms"
    )
    print(f"  {'path':<44} {'p50 ms':>8} {'p99 ms':>8} {'batch rows/s':>13}")
    for name, fig in rows.items():
        print(f"  {name:<44} {fig['p50']:8.2f} {fig['p99']:8.2f} {fig['rows_per_s']:13,.0f}")
    base = rows["in-process predict_proba"]
    ours = rows[LOGGED]
    bare = rows[UNLOGGED]
    memory = rows[NO_WAL]
    synced = rows[PER_ANSWER]
    print(f"\n  single p50 over in-process:     +{ours['p50'] - base['p50']:.2f} ms   (target <= +2 ms)")
    print(f"  batch throughput vs in-process: {ours['rows_per_s'] / base['rows_per_s']:.0%}      (target >= 50%)")
    print(
        f"  payload logging overhead:       p50 {ours['p50'] / bare['p50'] - 1:+.1%}, "
        f"batch {bare['rows_per_s'] / ours['rows_per_s'] - 1:+.1%}   (target <= 10%)"
    )
    print(
        f"  write-ahead log overhead:       p50 {memory['p50']:.2f} -> {ours['p50']:.2f} ms "
        f"(ratio {ours['p50'] / memory['p50']:.3f}), batch {memory['rows_per_s']:,.0f} -> "
        f"{ours['rows_per_s']:,.0f} rows/s (ratio {memory['rows_per_s'] / ours['rows_per_s']:.3f})   (target <= 1.10)"
    )
    print(
        f"    synced before each answer:    p50 ratio {synced['p50'] / memory['p50']:.3f}, "
        f"batch ratio {memory['rows_per_s'] / synced['rows_per_s']:.3f} (payload_wal_sync_interval = 0: "
        "survives a power cut too; the difference is the disk's fdatasync)"
    )
    print("    per round, default WAL vs no WAL (the figures above are the medians of these rounds' figures):")
    print(
        f"    {'round':>5} {'p50 no WAL':>11} {'p50 WAL':>8} {'ratio':>6} {'rows/s no WAL':>14} "
        f"{'rows/s WAL':>11} {'ratio':>6}"
    )
    for i, r in enumerate(per_round, 1):
        a, b = r[NO_WAL], r[LOGGED]
        print(
            f"    {i:>5} {a['p50']:11.2f} {b['p50']:8.2f} {b['p50'] / a['p50']:6.3f} "
            f"{a['rows_per_s']:14,.0f} {b['rows_per_s']:11,.0f} {a['rows_per_s'] / b['rows_per_s']:6.3f}"
        )
    p50_ratios = [r[LOGGED]["p50"] / r[NO_WAL]["p50"] for r in per_round]
    batch_ratios = [r[NO_WAL]["rows_per_s"] / r[LOGGED]["rows_per_s"] for r in per_round]
    print(
        f"    median of the rounds' ratios: p50 {statistics.median(p50_ratios):.3f}, "
        f"batch {statistics.median(batch_ratios):.3f} (a paired view: each round's two figures saw the same machine)"
    )
    for n, cost in costs.items():
        print(
            f"  one PayloadLogger.log() call of {n:,} record(s), median: {cost['no WAL']:.0f} us without the WAL, "
            f"{cost['WAL']:.0f} us with it (+{cost['WAL'] - cost['no WAL']:.0f} us a request)"
        )
    if not loads:
        print("\nload: not run (--load 0)")
    else:
        print(
            f"\nload: one-record requests from concurrent clients, SIGKILL half-way, restart; "
            f"{args.load} requests a run\n"
            f"  {'clients':>7} {'log':>5} {'acknowledged':>12} {'stored':>7} {'lost':>6} {'5xx':>4} {'503':>5} "
            f"{'req/s':>7}"
        )
        for load, (clients, wal) in zip(loads, load_configs, strict=True):
            print(
                f"  {clients:>7} {'WAL' if wal else 'none':>5} {load['acknowledged']:>12} {load['stored']:>7} "
                f"{load['lost']:>6} {load['5xx']:>4} {load['503']:>5} {load['requests_per_s']:>7}"
            )
        print("  (targets with the WAL: lost 0, 5xx 0)")
    if "HTTP, mlflow models serve" in rows:
        ml = rows["HTTP, mlflow models serve"]
        print(
            f"  vs MLflow: p50 {ml['p50'] / ours['p50']:.2f}x, p99 {ml['p99'] / ours['p99']:.2f}x, "
            f"batch {ours['rows_per_s'] / ml['rows_per_s']:.2f}x (>1 means this service is ahead)"
        )
    else:
        print(f"  (MLflow not measured: {MLFLOW_VENV} is absent; `make bench-mlflow` creates it)")
    print_shadow(shadow_figures(args, applicants))


if __name__ == "__main__":
    main()
