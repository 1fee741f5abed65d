"""Evaluation documents as earlier versions of the product stored them, written out by hand."""

from __future__ import annotations

from typing import Any

# What the product stored before the report was typed (and still stores): the risk summary sits among the
# monitors as "mrm", the flat checks beside them. Written out by hand from the code that produced it.
STORED: dict[str, Any] = {
    "status": "warn",
    "checks": [
        {
            "monitor": "quality",
            "name": "roc_auc",
            "value": 0.81,
            "threshold": 0.6,
            "direction": "higher_is_better",
            "status": "pass",
            "critical": True,
            "detail": "reference 0.8300",
        },
        {
            "monitor": "quality",
            "name": "pr_auc",
            "value": 0.55,
            "threshold": None,
            "direction": "none",
            "status": "info",
            "critical": False,
            "detail": "reference 0.6000",
        },
        {
            "monitor": "fairness",
            "name": "disparate_impact[Sex]",
            "value": None,
            "threshold": 0.95,
            "direction": "none",
            "status": "insufficient",
            "critical": True,
            "detail": "insufficient data: 40 < 100",
        },
    ],
    "risk_level": "medium",
    "monitors": {
        "quality": {
            "monitor": "quality",
            "status": "pass",
            "n_records": 120,
            "min_records": 100,
            "metrics": [
                {
                    "name": "roc_auc",
                    "value": 0.81,
                    "threshold": 0.6,
                    "direction": "higher_is_better",
                    "status": "pass",
                    "critical": True,
                    "detail": "reference 0.8300",
                },
                {
                    "name": "pr_auc",
                    "value": 0.55,
                    "threshold": None,
                    "direction": "none",
                    "status": "info",
                    "critical": False,
                    "detail": "reference 0.6000",
                },
            ],
            "details": {
                "confusion_matrix": {"labels": ["No Risk", "Risk"], "matrix": [[70, 10], [12, 28]], "threshold": 0.5}
            },
        },
        "fairness": {
            "monitor": "fairness",
            "status": "insufficient",
            "n_records": 120,
            "min_records": 100,
            "metrics": [
                {
                    "name": "disparate_impact[Sex]",
                    "value": None,
                    "threshold": 0.95,
                    "direction": "none",
                    "status": "insufficient",
                    "critical": True,
                    "detail": "insufficient data: 40 < 100",
                }
            ],
            "details": {
                "groups": {
                    "Sex": {
                        "monitored": {"group": "female", "n": 40.0, "favourable_rate": 0.6, "tpr": 0.7, "fpr": 0.3},
                        "reference": {"group": "male", "n": 80.0, "favourable_rate": 0.7, "tpr": 0.8, "fpr": 0.4},
                    }
                },
                "bias_scan": [],
            },
        },
        "mrm": {
            "monitor": "mrm",
            "status": "pass",
            "n_records": 3,
            "min_records": 0,
            "metrics": [
                {
                    "name": "tests_run",
                    "value": 3.0,
                    "threshold": None,
                    "direction": "none",
                    "status": "info",
                    "critical": False,
                    "detail": "",
                },
                {
                    "name": "tests_passed",
                    "value": 2.0,
                    "threshold": None,
                    "direction": "none",
                    "status": "info",
                    "critical": False,
                    "detail": "",
                },
                {
                    "name": "tests_failed",
                    "value": 0.0,
                    "threshold": 0.0,
                    "direction": "lower_is_better",
                    "status": "pass",
                    "critical": False,
                    "detail": "",
                },
                {
                    "name": "risk_level",
                    "value": 1.0,
                    "threshold": None,
                    "direction": "none",
                    "status": "info",
                    "critical": False,
                    "detail": "medium",
                },
            ],
            "details": {
                "risk_level": "medium",
                "tests": [
                    {
                        "source": "quality",
                        "name": "roc_auc",
                        "status": "pass",
                        "critical": True,
                        "value": 0.81,
                        "threshold": 0.6,
                        "detail": "reference 0.8300",
                    },
                    {
                        "source": "fairness",
                        "name": "disparate_impact[Sex]",
                        "status": "insufficient",
                        "critical": True,
                        "value": None,
                        "threshold": 0.95,
                        "detail": "insufficient data: 40 < 100",
                    },
                    {
                        "source": "model_tests",
                        "name": "invariance",
                        "status": "pass",
                        "critical": False,
                        "value": None,
                        "threshold": None,
                        "detail": "",
                    },
                ],
                "insufficient": 1,
            },
        },
    },
}

# What the evaluate stage stored before the monitors: quality checks of the test split, no monitor names.
BEFORE_MONITORS: dict[str, Any] = {
    "checks": [
        {
            "name": "roc_auc",
            "value": 0.52,
            "threshold": 0.6,
            "direction": "higher_is_better",
            "status": "fail",
            "critical": True,
            "detail": "",
        },
        {
            "name": "pr_auc",
            "value": 0.41,
            "threshold": 0.33,
            "direction": "higher_is_better",
            "status": "pass",
            "critical": False,
            "detail": "",
        },
    ],
    "status": "fail",
    "gate": {"passed": False, "reason": "roc_auc 0.5200 fails threshold 0.60"},
    "data_window": {"source": "test split", "records": 120},
}
# And before that: the same checks without ``detail`` (the first check type had no such field).
FIRST_FORMAT: dict[str, Any] = {
    **BEFORE_MONITORS,
    "checks": [{k: v for k, v in c.items() if k != "detail"} for c in BEFORE_MONITORS["checks"]],
}
