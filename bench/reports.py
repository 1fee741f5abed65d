"""Benchmark: the validation report (each format) and the evidence pack of a model with 10 versions and 50 evaluations.

Usage: python bench/reports.py [--repeats 5]

One model is trained by the real pipeline (1,000 generated rows, quick parameters), then copied into
versions 2-10 as the services would have registered them; versions 1-9 are rejected by a validator
through the decision service (a decision history of nine, audited). Its first evaluation (every
monitor's results, curves included) is copied so that versions 1-9 hold one each and version 10 holds
41 (its pre-prod evaluation and 40 production windows): 50 in all. 20 findings are raised on the model
through the findings service. Then, for version 10, median of ``--repeats``: the HTML report, every format the evidence
pack renders (``_reports_for``), the whole pack, and verifying it. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from pipeline_core.config import Settings
from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.params import RunParams
from pipeline_core.services import governance
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.governance._evidence_pack import _reports_for
from pipeline_core.services.runs import RunWorker, launch_file_run, model_version_for_run
from pipeline_core.serving.server import BackgroundServer
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Evaluation, ModelVersion, Run
from pipeline_core.vocabulary import ModelState, RunState

BENCH_PASSWORD = "bench-password-not-a-secret"
VERSIONS = 10
EVALUATIONS = 50
FINDINGS = 20


def setup(root: Path) -> tuple[ServiceContext, Principal, int]:
    """The store: one model of ``VERSIONS`` versions, ``EVALUATIONS`` evaluations, findings if they exist."""
    ctx = open_context(Settings(data_dir=root / "store", data_roots=(root,)))
    admin = governance.add_first_admin(ctx, username="bench_admin", password=BENCH_PASSWORD)
    ds = governance.add_user(ctx, admin, username="bench_ds", role="data_scientist", password=BENCH_PASSWORD)
    vera = governance.add_user(ctx, admin, username="bench_vera", role="validator", password=BENCH_PASSWORD)
    data = root / "credit.csv"
    data.write_bytes(frame_to_csv_bytes(generate_german_credit(1000, seed=0)))
    started = time.perf_counter()
    with BackgroundServer(ctx) as server:  # the deploy stage smoke-tests through HTTP
        ctx.settings = replace(ctx.settings, scoring_url=server.url)
        run = launch_file_run(ctx, ds, str(data), spec=german_credit_spec(), params=RunParams(max_iter=30, cv_folds=3))
        worker = RunWorker(ctx)
        assert worker.claim(run.id)
        assert worker.execute(run.id) == "succeeded"
        worker.stop()
    first = model_version_for_run(ctx, SYSTEM, run.id)
    assert first is not None
    print(f"trained version 1 through the pipeline in {time.perf_counter() - started:.1f} s", flush=True)
    ids = [first.id, *_copies(ctx, first.id, VERSIONS - 1)]
    for mv_id in ids[:-1]:
        with ctx.db.read() as session:
            sha = session.get(ModelVersion, mv_id).artifact_sha256  # type: ignore[union-attr]
        governance.reject(ctx, vera, mv_id, comment="Rejected by the benchmark, for a history.", artifact_sha256=sha)
    _evaluations(ctx, ids)
    seeded = _findings(ctx, vera, ids)
    print(
        f"store: model {first.name!r}, {len(ids)} versions ({len(ids) - 1} rejected), {EVALUATIONS} evaluations, "
        f"{seeded} findings",
        flush=True,
    )
    return ctx, vera, ids[-1]


def _copies(ctx: ServiceContext, mv_id: int, n: int) -> list[int]:
    """``n`` next versions of the model, each from a run of its own, awaiting review like the pipeline leaves them."""
    out = []
    with ctx.db.write() as session:
        base = session.get(ModelVersion, mv_id)
        assert base is not None
        for i in range(n):
            now = utcnow()
            run = Run(status=RunState.SUCCEEDED, dataset_id=base.dataset_id, params={}, created_by="bench_ds")
            run.created_at = now
            session.add(run)
            session.flush()
            copy = ModelVersion(
                name=base.name,
                version=base.version + 1 + i,
                run_id=run.id,
                dataset_id=base.dataset_id,
                artifact_sha256=base.artifact_sha256,
                training_data_sha256=base.training_data_sha256,
                model_type=base.model_type,
                params=base.params,
                metrics=base.metrics,
                lineage=base.lineage,
                created_by="bench_ds",
                created_at=utcnow(),
                state=ModelState.AWAITING_REVIEW,
            )
            session.add(copy)
            session.flush()
            out.append(copy.id)
    return out


def _evaluations(ctx: ServiceContext, ids: list[int]) -> None:
    """Copies of version 1's evaluation: one for each earlier version, the rest for the newest."""
    with ctx.db.write() as session:
        model = session.execute(select(Evaluation).where(Evaluation.model_version_id == ids[0]).limit(1)).scalar_one()
        existing = len(session.execute(select(Evaluation.id)).all())
        targets = ids[1:-1] + [ids[-1]] * (EVALUATIONS - existing - (len(ids) - 2))
        for i, mv_id in enumerate(targets):
            session.add(
                Evaluation(
                    model_version_id=mv_id,
                    deployment_id=None,
                    space="preprod" if mv_id != ids[-1] or i == len(ids) - 2 else "prod",
                    data_window=model.data_window,
                    results=model.results,
                    status=model.status,
                    created_at=model.created_at + timedelta(days=i + 1),
                    created_by="system",
                )
            )


