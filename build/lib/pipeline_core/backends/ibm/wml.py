"""Deployments on watsonx.ai (Watson Machine Learning) deployment spaces, through ``ibm-watsonx-ai``.

One model version goes online in three calls: store the artifact as a model asset of the
space with its software specification (the exact joblib bytes, tagged with their sha256,
so what WML serves is what the approval cites), create an online deployment, wait until
it is ready. Replacing the version a deployment serves patches the deployment's asset:
WML keeps serving the old model until the new one is up, and the scoring URL (which
OpenScale's subscription points at) stays the same. The old model asset is deleted after.

Model assets are stored in the target space directly (``preprod`` and ``prod`` spaces are
set in settings); a production deployment stores the same verified artifact again in the
prod space rather than promoting from a project, because our source of truth is the
artifact store, not a Watson Studio project.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pipeline_core.backends.base import ModelToServe, Prediction, ServedModel
from pipeline_core.backends.ibm.errors import classify, map_sdk_error, sdk_call
from pipeline_core.backends.ibm.polling import wait_for
from pipeline_core.errors import ConfigError, DeploymentError, PipelineError

SERVICE = "watsonx.ai"
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class IbmCredentials:
    """How to reach Cloud Pak for Data (url + username + api key) or IBM Cloud (url + IAM api key)."""

    url: str
    api_key: str
    username: str = ""  # empty: IBM Cloud (IAM); set: Cloud Pak for Data
    version: str = "5.1"  # Cloud Pak for Data release
    ca_bundle: str = ""  # CA certificates for a cluster with its own CA; empty: the system's

    def __post_init__(self) -> None:
        if not self.url or not self.api_key:
            raise ConfigError("the IBM backends need ibm_url (MLOPS_IBM_URL) and the secret MLOPS_IBM_API_KEY")
        if not self.url.startswith("https://"):
            raise ConfigError(f"ibm_url {self.url!r} must be an https:// URL")
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            raise ConfigError(f"ibm_ca_bundle {self.ca_bundle!r} is not a file")

    def __repr__(self) -> str:  # the API key never reaches a log
        return f"IbmCredentials(url={self.url!r}, username={self.username!r}, version={self.version!r})"

    @property
    def verify(self) -> str | bool:
        return self.ca_bundle or True


def _call(call: str, fn: Callable[[], T]) -> T:
    return sdk_call(SERVICE, call, fn)


def model_archive(artifact: bytes) -> bytes:
    """The tar.gz WML expects for a scikit-learn model: the joblib file at its root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = len(artifact)
        tar.addfile(info, io.BytesIO(artifact))
    return buffer.getvalue()


