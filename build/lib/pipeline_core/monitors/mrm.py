"""Model risk management: every monitor's checks (and model tests) gathered into one risk evaluation.

A *test* is one judged check: a metric with a threshold, or a model test's verdict.
The risk level follows the worst of them:

- **high**: a critical test failed;
- **medium**: a non-critical test failed, or a critical one could not be judged
  (insufficient data);
- **low**: everything judged passed (warnings are listed, they do not raise the level).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline_core.results import Metric, MonitorResult

RISK_LEVELS = ("low", "medium", "high")


def risk_evaluation(results: Sequence[MonitorResult], *, model_tests: Sequence[dict[str, Any]] = ()) -> MonitorResult:
    """Tests run / passed / failed over ``results`` and ``model_tests``, and the risk level they give.

    ``model_tests`` entries carry ``name``, ``status`` (pass / fail / warn) and ``critical``.
    """
    tests: list[dict[str, Any]] = []
    for result in results:
        for m in result.metrics:
            if m.status in ("pass", "warn", "fail") or (m.status == "insufficient" and m.critical):
                tests.append(
                    {
                        "source": result.monitor,
                        "name": m.name,
                        "status": m.status,
                        "critical": m.critical,
                        "value": m.value,
                        "threshold": m.threshold,
                        "detail": m.detail,
                    }
                )
    for t in model_tests:
        tests.append(
            {
                "source": "model_tests",
                "name": str(t["name"]),
                "status": str(t["status"]),
                "critical": bool(t.get("critical", False)),
                "value": None,
                "threshold": None,
                "detail": str(t.get("detail", "")),
            }
        )
    failed = [t for t in tests if t["status"] == "fail"]
    passed = [t for t in tests if t["status"] in ("pass", "warn")]
    unjudged = [t for t in tests if t["status"] == "insufficient"]
    if any(t["critical"] for t in failed):
        level = "high"
    elif failed or unjudged:
        level = "medium"
    else:
        level = "low"
    metrics = [
        Metric("tests_run", float(len(tests))),
        Metric("tests_passed", float(len(passed))),
        Metric(
            "tests_failed",
            float(len(failed)),
            0.0,
            "lower_is_better",
            "fail" if failed else "pass",
            critical=any(t["critical"] for t in failed),
            detail=", ".join(f"{t['source']}:{t['name']}" for t in failed),
        ),
        Metric("risk_level", float(RISK_LEVELS.index(level)), detail=level),
    ]
    return MonitorResult(
        "mrm", metrics, len(tests), 0, {"risk_level": level, "tests": tests, "insufficient": len(unjudged)}
    )
