"""Benchmark: the pre-prod pipeline on 5,000 rows against bare scikit-learn, same process.

Usage: python bench/pipeline.py [--repeats N] [--data PATH]

Prints, as medians over N repeats: the bare scikit-learn fit + predict of the default
model on the same split; the pipeline run end to end through the store (launch, claim,
every stage persisted, artifact written, model version registered) with its per-stage
times; the time spent inside scikit-learn fit/predict during the run (the final fit, the
CV refits and their predictions); and the rest, the pipeline's own overhead (validation,
metrics, storage, the pre-prod deployment and its HTTP smoke test), as a share of the
total. Targets on the 2-core reference machine: total <= 15 s, overhead <= 25%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sklearn.model_selection import train_test_split

from pipeline_core.config import Settings
from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.data.load import frame_to_csv_bytes, read_csv_file
from pipeline_core.params import RunParams
from pipeline_core.services import governance
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import open_context
from pipeline_core.services.runs import RUN_STAGES, RunWorker, get_run, launch_file_run
from pipeline_core.serving.server import BackgroundServer
from pipeline_core.stages.prepare import build_preprocessor
from pipeline_core.stages.train import build_estimator

BENCH_PASSWORD = "bench-only-password"  # a throwaway store in a temp folder
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "german_credit_data_biased_training.csv"


def bare_sklearn(path: Path) -> float:
    """Fit + predict_proba of the default model on the same stratified split, nothing else."""
    spec, params = german_credit_spec(), RunParams()
    frame = read_csv_file(path, roots=[path.parent]).frame
    x, y = frame[spec.feature_names], frame[spec.target]
    xtr, xte, ytr, _ = train_test_split(x, y, test_size=params.test_size, stratify=y, random_state=params.seed)
    model = build_estimator(build_preprocessor(spec, params.model_type), params)
    started = time.perf_counter()
    model.fit(xtr, ytr)
    model.predict_proba(xte)
    return time.perf_counter() - started


def pipeline_run(path: Path, root: Path) -> dict[str, float]:
    ctx = open_context(Settings(data_dir=root, data_roots=(path.parent,)))  # the benchmark's CSV
    admin = governance.add_first_admin(ctx, username="bench_admin", password=BENCH_PASSWORD)
    actor = governance.add_user(ctx, admin, username="bench_ds", role="data_scientist", password=BENCH_PASSWORD)
    server = BackgroundServer(ctx).start()  # the deploy stage smoke-tests through real HTTP
    ctx.settings = replace(ctx.settings, scoring_url=server.url)
    started = time.perf_counter()
    run = launch_file_run(ctx, actor, str(path), spec=german_credit_spec(), params=RunParams())
    worker = RunWorker(ctx)
    assert worker.claim(run.id)
    status = worker.execute(run.id)
    total = time.perf_counter() - started
    worker.stop()
    server.stop()
    assert status == "succeeded", get_run(ctx, SYSTEM, run.id).error
    done = get_run(ctx, SYSTEM, run.id)
    figures = {f"stage:{s.name}": float(s.duration_seconds or 0.0) for s in done.stages}
    train = next(s for s in done.stages if s.name == "train").outputs
    figures["total"] = total
    figures["fit+predict"] = float(train["fit_seconds"] + train["predict_seconds"])
    figures["overhead"] = total - figures["fit+predict"]
    ctx.close()
    return figures


def report(label: str, path: Path, repeats: int) -> None:
    bare = [bare_sklearn(path) for _ in range(repeats)]
    runs = []
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(pipeline_run(path, Path(tmp) / f"store{i}"))
    med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    bare_med = statistics.median(bare)
    print(f"\n{label}: {path}  (median of {repeats})")
    print(f"  bare scikit-learn fit + predict            {bare_med:8.3f} s")
    for name in RUN_STAGES:
        print(f"  pipeline stage {name:<26}  {med['stage:' + name]:8.3f} s")
    print(f"  pipeline total (launch -> registered)      {med['total']:8.3f} s   target <= 15 s")
    print(f"    inside scikit-learn fit/predict          {med['fit+predict']:8.3f} s   (1 fit + 5 CV refits)")
    share = med["overhead"] / med["total"]
    print(
        f"    everything else                          {med['overhead']:8.3f} s   {share:6.1%} of total, target <= 25%"
    )
    print(f"  ratio pipeline total / bare fit + predict  {med['total'] / bare_med:8.2f} x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "german_credit_generated_5000.csv"
        generated.write_bytes(frame_to_csv_bytes(generate_german_credit(5000, seed=0)))
        report("generated German credit data, 5,000 rows", generated, args.repeats)
    real = args.data or REAL
    if real.is_file():
        report("real IBM German credit data", real, args.repeats)
    else:
        print(f"\n(real file not found at {real}; pass --data PATH to benchmark it)")


if __name__ == "__main__":
    main()