class WatsonxDeploymentTarget:
    """Online deployments in watsonx.ai deployment spaces, one space per our space."""

    backend = "ibm"

    def __init__(
        self,
        credentials: IbmCredentials,
        *,
        spaces: Mapping[str, str],
        software_spec: str = "runtime-25.1-py3.12",
        model_type: str = "scikit-learn_1.6",
        client_factory: Callable[[IbmCredentials], Any] | None = None,
        timeout: float = 600.0,
    ) -> None:
        missing = [s for s in ("preprod", "prod") if not spaces.get(s)]
        if missing:
            raise ConfigError(
                f"the watsonx.ai deployment target needs a space id for {missing[0]!r} "
                f"(MLOPS_IBM_SPACE_{missing[0].upper()})"
            )
        self.credentials = credentials
        self.spaces = dict(spaces)
        self.software_spec = software_spec
        self.model_type = model_type
        self.timeout = timeout  # seconds a deployment may take to become ready
        self._factory = client_factory or _api_client
        self._client: Any = None
        self._lock = threading.RLock()  # the SDK client keeps its default space as state

    def client(self, space_id: str) -> Any:
        """The APIClient (built on first use: it contacts the service) with ``space_id`` as default."""
        with self._lock:
            if self._client is None:
                self._client = _call("APIClient()", lambda: self._factory(self.credentials))
            client = self._client
            _call(f"set.default_space({space_id})", lambda: client.set.default_space(space_id))
            return client

    def space_id(self, space: str) -> str:
        if space not in self.spaces or not self.spaces[space]:
            raise ConfigError(f"no watsonx.ai deployment space is configured for our space {space!r}")
        return self.spaces[space]

    def deploy(self, model: ModelToServe, *, replacing: ServedModel | None = None) -> ServedModel:
        space_id = self.space_id(model.space)
        with self._lock:
            client = self.client(space_id)
            model_id = self._store_model(client, model)
            try:
                if replacing is not None and replacing.backend == self.backend and replacing.space_id == space_id:
                    deployment_id = self._switch(client, replacing.deployment_id, model_id)
                else:
                    deployment_id = self._create_deployment(client, model, model_id)
            except PipelineError:
                self._forget_model(client, model_id)  # nothing half-made stays behind
                raise
            details = _call("deployments.get_details", lambda: client.deployments.get_details(deployment_id))
            scoring_url = str(client.deployments.get_scoring_href(details))
        if replacing is not None and replacing.backend == self.backend and replacing.model_id != model_id:
            with self._lock:
                self._forget_model(self.client(replacing.space_id), replacing.model_id)
        return ServedModel(
            backend=self.backend,
            space=model.space,
            space_id=space_id,
            model_id=model_id,
            deployment_id=deployment_id,
            artifact_sha256=model.artifact_sha256,
            scoring_url=scoring_url,
            classes=tuple(sorted(model.spec.labels)),  # scikit-learn orders classes_ by sorting the labels
        )

    def _store_model(self, client: Any, model: ModelToServe) -> str:
        names = client.repository.ModelMetaNames
        spec_id = _call(
            f"software_specifications.get_id_by_name({self.software_spec})",
            lambda: client.software_specifications.get_id_by_name(self.software_spec),
        )
        if not spec_id or spec_id == "Not Found":
            raise ConfigError(f"watsonx.ai has no software specification {self.software_spec!r}")
        meta = {
            names.NAME: model.name,
            names.TYPE: self.model_type,
            names.SOFTWARE_SPEC_ID: spec_id,
            names.DESCRIPTION: model.description or f"artifact sha256 {model.artifact_sha256}",
            names.LABEL_FIELD: model.spec.target,
            names.TAGS: [f"sha256:{model.artifact_sha256}", *model.tags],
        }
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.tar.gz"
            path.write_bytes(model_archive(model.artifact))
            details = _call(
                f"repository.store_model({model.name})", lambda: client.repository.store_model(str(path), meta)
            )
        return str(client.repository.get_model_id(details))

    def _create_deployment(self, client: Any, model: ModelToServe, model_id: str) -> str:
        names = client.deployments.ConfigurationMetaNames
        meta = {names.NAME: model.name, names.ONLINE: {}, names.DESCRIPTION: f"sha256 {model.artifact_sha256}"}
        details = _call(
            f"deployments.create({model.name})",
            lambda: _quietly(lambda: client.deployments.create(model_id, meta, background_mode=True)),
        )
        deployment_id = str(client.deployments.get_id(details))
        self._wait_ready(client, deployment_id, f"watsonx.ai deployment {deployment_id} ({model.name})")
        return deployment_id

    def _switch(self, client: Any, deployment_id: str, model_id: str) -> str:
        names = client.deployments.ConfigurationMetaNames
        _call(
            f"deployments.update({deployment_id})",
            lambda: _quietly(
                lambda: client.deployments.update(deployment_id, {names.ASSET: {"id": model_id}}, background_mode=True)
            ),
        )
        self._wait_ready(client, deployment_id, f"watsonx.ai deployment {deployment_id} switching to model {model_id}")
        return deployment_id

    def _wait_ready(self, client: Any, deployment_id: str, what: str) -> None:
        def state() -> str:
            details = _call(
                f"deployments.get_details({deployment_id})", lambda: client.deployments.get_details(deployment_id)
            )
            return str(details["entity"]["status"]["state"])

        wait_for(state, ready={"ready"}, failed={"failed"}, what=what, error=DeploymentError, timeout=self.timeout)

    def _forget_model(self, client: Any, model_id: str) -> None:
        try:
            client.repository.delete(model_id)
        except Exception as exc:
            if not _gone(exc):
                raise map_sdk_error(exc, service=SERVICE, call=f"repository.delete({model_id})") from exc

    def score(self, served: ServedModel, records: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        if not records:
            return []
        fields = list(records[0])
        payload = {"input_data": [{"fields": fields, "values": [[r.get(f) for f in fields] for r in records]}]}
        with self._lock:
            client = self.client(served.space_id)
            answer = _call(
                f"deployments.score({served.deployment_id})",
                lambda: client.deployments.score(served.deployment_id, payload),
            )
        return parse_predictions(answer, served.deployment_id, len(records), served.classes)

    def delete(self, served: ServedModel) -> None:
        with self._lock:
            client = self.client(served.space_id)
            try:
                client.deployments.delete(served.deployment_id)
            except Exception as exc:
                if not _gone(exc):
                    raise map_sdk_error(
                        exc, service=SERVICE, call=f"deployments.delete({served.deployment_id})"
                    ) from exc
            self._forget_model(client, served.model_id)


def _quietly(fn: Callable[[], T]) -> T:
    """``fn`` with the SDK's background-mode warnings and banners kept out of our logs."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", UserWarning)
        return fn()


def _gone(exc: Exception) -> bool:
    """Whether a delete failed only because the object is already gone (deleting is idempotent)."""
    # The SDK reports a missing asset or deployment as a plain WMLClientError; its text says so.
    return classify(exc) == "not_found" or "does not exist" in str(exc) or "not found" in str(exc).lower()


def parse_predictions(answer: Any, deployment_id: str, expected: int, classes: Sequence[str]) -> list[Prediction]:
    """WML's ``{"predictions": [{"fields": [...], "values": [[label, [p...]], ...]}]}`` as Predictions."""
    try:
        block = answer["predictions"][0]
        fields = list(block["fields"])
        at_label, at_proba = fields.index("prediction"), fields.index("probability")
        out = []
        for row in block["values"]:
            probabilities = [float(p) for p in row[at_proba]]
            names = list(classes) or [str(i) for i in range(len(probabilities))]
            out.append(Prediction(str(row[at_label]), dict(zip(names, probabilities, strict=True))))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise DeploymentError(
            f"watsonx.ai deployment {deployment_id} answered without usable predictions: {str(answer)[:200]}"
        ) from exc
    if len(out) != expected:
        raise DeploymentError(f"watsonx.ai deployment {deployment_id} answered {len(out)} predictions for {expected}")
    return out


def _api_client(credentials: IbmCredentials) -> Any:
    from ibm_watsonx_ai import APIClient, Credentials  # the IBM extra; imported only when selected

    if credentials.username:
        creds = Credentials(
            url=credentials.url,
            username=credentials.username,
            api_key=credentials.api_key,
            version=credentials.version,
            verify=credentials.verify,
        )
    else:
        creds = Credentials(url=credentials.url, api_key=credentials.api_key, verify=credentials.verify)
    return APIClient(creds)
