"""The pre-prod pipeline: the one ordered list of its stages and gates, and a store-free executor.

``STAGES`` is every stage a run has, in order. The first four are pure functions of the
pipeline inputs and the results of the stages before them; the last three (model tests,
deploy to pre-prod, evaluate there) work against the store and the deployment target, so
their implementation is handed to ``execute`` by the services (the runner). ``execute`` runs
the stages in order and calls the hooks around each one; the runner's hooks persist status,
timings, logs and outputs, record the model version when ``register`` finishes, and report a
cancel request. A closed gate stops the run with ``GateFailed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pandas as pd

from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import GateFailed, RunCancelled, StageError, ValidationFailed
from pipeline_core.params import RunParams
from pipeline_core.stages.common import Gate
from pipeline_core.stages.prepare import PrepareResult, prepare
from pipeline_core.stages.register import ModelVersionDraft, register
from pipeline_core.stages.train import TrainResult, train
from pipeline_core.stages.validate import Schema, ValidationResult, training_ranges, validate


class StageResultLike(Protocol):
    gate: Gate
    log: list[str]

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PipelineInputs:
    """What a run starts from."""

    frame: pd.DataFrame
    spec: DataSpec
    params: RunParams
    dataset: dict[str, Any]  # id, name, sha256, source: recorded as lineage
    reference_schema: Schema | None = None


@dataclass
class PipelineState:
    """The results of the stages that have run so far."""

    results: dict[str, Any] = field(default_factory=dict)

    @property
    def validation(self) -> ValidationResult:
        result: ValidationResult = self.results["validate"]
        return result

    @property
    def prepared(self) -> PrepareResult:
        result: PrepareResult = self.results["prepare"]
        return result

    @property
    def trained(self) -> TrainResult:
        result: TrainResult = self.results["train"]
        return result

    @property
    def draft(self) -> ModelVersionDraft:
        result: ModelVersionDraft = self.results["register"]
        return result


def _validate(inputs: PipelineInputs, state: PipelineState) -> ValidationResult:
    return validate(
        inputs.frame,
        spec=inputs.spec,
        reference=inputs.reference_schema,
        seed=inputs.params.seed,
        test_size=inputs.params.test_size,
    )


def _split(state: PipelineState) -> tuple[pd.DataFrame, pd.DataFrame]:
    v = state.validation
    assert v.clean is not None  # the validate gate passed
    return v.clean.iloc[v.train_index], v.clean.iloc[v.test_index]


def _prepare(inputs: PipelineInputs, state: PipelineState) -> PrepareResult:
    train_df, _ = _split(state)
    return prepare(train_df, spec=inputs.spec, model_type=inputs.params.model_type)


def _train(inputs: PipelineInputs, state: PipelineState) -> TrainResult:
    train_df, test_df = _split(state)
    return train(train_df, test_df, spec=inputs.spec, params=inputs.params, preprocessor=state.prepared.preprocessor)


def _register(inputs: PipelineInputs, state: PipelineState) -> ModelVersionDraft:
    v = state.validation
    train_df, _ = _split(state)
    return register(
        state.trained.model,
        spec=inputs.spec,
        params=inputs.params,
        metrics=state.trained.metrics,
        dataset=inputs.dataset,
        n_train=int(v.train_index.size),
        n_test=int(v.test_index.size),
        training_ranges=training_ranges(train_df, inputs.spec),
    )


StageFn = Callable[[PipelineInputs, PipelineState], Any]


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    # None: a service stage, done against the store; ``execute`` takes its implementation from ``services``.
    run: StageFn | None = None


# The IBM pipeline's "val check", "prep check", "train check" and "deployed?" are these stages' gates.
STAGES: tuple[Stage, ...] = (
    Stage("validate", "Validate data", _validate),
    Stage("prepare", "Prepare features", _prepare),
    Stage("train", "Train and evaluate", _train),
    Stage("register", "Register model version", _register),
    Stage("model_tests", "Model tests"),
    Stage("deploy", "Deploy to pre-prod"),
    Stage("evaluate", "Evaluate in pre-prod"),
)
RUN_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES)
# The store-free stages: what ``execute`` runs when no services are given (a notebook, a test, a benchmark).
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES if s.run is not None)
SERVICE_STAGES: tuple[str, ...] = tuple(s.name for s in STAGES if s.run is None)
STAGE_TITLES: Mapping[str, str] = {s.name: s.title for s in STAGES}


class Hooks:
    """Called around each stage; the default does nothing and never cancels."""

    def before(self, stage: Stage) -> None:
        """A stage is about to run."""

    def after(self, stage: Stage, result: StageResultLike, seconds: float) -> None:
        """A stage finished (its gate may be closed)."""

    def failed(self, stage: Stage, error: BaseException, seconds: float) -> None:
        """A stage raised."""

    def cancel_requested(self) -> bool:
        return False


def run_stage(stage: Stage, inputs: PipelineInputs, state: PipelineState, hooks: Hooks) -> Any:
    """Run one stage between its hooks; a closed gate raises ``GateFailed`` (``ValidationFailed``)."""
    if hooks.cancel_requested():
        raise RunCancelled(f"run cancelled before stage '{stage.name}'")
    if stage.run is None:
        raise StageError(f"stage {stage.name!r} has no implementation")
    hooks.before(stage)
    started = time.perf_counter()
    try:
        result = stage.run(inputs, state)
    except Exception as exc:
        hooks.failed(stage, exc, time.perf_counter() - started)
        raise
    hooks.after(stage, result, time.perf_counter() - started)
    state.results[stage.name] = result
    if not result.gate.passed:
        if isinstance(result, ValidationResult):
            raise ValidationFailed(f"gate of stage 'validate' failed: {result.gate.reason}", result.blocking)
        raise GateFailed(stage.name, result.gate.reason)
    return result


def execute(
    inputs: PipelineInputs, hooks: Hooks | None = None, *, services: Mapping[str, StageFn] | None = None
) -> PipelineState:
    """Run the stages in order; raise ``GateFailed`` / ``RunCancelled`` to stop.

    Without ``services`` the run ends where the service stages begin (after ``register``); with them,
    every service stage must be given.
    """
    hooks = hooks or Hooks()
    state = PipelineState()
    for stage in STAGES:
        run = stage.run
        if run is None:
            if services is None:
                break
            if stage.name not in services:
                raise StageError(f"stage {stage.name!r} is done by the services, and none was given for it")
            run = services[stage.name]
        run_stage(replace(stage, run=run), inputs, state, hooks)
    return state
