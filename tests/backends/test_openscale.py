"""The OpenScale monitors backend: configuration from the spec, measurements into our results, the SDK on the wire.

The HTTP tests run the real ``ibm-watson-openscale`` SDK against ``tests/ibm_fake.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from pipeline_core.backends.base import ModelToServe, MonitorSubscription, ServedModel
from pipeline_core.backends.ibm.openscale import OpenScaleMonitors, measurement_results, monitor_configuration
from pipeline_core.backends.ibm.wml import IbmCredentials, WatsonxDeploymentTarget
from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.spec import Thresholds
from pipeline_core.errors import AuthError, ConfigError, ExternalServiceError
from tests.backends.conftest import API_KEY, SPEC, USER, Model
from tests.ibm_fake import FakeCloudPak


def test_monitors_are_configured_from_the_spec_thresholds_and_groups() -> None:
    spec = replace(
        SPEC,
        thresholds=Thresholds(
            min_roc_auc=0.7,
            quality_min_records=50,
            disparate_impact=0.8,
            fairness_min_records=40,
            drift=0.2,
            drift_min_records=30,
        ),
    )
    setup = monitor_configuration(spec)
    assert set(setup) == {"quality", "fairness", "drift", "explainability", "mrm"}
    assert setup["quality"].parameters == {"min_feedback_data_size": 50}
    assert setup["quality"].thresholds == [{"metric_id": "area_under_roc", "type": "lower_limit", "value": 0.7}]
    fairness = setup["fairness"]
    assert fairness.parameters["favourable_class"] == ["No Risk"]
    assert fairness.parameters["unfavourable_class"] == ["Risk"]
    assert fairness.parameters["min_records"] == 40
    assert fairness.parameters["features"] == [
        {"feature": "Sex", "majority": ["male"], "minority": ["female"]},
        {"feature": "Age", "majority": [[26, 75]], "minority": [[18, 25]]},
    ]
    assert fairness.thresholds[0]["value"] == 80.0  # OpenScale's fairness value is a percentage
    assert [v["applies_to"][0]["value"] for v in fairness.thresholds[0]["specific_values"]] == ["Sex", "Age"]
    assert setup["drift"].parameters["drift_threshold"] == 0.2 and setup["drift"].parameters["min_samples"] == 30


def _measurement(*values: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"id": "m-1"}, "entity": {"timestamp": "2026-11-26T00:00:00Z", "values": list(values)}}


@pytest.mark.parametrize(
    ("monitor", "measurement", "name", "status", "value"),
    [
        ("quality", _measurement({"metrics": [{"id": "area_under_roc", "value": 0.81}]}), "roc_auc", "pass", 0.81),
        ("quality", _measurement({"metrics": [{"id": "area_under_roc", "value": 0.55}]}), "roc_auc", "fail", 0.55),
        ("quality", _measurement({"metrics": [{"id": "area_under_roc", "value": 0.61}]}), "roc_auc", "warn", 0.61),
        (
            "fairness",
            _measurement(
                {"metrics": [{"id": "fairness_value", "value": 88.0}], "tags": [{"id": "feature", "value": "Sex"}]}
            ),
            "disparate_impact[Sex]",
            "fail",
            0.88,
        ),
        (
            "fairness",
            _measurement(
                {"metrics": [{"id": "fairness_value", "value": 101.5}], "tags": [{"id": "feature", "value": "Age"}]}
            ),
            "disparate_impact[Age]",
            "pass",
            1.015,
        ),
        (
            "drift",
            _measurement({"metrics": [{"id": "drift_magnitude", "value": 0.25}]}),
            "drop_in_accuracy",
            "fail",
            0.25,
        ),
        ("quality", None, "roc_auc", "insufficient", None),
        ("fairness", None, "disparate_impact", "insufficient", None),
    ],
)
def test_measurements_become_results_judged_by_our_thresholds(
    monitor: str, measurement: dict[str, Any] | None, name: str, status: str, value: float | None
) -> None:
    result = measurement_results(monitor, measurement, SPEC, minimum=100, records=42)
    metric = result.metrics[0]
    assert (metric.name, metric.status) == (name, status)
    assert metric.value == (pytest.approx(value) if value is not None else None)
    assert result.n_records == 42 and result.details["source"] == "openscale"
    if status == "insufficient":
        assert "OpenScale recorded no measurement" in metric.detail


def _deployed(fake: FakeCloudPak, model: Model) -> tuple[IbmCredentials, ServedModel]:
    creds = IbmCredentials(url=fake.url, api_key=API_KEY, username=USER, ca_bundle=str(fake.ca_path))
    target = WatsonxDeploymentTarget(creds, spaces={"preprod": fake.add_space("pre"), "prod": fake.add_space("prod")})
    served = target.deploy(
        ModelToServe(
            name="credit-risk-preprod",
            space="preprod",
            artifact=model.artifact,
            artifact_sha256=model.sha256,
            spec=SPEC,
        )
    )
    return creds, served


def test_a_subscription_logs_records_and_reads_measurements_back(fake_cpd: FakeCloudPak, model_a: Model) -> None:
    creds, served = _deployed(fake_cpd, model_a)
    monitors = OpenScaleMonitors(creds)
    calls_before = len(fake_cpd.state.calls)
    assert monitors._client is None  # constructing it contacted nobody
    sub = monitors.subscribe(served, spec=SPEC, model_name="credit-risk")
    assert MonitorSubscription.from_dict(json.loads(json.dumps(sub.to_dict()))) == sub
    frame = generate_german_credit(150, seed=11)
    values = json.loads(frame[SPEC.feature_names].to_json(orient="values"))
    proba = model_a.pipeline.predict_proba(frame[SPEC.feature_names])
    labels = [str(c) for c in model_a.pipeline.classes_[proba.argmax(axis=1)]]
    monitors.log_payload(sub, fields=SPEC.feature_names, values=values, labels=labels, probabilities=proba.tolist())
    labelled = frame[[*SPEC.feature_names, SPEC.target]]
    monitors.log_feedback(sub, fields=list(labelled.columns), values=json.loads(labelled.to_json(orient="values")))
    results = {r.monitor: r for r in monitors.evaluate(sub, spec=SPEC, records={"quality": 150, "fairness": 150})}
    assert set(results) == {"quality", "fairness", "drift"}
    auc = results["quality"].metric("roc_auc")
    from sklearn.metrics import roc_auc_score

    expected = roc_auc_score(frame[SPEC.target] == "Risk", proba[:, list(model_a.pipeline.classes_).index("Risk")])
    assert auc.value == pytest.approx(expected, abs=1e-9) and auc.threshold == 0.6 and auc.critical
    favourable = pd.Series(labels) == "No Risk"
    female, male = frame["Sex"] == "female", frame["Sex"] == "male"
    di = favourable[female.to_numpy()].mean() / favourable[male.to_numpy()].mean()
    assert results["fairness"].metric("disparate_impact[Sex]").value == pytest.approx(di, abs=1e-4)
    assert results["drift"].metrics[0].status == "insufficient"  # the fake measures no drift; we say so
    runs = fake_cpd.requests("POST", "/openscale/")
    assert all(
        c.authorization.startswith("Bearer ")
        for c in fake_cpd.state.calls[calls_before:]
        if c.path != "/icp4d-api/v1/authorize"
    )
    assert len([c for c in runs if c.path.endswith("/runs")]) == 3
    monitors.set_risk_status(sub, approved=True)
    assert fake_cpd.state.openscale["subscriptions"][sub.subscription_id]["entity"]["risk_evaluation_status"] == {
        "state": "approved"
    }


@pytest.mark.parametrize(
    ("fail", "error", "message"),
    [
        (None, AuthError, r"OpenScale APIClient\(\) failed"),
        (
            ("POST", "/openscale/00000000-0000-0000-0000-000000000000/v2/subscriptions", 400),
            ConfigError,
            r"OpenScale subscriptions.add\(.+\) failed: .*refused by the test",
        ),
        (
            ("POST", "/openscale/00000000-0000-0000-0000-000000000000/v2/service_providers", 403),
            AuthError,
            r"OpenScale service_providers.add\(preprod\) failed",
        ),
    ],
)
def test_openscale_failures_name_the_service_and_the_call(
    fake_cpd: FakeCloudPak, model_a: Model, fail: tuple[str, str, int] | None, error: type, message: str
) -> None:
    creds, served = _deployed(fake_cpd, model_a)
    if fail is None:
        creds = IbmCredentials(url=fake_cpd.url, api_key="wrong", username=USER)
    else:
        method, path, status = fail
        fake_cpd.state.fail_next[(method, path)] = (status, "refused", "refused by the test")
    with pytest.raises(error, match=message):
        OpenScaleMonitors(creds).subscribe(served, spec=SPEC, model_name="credit-risk")


def test_a_monitor_run_that_never_finishes_times_out_naming_it(fake_cpd: FakeCloudPak, model_a: Model) -> None:
    creds, served = _deployed(fake_cpd, model_a)
    monitors = OpenScaleMonitors(creds, timeout=0.5)
    sub = monitors.subscribe(served, spec=SPEC, model_name="credit-risk")
    fake_cpd.state.stuck_runs = True
    with pytest.raises(ExternalServiceError, match=r"OpenScale quality run .+ is still 'running' after 0.5 s"):
        monitors.evaluate(sub, spec=SPEC, records={})
