"""AI Factsheets, through ``ibm-aigov-facts-client``: model assets tracked in an AI use case, facts per stage.

Each model asset a deployment space holds (the pre-prod one the pipeline deployed, the prod
one an approval deployed) is tracked in the configured AI use case under an approach, one
version per model asset; its lifecycle phase (Validate, Operate) follows from the space's
association with the use case, which is how AI Factsheets phases WML models. The product's
facts at each stage (the run, the artifact hash, test and evaluation outcomes; later the
approval) are set as custom facts on the asset. Custom facts need their definitions
loaded once by an administrator (``docs/factsheets_facts.csv``); the client silently skips
undefined facts, so every write is read back and a missing definition is an error naming it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pipeline_core.backends.base import ServedModel
from pipeline_core.backends.ibm.errors import sdk_call
from pipeline_core.backends.ibm.wml import IbmCredentials
from pipeline_core.errors import ConfigError, ExternalServiceError

SERVICE = "AI Factsheets"
FACTS = (
    "mlops_stage",
    "mlops_model_version",
    "mlops_run_id",
    "mlops_artifact_sha256",
    "mlops_roc_auc",
    "mlops_model_tests",
    "mlops_evaluation_status",
    "mlops_risk_level",
    "mlops_decision",
    "mlops_decided_by",
    "mlops_decision_comment",
    "mlops_decided_at",
)
T = TypeVar("T")


def _call(call: str, fn: Callable[[], T]) -> T:
    return sdk_call(SERVICE, call, fn)


class AIFactsheets:
    """Tracks model assets in one AI use case and sets the product's facts on them."""

    def __init__(
        self,
        credentials: IbmCredentials,
        *,
        usecase_id: str,
        catalog_id: str,
        approach_id: str = "",
        work_dir: Path,
        client_factory: Callable[[IbmCredentials, str], Any] | None = None,
    ) -> None:
        if not usecase_id or not catalog_id:
            raise ConfigError(
                "AI Factsheets needs the AI use case and its inventory (catalog): "
                "MLOPS_FACTSHEETS_USECASE_ID and MLOPS_FACTSHEETS_CATALOG_ID"
            )
        self.credentials = credentials
        self.usecase_id, self.catalog_id, self.approach_id = usecase_id, catalog_id, approach_id
        self.work_dir = work_dir
        self._factory = client_factory or _facts_client
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()

    def client(self, space_id: str) -> Any:
        """The facts client for one space, built on first use (it refuses to start without credentials)."""
        with self._lock:
            if space_id not in self._clients:
                self.work_dir.mkdir(parents=True, exist_ok=True)
                # The client keeps an MLflow experiment in ./mlruns of the working folder, whatever
                # MLFLOW_TRACKING_URI says; build it from our work folder so nothing lands elsewhere.
                with contextlib.chdir(self.work_dir):
                    self._clients[space_id] = _call(
                        "AIGovFactsClient()", lambda: self._factory(self.credentials, space_id)
                    )
            return self._clients[space_id]

    def _model(self, served: ServedModel) -> Any:
        client = self.client(served.space_id)
        return _call(
            f"assets.get_model({served.model_id})",
            lambda: client.assets.get_model(
                model_id=served.model_id, container_type="space", container_id=served.space_id
            ),
        )

    def record(self, served: ServedModel, facts: Mapping[str, Any]) -> None:
        """Set ``facts`` on the served model asset; every one must be defined (read back to make sure)."""
        unknown = sorted(set(facts) - set(FACTS))
        if unknown:
            raise ConfigError(f"facts {unknown} are not among the product's fact definitions {list(FACTS)}")
        values = {k: v for k, v in facts.items() if v is not None}
        with self._lock:
            model = self._model(served)
            _call(f"set_custom_facts({served.model_id})", lambda: model.set_custom_facts(dict(values)))
            try:
                stored = _call(f"get_custom_facts({served.model_id})", lambda: model.get_custom_facts()) or {}
            except ExternalServiceError as exc:
                if "404" not in str(exc):  # 404: the asset has no user facts at all: none was kept
                    raise
                stored = {}
        missing = sorted(k for k in values if k not in stored)
        if missing:
            raise ConfigError(
                f"AI Factsheets did not keep fact(s) {missing} on model asset {served.model_id}: their definitions "
                "are not loaded; an administrator loads docs/factsheets_facts.csv once (see docs/ibm.md)"
            )

    def track(self, served: ServedModel, *, comment: str) -> None:
        """Track the served model asset in the AI use case (a new minor version of the approach)."""
        with self._lock:
            model = self._model(served)
            client = self.client(served.space_id)
            usecase = _call(
                f"assets.get_ai_usecase({self.usecase_id})",
                lambda: client.assets.get_ai_usecase(ai_usecase_id=self.usecase_id, catalog_id=self.catalog_id),
            )
            approaches = _call(f"get_approaches({self.usecase_id})", lambda: usecase.get_approaches())
            chosen = [a for a in approaches if not self.approach_id or a.get_id() == self.approach_id]
            if not chosen:
                raise ConfigError(f"AI use case {self.usecase_id} has no approach {self.approach_id!r}")
            _call(
                f"track({served.model_id})",
                lambda: model.track(
                    usecase=usecase, approach=chosen[0], version_number="minor", version_comment=comment
                ),
            )


def _facts_client(credentials: IbmCredentials, space_id: str) -> Any:
    from ibm_aigov_facts_client import AIGovFactsClient, CloudPakforDataConfig  # the IBM extra, only when selected

    if credentials.ca_bundle:  # the facts client calls requests without a verify argument: it reads this
        os.environ["REQUESTS_CA_BUNDLE"] = credentials.ca_bundle

    if credentials.username:
        return AIGovFactsClient(
            cloud_pak_for_data_configs=CloudPakforDataConfig(
                service_url=credentials.url, username=credentials.username, api_key=credentials.api_key
            ),
            experiment_name="mlops-governance",
            container_type="space",
            container_id=space_id,
            set_as_current_experiment=True,
            enable_autolog=False,
        )
    return AIGovFactsClient(
        api_key=credentials.api_key,
        experiment_name="mlops-governance",
        container_type="space",
        container_id=space_id,
        set_as_current_experiment=True,
        enable_autolog=False,
    )
