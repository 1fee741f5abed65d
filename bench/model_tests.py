"""Benchmark: the model test suite on the default model trained on the real German credit file.

Usage: python bench/model_tests.py [--data PATH] [--repeats 5]

The default model (``RunParams()``: gradient boosting, seed 42, 20% test split) is trained
through the pipeline's own stages on ``--data`` (default: ../shared/data's IBM file; the
generator's 5,000 rows when that file is absent, and the output says so). Its artifact is
written to a local artifact store in a temporary folder and read back by the artifact
test. A second model, trained on the same split with other hyperparameters
(learning rate 0.05, 150 iterations), stands in for the model in production so that slice
regression is judged. The suite then runs ``--repeats`` times; the output is every
verdict with its summary, the median time of each test and of the whole suite (the first
run shown apart), and the suite's time as a ratio of the training pipeline's time in the
same process. Target: the suite in <= 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.base import clone

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.model_tests.suite import StoredArtifact, run_model_tests
from pipeline_core.params import RunParams
from pipeline_core.pipeline import PipelineInputs, execute
from pipeline_core.store.artifacts import LocalArtifactStore

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "german_credit_data_biased_training.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REAL))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spec = german_credit_spec()
    path = Path(args.data)
    if path.exists():
        frame, source = pd.read_csv(path), f"{path} ({path.stat().st_size:,} bytes)"
    else:
        frame, source = generate_german_credit(5000, seed=0), f"generated data (5,000 rows; {path} is absent)"
    print(f"data: {source}, {len(frame):,} rows")

    started = time.perf_counter()
    state = execute(PipelineInputs(frame=frame, spec=spec, params=RunParams(), dataset={"source": source}))
    training = time.perf_counter() - started
    clean = state.validation.clean
    assert clean is not None
    train, test = clean.iloc[state.validation.train_index], clean.iloc[state.validation.test_index]
    model = state.trained.model
    print(f"default model: test ROC AUC {state.trained.metrics['roc_auc']:.4f}; training pipeline {training:.2f} s")
    production = clone(model).set_params(model__learning_rate=0.05, model__max_iter=150)
    production.fit(train[spec.feature_names], train[spec.target].astype(str))

    with tempfile.TemporaryDirectory() as folder:
        store = LocalArtifactStore(folder)
        sha = store.put(state.draft.artifact)
        artifact = StoredArtifact(sha, lambda: store.get(sha))
        reports = []
        for _ in range(args.repeats):
            reports.append(
                run_model_tests(
                    model,
                    spec=spec,
                    held_out=test,
                    reference=train,
                    learning_curve=state.trained.learning_curve,
                    artifact=artifact,
                    production=production,
                    production_name="stand-in production model",
                )
            )
    last = reports[-1]
    print(f"\n{'test':22} {'verdict':7} {'critical':8} {'median s':>8}  summary")
    for i, v in enumerate(last.verdicts):
        median = statistics.median(r.verdicts[i].seconds for r in reports)
        print(f"{v.name:22} {v.status:7} {'yes' if v.critical else '':8} {median:8.3f}  {v.summary}")
    attack = last.verdict("adversarial").evidence
    if attack:
        print(
            f"\nadversarial: {attack['model_queries']:,} model queries on {attack['records_attacked']} + "
            f"{attack['reverse_records_attacked']} records; flips by feature {attack['flips_by_feature']}"
        )
    totals = [r.seconds for r in reports]
    rest = totals[1:] or totals
    print(
        f"\nsuite: median {statistics.median(rest):.2f} s over {len(rest)} runs (first run {totals[0]:.2f} s); "
        f"overall {last.status}"
    )
    print(f"suite / training pipeline: {statistics.median(rest) / training:.2f}x (target: suite <= 10 s)")
    verdicts = {tuple((v.name, v.status) for v in r.verdicts) for r in reports}
    print(f"same verdicts in every run: {'yes' if len(verdicts) == 1 else 'no'}")


if __name__ == "__main__":
    main()
