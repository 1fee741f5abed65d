"""Benchmark: a production evaluation at 10,000 / 100,000 / 1,000,000 payload rows, beside Evidently and fairlearn.

Usage: python bench/monitors.py [--sizes 10000,100000,1000000] [--repeats 3] [--no-baselines] [--bootstrap-cost]
       python bench/monitors.py --estimate-table [--data PATH] [--windows 20]

One default model (5,000 generated rows, as bench/scoring.py) is deployed to pre-prod.
For each size, that many drifted records (LoanAmount x1.5, a third more renters) are
scored in-process and stored as payload chunks of 5,000 records (what the payload logger
writes), each size in its own day, and 2,000 labelled feedback records are uploaded once.
Then, each in a fresh process so that peak memory is its own:

- *ours*: ``evaluate_deployment`` over that day's window (reading the payload from the
  store, quality on the feedback, fairness, drift with data consistency, the multivariate
  domain classifier and the drop in accuracy, explainability with importance on the window,
  MRM, the stored evaluation), median of ``--repeats``; and the time of each part on the
  same frames (the domain classifier and importance on the window also alone);
- *Evidently*: ``DataDriftPreset`` (Wasserstein and Jensen-Shannon, threshold 0.1, the same
  column types) on the same payload against the same reference, after the same read;
- *fairlearn*: ``MetricFrame`` with one metric (selection rate) by Sex, then by Age band.

``--bootstrap-cost`` prints only what the bootstrap intervals (fairness's group metrics and ROC AUC) and
the bias scan cost at each size, on generated records (``bootstrap_cost``); budget: <= 1 s of intervals
at 100,000 records.

It prints time and peak RSS (``ru_maxrss``) of each, whether the drifted-column verdicts
agree, and the cost per 1,000 rows at each size (linear growth keeps it flat). Targets at
1,000,000 rows: full evaluation <= 15 s and <= 2 GiB; drift >= 10x faster than Evidently.
The full evaluation includes the performance estimate (its own time is one of the parts);
``--no-baselines`` skips Evidently and fairlearn.

``--estimate-table``: the performance estimate (``monitors.estimate``) validated on IBM's file
under covariate shift. The file (``--data``, default ../shared/data's) is shuffled (seed 0);
the pipeline's own stages train the default model on its first 3,000 rows (its 600-record
test split is the held-out reference the calibration is checked and, recalibrating, fitted
on); the other 2,000 rows, never seen, are the production pool. Each shifted window draws
600 of them without replacement with weights ``exp(strength * z)``, ``z`` a standardised
LoanDuration or Age, or a CheckingStatus category weighted ``exp(strength)`` (the outcome
given the features is unchanged: covariate shift, CBPE's assumption). For each shift,
``--windows`` windows: the mean realised ROC AUC (scikit-learn on the window's true labels),
the mean estimate with its mean 95% interval, the mean absolute error and how many windows'
realised AUC fell inside the interval, with the default recalibration (Platt), with isotonic
recalibration, and uncorrected.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline_core.config import Settings
from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext, open_context
from pipeline_core.services.datasets import PayloadWindow, read_payload, store_payload_frame

DAY0 = datetime(2026, 1, 1)
CHUNK = 5_000
FEEDBACK = 2_000


def _peak_mib() -> float:
    """This process's peak resident memory. Not ``ru_maxrss``: Linux carries that over from the
    parent across ``execve``, so a child would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _drifted(n: int, seed: int) -> pd.DataFrame:
    frame = generate_german_credit(n, seed=seed)
    frame["LoanAmount"] = (frame["LoanAmount"] * 1.5).round().astype(int)
    rng = np.random.default_rng(seed)
    frame.loc[rng.random(n) < 0.33, "Housing"] = "rent"
    return frame


