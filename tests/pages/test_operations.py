"""Deployments, Monitoring, Factsheets, Audit and Admin pages, for each role that opens them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.navigation import CATALOGUE, ROLE_PAGES
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import approvals, users
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.evaluations import list_evaluations
from pipeline_core.services.feedback import count_feedback
from pipeline_core.services.thresholds import in_force
from pipeline_core.store.models import ModelVersion
from tests.pages.conftest import PageRunner
from tests.services.helpers import make_candidate


@pytest.fixture
def in_prod(live_ctx: ServiceContext, people: dict[str, Principal], tmp_path: Path) -> int:
    mv_id = make_candidate(live_ctx, people["dora"], tmp_path)
    with live_ctx.db.read() as session:
        sha = session.get(ModelVersion, mv_id).artifact_sha256  # type: ignore[union-attr]
    outcome = approvals.approve(live_ctx, people["vera"], mv_id, comment="reviewed", artifact_sha256=sha)
    assert outcome.deployment is not None
    return outcome.deployment.id


@pytest.mark.parametrize("who", ["dora", "vera", "max", "admin"])
def test_empty_stores_say_what_to_do(page: PageRunner, who: str) -> None:
    for name in ("deployments", "monitoring", "factsheets"):
        at = page(name, who)
        assert not at.exception and at.info, name


def test_deployments_page_scores_a_record_and_guards_rollback(page: PageRunner, in_prod: int) -> None:
    at = page("deployments", "dora")
    assert not at.exception
    assert "curl -s -X POST" in at.code[0].value and f"/ml/v4/deployments/{in_prod}/predictions" in at.code[0].value
    at.button[0].click().run()  # the Score form, with an example record filled in
    assert not at.exception and at.success and "scoring id" in at.success[0].value
    manager = page("deployments", "max")
    assert "may not issue" in manager.info[0].value  # no key for a manager, so no scoring form
    rollback = next(b for b in page("deployments", "vera").button if b.label == "Roll back")
    assert rollback.disabled  # until the confirmation box is ticked


def test_monitoring_page_evaluates_and_uploads_feedback(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext
) -> None:
    at = page("monitoring", "vera")
    assert not at.exception
    next(b for b in at.button if b.label == "Evaluate now").click().run()
    # Prod has served only the production check's records so far: too few, and the page says so.
    assert not at.exception and (at.error or at.success)
    before = len(list_evaluations(live_ctx, Principal("max", "manager"), deployment_id=in_prod))
    manager = page("monitoring", "max")  # not registered for managers; if opened anyway, the service refuses
    next(b for b in manager.button if b.label == "Evaluate now").click().run()
    assert "max is a manager" in manager.error[0].value
    assert len(list_evaluations(live_ctx, Principal("max", "manager"), deployment_id=in_prod)) == before
    assert count_feedback(live_ctx, deployment_id=in_prod) == 0


def test_factsheet_audit_and_admin(
    page: PageRunner, in_prod: int, people: dict[str, Principal], live_ctx: ServiceContext
) -> None:
    at = page("factsheets", "max")
    assert not at.exception
    assert at.metric[0].value == "in production" and at.metric[2].value == "dora"
    assert [getattr(b, "label", None) for b in at.get("download_button")] == ["Export JSON", "Export HTML"]
    audit = page("audit", "max")
    assert "Hash chain intact" in audit.success[0].value
    audit.text_input[1].set_value("model_version.approved").run()
    assert len(audit.dataframe[0].value) == 1
    admin = page("admin", "admin")
    assert not admin.exception and len(admin.dataframe[0].value) == len(people)
    admin.text_input[0].set_value("nina")
    admin.text_input[1].set_value("a long enough password")
    admin.button[0].click().run()
    assert "User nina added as data_scientist" in admin.success[0].value
    refused = page("admin", "max")  # the page is not registered for managers; the service refuses anyway
    refused.text_input[0].set_value("eve")
    refused.text_input[1].set_value("a long enough password")
    refused.button[0].click().run()
    assert "PermissionDenied" in refused.error[0].value
    assert "eve" not in {name for name, _, _ in users.list_users(live_ctx, people["admin"])}


def test_every_page_of_every_role_renders_on_a_populated_store(page: PageRunner, in_prod: int) -> None:
    users_by_role = {"data_scientist": "dora", "validator": "vera", "manager": "max", "admin": "admin"}
    for role, user in users_by_role.items():
        for name in ROLE_PAGES[role]:
            at = page(name, user)
            assert not at.exception, (role, name, at.exception)
            assert at.title[0].value == CATALOGUE[name][1], (role, name)


def test_admin_saves_thresholds(page: PageRunner, dash_ctx: ServiceContext, spec: DataSpec) -> None:
    at = page("admin", "admin")
    at.number_input(key="german_credit-min_roc_auc").set_value(0.65)
    next(b for b in at.button if getattr(b, "label", "") == "Save thresholds").click().run()
    assert "Thresholds of german_credit saved." in at.success[0].value
    assert in_force(dash_ctx, spec).thresholds.min_roc_auc == pytest.approx(0.65)
