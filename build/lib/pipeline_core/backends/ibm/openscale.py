"""Monitors in Watson OpenScale, through ``ibm-watson-openscale``: subscribe, log, evaluate, record the decision.

A deployment served by watsonx.ai gets one OpenScale subscription in the data mart, under
a service provider per deployment space (pre-production or production). Its quality,
fairness, drift, explainability and model-risk monitors are configured from the same
spec and thresholds as the local monitors (``monitor_configuration``), so both judge a
model by the same rules. Scored records and labelled feedback are logged to the
subscription's payload and feedback data sets; an evaluation runs every monitor on demand
and reads its latest measurement back into the same ``MonitorResult``s the local monitors
return (``measurement_results``). The MRM risk evaluation status follows our approvals.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from pipeline_core.backends.base import MonitorSubscription, ServedModel
from pipeline_core.backends.ibm.errors import sdk_call
from pipeline_core.backends.ibm.polling import wait_for
from pipeline_core.backends.ibm.wml import IbmCredentials
from pipeline_core.data.spec import DataSpec, GroupSpec
from pipeline_core.errors import ExternalServiceError
from pipeline_core.results import Metric, MonitorResult, insufficient, judged

SERVICE = "OpenScale"
CPD_INSTANCE = "00000000-0000-0000-0000-000000000000"  # Cloud Pak for Data's one OpenScale instance
MONITORS = ("quality", "fairness", "drift", "explainability", "mrm")
OPERATIONAL_SPACE = {"dev": "development", "preprod": "pre_production", "prod": "production"}
T = TypeVar("T")


def _call(call: str, fn: Callable[[], T]) -> T:
    return sdk_call(SERVICE, call, fn)


@dataclass(frozen=True)
class MonitorSetup:
    """One OpenScale monitor as we configure it: parameters and metric thresholds."""

    definition: str
    parameters: dict[str, Any]
    thresholds: list[dict[str, Any]] = field(default_factory=list)


def _groups(group: GroupSpec) -> list[Any]:
    return [[group.range[0], group.range[1]]] if group.range is not None else list(group.values)


def monitor_configuration(spec: DataSpec) -> dict[str, MonitorSetup]:
    """OpenScale's monitors configured from ``spec``'s thresholds and protected groups (fairness in percent)."""
    t = spec.thresholds
    features = [
        {"feature": a.name, "majority": _groups(a.reference), "minority": _groups(a.monitored)} for a in spec.protected
    ]
    fairness_limits = [
        {
            "metric_id": "fairness_value",
            "type": "lower_limit",
            "value": round(100 * t.disparate_impact, 4),
            "specific_values": [
                {
                    "applies_to": [{"type": "tag", "key": "feature", "value": a.name}],
                    "value": round(100 * t.disparate_impact, 4),
                }
                for a in spec.protected
            ],
        }
    ]
    return {
        "quality": MonitorSetup(
            "quality",
            {"min_feedback_data_size": t.quality_min_records},
            [{"metric_id": "area_under_roc", "type": "lower_limit", "value": t.min_roc_auc}],
        ),
        "fairness": MonitorSetup(
            "fairness",
            {
                "features": features,
                "favourable_class": [spec.favourable_label],
                "unfavourable_class": [spec.unfavourable_label],
                "min_records": t.fairness_min_records,
            },
            fairness_limits,
        ),
        "drift": MonitorSetup(
            "drift",
            {"min_samples": t.drift_min_records, "drift_threshold": t.drift, "train_drift_model": False},
            [{"metric_id": "drift_magnitude", "type": "upper_limit", "value": t.drift}],
        ),
        "explainability": MonitorSetup("explainability", {"enabled": True}),
        "mrm": MonitorSetup("mrm", {}),
    }


def measurement_results(
    monitor: str, measurement: Mapping[str, Any] | None, spec: DataSpec, *, minimum: int, records: int
) -> MonitorResult:
    """An OpenScale measurement (``entity.values[].metrics``) as our ``MonitorResult``, judged by our rules."""
    t = spec.thresholds
    values = list((measurement or {}).get("entity", {}).get("values", []))
    metrics: list[Metric] = []
    for value in values:
        tags = {str(tag.get("id")): str(tag.get("value")) for tag in value.get("tags", [])}
        for m in value.get("metrics", []):
            metric_id, number = str(m["id"]), float(m["value"])
            if monitor == "quality" and metric_id == "area_under_roc":
                metrics.append(
                    judged(
                        "roc_auc",
                        number,
                        t.min_roc_auc,
                        higher=True,
                        critical=True,
                        detail="OpenScale area under ROC on the feedback data",
                    )
                )
            elif monitor == "fairness" and metric_id == "fairness_value":
                feature = tags.get("feature", "?")
                metrics.append(
                    judged(
                        f"disparate_impact[{feature}]",
                        number / 100,
                        t.disparate_impact,
                        higher=True,
                        critical=True,
                        detail="OpenScale fairness value / 100",
                    )
                )
            elif monitor == "drift" and metric_id == "drift_magnitude":
                metrics.append(
                    judged("drop_in_accuracy", number, t.drift, higher=False, detail="OpenScale drift magnitude")
                )
            else:
                metrics.append(Metric(metric_id, number, detail="reported by OpenScale"))
    if not metrics:
        name = {"quality": "roc_auc", "fairness": "disparate_impact", "drift": "drop_in_accuracy"}.get(monitor)
        if name is None:
            return MonitorResult(
                monitor,
                [Metric("measurements", 0.0, detail="OpenScale recorded no measurement")],
                records,
                minimum,
                {"source": "openscale"},
            )
        threshold = {"quality": t.min_roc_auc, "fairness": t.disparate_impact, "drift": t.drift}[monitor]
        metrics = [insufficient(name, records, minimum, threshold=threshold, critical=monitor != "drift")]
        metrics = [
            Metric(
                m.name,
                m.value,
                m.threshold,
                m.direction,
                m.status,
                m.critical,
                f"OpenScale recorded no measurement (it needs at least {minimum} records)",
            )
            for m in metrics
        ]
    details = {"source": "openscale", "measurement_id": (measurement or {}).get("metadata", {}).get("id")}
    return MonitorResult(monitor, metrics, records, minimum, details)


class OpenScaleMonitors:
    """MonitorSubscriptions, logging, evaluations and risk status in one OpenScale data mart."""

    def __init__(
        self,
        credentials: IbmCredentials,
        *,
        url: str = "",
        instance_id: str = "",
        data_mart_id: str = "",
        client_factory: Callable[[IbmCredentials, str, str], Any] | None = None,
        timeout: float = 600.0,
    ) -> None:
        self.credentials = credentials
        self.url = url or credentials.url
        self.instance_id = instance_id or (CPD_INSTANCE if credentials.username else "")
        self.data_mart_id = data_mart_id
        self.timeout = timeout  # seconds OpenScale may take to set something up or run a monitor
        self._factory = client_factory or _api_client
        self._client: Any = None
        self._lock = threading.RLock()

    @property
    def client(self) -> Any:
        """The OpenScale APIClient, built on first use (it contacts the service as it is built)."""
        with self._lock:
            if self._client is None:
                self._client = _call("APIClient()", lambda: self._factory(self.credentials, self.url, self.instance_id))
            return self._client

    def _data_mart(self) -> str:
        if self.data_mart_id:
            return self.data_mart_id
        client = self.client
        marts = _call("data_marts.list", lambda: client.data_marts.list().result.data_marts)
        if marts:
            self.data_mart_id = str(marts[0].metadata.id)
        else:
            made = _call(
                "data_marts.add",
                lambda: client.data_marts.add(
                    name="mlops governance",
                    description="created by the governance dashboard",
                    internal_database=True,
                    background_mode=True,
                ).result,
            )
            self.data_mart_id = str(made.metadata.id)
            self._wait("data_marts", self.data_mart_id, f"OpenScale data mart {self.data_mart_id}")
        return self.data_mart_id

    def _service_provider(self, data_mart_id: str, served: ServedModel) -> str:
        from ibm_watson_openscale.base_classes.watson_open_scale_v2 import WMLCredentialsCP4D
        from ibm_watson_openscale.supporting_classes.enums import ServiceTypes

        client = self.client
        providers = _call(
            "service_providers.list",
            lambda: client.service_providers.list(deployment_space_id=served.space_id).result.service_providers,
        )
        for provider in providers:
            if getattr(provider.entity, "deployment_space_id", None) == served.space_id:
                return str(provider.metadata.id)
        made = _call(
            f"service_providers.add({served.space})",
            lambda: client.service_providers.add(
                name=f"watsonx.ai {served.space} space",
                service_type=ServiceTypes.WATSON_MACHINE_LEARNING,
                deployment_space_id=served.space_id,
                operational_space_id=OPERATIONAL_SPACE[served.space],
                credentials=WMLCredentialsCP4D(),
                background_mode=True,
            ).result,
        )
        provider_id = str(made.metadata.id)
        self._wait("service_providers", provider_id, f"OpenScale service provider {provider_id} ({served.space})")
        return provider_id

    def _wait(self, collection: str, resource_id: str, what: str) -> None:
        """Until the resource is active: OpenScale creates data marts, providers, subscriptions, monitors async."""
        api = getattr(self.client, collection)

        def state() -> str:
            result = _call(f"{collection}.get({resource_id})", lambda: api.get(resource_id).result)
            return str(result.entity.status.state)

        wait_for(
            state,
            ready={"active"},
            failed={"error", "failed"},
            what=what,
            error=ExternalServiceError,
            timeout=self.timeout,
        )

    def _store(self, data_set_id: str, body: Any) -> None:
        """Store records in a data set and wait until OpenScale has taken them."""
        client = self.client
        response = _call(
            f"data_sets.store_records({data_set_id})",
            lambda: client.data_sets.store_records(data_set_id=data_set_id, request_body=body, background_mode=True),
        )
        request_id = (
            str(response.headers.get("Location", response.headers.get("location", ""))).rstrip("/").split("/")[-1]
        )

        def state() -> str:
            status = _call(
                f"data_sets.get_update_status({data_set_id})",
                partial(client.data_sets.get_update_status, data_set_id=data_set_id, request_id=request_id),
            )
            return str(status.result.state)

        wait_for(
            state,
            ready={"active"},
            failed={"error", "failed"},
            error=ExternalServiceError,
            what=f"storing records in OpenScale data set {data_set_id}",
            timeout=self.timeout,
        )

    def subscribe(self, served: ServedModel, *, spec: DataSpec, model_name: str) -> MonitorSubscription:
        """Subscribe the deployment and create its five monitors from ``spec`` (re-used if it exists)."""
        from ibm_watson_openscale.base_classes.watson_open_scale_v2 import (
            Asset,
            AssetDeploymentRequest,
            AssetPropertiesRequest,
            MetricThresholdOverride,
            Target,
        )
        from ibm_watson_openscale.supporting_classes.enums import (
            AssetTypes,
            DataSetTypes,
            DeploymentTypes,
            InputDataType,
            ProblemType,
            TargetTypes,
        )

        with self._lock:
            client = self.client
            data_mart_id = self._data_mart()
            provider_id = self._service_provider(data_mart_id, served)
            asset = Asset(
                asset_id=served.model_id,
                asset_type=AssetTypes.MODEL,
                name=model_name,
                problem_type=ProblemType.BINARY_CLASSIFICATION,
                input_data_type=InputDataType.STRUCTURED,
            )
            deployment = AssetDeploymentRequest(
                deployment_id=served.deployment_id,
                name=model_name,
                deployment_type=DeploymentTypes.ONLINE,
                url=served.scoring_url,
            )
            properties = AssetPropertiesRequest(
                label_column=spec.target,
                labels=list(spec.labels),
                prediction_field="prediction",
                probability_fields=["probability"],
                feature_fields=spec.feature_names,
                categorical_fields=list(spec.categorical),
            )
            sub = _call(
                f"subscriptions.add({served.deployment_id})",
                lambda: client.subscriptions.add(
                    data_mart_id=data_mart_id,
                    service_provider_id=provider_id,
                    asset=asset,
                    deployment=deployment,
                    asset_properties=properties,
                    background_mode=True,
                ).result,
            )
            subscription_id = str(sub.metadata.id)
            self._wait("subscriptions", subscription_id, f"OpenScale subscription {subscription_id}")
            target = Target(target_type=TargetTypes.SUBSCRIPTION, target_id=subscription_id)
            instances: dict[str, str] = {}
            for name, setup in monitor_configuration(spec).items():
                thresholds = [MetricThresholdOverride.from_dict(t) for t in setup.thresholds]
                made = _call(
                    f"monitor_instances.create({name})",
                    partial(
                        client.monitor_instances.create,
                        monitor_definition_id=setup.definition,
                        target=target,
                        parameters=setup.parameters,
                        data_mart_id=data_mart_id,
                        thresholds=thresholds or None,
                        background_mode=True,
                    ),
                )
                instances[name] = str(_id(made))
                self._wait("monitor_instances", instances[name], f"OpenScale {name} monitor {instances[name]}")
            sets = {}
            for kind in (DataSetTypes.PAYLOAD_LOGGING, DataSetTypes.FEEDBACK):
                found = _call(
                    f"data_sets.list({kind})",
                    partial(
                        client.data_sets.list,
                        type=kind,
                        target_target_id=subscription_id,
                        target_target_type=TargetTypes.SUBSCRIPTION,
                    ),
                ).result.data_sets
                if not found:
                    raise ExternalServiceError(f"OpenScale made no {kind} data set for subscription {subscription_id}")
                sets[kind] = str(found[0].metadata.id)
        return MonitorSubscription(
            data_mart_id=data_mart_id,
            service_provider_id=provider_id,
            subscription_id=subscription_id,
            monitor_instances=instances,
            payload_data_set_id=sets[DataSetTypes.PAYLOAD_LOGGING],
            feedback_data_set_id=sets[DataSetTypes.FEEDBACK],
        )

    def log_payload(
        self,
        sub: MonitorSubscription,
        *,
        fields: Sequence[str],
        values: Sequence[Sequence[Any]],
        labels: Sequence[str],
        probabilities: Sequence[Sequence[float]],
    ) -> None:
        """Log one scoring request (its records and the deployment's answers) to the payload data set."""
        from ibm_watson_openscale.supporting_classes.payload_record import PayloadRecord

        record = PayloadRecord(
            request={"fields": list(fields), "values": [list(v) for v in values]},
            response={
                "fields": ["prediction", "probability"],
                "values": [[label, list(p)] for label, p in zip(labels, probabilities, strict=True)],
            },
            scoring_id=uuid.uuid4().hex,
            response_time=1,
        )
        self._store(sub.payload_data_set_id, [record])

    def log_feedback(self, sub: MonitorSubscription, *, fields: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
        """Log labelled records (features and the true label) to the feedback data set."""
        self._store(sub.feedback_data_set_id, [{"fields": list(fields), "values": [list(v) for v in values]}])

    def evaluate(self, sub: MonitorSubscription, *, spec: DataSpec, records: Mapping[str, int]) -> list[MonitorResult]:
        """Run quality, fairness and drift now and read what each run measured; ``records``: how many it saw."""
        client = self.client
        minimums = {
            "quality": spec.thresholds.quality_min_records,
            "fairness": spec.thresholds.fairness_min_records,
            "drift": spec.thresholds.drift_min_records,
        }
        results = []
        for monitor in ("quality", "fairness", "drift"):
            instance = sub.monitor_instances[monitor]
            started = datetime.now(UTC) - timedelta(minutes=1)
            run = _call(
                f"monitor_instances.run({monitor})",
                partial(client.monitor_instances.run, monitor_instance_id=instance, background_mode=True),
            )
            run_id = _id(run)

            def state(i: str = instance, r: str = run_id) -> str:
                details = _call(
                    f"monitor_instances.get_run_details({i})",
                    partial(client.monitor_instances.get_run_details, monitor_instance_id=i, monitoring_run_id=r),
                )
                return str(details.result.entity.status.state)

            wait_for(
                state,
                ready={"finished"},
                failed={"error", "failed"},
                error=ExternalServiceError,
                what=f"OpenScale {monitor} run {run_id}",
                timeout=self.timeout,
            )
            found = _call(
                f"monitor_instances.measurements.list({monitor})",
                partial(
                    client.monitor_instances.measurements.list,
                    monitor_instance_id=instance,
                    start=started,
                    end=datetime.now(UTC) + timedelta(minutes=1),
                    run_id=run_id,
                ),
            ).result
            measurements = (
                found.to_dict().get("measurements", []) if hasattr(found, "to_dict") else found["measurements"]
            )
            this_run = [m for m in measurements if m.get("entity", {}).get("run_id") == run_id]
            results.append(
                measurement_results(
                    monitor,
                    this_run[0] if this_run else None,
                    spec,
                    minimum=minimums[monitor],
                    records=records.get(monitor, 0),
                )
            )
        return results

    def set_risk_status(self, sub: MonitorSubscription, *, approved: bool) -> None:
        """Record our decision as the MRM risk evaluation status ("approve for production" in OpenScale)."""
        client = self.client
        state = "approved" if approved else "rejected"
        _call(
            f"monitor_instances.mrm.update_risk_evaluation_status({state})",
            lambda: client.monitor_instances.mrm.update_risk_evaluation_status(
                subscription_id=sub.subscription_id, state=state
            ),
        )

    def unsubscribe(self, sub: MonitorSubscription) -> None:
        client = self.client
        _call(
            f"subscriptions.delete({sub.subscription_id})",
            lambda: client.subscriptions.delete(subscription_id=sub.subscription_id, background_mode=False),
        )


def _id(response: Any) -> str:
    result = getattr(response, "result", response)
    metadata = getattr(result, "metadata", None) or (result.get("metadata") if isinstance(result, dict) else None)
    return str(getattr(metadata, "id", None) or metadata["id"])  # type: ignore[index]


def _api_client(credentials: IbmCredentials, url: str, instance_id: str) -> Any:
    from ibm_cloud_sdk_core.authenticators import CloudPakForDataAuthenticator, IAMAuthenticator
    from ibm_watson_openscale import APIClient  # the IBM extra; imported only when selected

    if credentials.username:
        authenticator = CloudPakForDataAuthenticator(
            url=f"{credentials.url}/icp4d-api",
            username=credentials.username,
            apikey=credentials.api_key,
            disable_ssl_verification=False,
        )
    else:
        authenticator = IAMAuthenticator(apikey=credentials.api_key)
    return APIClient(authenticator=authenticator, service_url=url, service_instance_id=instance_id or None)
