"""The model test preset: every test of the suite, in order, on explicit inputs, timed, into one report.

Every frame is explicit: ``held_out`` is labelled data the model never trained on (the
test split), ``reference`` the training split (typical values, ranges, quartiles). The
behavioural tests look at a seeded sample of at most ``max_records`` held-out records.
A test that raises becomes a failed verdict naming the exception, so one broken test
never hides the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd
from sklearn.pipeline import Pipeline

from pipeline_core.data.expectations import MODEL_TESTS
from pipeline_core.data.spec import DataSpec
from pipeline_core.model_tests import adversarial, behaviour, engineering, regression
from pipeline_core.model_tests.results import ModelTestReport, Verdict

SAMPLE_SEED = 20260603


@dataclass(frozen=True)
class StoredArtifact:
    """Where the model's artifact is kept: its sha256 and how to read its bytes back."""

    sha256: str
    fetch: Callable[[], bytes]


def run_model_tests(
    model: Pipeline,
    *,
    spec: DataSpec,
    held_out: pd.DataFrame,
    reference: pd.DataFrame,
    learning_curve: dict[str, list[float]] | None,
    artifact: StoredArtifact | None,
    production: Pipeline | None = None,
    production_name: str = "production model",
) -> ModelTestReport:
    """Run the eleven model tests of ``MODEL_TESTS`` on ``model``; criticality comes from the spec."""
    exp = spec.expectations
    n = min(exp.max_records, len(held_out))
    sample = held_out.sample(n=n, random_state=SAMPLE_SEED) if n < len(held_out) else held_out
    sample = sample.reset_index(drop=True)

    def artifact_test() -> Verdict:
        if artifact is None:
            return Verdict("artifact", "skip", "the model has not been stored in an artifact store yet")
        return engineering.artifact(model, fetch=artifact.fetch, sha256=artifact.sha256, sample=sample, spec=spec)

    tests: dict[str, Callable[[], Verdict]] = {
        "convergence": lambda: engineering.convergence(learning_curve, expectations=exp),
        "artifact": artifact_test,
        "input_schema": lambda: engineering.input_schema(model, spec=spec, sample=sample),
        "unexpected_input": lambda: engineering.unexpected_input(model, spec=spec, sample=sample),
        "output_schema": lambda: engineering.output_schema(model, spec=spec, sample=sample),
        "minimum_functionality": lambda: behaviour.minimum_functionality(
            model, spec=spec, reference=reference, expectations=exp
        ),
        "invariance": lambda: behaviour.invariance(
            model, spec=spec, sample=sample, reference=reference, expectations=exp
        ),
        "directional": lambda: behaviour.directional(
            model, spec=spec, sample=sample, reference=reference, expectations=exp
        ),
        "robustness": lambda: behaviour.robustness(
            model, spec=spec, sample=sample, reference=reference, expectations=exp
        ),
        "slice_regression": lambda: regression.slice_regression(
            model,
            production,
            spec=spec,
            labelled=held_out,
            reference=reference,
            expectations=exp,
            production_name=production_name,
        ),
        # Its own seeded sample, drawn per decision from all of held_out: the judged (unfavourable)
        # decisions are a minority, and a record is named by its index in the data.
        "adversarial": lambda: adversarial.adversarial(
            model, spec=spec, held_out=held_out, reference=reference, expectations=exp
        ),
    }
    assert tuple(tests) == MODEL_TESTS
    started = time.perf_counter()
    verdicts = []
    for name, test in tests.items():
        t0 = time.perf_counter()
        try:
            verdict = test()
        except Exception as exc:  # noqa: BLE001 - a crashing test is a failed test, with its reason
            verdict = Verdict(name, "fail", f"the test could not run on this model: {type(exc).__name__}: {exc}")
        verdicts.append(replace(verdict, critical=exp.is_critical(name), seconds=time.perf_counter() - t0))
    return ModelTestReport(verdicts, time.perf_counter() - started)
