"""Model risk management: every monitor's checks (and model tests) gathered into one risk summary.

A *test* is one judged check: a metric with a threshold, or a model test's verdict.
The risk level follows the worst of them:

- **high**: a critical test failed;
- **medium**: a non-critical test failed, or a critical one could not be judged
  (insufficient data);
- **low**: everything judged passed (warnings are listed, they do not raise the level).

A warning is never counted as passed: ``RiskSummary.counts`` keeps passed, warn, failed and
unjudged apart, and they add up to the tests run. A production evaluation hands in the served
version's stored model tests, as the pre-prod one hands in its run's, so a failing model test
counts there too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline_core.results import MonitorResult, is_test
from pipeline_core.results.evaluation import RISK, RiskEntry, RiskLevel, RiskSummary, counted_status
from pipeline_core.vocabulary import CheckStatus

RISK_LEVELS = tuple(level.value for level in RiskLevel)
_JUDGED = (CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL)


def risk_summary(results: Sequence[MonitorResult], *, model_tests: Sequence[Mapping[str, Any]] = ()) -> RiskSummary:
    """The tests judged in ``results`` and ``model_tests``, and the risk level they give.

    ``model_tests`` entries carry ``name``, ``status`` (pass / fail / warn) and ``critical``.
    """
    entries = [
        RiskEntry(result.monitor, m.name, m.status, m.critical, m.value, m.threshold, m.detail)
        for result in results
        if result.monitor != RISK
        for m in result.metrics
        if is_test(m)
    ]
    entries += [
        RiskEntry(
            "model_tests",
            str(t["name"]),
            counted_status(str(t["status"])),
            bool(t.get("critical", False)),
            detail=str(t.get("detail", "")),
        )
        for t in model_tests
    ]
    failed = [e for e in entries if e.status == CheckStatus.FAIL]
    if any(e.critical for e in failed):
        level = RiskLevel.HIGH
    elif failed or any(e.critical and e.status not in _JUDGED for e in entries if e.source != "model_tests"):
        level = RiskLevel.MEDIUM
    else:
        level = RiskLevel.LOW
    return RiskSummary(level, tuple(entries))


def risk_evaluation(
    results: Sequence[MonitorResult], *, model_tests: Sequence[Mapping[str, Any]] = ()
) -> MonitorResult:
    """``risk_summary`` as earlier callers take it: a monitor named "mrm" (OpenScale's flat list of results)."""
    return risk_summary(results, model_tests=model_tests).as_monitor_result()
