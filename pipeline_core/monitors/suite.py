"""The evaluation preset: which monitors an evaluation runs, on which frames, then the risk summary.

Every frame is explicit, as in Evidently: ``current`` (scored records: features,
``prediction``, ``probability``), ``reference`` (the training data, scored the same way,
with true labels), ``labelled`` (current records whose true label is known: the test
split in pre-prod, feedback in production) and ``held_out`` (labelled records the model
never trained on, scored: what the drop-in-accuracy detector and global importance learn from).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline_core.data.columns import PROBABILITY
from pipeline_core.data.spec import DataSpec
from pipeline_core.monitors.drift import DriftConfig, drift
from pipeline_core.monitors.estimate import EstimateConfig, estimate_performance
from pipeline_core.monitors.explain import Classifier, ExplainConfig, explainability
from pipeline_core.monitors.fairness import FairnessConfig, fairness
from pipeline_core.monitors.mrm import risk_summary
from pipeline_core.monitors.quality import QualityConfig, quality
from pipeline_core.results import MonitorResult
from pipeline_core.results.evaluation import RISK, EvaluationReport, MonitorName

# The keys of a stored evaluation's monitors: each monitor's name, and the risk summary's.
MONITORS: tuple[str, ...] = (*MonitorName, RISK)


@dataclass(frozen=True, kw_only=True)
class SuiteConfig:
    quality: QualityConfig = field(default_factory=QualityConfig)
    fairness: FairnessConfig = field(default_factory=FairnessConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    explain_enabled: bool = True
    estimate: EstimateConfig = field(default_factory=EstimateConfig)


def evaluate(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    spec: DataSpec,
    model: Classifier,
    labelled: pd.DataFrame | None,
    held_out: pd.DataFrame | None,
    model_tests: Sequence[Mapping[str, Any]] = (),
    config: SuiteConfig | None = None,
    importance: list[dict[str, Any]] | None = None,
) -> EvaluationReport:
    """Quality, fairness, drift, explainability, the performance estimate on the given frames, their risk summary and
    the verdict."""
    config = config or SuiteConfig()
    labels = labelled if labelled is not None else current.iloc[:0].assign(**{spec.target: pd.Series(dtype=str)})
    results = [
        # Beside each quality metric its held-out value: the training split's is in-sample and flatters the model.
        quality(labels, held_out if held_out is not None else reference, spec=spec, config=config.quality),
        fairness(current, reference, spec=spec, labelled=labelled, config=config.fairness),
        drift(current, reference, spec=spec, config=config.drift, error_reference=held_out),
    ]
    if config.explain_enabled:
        results.append(
            explainability(
                current,
                held_out if held_out is not None else reference,
                spec=spec,
                model=model,
                config=config.explain,
                importance=importance,
            )
        )
    if held_out is not None and PROBABILITY in current.columns:
        # Performance without labels, from the probabilities, once the held-out shows they are calibrated.
        results.append(estimate_performance(current, held_out, spec=spec, config=config.estimate))
    return EvaluationReport.judge(results, risk_summary(results, model_tests=model_tests))


def run_monitors(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    spec: DataSpec,
    model: Classifier,
    labelled: pd.DataFrame | None,
    held_out: pd.DataFrame | None,
    model_tests: Sequence[Mapping[str, Any]] = (),
    config: SuiteConfig | None = None,
    importance: list[dict[str, Any]] | None = None,
) -> list[MonitorResult]:
    """``evaluate`` as a flat list, the risk summary last as the monitor "mrm": for callers not yet reading
    an ``EvaluationReport``."""
    return evaluate(
        current,
        reference,
        spec=spec,
        model=model,
        labelled=labelled,
        held_out=held_out,
        model_tests=model_tests,
        config=config,
        importance=importance,
    ).legacy_results()