def _findings(ctx: ServiceContext, vera: Principal, ids: list[int]) -> int:
    """``FINDINGS`` findings raised through the service, two per version, every severity but high (which would
    block nothing here, the versions being decided), owned by the data scientist."""
    severities = ("medium", "low")
    for i in range(FINDINGS):
        governance.raise_finding(
            ctx,
            vera,
            ids[i % len(ids)],
            title=f"Benchmark finding {i + 1}",
            description="Seeded by the benchmark: a finding as a validator writes it, with its evidence.",
            severity=severities[i % 2],
            evidence_kind="free",
            evidence_ref="",
            owner="bench_ds",
            due_date=date.today() + timedelta(days=30 + i),
        )
    return FINDINGS


def median_seconds(call: Callable[[], object], repeats: int) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx, vera, newest = setup(Path(tmp))
        try:
            figures: list[tuple[str, float, list[float], str]] = []
            html_s, html_t, html = median_seconds(lambda: governance.validation_report(ctx, vera, newest), args.repeats)
            figures.append(("report, HTML", html_s, html_t, f"{len(str(html).encode()):,} bytes"))
            all_s, all_t, reports = median_seconds(lambda: _reports_for(ctx, vera, newest), args.repeats)
            assert isinstance(reports, dict)
            sizes = ", ".join(f"{fmt} {len(data):,} bytes" for fmt, data in sorted(reports.items()))
            figures.append((f"report, every format ({', '.join(sorted(reports))})", all_s, all_t, sizes))
            pack_s, pack_t, pack = median_seconds(lambda: governance.evidence_pack(ctx, vera, newest), args.repeats)
            assert isinstance(pack, bytes)
            figures.append(("evidence pack", pack_s, pack_t, f"{len(pack):,} bytes zipped"))
            check_s, check_t, verified = median_seconds(lambda: governance.verify_pack(ctx, vera, pack), args.repeats)
            assert isinstance(verified, governance.PackVerification)
            figures.append(("verify the pack", check_s, check_t, "intact" if verified.ok else str(verified.problems)))
        finally:
            ctx.close()
    print(f"\n== model version {newest} (version {VERSIONS} of {VERSIONS}), median of {args.repeats} ==")
    for name, median, times, note in figures:
        print(f"{name:<44} {median:7.3f} s  (runs {', '.join(f'{t:.3f}' for t in times)}; {note})")


if __name__ == "__main__":
    main()
