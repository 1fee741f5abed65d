"""The deployment targets' contract (local and watsonx.ai), and the watsonx.ai target at the HTTP boundary.

The watsonx.ai target runs the real ``ibm-watsonx-ai`` SDK against ``tests/ibm_fake.py``,
a local HTTPS stand-in for Cloud Pak for Data's REST endpoints that scores the archive it
was sent with scikit-learn.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline_core.backends.base import DeploymentTarget, ModelToServe, Prediction, ServedModel
from pipeline_core.backends.ibm.wml import IbmCredentials, WatsonxDeploymentTarget
from pipeline_core.backends.local import LocalDeploymentTarget
from pipeline_core.errors import AuthError, ConfigError, DeploymentError, NotFoundError
from pipeline_core.store.artifacts import LocalArtifactStore
from tests.backends.conftest import API_KEY, SOFTWARE_SPEC, SPEC, USER, Model
from tests.ibm_fake import FakeCloudPak


def credentials(fake: FakeCloudPak, *, api_key: str = API_KEY) -> IbmCredentials:
    return IbmCredentials(url=fake.url, username=USER, api_key=api_key, ca_bundle=str(fake.ca_path))


def watsonx(fake: FakeCloudPak, **kwargs: object) -> WatsonxDeploymentTarget:
    spaces = {"preprod": fake.add_space("credit preprod"), "prod": fake.add_space("credit prod")}
    return WatsonxDeploymentTarget(credentials(fake), spaces=spaces, software_spec=SOFTWARE_SPEC, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "ibm"])
def target(
    request: pytest.FixtureRequest, tmp_path: Path, model_a: Model, model_b: Model
) -> Iterator[DeploymentTarget]:
    if request.param == "local":
        store = LocalArtifactStore(tmp_path / "artifacts")
        store.put(model_a.artifact)
        store.put(model_b.artifact)
        yield LocalDeploymentTarget(store)
    else:
        yield watsonx(request.getfixturevalue("fake_cpd"))


def to_serve(model: Model, space: str = "preprod") -> ModelToServe:
    return ModelToServe(
        name=f"credit-risk-{space}", space=space, artifact=model.artifact, artifact_sha256=model.sha256, spec=SPEC
    )


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def risk(predictions: list[Prediction]) -> np.ndarray:
    return np.array([p.probabilities["Risk"] for p in predictions])


def expected_risk(model: Model, records: pd.DataFrame) -> np.ndarray:
    proba = model.pipeline.predict_proba(records)
    return proba[:, list(model.pipeline.classes_).index("Risk")]


# --- the contract: every target -------------------------------------------------------------------


def test_deployed_model_scores_like_the_model_it_was_given(
    target: DeploymentTarget, model_a: Model, records: pd.DataFrame
) -> None:
    served = target.deploy(to_serve(model_a))
    assert served.artifact_sha256 == model_a.sha256 and served.space == "preprod"
    predictions = target.score(served, rows(records))
    assert len(predictions) == len(records)
    np.testing.assert_allclose(risk(predictions), expected_risk(model_a, records), rtol=1e-9)
    assert [p.label for p in predictions] == list(model_a.pipeline.predict(records))
    assert ServedModel.from_dict(served.to_dict()) == served


def test_replacing_keeps_the_deployment_and_serves_the_new_model(
    target: DeploymentTarget, model_a: Model, model_b: Model, records: pd.DataFrame
) -> None:
    first = target.deploy(to_serve(model_a))
    second = target.deploy(to_serve(model_b), replacing=first)
    assert second.deployment_id == first.deployment_id and second.scoring_url == first.scoring_url
    assert second.artifact_sha256 == model_b.sha256
    scored = risk(target.score(second, rows(records)))
    np.testing.assert_allclose(scored, expected_risk(model_b, records), rtol=1e-9)
    assert not np.allclose(scored, expected_risk(model_a, records))  # the two models differ


def test_deleted_deployment_no_longer_scores_and_deleting_twice_is_fine(
    target: DeploymentTarget, model_a: Model, records: pd.DataFrame
) -> None:
    served = target.deploy(to_serve(model_a))
    target.delete(served)
    target.delete(served)
    with pytest.raises(DeploymentError, match=served.deployment_id):
        target.score(served, rows(records.head(1)))


# --- watsonx.ai at the HTTP boundary ---------------------------------------------------------------


def test_watsonx_stores_the_exact_artifact_tagged_with_its_hash(fake_cpd: FakeCloudPak, model_a: Model) -> None:
    target = watsonx(fake_cpd)
    served = target.deploy(to_serve(model_a))
    model = fake_cpd.state.models[served.model_id]
    assert model["metadata"]["tags"][0] == f"sha256:{model_a.sha256}"
    assert model["entity"]["type"] == "scikit-learn_1.6" and model["entity"]["label_column"] == "Risk"
    assert model["metadata"]["space_id"] == target.spaces["preprod"]
    with tarfile.open(fileobj=io.BytesIO(fake_cpd.state.contents[served.model_id]), mode="r:gz") as tar:
        handle = tar.extractfile("model.joblib")
        assert handle is not None
        assert hashlib.sha256(handle.read()).hexdigest() == model_a.sha256
    deployment = fake_cpd.state.deployments[served.deployment_id]
    assert deployment["entity"]["asset"]["id"] == served.model_id and "online" in deployment["entity"]
    assert served.scoring_url.endswith(f"/ml/v4/deployments/{served.deployment_id}/predictions")
    assert all(c.authorization.startswith("Bearer ") for c in fake_cpd.requests("POST", "/ml/v4"))


def test_watsonx_replacement_patches_the_live_deployment_then_deletes_the_old_asset(
    fake_cpd: FakeCloudPak, model_a: Model, model_b: Model
) -> None:
    target = watsonx(fake_cpd)
    first = target.deploy(to_serve(model_a))
    second = target.deploy(to_serve(model_b), replacing=first)
    patches = fake_cpd.requests("PATCH", f"/ml/v4/deployments/{first.deployment_id}")
    assert len(patches) == 1 and second.model_id in patches[0].body.decode()
    assert not fake_cpd.requests("DELETE", "/ml/v4/deployments")  # the endpoint was never down
    assert set(fake_cpd.state.models) == {second.model_id}  # the old asset went after the switch
    order = [(c.method, c.path) for c in fake_cpd.state.calls if c.method in ("PATCH", "DELETE")]
    assert order[0][0] == "PATCH" and order[-1] == ("DELETE", f"/v2/assets/{first.model_id}")


def test_prod_goes_to_the_prod_space(fake_cpd: FakeCloudPak, model_a: Model) -> None:
    target = watsonx(fake_cpd)
    served = target.deploy(to_serve(model_a, "prod"))
    assert served.space_id == target.spaces["prod"] != target.spaces["preprod"]
    assert fake_cpd.state.deployments[served.deployment_id]["metadata"]["space_id"] == target.spaces["prod"]


def test_watsonx_client_is_built_on_first_use_only(fake_cpd: FakeCloudPak) -> None:
    target = watsonx(fake_cpd)
    assert fake_cpd.state.calls == []  # constructing the target contacts nobody
    assert API_KEY not in repr(target.credentials)


def test_failed_deployment_leaves_no_model_asset_behind(fake_cpd: FakeCloudPak, model_a: Model) -> None:
    target = watsonx(fake_cpd)
    fake_cpd.state.fail_next[("POST", "/ml/v4/deployments")] = (400, "deployment_failed", "no hardware available")
    with pytest.raises(DeploymentError, match=r"watsonx.ai deployments.create\(credit-risk-preprod\) failed"):
        target.deploy(to_serve(model_a))
    assert fake_cpd.state.models == {} and fake_cpd.state.deployments == {}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ("api_key", AuthError, r"watsonx.ai APIClient\(\) failed"),
        ("software_spec", NotFoundError, r"get_id_by_name\(runtime-0.1-py2.7\) failed"),
        ("space", ConfigError, r"set.default_space\(no-such-space\) failed"),
        ("scoring", DeploymentError, r"deployments.score\(.+\) failed: .*model exploded"),
    ],
)
def test_watsonx_failures_name_the_service_and_the_call(
    fake_cpd: FakeCloudPak, model_a: Model, records: pd.DataFrame, change: str, error: type, message: str
) -> None:
    target = watsonx(fake_cpd)
    if change == "api_key":
        target = WatsonxDeploymentTarget(credentials(fake_cpd, api_key="wrong"), spaces=target.spaces)
    elif change == "software_spec":
        target.software_spec = "runtime-0.1-py2.7"
    elif change == "space":
        target.spaces["preprod"] = "no-such-space"
    if change == "scoring":
        served = target.deploy(to_serve(model_a))
        fake_cpd.state.fail_next[("POST", "/ml/v4/deployments/")] = (400, "scoring_failed", "model exploded")
        with pytest.raises(error, match=message):
            target.score(served, rows(records.head(2)))
        return
    with pytest.raises(error, match=message):
        target.deploy(to_serve(model_a))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "", "api_key": "k"}, "need ibm_url"),
        ({"url": "http://cpd.example", "api_key": "k"}, "must be an https:// URL"),
        ({"url": "https://cpd.example", "api_key": ""}, "MLOPS_IBM_API_KEY"),
        ({"url": "https://cpd.example", "api_key": "k", "ca_bundle": "/no/such/ca.pem"}, "ibm_ca_bundle"),
    ],
)
def test_credentials_are_checked_before_any_call(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IbmCredentials(**kwargs)


def test_a_space_for_preprod_and_prod_is_required() -> None:
    creds = IbmCredentials(url="https://cpd.example", api_key="k")
    with pytest.raises(ConfigError, match="MLOPS_IBM_SPACE_PROD"):
        WatsonxDeploymentTarget(creds, spaces={"preprod": "p"})