def setup(root: Path, sizes: list[int]) -> tuple[int, int]:
    """The store under ``root``: a deployed model, payload for each size, feedback; (deployment, model version)."""
    from scoring import prepare  # bench/ is on sys.path when run as a script

    from pipeline_core.services.deployments import deployment_spec
    from pipeline_core.services.monitoring import score_frame, upload_feedback

    ctx, dep_id, _, model, _ = prepare(root)
    spec = deployment_spec(ctx, SYSTEM, dep_id)
    with ctx.db.read() as session:
        from pipeline_core.store.models import Deployment

        dep = session.get(Deployment, dep_id)
        assert dep is not None
        mv_id = dep.model_version_id
    for day, n in enumerate(sizes, start=1):
        started = time.perf_counter()
        for start in range(0, n, CHUNK):
            part = score_frame(model, _drifted(min(CHUNK, n - start), seed=day * 100_000 + start), spec)
            store_payload_frame(
                ctx,
                SYSTEM,
                deployment_id=dep_id,
                model_version_id=mv_id,
                frame=part[[*spec.feature_names, "prediction", "probability"]],
                request_id=f"bench{day}x{start:08d}",
                created_at=DAY0 + timedelta(days=day, seconds=start / 1000),
            )
        print(f"stored {n:,} payload records for day {day} in {time.perf_counter() - started:.1f} s", flush=True)
    feedback = _drifted(FEEDBACK, seed=7)
    ds = Principal("bench_ds", "data_scientist")
    upload_feedback(ctx, ds, dep_id, feedback[[*spec.feature_names, spec.target]])
    ctx.close()
    return dep_id, mv_id


def _window(day: int) -> PayloadWindow:
    return PayloadWindow(since=DAY0 + timedelta(days=day), until=DAY0 + timedelta(days=day, hours=23))


def child_ours(ctx: ServiceContext, dep_id: int, mv_id: int, day: int, repeats: int) -> dict[str, Any]:
    from pipeline_core.monitors.domain import domain_classifier
    from pipeline_core.monitors.drift import drift
    from pipeline_core.monitors.estimate import estimate_performance
    from pipeline_core.monitors.explain import ExplainConfig, explainability, production_importance
    from pipeline_core.monitors.fairness import fairness
    from pipeline_core.monitors.quality import quality
    from pipeline_core.services.monitoring import evaluate_deployment, feedback_frame, model_frames, score_frame

    actor = Principal("bench_ds", "data_scientist")
    frames = model_frames(ctx, SYSTEM, mv_id)  # the model and its training data: loaded once per process, then cached
    totals = []
    for _ in range(repeats):
        started = time.perf_counter()
        outcome = evaluate_deployment(ctx, actor, dep_id, window=_window(day))
        totals.append(time.perf_counter() - started)
    parts: dict[str, float] = {}
    started = time.perf_counter()
    current = read_payload(ctx, SYSTEM, dep_id, _window(day), scoring_ids=True)
    parts["read payload"] = time.perf_counter() - started
    spec = frames.spec
    labelled = score_frame(frames.model, feedback_frame(ctx, SYSTEM, dep_id, spec), spec)
    calls = {
        "quality (feedback)": lambda: quality(labelled, frames.reference, spec=spec),
        "fairness": lambda: fairness(current, frames.reference, spec=spec),
        "drift + consistency": lambda: drift(current, frames.reference, spec=spec),
        "drop in accuracy": lambda: drift(current, frames.reference, spec=spec, error_reference=frames.held_out),
        "explainability": lambda: explainability(current, frames.held_out, spec=spec, model=frames.model),
        # Parts of the two above, timed alone: bounded by their samples, so flat in the rows.
        "multivariate drift": lambda: domain_classifier(
            current, frames.reference, spec=spec, minimum=spec.thresholds.drift_min_records
        ),
        "importance on window": lambda: production_importance(
            frames.model, current, frames.held_out, spec=spec, config=ExplainConfig()
        ),
        "estimate": lambda: estimate_performance(current, frames.held_out, spec=spec),
    }
    results: dict[str, Any] = {}
    for name, call in calls.items():
        started = time.perf_counter()
        results[name] = call()
        parts[name] = time.perf_counter() - started
    parts["drop in accuracy"] -= parts["drift + consistency"]  # the part beyond plain drift
    # Per-feature drift and consistency alone, as Evidently's preset computes: the domain classifier is beside it.
    parts["drift + consistency"] -= parts["multivariate drift"]
    features = results["drift + consistency"].details["features"]
    return {
        "rows": len(current),
        "total": statistics.median(totals),
        "totals": totals,
        "parts": parts,
        "status": outcome.status,
        "peak_mib": _peak_mib(),
        "drifted": {n: bool(f["drifted"]) for n, f in features.items()},
        "values": {n: float(f["value"]) for n, f in features.items()},
    }


