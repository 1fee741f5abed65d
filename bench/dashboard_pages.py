"""Benchmark: how long each dashboard page takes to render with 100 model versions and 5,000 runs.

Usage: python bench/dashboard_pages.py [--repeats 5]

One real candidate is trained and evaluated through the pipeline (as bench/scoring.py
does); then the store is filled to 5,000 runs and 100 model versions (copies of that
version's facts and evaluation, with approvals, a prod deployment and its evaluations),
and every page is rendered with Streamlit's AppTest as the role that opens it. AppTest
runs the page script as the server does for a browser, so the figure is the server-side
time of a page view (the browser then draws the result). Target: under 1 s per page.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import ui
from pipeline_core.services.authz import Principal
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval, Deployment, DeploymentRevision, Evaluation, ModelVersion, Run

REPO = Path(__file__).resolve().parents[1]
PAGES = {
    "overview": "bench_manager",
    "runs": "bench_ds",
    "review": "bench_validator",
    "deployments": "bench_ds",
    "monitoring": "bench_validator",
    "factsheets": "bench_manager",
    "audit": "bench_manager",
    "admin": "bench_admin",
}


def fill(root: Path) -> None:
    from scoring import BENCH_PASSWORD, prepare  # bench/ is on sys.path when run as a script

    from pipeline_core.services import governance

    ctx, dep_id, _, _, _ = prepare(root)
    admin = governance.authenticate(ctx, "bench_admin", BENCH_PASSWORD)
    for name, role in (("bench_validator", "validator"), ("bench_manager", "manager")):
        governance.add_user(ctx, admin, username=name, role=role, password=BENCH_PASSWORD)
    now = utcnow()
    with ctx.db.write() as session:
        template = session.get(ModelVersion, 1)
        assert template is not None
        evaluation = session.query(Evaluation).filter(Evaluation.model_version_id == 1).one()
        run = session.get(Run, template.run_id)
        assert run is not None
        runs = []
        for i in range(4_999):
            status = ("succeeded", "failed", "cancelled", "succeeded")[i % 4]
            runs.append(
                Run(
                    status=status,
                    dataset_id=run.dataset_id,
                    params=run.params,
                    created_by="bench_ds",
                    created_at=now - timedelta(minutes=5_000 - i),
                    cancel_requested=False,
                    error=None if status == "succeeded" else "bench",
                )
            )
        session.add_all(runs)
        session.flush()
        succeeded = [r for r in runs if r.status == "succeeded"][:99]
        for k, r in enumerate(succeeded, start=2):
            mv = ModelVersion(
                name=template.name,
                version=k,
                run_id=r.id,
                dataset_id=template.dataset_id,
                artifact_sha256=template.artifact_sha256,
                training_data_sha256=template.training_data_sha256,
                model_type=template.model_type,
                params=template.params,
                metrics=template.metrics,
                lineage=template.lineage,
                state=("rejected", "awaiting_review", "approved")[k % 3],  # approved ones retire below
                created_by="bench_ds",
                created_at=now - timedelta(minutes=200 - k),
            )
            session.add(mv)
            session.flush()
            session.add(
                Evaluation(
                    model_version_id=mv.id,
                    deployment_id=dep_id,
                    space="preprod",
                    data_window=evaluation.data_window,
                    results=evaluation.results,
                    status=evaluation.status,
                    created_at=mv.created_at,
                    created_by="pipeline",
                )
            )
            if mv.state in ("rejected", "approved"):
                session.add(
                    Approval(
                        model_version_id=mv.id,
                        artifact_sha256=mv.artifact_sha256,
                        outcome=mv.state,
                        comment="bench",
                        evidence={"evaluation_ids": []},
                        decided_by="bench_validator",
                        decided_at=mv.created_at,
                    )
                )
        retired = list(session.query(ModelVersion).filter(ModelVersion.review_state == "approved"))
        prod = Deployment(
            model_name=template.name,
            space="prod",
            status="active",
            created_by="bench_validator",
            created_at=now,
        )
        session.add(prod)
        session.flush()
        for v in retired:  # served in prod before the template: retired (migration 0010 derives it)
            session.add(
                DeploymentRevision(
                    deployment_id=prod.id,
                    model_version_id=v.id,
                    artifact_sha256=v.artifact_sha256,
                    reason="approval",
                    actor="bench_validator",
                    started_at=v.created_at,
                    ended_at=now,
                )
            )
        session.add(
            DeploymentRevision(
                deployment_id=prod.id,
                model_version_id=template.id,
                artifact_sha256=template.artifact_sha256,
                reason="approval",
                actor="bench_validator",
                started_at=now,
            )
        )
        for day in range(60):  # two months of daily production evaluations
            session.add(
                Evaluation(
                    model_version_id=template.id,
                    deployment_id=prod.id,
                    space="prod",
                    data_window=evaluation.data_window,
                    results=evaluation.results,
                    status=evaluation.status,
                    created_at=now - timedelta(days=day),
                    created_by="system",
                )
            )
        template.state = "approved"  # its open prod revision makes it in production
    ctx.close()


def render(root: Path, repeats: int) -> dict[str, list[float]]:
    from pipeline_core.config import Settings
    from pipeline_core.services.context import open_context

    ctx = open_context(Settings(data_dir=root / "store"))
    ui.context.clear()
    ui.context = lambda: ctx  # type: ignore[assignment]  # the pages' store: this one
    roles = {
        "bench_ds": "data_scientist",
        "bench_validator": "validator",
        "bench_manager": "manager",
        "bench_admin": "admin",
    }
    out: dict[str, list[float]] = {}
    for name, user in PAGES.items():
        times = []
        for _ in range(repeats + 1):  # the first view imports the page's modules: not counted
            at = AppTest.from_file(str(REPO / "pages" / f"{name}.py"), default_timeout=120)
            at.session_state[ui.PRINCIPAL] = Principal(user, roles[user])
            started = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - started)
            if at.exception:
                raise RuntimeError(f"page {name} raised: {at.exception}")
        out[name] = times[1:]
    ctx.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        fill(root)
        print(
            f"store filled (5,000 runs, 100 model versions, 60 prod evaluations) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        figures = render(root, args.repeats)
    print(f"\npage render time, median of {args.repeats} (max), target < 1 s:")
    for name, times in figures.items():
        median = statistics.median(times)
        print(f"  {name:<12} {median * 1000:7.0f} ms  ({max(times) * 1000:.0f} ms)  {'ok' if median < 1 else 'SLOW'}")


if __name__ == "__main__":
    main()
