"""The AI Factsheets backend: the real ``ibm-aigov-facts-client`` against the fake Cloud Pak for Data."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_core.backends.base import ModelToServe, ServedModel
from pipeline_core.backends.ibm.factsheets import FACTS, AIFactsheets
from pipeline_core.backends.ibm.wml import IbmCredentials, WatsonxDeploymentTarget
from pipeline_core.errors import ConfigError, ExternalServiceError
from tests.backends.conftest import API_KEY, SPEC, USER, Model
from tests.conftest import REPO
from tests.ibm_fake import FakeCloudPak

FACTS_CSV = REPO / "docs" / "factsheets_facts.csv"


@pytest.fixture
def served(fake_cpd: FakeCloudPak, model_a: Model, monkeypatch: pytest.MonkeyPatch) -> ServedModel:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_cpd.ca_path))  # undone after the test, whoever set it
    creds = IbmCredentials(url=fake_cpd.url, api_key=API_KEY, username=USER, ca_bundle=str(fake_cpd.ca_path))
    target = WatsonxDeploymentTarget(
        creds, spaces={"preprod": fake_cpd.add_space("pre"), "prod": fake_cpd.add_space("p")}
    )
    return target.deploy(
        ModelToServe(
            name="credit-risk-preprod",
            space="preprod",
            artifact=model_a.artifact,
            artifact_sha256=model_a.sha256,
            spec=SPEC,
        )
    )


def factsheets(fake: FakeCloudPak, work: Path, served: ServedModel, **kwargs: str) -> AIFactsheets:
    usecase, catalog = fake.add_usecase("credit risk scoring", phases={served.space_id: "Validate"})
    creds = IbmCredentials(url=fake.url, api_key=API_KEY, username=USER, ca_bundle=str(fake.ca_path))
    return AIFactsheets(creds, usecase_id=kwargs.get("usecase_id", usecase), catalog_id=catalog, work_dir=work)


def test_the_model_is_tracked_in_the_use_case_with_the_product_s_facts(
    fake_cpd: FakeCloudPak, served: ServedModel, tmp_path: Path
) -> None:
    fake_cpd.define_facts(FACTS_CSV)
    service = factsheets(fake_cpd, tmp_path / "work", served)
    assert not [c for c in fake_cpd.state.calls if c.path.startswith("/v1/aigov")]  # nothing contacted yet
    service.track(served, comment="credit-risk version 1: candidate")
    facts = {
        "mlops_stage": "pre-prod evaluation",
        "mlops_artifact_sha256": served.artifact_sha256,
        "mlops_roc_auc": 0.81,
        "mlops_model_tests": "9 of 10 passed",
    }
    service.record(served, facts)
    assert fake_cpd.state.facts[served.model_id] == facts
    usecase = next(iter(fake_cpd.state.usecases.values()))
    assert usecase["tracked"] == [
        {"model_id": served.model_id, "space_id": served.space_id, "version": "0.1.0", "phase": "Validate"}
    ]
    assert usecase["approaches"][0]["versions"][-1]["comment"] == "credit-risk version 1: candidate"
    assert (tmp_path / "work" / "mlruns").is_dir() and not (Path.cwd() / "mlruns").exists()


def test_every_fact_the_product_sets_has_a_definition_in_the_shipped_csv() -> None:
    names = [line.split(",")[0] for line in FACTS_CSV.read_text(encoding="utf-8").splitlines()[1:]]
    assert names == list(FACTS)


def test_facts_without_definitions_are_an_error_not_silently_dropped(
    fake_cpd: FakeCloudPak, served: ServedModel, tmp_path: Path
) -> None:
    service = factsheets(fake_cpd, tmp_path / "work", served)  # no administrator loaded the definitions
    with pytest.raises(ConfigError, match=r"did not keep fact\(s\) \['mlops_stage'\].*docs/factsheets_facts.csv"):
        service.record(served, {"mlops_stage": "pre-prod evaluation"})


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ("unknown fact", ConfigError, r"facts \['colour'\] are not among the product's fact definitions"),
        ("unknown use case", ExternalServiceError, r"AI Factsheets assets.get_ai_usecase\(no-such-use-case\) failed"),
    ],
)
def test_factsheet_failures_name_the_service_and_the_call(
    fake_cpd: FakeCloudPak, served: ServedModel, tmp_path: Path, change: str, error: type, message: str
) -> None:
    fake_cpd.define_facts(FACTS_CSV)
    if change == "unknown fact":
        with pytest.raises(error, match=message):
            factsheets(fake_cpd, tmp_path, served).record(served, {"colour": "blue"})
    else:
        with pytest.raises(error, match=message):
            factsheets(fake_cpd, tmp_path, served, usecase_id="no-such-use-case").track(served, comment="x")


def test_the_use_case_and_inventory_are_required(tmp_path: Path) -> None:
    creds = IbmCredentials(url="https://cpd.example", api_key="k", username="u")
    with pytest.raises(ConfigError, match="MLOPS_FACTSHEETS_USECASE_ID and MLOPS_FACTSHEETS_CATALOG_ID"):
        AIFactsheets(creds, usecase_id="", catalog_id="c", work_dir=tmp_path)