def child_evidently(ctx: ServiceContext, dep_id: int, mv_id: int, day: int) -> dict[str, Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from pipeline_core.services.monitoring import model_frames

    frames = model_frames(ctx, SYSTEM, mv_id)
    spec = frames.spec
    current = read_payload(ctx, SYSTEM, dep_id, _window(day))[spec.feature_names]
    # Evidently wants plain columns; the conversion is counted as Evidently's.
    started = time.perf_counter()
    current = current.astype({n: str for n in spec.categorical})
    reference = frames.reference[spec.feature_names]
    categorical = spec.categorical + [n for n in spec.numeric if reference[n].nunique() <= 10]
    definition = DataDefinition(
        numerical_columns=[n for n in spec.numeric if n not in categorical], categorical_columns=categorical
    )
    preset = DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon", threshold=0.1)
    snapshot = Report([preset]).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    seconds = time.perf_counter() - started
    values: dict[str, float] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            values[config["column"]] = float(metric["value"])
    return {
        "seconds": seconds,
        "peak_mib": _peak_mib(),
        "values": values,
        "drifted": {n: v >= 0.1 for n, v in values.items()},
    }


def child_fairlearn(ctx: ServiceContext, dep_id: int, mv_id: int, day: int) -> dict[str, Any]:
    from fairlearn.metrics import MetricFrame, selection_rate

    from pipeline_core.monitors.fairness import fairness
    from pipeline_core.services.monitoring import model_frames

    frames = model_frames(ctx, SYSTEM, mv_id)
    spec = frames.spec
    current = read_payload(ctx, SYSTEM, dep_id, _window(day))
    favourable = (current["prediction"].astype(str) == spec.favourable_label).to_numpy()
    age_band = pd.cut(current["Age"], [0, 25, 45, 200]).astype(str)
    started = time.perf_counter()
    for feature in (current["Sex"].astype(str), age_band):
        MetricFrame(metrics=selection_rate, y_true=favourable, y_pred=favourable, sensitive_features=feature)
    per_metric = (time.perf_counter() - started) / 2
    started = time.perf_counter()
    fairness(current, frames.reference, spec=spec)
    ours = time.perf_counter() - started
    return {"seconds_per_metric": per_metric, "ours_fairness": ours, "peak_mib": _peak_mib()}


def bootstrap_cost(sizes: list[int], repeats: int) -> None:
    """What the bootstrap intervals and the scan's test add to fairness and quality, printed per size.

    The records are generated and scored at random (no store): the cost depends on counts, not on
    the model. Each interval function is wrapped with a timer, so "intervals" is exactly their time.
    """
    from pipeline_core.data.german_credit import german_credit_spec
    from pipeline_core.monitors import fairness as fairness_module
    from pipeline_core.monitors import quality as quality_module

    spec = german_credit_spec()
    spent = {"intervals": 0.0}

    def timed(function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent["intervals"] += time.perf_counter() - started

        return call

    fairness_module.bootstrap_interval = timed(fairness_module.bootstrap_interval)
    quality_module.roc_auc_interval = timed(quality_module.roc_auc_interval)
    print("\n== bootstrap intervals (1,000 resamples) and the bias scan's test ==")
    for n in sizes:
        frame = generate_german_credit(n, seed=n)
        rng = np.random.default_rng(n)
        frame["probability"] = rng.random(n)
        frame["prediction"] = np.where(frame["probability"] >= 0.5, spec.positive_label, spec.favourable_label)
        labelled = frame.iloc[: min(n, 100_000)]
        figures: dict[str, list[float]] = {"fairness": [], "quality": [], "intervals": [], "scan": []}
        for _ in range(repeats):
            spent["intervals"] = 0.0
            started = time.perf_counter()
            found = fairness_module.fairness(frame, frame, spec=spec, labelled=labelled)
            figures["fairness"].append(time.perf_counter() - started)
            started = time.perf_counter()
            quality_module.quality(labelled, labelled, spec=spec)
            figures["quality"].append(time.perf_counter() - started)
            figures["intervals"].append(spent["intervals"])
            started = time.perf_counter()
            favourable = (frame["prediction"] == spec.favourable_label).to_numpy()
            fairness_module.bias_scan(frame, frame, favourable, spec=spec, config=fairness_module.FairnessConfig())
            figures["scan"].append(time.perf_counter() - started)
        median = {k: statistics.median(v) for k, v in figures.items()}
        summary = found.details["bias_scan_summary"]
        print(
            f"{n:>9,} records ({len(labelled):,} labelled): intervals {median['intervals']:.3f} s "
            f"(14 group metrics + ROC AUC); fairness in all {median['fairness']:.3f} s, of it the bias scan "
            f"{median['scan']:.3f} s ({summary['tested']} groups tested, {summary['tested_intersections']} of them "
            f"intersections); quality {median['quality']:.3f} s; median of {repeats}"
        )


POOL_SPLIT = 3_000
WINDOW = 600
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "german_credit_data_biased_training.csv"
SHIFTS: tuple[tuple[str, float], ...] = (
    ("none", 0.0),
    ("LoanDuration", 0.5),
    ("LoanDuration", 1.0),
    ("LoanDuration", 2.0),
    ("Age", 1.0),
    ("Age", 2.0),
    ("CheckingStatus=no_checking", 1.0),
    ("CheckingStatus=no_checking", 2.0),
    ("CheckingStatus=less_0", 2.0),
)


def _shift_weights(pool: pd.DataFrame, shift: str, strength: float) -> np.ndarray:
    if shift == "none":
        return np.full(len(pool), 1.0 / len(pool))
    if "=" in shift:
        column, category = shift.split("=")
        z = (pool[column].astype(str) == category).to_numpy(dtype=float)
    else:
        values = pool[shift].to_numpy(dtype=float)
        z = (values - values.mean()) / values.std()
    weights = np.exp(strength * z)
    return np.asarray(weights / weights.sum())


def _summary(rows: list[tuple[float, float, float, float]]) -> tuple[float, float, float, float, int]:
    """Mean estimate, mean interval, mean absolute error against the realised AUC, windows covered."""
    values = np.array(rows)
    errors = np.abs(values[:, 0] - values[:, 3])
    covered = int(((values[:, 1] <= values[:, 3]) & (values[:, 3] <= values[:, 2])).sum())
    return (
        float(values[:, 0].mean()),
        float(values[:, 1].mean()),
        float(values[:, 2].mean()),
        float(errors.mean()),
        covered,
    )


def estimate_table(data: Path, windows: int) -> None:
    """The estimate's error against the realised ROC AUC on IBM's file under covariate shift (the module says how)."""
    from sklearn.metrics import roc_auc_score

    from pipeline_core.data.german_credit import german_credit_spec
    from pipeline_core.monitors.estimate import EstimateConfig, estimate_performance
    from pipeline_core.params import RunParams
    from pipeline_core.pipeline import PipelineInputs, execute
    from pipeline_core.services.monitoring import score_frame

    if not data.is_file():
        print(f"skipped: IBM's file is not at {data} (../shared/data is absent on this machine)")
        return
    spec = german_credit_spec()
    frame = pd.read_csv(data).sample(frac=1.0, random_state=0).reset_index(drop=True)
    state = execute(
        PipelineInputs(frame=frame.iloc[:POOL_SPLIT], spec=spec, params=RunParams(), dataset={"source": str(data)})
    )
    clean = state.validation.clean
    assert clean is not None
    model = state.trained.model
    held_out = score_frame(model, clean.iloc[state.validation.test_index], spec)
    pool = score_frame(model, frame.iloc[POOL_SPLIT:].reset_index(drop=True), spec)
    pool_y = (pool[spec.target].astype(str) == spec.positive_label).to_numpy()
    print(
        f"data: {data} ({len(frame):,} rows); default model trained on {len(state.validation.train_index):,}, "
        f"held-out {len(held_out):,} (test ROC AUC {state.trained.metrics['roc_auc']:.4f}); pool {len(pool):,}; "
        f"{windows} windows of {WINDOW} per shift"
    )
    configs = {
        "platt": EstimateConfig(),
        "isotonic": EstimateConfig(recalibration="isotonic"),
        "uncorrected": EstimateConfig(recalibration="none"),
    }
    checked = estimate_performance(pool.iloc[:WINDOW], held_out, spec=spec).details["calibration"]
    print(
        f"held-out calibration: ECE {checked['expected_calibration_error']:.4f} "
        f"(tolerance {checked['max_calibration_error']}), Hosmer-Lemeshow p = {checked['p_value']:.3g}; "
        f"recalibrated: {checked['recalibrated']} (error after {checked.get('error_after', float('nan')):.4f})"
    )
    header = (
        f"{'shift':<30} {'realised':>8}  {'estimated AUC [95% interval] (Platt)':<36} {'|error|':>7} {'covered':>7}"
        f"  {'isotonic':>8} {'covered':>7}  {'uncorrected':>11} {'covered':>7}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    started = time.perf_counter()
    for shift, strength in SHIFTS:
        weights = _shift_weights(pool, shift, strength)
        rng = np.random.default_rng(1)
        found: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in configs}
        realised_all = []
        for _ in range(windows):
            pick = rng.choice(len(pool), size=WINDOW, replace=False, p=weights)
            window = pool.iloc[pick]
            realised = float(roc_auc_score(pool_y[pick], window["probability"]))
            realised_all.append(realised)
            for name, config in configs.items():
                auc = estimate_performance(
                    window.drop(columns=[spec.target]), held_out, spec=spec, config=config
                ).metric("estimated_roc_auc")
                if auc.value is None or auc.interval is None:
                    raise RuntimeError(f"window not estimated: {auc.detail}")
                found[name].append((auc.value, auc.interval[0], auc.interval[1], realised))
        summary = {name: _summary(rows) for name, rows in found.items()}
        estimate, lower, upper, error, covered = summary["platt"]
        label = "none" if shift == "none" else f"{shift} x{strength:g}"
        iso, raw = summary["isotonic"], summary["uncorrected"]
        print(
            f"{label:<30} {np.mean(realised_all):8.4f}  {estimate:.4f} [{lower:.4f}, {upper:.4f}]{'':<15}"
            f" {error:7.4f} {covered:>4}/{windows:<2}  {iso[3]:8.4f} {iso[4]:>4}/{windows:<2}"
            f"  {raw[3]:11.4f} {raw[4]:>4}/{windows:<2}"
        )
    print(f"\n{len(SHIFTS) * windows * len(configs)} estimates in {time.perf_counter() - started:.1f} s")


def run_child(kind: str, root: Path, dep_id: int, mv_id: int, day: int, repeats: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--root",
        str(root),
        "--deployment",
        str(dep_id),
        "--model-version",
        str(mv_id),
        "--day",
        str(day),
        "--repeats",
        str(repeats),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--bootstrap-cost", action="store_true", help="only what the intervals and the scan's test cost, per size"
    )
    parser.add_argument("--no-baselines", action="store_true", help="skip Evidently and fairlearn")
    parser.add_argument("--estimate-table", action="store_true", help="the estimate's error under covariate shift")
    parser.add_argument("--data", default=str(REAL), help="IBM's German credit file (--estimate-table)")
    parser.add_argument("--windows", type=int, default=20, help="windows per shift (--estimate-table)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--deployment", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--model-version", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--day", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ctx = open_context(Settings(data_dir=Path(args.root) / "store"))
        if args.child == "ours":
            out = child_ours(ctx, args.deployment, args.model_version, args.day, args.repeats)
        elif args.child == "evidently":
            out = child_evidently(ctx, args.deployment, args.model_version, args.day)
        else:
            out = child_fairlearn(ctx, args.deployment, args.model_version, args.day)
        print(json.dumps(out))
        return
    if args.estimate_table:
        estimate_table(Path(args.data), args.windows)
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    if args.bootstrap_cost:
        bootstrap_cost(sizes, args.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dep_id, mv_id = setup(root, sizes)
        rows: list[tuple[int, dict[str, Any], dict[str, Any] | None]] = []
        for day, n in enumerate(sizes, start=1):
            ours = run_child("ours", root, dep_id, mv_id, day, args.repeats)
            print(f"\n== {n:,} payload rows (evaluation status: {ours['status']}) ==")
            print(
                f"full evaluation, median of {args.repeats}: {ours['total']:.2f} s "
                f"(runs {', '.join(f'{t:.2f}' for t in ours['totals'])}), peak RSS {ours['peak_mib']:,.0f} MiB"
            )
            for part, seconds in ours["parts"].items():
                print(f"  {part:<22} {seconds:7.3f} s")
            if args.no_baselines:
                rows.append((n, ours, None))
                continue
            evidently: dict[str, Any] | None = run_child("evidently", root, dep_id, mv_id, day, 1)
            assert evidently is not None
            fair = run_child("fairlearn", root, dep_id, mv_id, day, 1)
            agree = sorted(n for n in ours["drifted"] if ours["drifted"][n] != evidently["drifted"].get(n))
            max_diff = max(abs(ours["values"][n] - evidently["values"][n]) for n in evidently["values"])
            rows.append((n, ours, evidently))
            drift_s = ours["parts"]["drift + consistency"]
            print(
                f"Evidently DataDriftPreset: {evidently['seconds']:.2f} s, peak RSS {evidently['peak_mib']:,.0f} MiB;"
                f" our drift + consistency {drift_s:.3f} s = {evidently['seconds'] / drift_s:.1f}x faster"
            )
            verdict = "the same drifted columns" if not agree else f"DISAGREE on {agree}"
            drifted = sorted(k for k, v in ours["drifted"].items() if v)
            print(f"  verdicts: {verdict} ({drifted}); largest statistic difference {max_diff:.2e}")
            print(
                f"fairlearn MetricFrame: {fair['seconds_per_metric']:.3f} s per metric; our whole fairness monitor "
                f"(4 group metrics x 2 attributes + bias scan) {fair['ours_fairness']:.3f} s"
            )
        print("\n== growth (seconds per 1,000 rows; flat = linear) ==")
        scaling = ("read payload", "fairness", "drift + consistency", "drop in accuracy", "estimate")
        for n, ours, baseline_run in rows:
            per = {name: seconds / n * 1000 for name, seconds in ours["parts"].items()}
            baseline = f"; Evidently {baseline_run['seconds'] / n * 1000:.4f}" if baseline_run is not None else ""
            print(
                f"{n:>9,} rows: parts that grow with rows ({', '.join(scaling)}) "
                f"{sum(per[name] for name in scaling):.4f}; full evaluation {ours['total'] / n * 1000:.4f} "
                f"(with constant work: model, explanations, storing){baseline}"
            )


if __name__ == "__main__":
    main()
