"""Each model test passes on a sound model and fails, with its evidence, on a model built to break it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sklearn.pipeline import Pipeline

from pipeline_core.data.expectations import MODEL_TESTS
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import NotFoundError
from pipeline_core.model_io import serialise_model
from pipeline_core.model_tests.results import ModelTestReport, Verdict
from pipeline_core.model_tests.suite import StoredArtifact, run_model_tests
from tests.model_tests.conftest import Credit, Trained


def stored(model: Pipeline) -> StoredArtifact:
    data = serialise_model(model)
    return StoredArtifact(hashlib.sha256(data).hexdigest(), lambda: data)


def suite(
    model: Pipeline,
    credit: Credit,
    spec: DataSpec,
    *,
    curve: dict[str, list[float]] | None = None,
    production: Pipeline | None = None,
    artifact: StoredArtifact | None = None,
) -> ModelTestReport:
    return run_model_tests(
        model,
        spec=spec,
        held_out=credit.test,
        reference=credit.train,
        learning_curve=curve,
        artifact=artifact or stored(model),
        production=production,
    )


@pytest.fixture(scope="module")
def sound_report(sound: Trained, sound_production: Trained, credit: Credit, spec: DataSpec) -> ModelTestReport:
    return suite(sound.model, credit, spec, curve=sound.curve, production=sound_production.model)


def test_a_sound_model_passes_every_test(sound_report: ModelTestReport) -> None:
    assert [v.name for v in sound_report.verdicts] == list(MODEL_TESTS)
    assert {v.name: v.status for v in sound_report.verdicts} == dict.fromkeys(MODEL_TESTS, "pass")
    assert sound_report.status == "pass"
    assert all(v.summary and v.evidence for v in sound_report.verdicts)


# test, the fixture of the model built to break it, what the failure must say, evidence that must show it
BROKEN = [
    (
        "convergence",
        "diverges",
        r"ends \d+% above its best .*diverged",
        lambda e: e["final_above_best"] > e["divergence_tolerance"],
    ),
    (
        "convergence",
        "learns_nothing",
        r"training loss did not fall overall",
        lambda e: e["train_loss_drop"] < e["tolerance"],
    ),
    (
        "input_schema",
        "without_telephone",
        r"does not take spec feature\(s\) \['Telephone'\]",
        lambda e: e["not_taken_by_model"] == ["Telephone"],
    ),
    (
        "input_schema",
        "with_customer_id",
        r"needs column\(s\) the spec does not have: \['CustomerId'\]",
        lambda e: e["not_in_spec"] == ["CustomerId"] and e["cases"][0]["outcome"] == "crash",
    ),
    (
        "unexpected_input",
        "crashes_on_unseen",
        r"13 of 100 unexpected inputs had no defined outcome.*crash ValueError",
        lambda e: {f["got"] for f in e["failures"]} == {"crash"} and e["failures"][0]["value"].startswith("'__never"),
    ),
    (
        "output_schema",
        "wrong_labels",
        r"classes \['0', '1'\] are not the spec's labels",
        lambda e: e["bad_count"] == e["records"],
    ),
    (
        "output_schema",
        "overconfident",
        r"probabilities sum to 1\.5",
        lambda e: e["bad_count"] == e["records"] and max(e["bad_outputs"][0]["probabilities"]) > 0.5,
    ),
    (
        "minimum_functionality",
        "ignores_input",
        r"1 of 2 cases wrong: .*expected 'Risk', got 'No Risk'",
        lambda e: [c["passed"] for c in e["cases"]] == [True, False],
    ),
    (
        "invariance",
        "telephone_dependent",
        r"changing only Telephone flips \d+\.\d% of decisions",
        lambda e: e["features"][0]["flip_rate"] > 0.9 and e["features"][0]["examples"],
    ),
    (
        "directional",
        "non_monotone",
        r"raising LoanAmount by [\d.]+ lowers the risk on \d+\.\d% of records",
        lambda e: e["features"][0]["share_against"] > 0.5 and e["features"][0]["mean_risk_change"] < 0,
    ),
    (
        "robustness",
        "jittery",
        r"perturbing numbers by up to 3% flips \d+\.\d% of decisions",
        lambda e: e["flip_rate"] > 0.2 and e["examples"][0]["changes"],
    ),
    (
        "slice_regression",
        "ignores_input",
        r"slice\(s\) regress against production model",
        lambda e: e["regressed_count"] > 0 and e["worst_slices"][0]["worst_loss"] > e["tolerance"],
    ),
    (
        "adversarial",
        "fragile",
        r"turns \d+\.\d% of 100 'Risk' decisions made with risk >= 0\.70 into 'No Risk' .*flips change LoanDuration",
        lambda e: e["flip_rate"] > e["tolerance"] and e["smallest_flips"][0]["changes"][0]["feature"] == "LoanDuration",
    ),
]


@pytest.mark.parametrize(("test", "fixture", "message", "shows"), BROKEN, ids=[f"{t}-{f}" for t, f, *_ in BROKEN])
def test_a_model_built_to_break_a_test_fails_it_with_evidence(
    request: pytest.FixtureRequest,
    sound_report: ModelTestReport,
    sound_production: Trained,
    credit: Credit,
    spec: DataSpec,
    test: str,
    fixture: str,
    message: str,
    shows: Callable[[dict[str, Any]], bool],
) -> None:
    broken = request.getfixturevalue(fixture)
    model, curve = (broken.model, broken.curve) if isinstance(broken, Trained) else (broken, None)
    report = suite(model, credit, spec, curve=curve, production=sound_production.model)
    verdict = report.verdict(test)
    assert sound_report.verdict(test).status == "pass"
    assert verdict.status == "fail", verdict.summary
    assert verdict.summary and re.search(message, verdict.summary), verdict.summary
    assert shows(verdict.evidence), verdict.evidence
    assert verdict.critical == spec.expectations.is_critical(test)


def test_the_stored_artifact_must_be_the_trained_model(
    sound: Trained, ignores_input: Pipeline, credit: Credit, spec: DataSpec
) -> None:
    other = stored(ignores_input)  # a valid artifact, of another model
    verdict = suite(sound.model, credit, spec, artifact=other).verdict("artifact")
    assert verdict.status == "fail" and "scores differently from the trained one" in verdict.summary
    assert verdict.evidence["max_abs_difference"] > 0.01 and verdict.evidence["worst_record"]

    good = stored(sound.model)
    corrupt = StoredArtifact(good.sha256, lambda: good.fetch()[:-10] + b"0123456789")
    verdict = suite(sound.model, credit, spec, artifact=corrupt).verdict("artifact")
    assert verdict.status == "fail" and f"not {good.sha256}" in verdict.summary

    def missing() -> bytes:
        raise NotFoundError(f"artifact {good.sha256} is not in '/tmp/x'")

    verdict = suite(sound.model, credit, spec, artifact=StoredArtifact(good.sha256, missing)).verdict("artifact")
    assert verdict.status == "fail" and "could not be read back" in verdict.summary and "is not in" in verdict.summary


def test_slice_regression_is_skipped_without_a_production_model(sound: Trained, credit: Credit, spec: DataSpec) -> None:
    report = suite(sound.model, credit, spec, curve=sound.curve)
    verdict = report.verdict("slice_regression")
    assert verdict.status == "skip" and "no model of this spec is in production" in verdict.summary
    assert "slice_regression" not in [e["name"] for e in report.mrm_entries()]


def test_a_test_that_raises_is_a_failed_verdict_and_the_others_still_run(
    sound: Trained, credit: Credit, spec: DataSpec
) -> None:
    broken_curve: dict[str, list[float]] = {
        "iteration": [1, 2, 3, 4],
        "validation_loss": [0.5, 0.4, 0.3, 0.2],
    }  # no train_loss
    report = suite(sound.model, credit, spec, curve=broken_curve)
    verdict = report.verdict("convergence")
    assert verdict.status == "fail" and "could not run on this model: KeyError" in verdict.summary
    assert not verdict.critical and report.status == "warn" and report.failed == [verdict]
    assert report.verdict("output_schema").status == "pass"


def test_non_critical_failures_warn_and_criticality_comes_from_the_spec(
    ignores_input: Pipeline, credit: Credit, spec: DataSpec
) -> None:
    report = suite(ignores_input, credit, spec)
    assert report.verdict("minimum_functionality").status == "fail"
    assert report.status == "warn" and not report.failed_critical
    strict = replace(spec, expectations=replace(spec.expectations, critical=("minimum_functionality",)))
    report = suite(ignores_input, credit, strict)
    assert report.status == "fail" and [v.name for v in report.failed_critical] == ["minimum_functionality"]


def test_the_report_round_trips_and_feeds_mrm(sound_report: ModelTestReport) -> None:
    again = ModelTestReport.from_dict(sound_report.to_dict())
    assert again.to_dict() == sound_report.to_dict()
    entries = sound_report.mrm_entries()
    assert [e["name"] for e in entries] == list(MODEL_TESTS)
    assert all(set(e) == {"name", "status", "critical", "detail"} for e in entries)
    assert Verdict.from_dict(sound_report.verdicts[0].to_dict()) == sound_report.verdicts[0]
