"""The product with deployment_backend = "ibm": the pipeline, approvals, rollback and deletes on watsonx.ai.

Everything runs for real (worker, pipeline, services, the ``ibm-watsonx-ai`` SDK) against
the local HTTPS stand-in for Cloud Pak for Data (``tests/ibm_fake.py``); nothing of ours is
patched.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline_core.backends.base import MonitorSubscription, ServedModel
from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import count_payload as payload_count
from pipeline_core.services.deployments import Checkpoint, _endpoints, score_over_http
from pipeline_core.services.runs import get_run, list_runs
from pipeline_core.store.models import AuditEvent, Deployment, Evaluation, ModelVersion
from tests.ibm_fake import FakeCloudPak
from tests.services.helpers import make_candidate
from tests.states import TEST_SCALE_MINIMUMS


def _served(ctx: ServiceContext, space: str) -> tuple[Deployment, ServedModel]:
    with ctx.db.read() as session:
        dep = session.execute(
            select(Deployment).where(Deployment.space == space, Deployment.status == "active")
        ).scalar_one()
        assert dep.served is not None
        return dep, ServedModel.from_dict(dep.served)


def _sha(ctx: ServiceContext, mv_id: int) -> str:
    with ctx.db.read() as session:
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None
        return mv.artifact_sha256


def _archive_sha(fake: FakeCloudPak, model_id: str) -> str:
    with tarfile.open(fileobj=io.BytesIO(fake.state.contents[model_id]), mode="r:gz") as tar:
        handle = tar.extractfile("model.joblib")
        assert handle is not None
        return hashlib.sha256(handle.read()).hexdigest()


def _approve(ctx: ServiceContext, vera: Principal, mv_id: int) -> governance.ApprovalOutcome:
    return governance.approve(
        ctx, vera, mv_id, comment="quality, fairness and tests hold", artifact_sha256=_sha(ctx, mv_id)
    )


def test_the_pipeline_deploys_to_the_preprod_space_and_evaluates_through_watsonx(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, tmp_path: Path
) -> None:
    mv_id = make_candidate(ibm_ctx, crew["dora"], tmp_path)
    dep, served = _served(ibm_ctx, "preprod")
    assert served.backend == "ibm" and served.space_id == ibm_ctx.settings.ibm_space_preprod
    wml = fake_cpd.state.deployments[served.deployment_id]
    assert wml["metadata"]["space_id"] == ibm_ctx.settings.ibm_space_preprod
    assert _archive_sha(fake_cpd, wml["entity"]["asset"]["id"]) == _sha(ibm_ctx, mv_id)  # what runs is what was built
    run = get_run(ibm_ctx, SYSTEM, list_runs(ibm_ctx, SYSTEM)[0].id)
    deploy = next(s for s in run.stages if s.name == "deploy").outputs
    assert deploy["endpoint"] == served.scoring_url and deploy["endpoint"].startswith(fake_cpd.url)
    assert deploy["smoke_max_abs_difference"] <= 1e-9  # WML's answers equal the trained model's
    predictions = fake_cpd.requests("POST", f"/ml/v4/deployments/{served.deployment_id}/predictions")
    assert len(predictions) >= 2  # the smoke test and the pre-prod evaluation scored through watsonx.ai
    with ibm_ctx.db.read() as session:
        stored = list(session.execute(select(Evaluation).where(Evaluation.deployment_id == dep.id)).scalars())
    assert dep.endpoint == deployments.scoring_path(dep.id)
    by_source = {e.data_window["source"]: e for e in stored}
    assert set(by_source) == {"test split scored through the pre-prod endpoint", "openscale"}
    local, openscale = by_source["test split scored through the pre-prod endpoint"], by_source["openscale"]
    assert local.status in ("pass", "warn")
    # OpenScale judged the same test split by the same thresholds: its AUC is the local one
    local_auc = local.results["monitors"]["quality"]["metrics"][0]
    remote_auc = openscale.results["monitors"]["quality"]["metrics"][0]
    assert remote_auc["name"] == local_auc["name"] == "roc_auc" and remote_auc["threshold"] == 0.6
    assert remote_auc["value"] == pytest.approx(local_auc["value"], abs=1e-9)
    fairness = {m["name"]: m for m in openscale.results["monitors"]["fairness"]["metrics"]}
    assert set(fairness) == {"disparate_impact[Sex]", "disparate_impact[Age]"}
    assert all(m["threshold"] == 0.95 and m["critical"] for m in fairness.values())
    assert openscale.results["risk_level"] is not None


def test_openscale_watches_the_preprod_deployment_with_the_spec_s_monitors(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int
) -> None:
    dep, served = _served(ibm_ctx, "preprod")
    assert dep.served is not None
    sub = MonitorSubscription.from_dict(dep.served["openscale"])
    os_state = fake_cpd.state.openscale
    subscription = os_state["subscriptions"][sub.subscription_id]["entity"]
    assert subscription["deployment"]["deployment_id"] == served.deployment_id
    assert subscription["asset"]["asset_id"] == served.model_id
    assert subscription["asset_properties"]["label_column"] == "Risk"
    provider = os_state["service_providers"][sub.service_provider_id]["entity"]
    assert provider["deployment_space_id"] == served.space_id
    assert provider["operational_space_id"] == "pre_production"
    monitors = {
        os_state["monitor_instances"][i]["entity"]["monitor_definition_id"]: os_state["monitor_instances"][i]
        for i in sub.monitor_instances.values()
    }
    assert set(monitors) == {"quality", "fairness", "drift", "explainability", "mrm"}
    assert monitors["quality"]["entity"]["thresholds"][0] == {
        "metric_id": "area_under_roc",
        "type": "lower_limit",
        "value": 0.6,
    }
    fairness = monitors["fairness"]["entity"]["parameters"]
    assert fairness["favourable_class"] == ["No Risk"]
    assert fairness["min_records"] == TEST_SCALE_MINIMUMS["fairness_min_records"]  # the thresholds in force
    assert {"feature": "Age", "majority": [[26, 75]], "minority": [[18, 25]]} in fairness["features"]
    assert {"feature": "Sex", "majority": ["male"], "minority": ["female"]} in fairness["features"]
    payload = os_state["records"][sub.payload_data_set_id]
    feedback = os_state["records"][sub.feedback_data_set_id]
    scored = sum(len(r["request"]["values"]) for r in payload)
    # every record scored through the product, logged in both
    assert scored == payload_count(ibm_ctx, SYSTEM, deployment_id=dep.id)
    assert sum(len(r["values"]) for r in feedback) == scored - 5  # the test split (not the 5 smoke records)


def test_decisions_set_the_risk_evaluation_status_in_openscale(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int, tmp_path: Path
) -> None:
    approved = ibm_candidate
    sub = MonitorSubscription.from_dict(_served(ibm_ctx, "preprod")[0].served["openscale"])  # type: ignore[index]
    assert _approve(ibm_ctx, crew["vera"], approved).error is None
    assert fake_cpd.state.openscale["risk_status"][sub.subscription_id] == {"state": "approved"}
    prod_dep, _ = _served(ibm_ctx, "prod")  # the prod deployment has its own subscription, in production
    prod_sub = MonitorSubscription.from_dict(prod_dep.served["openscale"])  # type: ignore[index]
    provider = fake_cpd.state.openscale["service_providers"][prod_sub.service_provider_id]["entity"]
    assert provider["operational_space_id"] == "production"

    rejected = make_candidate(ibm_ctx, crew["dora"], tmp_path, seed=8)  # replaces the pre-prod model: same endpoint
    governance.reject(ibm_ctx, crew["vera"], rejected, comment="fairness on Age is too close to the line")
    assert fake_cpd.state.openscale["risk_status"][sub.subscription_id] == {"state": "rejected"}


def test_approval_deploys_to_the_prod_space_replacement_and_rollback_patch_it(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int, tmp_path: Path
) -> None:
    first = ibm_candidate
    outcome = _approve(ibm_ctx, crew["vera"], first)
    assert outcome.error is None and outcome.deployment is not None
    _, prod = _served(ibm_ctx, "prod")
    assert prod.space_id == ibm_ctx.settings.ibm_space_prod
    assert _archive_sha(fake_cpd, prod.model_id) == _sha(ibm_ctx, first)

    second = make_candidate(ibm_ctx, crew["dora"], tmp_path, seed=8)
    assert _approve(ibm_ctx, crew["vera"], second).error is None
    _, replaced = _served(ibm_ctx, "prod")
    assert replaced.deployment_id == prod.deployment_id  # same endpoint, patched to the new asset
    assert _archive_sha(fake_cpd, replaced.model_id) == _sha(ibm_ctx, second)
    assert prod.model_id not in fake_cpd.state.models  # the old asset was deleted after the switch

    deployments.rollback(
        ibm_ctx,
        crew["vera"],
        model_name=outcome.deployment.model_name,
        reason="the new version misjudges young applicants; back to the last approved one",
    )
    _, rolled = _served(ibm_ctx, "prod")
    assert rolled.deployment_id == prod.deployment_id
    assert _archive_sha(fake_cpd, rolled.model_id) == _sha(ibm_ctx, first)
    prod_deployments = [
        d for d in fake_cpd.state.deployments.values() if d["metadata"]["space_id"] == ibm_ctx.settings.ibm_space_prod
    ]
    assert len(prod_deployments) == 1


def test_a_failed_prod_deployment_leaves_the_store_and_the_space_as_they_were(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int
) -> None:
    mv_id = ibm_candidate
    fake_cpd.state.fail_next[("POST", "/ml/v4/deployments")] = (400, "no_capacity", "no hardware left in the space")
    outcome = _approve(ibm_ctx, crew["vera"], mv_id)
    assert outcome.error is not None
    assert "watsonx.ai deployments.create" in outcome.error and "no hardware left" in outcome.error
    with ibm_ctx.db.read() as session:
        assert session.execute(select(Deployment).where(Deployment.space == "prod")).first() is None
        mv = session.get(ModelVersion, mv_id)
        assert mv is not None and mv.state == "approved"  # approved, not in production
    prod_space = ibm_ctx.settings.ibm_space_prod
    assert not [m for m in fake_cpd.state.models.values() if m["metadata"]["space_id"] == prod_space]
    # the validator retries once watsonx.ai is back
    info = governance.deploy_approved(ibm_ctx, crew["vera"], mv_id)
    assert info.space == "prod" and _served(ibm_ctx, "prod")[1].space_id == prod_space


def test_deleting_a_preprod_deployment_takes_it_down_on_watsonx(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int
) -> None:
    dep, served = _served(ibm_ctx, "preprod")
    deployments.delete_deployment(ibm_ctx, crew["admin"], dep.id)
    assert served.deployment_id not in fake_cpd.state.deployments
    assert served.model_id not in fake_cpd.state.models
    with ibm_ctx.db.read() as session:
        row = session.get(Deployment, dep.id)
        assert row is not None and row.status == "deleted"


def test_production_scoring_feedback_and_evaluation_reach_openscale(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int
) -> None:
    mv_id = ibm_candidate
    assert _approve(ibm_ctx, crew["vera"], mv_id).error is None
    dep, _ = _served(ibm_ctx, "prod")
    sub = MonitorSubscription.from_dict(dep.served["openscale"])  # type: ignore[index]
    spec = german_credit_spec()
    traffic = generate_german_credit(150, seed=21)
    scored = score_over_http(ibm_ctx, crew["dora"], dep.id, traffic, spec=spec, label="traffic")
    assert len(scored) == 150 and scored["scoring_id"].is_unique
    labelled = traffic.assign(scoring_id=scored["scoring_id"])
    monitoring.upload_feedback(ibm_ctx, crew["vera"], dep.id, labelled)
    logged = fake_cpd.state.openscale["records"][sub.feedback_data_set_id]
    assert sum(len(r["values"]) for r in logged) == 150 and logged[0]["fields"][-1] == "Risk"
    monitoring.evaluate_deployment(ibm_ctx, crew["vera"], dep.id)
    with ibm_ctx.db.read() as session:
        stored = list(session.execute(select(Evaluation).where(Evaluation.deployment_id == dep.id)).scalars())
    sources = sorted(e.data_window["source"] for e in stored)
    assert sources == ["openscale", "payload"]
    remote = next(e for e in stored if e.data_window["source"] == "openscale")
    assert remote.data_window["feedback_records"] == 150 and remote.data_window["payload_records"] == 150
    quality = remote.results["monitors"]["quality"]
    assert quality["n_records"] == 150 and quality["metrics"][0]["name"] == "roc_auc"
    local = next(e for e in stored if e.data_window["source"] == "payload")
    assert quality["metrics"][0]["value"] == pytest.approx(local.results["monitors"]["quality"]["metrics"][0]["value"])


def test_ai_factsheets_tracks_each_asset_in_its_phase_with_the_facts_of_each_stage(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int
) -> None:
    mv_id = ibm_candidate
    _, preprod = _served(ibm_ctx, "preprod")
    usecase = next(iter(fake_cpd.state.usecases.values()))
    assert [(t["model_id"], t["phase"]) for t in usecase["tracked"]] == [(preprod.model_id, "Validate")]
    facts = fake_cpd.state.facts[preprod.model_id]
    assert facts["mlops_stage"] == "pre-prod evaluation" and facts["mlops_artifact_sha256"] == _sha(ibm_ctx, mv_id)
    assert facts["mlops_evaluation_status"] in ("pass", "warn") and 0.5 < facts["mlops_roc_auc"] <= 1
    assert facts["mlops_model_tests"].endswith("passed") and facts["mlops_risk_level"]

    assert _approve(ibm_ctx, crew["vera"], mv_id).error is None
    _, prod = _served(ibm_ctx, "prod")
    assert [(t["model_id"], t["phase"]) for t in usecase["tracked"]][-1] == (prod.model_id, "Operate")
    decided = fake_cpd.state.facts[prod.model_id]
    assert decided["mlops_stage"] == "production" and decided["mlops_decision"] == "approved"
    assert decided["mlops_decided_by"] == "vera" and decided["mlops_artifact_sha256"] == _sha(ibm_ctx, mv_id)
    assert fake_cpd.state.facts[preprod.model_id]["mlops_decision"] == "approved"


def test_a_factsheet_failure_never_undoes_a_decision(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int
) -> None:
    mv_id = ibm_candidate
    fake_cpd.state.fact_definitions["modelfacts_user"] = {}  # someone removed the definitions
    outcome = _approve(ibm_ctx, crew["vera"], mv_id)
    assert outcome.deployment is not None  # approved and deployed all the same
    assert outcome.error is not None and "AI Factsheets was not updated" in outcome.error
    assert "docs/factsheets_facts.csv" in outcome.error
    with ibm_ctx.db.read() as session:
        actions = [e.action for e in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()]
    assert "factsheet.not_published" in actions


def test_when_the_store_cannot_record_a_deployment_the_space_is_put_back(
    ibm_ctx: ServiceContext, crew: dict[str, Principal], fake_cpd: FakeCloudPak, ibm_candidate: int, tmp_path: Path
) -> None:
    first = ibm_candidate
    _, before = _served(ibm_ctx, "preprod")
    second = make_candidate(ibm_ctx, crew["dora"], tmp_path, seed=8)  # now served in place of the first
    _, after = _served(ibm_ctx, "preprod")
    assert _archive_sha(fake_cpd, after.model_id) == _sha(ibm_ctx, second)
    # what _put does when the transaction recording `after` fails: serve the first model again
    _endpoints._put_back(ibm_ctx, SYSTEM, after, before, first, "preprod", at=Checkpoint.PIPELINE)
    live = fake_cpd.state.deployments[after.deployment_id]["entity"]["asset"]["id"]
    assert _archive_sha(fake_cpd, live) == _sha(ibm_ctx, first)
    # and a deployment that was new goes away again
    _endpoints._put_back(ibm_ctx, SYSTEM, after, None, None, "preprod", at=Checkpoint.PIPELINE)
    assert after.deployment_id not in fake_cpd.state.deployments
