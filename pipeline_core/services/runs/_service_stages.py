"""The run's service stages: model tests, the pre-prod deployment with its smoke test, the pre-prod evaluation.

They are the last three entries of ``pipeline.STAGES``; the runner hands these implementations
to ``pipeline.execute``. Each works on the model version the register hook recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline_core.data.columns import PROBABILITY
from pipeline_core.errors import DeploymentError, GateFailed
from pipeline_core.monitors.suite import evaluate
from pipeline_core.pipeline import SERVICE_STAGES, PipelineInputs, PipelineState, StageFn
from pipeline_core.services import deployments, integrations, monitoring
from pipeline_core.services.authz import SYSTEM, SYSTEM_ROLE, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import score_over_http
from pipeline_core.services.runs import _model_tests
from pipeline_core.stages.common import Gate
from pipeline_core.vocabulary import Space


@dataclass
class ServiceStageResult:
    """The result of a stage the runner does against services (deploy, evaluate)."""

    outputs: dict[str, Any]
    gate: Gate
    log: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {**self.outputs, "gate": self.gate.to_dict()}


def service_stages(ctx: ServiceContext, run_id: int, model_version: Callable[[], int]) -> dict[str, StageFn]:
    """The implementations of ``pipeline.SERVICE_STAGES`` for run ``run_id``."""

    def model_tests_stage(inputs: PipelineInputs, state: PipelineState) -> ServiceStageResult:
        return _model_tests_stage(ctx, run_id, model_version(), inputs, state)

    def deploy_stage(inputs: PipelineInputs, state: PipelineState) -> ServiceStageResult:
        return _deploy_and_smoke_test(ctx, run_id, model_version(), inputs, state)

    def evaluate_stage(inputs: PipelineInputs, state: PipelineState) -> ServiceStageResult:
        return _evaluate_in_preprod(ctx, model_version(), inputs, state)

    stages: dict[str, StageFn] = {"model_tests": model_tests_stage, "deploy": deploy_stage, "evaluate": evaluate_stage}
    assert tuple(stages) == SERVICE_STAGES  # one list of stages: pipeline.STAGES
    return stages


def _model_tests_stage(
    ctx: ServiceContext, run_id: int, mv_id: int, inputs: PipelineInputs, state: PipelineState
) -> ServiceStageResult:
    """The model test suite on the trained model and its stored artifact: a failed critical test stops the run."""
    clean = state.validation.clean
    assert clean is not None
    test_id, report = _model_tests.run_in_pipeline(
        ctx,
        model=state.trained.model,
        model_version_id=mv_id,
        run_id=run_id,
        spec=inputs.spec,
        held_out=clean.iloc[state.validation.test_index],
        reference=clean.iloc[state.validation.train_index],
        learning_curve=state.trained.learning_curve,
    )
    log = [
        f"{v.name}: {v.status}{' (critical)' if v.critical and v.status == 'fail' else ''}: {v.summary}"
        for v in report.verdicts
    ]
    log.append(f"{len(report.verdicts)} model tests in {report.seconds:.2f} s; stored as model test run {test_id}")
    critical, other = report.failed_critical, [v for v in report.failed if not v.critical]
    if critical:
        gate = Gate(False, "critical model test(s) failed: " + "; ".join(f"{v.name}: {v.summary}" for v in critical))
    elif other:
        gate = Gate(True, "passed with warnings: " + ", ".join(v.name for v in other) + " failed (not critical)")
    else:
        judged = sum(v.status != "skip" for v in report.verdicts)
        gate = Gate(True, f"all {judged} judged model tests passed")
    outputs = {
        "model_test_run_id": test_id,
        "status": report.status,
        "seconds": report.seconds,
        "verdicts": [
            {"name": v.name, "status": v.status, "critical": v.critical, "summary": v.summary} for v in report.verdicts
        ],
        "mrm": report.mrm_entries(),
    }
    return ServiceStageResult(outputs, gate, log)


SMOKE_ROWS = 5


def _deploy_and_smoke_test(
    ctx: ServiceContext, run_id: int, mv_id: int, inputs: PipelineInputs, state: PipelineState
) -> ServiceStageResult:
    """The IBM pipeline's "deployed?" gate: deploy to pre-prod, then score through the deployment's endpoint."""
    result = deployments.deploy_candidate(ctx, Principal(f"pipeline:run-{run_id}", SYSTEM_ROLE), mv_id)
    dep = result.deployment
    served = deployments.served_model(ctx, SYSTEM, dep.id)
    url = (
        served.scoring_url
        if served is not None and served.scoring_url
        else ctx.settings.scoring_url.rstrip("/") + dep.scoring_path
    )
    log = [f"{'created' if result.created else 'replaced'} pre-prod deployment {dep.id} with model version {mv_id}"]
    clean = state.validation.clean
    assert clean is not None
    rows = clean.iloc[state.validation.test_index[:SMOKE_ROWS]]
    model = state.trained.model
    classes = [str(c) for c in model.classes_]
    expected = model.predict_proba(rows[inputs.spec.feature_names])[:, classes.index(inputs.spec.positive_label)]
    outputs: dict[str, Any] = {"deployment_id": dep.id, "endpoint": url, "model_version_id": mv_id}
    try:
        scored = score_over_http(
            ctx, SYSTEM, dep.id, rows, spec=inputs.spec, label=f"smoke test of run {run_id}", classes=classes
        )
    except DeploymentError as exc:
        gate = Gate(False, f"smoke test: {exc}")
        return ServiceStageResult(outputs, gate, [*log, f"deployed? {gate.reason}"])
    outputs["smoke_status"] = 200
    got = scored[PROBABILITY].to_numpy(dtype=float)
    max_diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    outputs["smoke_max_abs_difference"] = max_diff
    ok = max_diff <= 1e-9
    gate = Gate(
        ok,
        f"{len(rows)} test records scored through {url}; "
        + (
            "probabilities identical to the trained model"
            if ok
            else f"probabilities differ from the trained model by {max_diff:g}"
        ),
    )
    return ServiceStageResult(outputs, gate, [*log, f"deployed? {gate.reason}"])


def _evaluate_in_preprod(
    ctx: ServiceContext, mv_id: int, inputs: PipelineInputs, state: PipelineState
) -> ServiceStageResult:
    """Every monitor on the test split scored through the pre-prod endpoint, against the training split."""
    deploy = state.results["deploy"].outputs
    spec, model = inputs.spec, state.trained.model
    clean = state.validation.clean
    assert clean is not None
    test = clean.iloc[state.validation.test_index]
    classes = [str(c) for c in model.classes_]
    label = f"pre-prod evaluation of model version {mv_id}"
    try:
        current = score_over_http(ctx, SYSTEM, deploy["deployment_id"], test, spec=spec, label=label, classes=classes)
    except DeploymentError as exc:
        raise GateFailed("evaluate", str(exc)) from exc
    reference = monitoring.score_frame(model, clean.iloc[state.validation.train_index], spec)
    tested = state.results.get("model_tests")
    mrm_tests = tested.outputs["mrm"] if tested is not None else ()
    report = evaluate(
        current, reference, spec=spec, model=model, labelled=current, held_out=current, model_tests=mrm_tests
    )
    window = {
        "source": "test split scored through the pre-prod endpoint",
        "records": len(current),
        "endpoint": deploy["endpoint"],
    }
    # The pipeline's own evaluation, audited as such (as its deployment is, under the run's name).
    pipeline = Principal("pipeline", SYSTEM_ROLE)
    outcome = monitoring.store_evaluation(
        ctx,
        pipeline,
        model_version_id=mv_id,
        deployment_id=deploy["deployment_id"],
        space=Space.PREPROD,
        data_window=window,
        report=report,
        retrain_on_failure=False,
        candidate_model_tests=mrm_tests,  # the candidate's facts for the external inventory, in its transaction
    )
    integrations.openscale_log_feedback(ctx, pipeline, deploy["deployment_id"], test, spec=spec)  # the true labels
    external = monitoring.evaluate_externally(
        ctx,
        pipeline,
        deployment_id=deploy["deployment_id"],
        model_version_id=mv_id,
        space=Space.PREPROD,
        spec=spec,
        model_tests=mrm_tests,
    )
    reports = [outcome.report, *([external.report] if external is not None else [])]
    monitors = [r for rep in reports for r in rep.monitors]
    failed = [f"{c.monitor}.{c.metric.name}" for rep in reports for c in rep.failed_critical]
    log = [
        f"{r.monitor}: {r.status}"
        + "".join(
            f"; {m.name} {m.value:.4f} vs {m.threshold:.2f} {m.status}"
            for m in r.metrics
            if m.critical and m.value is not None
        )
        for r in monitors
    ]
    log.append(f"risk level {outcome.risk_level}; {len(current)} test records scored through {deploy['endpoint']}")
    # A failed critical threshold does not stop the run: the validator sees it, and approval
    # then needs an explicit override with a reason.
    reason = "no critical threshold failed" if not failed else "failed critical: " + ", ".join(failed)
    gate = Gate(True, f"evaluation {outcome.evaluation_id}: {outcome.status}; {reason}")
    outputs = {
        "evaluation_id": outcome.evaluation_id,
        "status": outcome.status,
        "risk_level": outcome.risk_level,
        "alerts": outcome.alerts,
        "records": len(current),
    }
    if external is not None:
        outputs |= {"openscale_evaluation_id": external.evaluation_id, "openscale_status": external.status}
        log.append(f"OpenScale evaluation {external.evaluation_id}: {external.status}")
    failures = integrations.deliver(
        ctx, pipeline, event_ids=list(outcome.events)
    )  # retried later; listed as not in sync meanwhile
    if failures:  # the candidate stands; the validator sees why the factsheet lags
        not_published = "; ".join(f.error for f in failures)
        log.append(f"AI Factsheets: not published: {not_published}")
        outputs["factsheet_error"] = not_published
    return ServiceStageResult(outputs, gate, log)
