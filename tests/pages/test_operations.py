"""Deployments, Monitoring, Factsheets, Audit and Admin pages, for each role that opens them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from streamlit import config as streamlit_config

from dashboard.navigation import CATALOGUE, ROLE_PAGES
from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.data.load import frame_to_csv_bytes
from pipeline_core.data.spec import DataSpec
from pipeline_core.services import deployments, governance, monitoring
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import count_payload
from pipeline_core.services.datasets import thresholds_in_force as in_force
from pipeline_core.services.deployments import score_over_http
from pipeline_core.services.monitoring import count_feedback, list_evaluations
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Approval
from pipeline_core.vocabulary import AlertStatus, ModelState
from tests.e2e.page_text import assert_readable, shown
from tests.pages.conftest import PageRunner
from tests.processes import wait_for
from tests.services.helpers import plant_in_prod_history

USERS = {"data_scientist": "dora", "validator": "vera", "manager": "max", "admin": "admin"}
# What an empty store's pages tell each role to do (a manager opens none of Monitoring, but it may be opened).
EMPTY = {
    "deployments": {
        "dora": "No deployments yet. Launch a run on the Runs page: it deploys its model to pre-prod, "
        "and a validator's approval to prod.",
        "vera": "No deployments yet. A data scientist's run deploys its model to pre-prod; approving it on the "
        "Review page deploys it to prod.",
        "max": "No deployments yet. A data scientist's run deploys its model to pre-prod; a validator's approval "
        "deploys it to prod.",
    },
    "monitoring": {
        "dora": "No deployments to monitor yet. Launch a run on the Runs page: its pre-prod deployment is "
        "evaluated here, and prod once approved.",
        "vera": "No deployments to monitor yet. A data scientist's run deploys its model to pre-prod; approve it "
        "on the Review page to monitor it in prod.",
        "max": "No deployments to monitor yet. A data scientist's run deploys its model to pre-prod, and a "
        "validator's approval to prod.",
    },
    "factsheets": {
        "dora": "No model versions yet. Launch a run on the Runs page: each model it registers gets a factsheet here.",
        "vera": "No model versions yet. Each model version a data scientist's run registers gets a factsheet here.",
        "max": "No model versions yet. Each model version a data scientist's run registers gets a factsheet here.",
    },
}
# An admin launches no runs (administration and model development are separate duties): told as a manager is.
EMPTY_FOR_ADMIN = {name: by_user["max"] for name, by_user in EMPTY.items()}


@pytest.mark.parametrize("who", ["dora", "vera", "max", "admin"])
def test_empty_stores_say_what_to_do(page: PageRunner, who: str) -> None:
    for name in ("deployments", "monitoring", "factsheets"):
        at = page(name, who)
        assert not at.exception and at.info, name
        expected = EMPTY_FOR_ADMIN[name] if who == "admin" else EMPTY[name][who]
        assert [i.value for i in at.info] == [expected], (name, who)
        assert at.title[0].value == CATALOGUE[name][1] and not at.dataframe and not at.button, (name, who)
        assert_readable(at, (name, who))


def test_deployments_page_scores_a_record_and_guards_rollback(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    at = page("deployments", "dora")
    assert not at.exception
    assert "curl -s -X POST" in at.code[0].value and f"/ml/v4/deployments/{in_prod}/predictions" in at.code[0].value
    # One table per space, prod first: the deployment, the model it serves, its endpoint.
    deps = {d.space: d for d in deployments.list_deployments(live_ctx, people["dora"])}
    assert [s.value for s in at.subheader] == ["prod", "preprod", "Score a record", "API keys"]  # no roll back
    base = live_ctx.settings.scoring_url.rstrip("/")
    case = governance.revalidation_case(live_ctx, people["max"], deps["prod"].model_version_id)
    assert case.expires_at is not None
    expires = case.expires_at.date().isoformat()
    for table, space in zip(at.dataframe, ("prod", "preprod"), strict=True):
        d = deps[space]
        row = table.value.to_dict(orient="records")
        assert row == [
            {
                "deployment": d.id,
                "model": "german_credit v1",
                "model version": d.model_version_id,
                "endpoint": base + d.scoring_path,
                "updated": (d.updated_at or d.created_at).strftime("%Y-%m-%d %H:%M"),
                # A prod version's approval, until its tier's revalidation (tier 3: 36 months from the approval).
                **({"approval": f"approval 1, until {expires}"} if space == "prod" else {}),
            }
        ], space
    assert deps["prod"].id == in_prod and deps["prod"].model_version_id == deps["preprod"].model_version_id
    assert_readable(at, "deployments")
    before = count_payload(live_ctx, SYSTEM, deployment_id=in_prod)
    at.button[0].click().run()  # the Score form, with an example record filled in
    assert not at.exception and at.success and "scoring id" in at.success[0].value
    scored = r"(Risk|No Risk) \(probability of Risk (0\.\d{3}|1\.000)\); scoring id (\S+)"
    assert re.fullmatch(scored, at.success[0].value), at.success[0].value
    wait_for(
        lambda: count_payload(live_ctx, SYSTEM, deployment_id=in_prod) == before + 1, timeout=10, what="the payload"
    )
    manager = page("deployments", "max")
    assert "may not issue" in manager.info[0].value  # no key for a manager, so no scoring form
    assert manager.info[0].value == "Scoring from here uses a short-lived API key, which a manager may not issue."
    assert not [b for b in manager.button if b.label == "Score"]
    validator = page("deployments", "vera")
    assert [s.value for s in validator.subheader] == ["prod", "preprod", "Score a record", "Roll back"]
    # Prod has served one version only: the page says so, and offers no Roll back to press.
    served = deps["prod"].model_version_id
    assert [i.value for i in validator.info][-1] == (
        f"Deployment {in_prod} has nothing to roll back to: it has served only model version {served}."
    )
    assert not [b for b in validator.button if b.label == "Roll back"]


def test_deployments_page_rolls_back_only_with_a_reason(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    serving = deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id
    earlier = plant_in_prod_history(
        live_ctx, in_prod, state=ModelState.APPROVED, artifact_sha256=None, actor="victor", approved=True
    )
    at = page("deployments", "vera")
    assert at.caption[-1].value.startswith(f"Deployment {in_prod} would serve model version {earlier} ")
    rollback = next(b for b in at.button if b.label == "Roll back")
    assert rollback.disabled  # until the confirmation box is ticked
    at.checkbox(key="rollback-confirm").check().run()
    at.text_area(key="rollback-reason").input("bad").run()
    next(b for b in at.button if b.label == "Roll back").click().run()
    assert not at.exception and not at.success
    assert at.error[0].value.startswith("ConfigError: the reason for a rollback must be at least a sentence")
    assert deployments.get_deployment(live_ctx, SYSTEM, in_prod).model_version_id == serving
    reason = "prod refuses young applicants since this morning's release"
    at.text_area(key="rollback-reason").input(reason).run()
    next(b for b in at.button if b.label == "Roll back").click().run()
    assert [s.value for s in at.success] == [f"Deployment {in_prod} now serves model version {earlier}."]
    *_, opened = deployments.revisions(live_ctx, people["max"], in_prod)
    assert (opened.model_version_id, opened.actor, opened.comment) == (earlier, "vera", reason)


def test_deployments_page_lists_keys_and_revokes_them_by_who_may(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    token = deployments.issue_key(live_ctx, people["dora"], in_prod, label="the loan desk")
    (mine,) = [k for k in deployments.list_keys(live_ctx, SYSTEM, in_prod) if k.label == "the loan desk"]
    other = page("deployments", "dan")  # another data scientist: a prod key dora issued is not his to revoke
    assert f"**key {mine.id}** · `{mine.prefix}…` · the loan desk · issued by dora" in " ".join(
        m.value for m in other.markdown
    )
    assert token not in " ".join(m.value for m in other.markdown)
    assert other.button(key=f"revoke-key-{mine.id}").disabled
    at = page("deployments", "dora")
    assert not at.button(key=f"revoke-key-{mine.id}").disabled
    at.button(key=f"revoke-key-{mine.id}").click().run()
    assert f"API key {mine.id} revoked: the scoring service refuses it from its next refresh." in [
        s.value for s in at.success
    ]
    (after,) = [k for k in deployments.list_keys(live_ctx, SYSTEM, in_prod) if k.id == mine.id]
    assert (after.active, after.revoked_by) == (False, "dora")
    at.run()  # drawn again: the key is among the revoked ones, with no button
    assert not [b for b in at.button if b.key == f"revoke-key-{mine.id}"]
    revoked = at.dataframe[-1].value.to_dict(orient="records")
    assert any(r["key"] == mine.id and r["revoked by"] == "dora" for r in revoked)
    assert not [s for s in page("deployments", "vera").subheader if s.value == "API keys"]  # not a validator's


def test_monitoring_page_evaluates_and_uploads_feedback(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    at = page("monitoring", "vera")
    assert not at.exception
    assert at.selectbox[0].value == in_prod  # prod first
    assert at.info[0].value == "No evaluation of this deployment yet: send it traffic, then press Evaluate now."
    assert at.caption[0].value.startswith("0 scored records stored for this deployment")
    assert at.caption[1].value == "0 labelled records stored for this deployment."
    next(b for b in at.button if b.label == "Evaluate now").click().run()
    # Prod has scored nothing yet (the approval's deployment check scores no record): the service refuses,
    # the page names why, and nothing was evaluated.
    assert not at.exception
    (refused,) = [e.value for e in at.error]  # an error, never a success
    assert refused.startswith(f"EvaluationError: deployment {in_prod} has no scored records in the window ")
    assert refused.endswith("; send scoring requests first")
    assert [s.value for s in at.success] == ["No alerts for this deployment."]
    assert not at.warning
    before = len(list_evaluations(live_ctx, Principal("max", "manager"), deployment_id=in_prod))
    assert before == 0
    manager = page("monitoring", "max")  # not registered for managers; if opened anyway, the service refuses
    next(b for b in manager.button if b.label == "Evaluate now").click().run()
    assert "max is a manager" in manager.error[0].value
    assert len(list_evaluations(live_ctx, Principal("max", "manager"), deployment_id=in_prod)) == before
    assert count_feedback(live_ctx, SYSTEM, deployment_id=in_prod) == 0

    # Prod serves 300 applicants; the true outcomes of 150 of them, uploaded here, contradict every answer.
    applicants = generate_german_credit(300, seed=31)
    spec = deployments.deployment_spec(live_ctx, SYSTEM, in_prod)
    scored = score_over_http(live_ctx, people["dora"], in_prod, applicants, spec=spec, label="monitoring test")
    wait_for(lambda: count_payload(live_ctx, SYSTEM, deployment_id=in_prod) == 300, timeout=20, what="prod's payload")
    labelled = applicants.iloc[:150].copy()
    labelled["Risk"] = ["No Risk" if p == "Risk" else "Risk" for p in scored["prediction"].iloc[:150]]
    labelled["scoring_id"] = list(scored["scoring_id"].iloc[:150])
    at = page("monitoring", "vera")
    at.file_uploader[0].set_value(("feedback.csv", frame_to_csv_bytes(labelled), "text/csv")).run()
    next(b for b in at.button if b.label == "Upload feedback").click().run()
    assert not at.exception
    assert "Stored 150 records (150 linked to scoring ids)." in [s.value for s in at.success]
    assert count_feedback(live_ctx, SYSTEM, deployment_id=in_prod) == 150
    assert at.caption[1].value == "150 labelled records stored for this deployment."  # counted after the upload
    next(b for b in at.button if b.label == "Upload feedback").click().run()  # the same file again: stored once
    assert "Stored 0 records (0 linked to scoring ids). 150 already stored, not stored again." in [
        s.value for s in at.success
    ]
    assert count_feedback(live_ctx, SYSTEM, deployment_id=in_prod) == 150

    next(b for b in at.button if b.label == "Evaluate now").click().run()
    assert not at.exception
    (evaluation,) = list_evaluations(live_ctx, people["max"], deployment_id=in_prod)
    alerts = [a for a in monitoring.list_alerts(live_ctx, people["max"]) if a.deployment_id == in_prod]
    (request,) = monitoring.list_retraining_requests(live_ctx, people["max"])
    assert evaluation.status == "fail" and evaluation.created_by == "vera" and alerts
    assert [e.value for e in at.error] == [f"Evaluation {evaluation.id}: fail, risk level high."]
    assert [w.value for w in at.warning][:2] == [
        f"{len(alerts)} alert(s) raised.",
        f"Retraining request {request.id} created.",
    ]
    # The history, drawn after the evaluation, has it; each alert is listed, open, with its message.
    history = at.dataframe[0].value.to_dict(orient="records")
    assert history == [
        {
            "evaluation": evaluation.id,
            "when": evaluation.created_at.strftime("%Y-%m-%d %H:%M"),
            "status": "fail",
            "risk": "high",
            "records": 300,
            "feedback": 150,
            "by": "vera",
        }
    ]
    assert at.get("plotly_chart")
    lines = [m.value for m in at.markdown if "**alert " in m.value]
    assert lines == [
        f":red[:material/error:] **alert {a.id}** · {a.created_at:%Y-%m-%d %H:%M} · open · {a.message}" for a in alerts
    ]
    assert "roc_auc" in {a.metric for a in alerts} and [b.key for b in at.button if b.label == "Acknowledge"] == [
        f"ack-{a.id}" for a in alerts
    ]
    # The open retraining request, and the records it lists for labelling.
    assert f"Retraining request {request.id}: {request.reason}; " in at.warning[2].value
    assert len(at.dataframe[1].value) == min(50, len(request.drifted_records)) > 0
    assert_readable(at, "monitoring after an evaluation")

    first = alerts[0]
    at.button(key=f"ack-{first.id}").click().run()  # without a comment: refused, and said why
    assert f"ConfigError: the comment acknowledging alert {first.id} must be at least a sentence" in at.error[-1].value
    assert first.id in {a.id for a in monitoring.list_alerts(live_ctx, people["max"])}  # still open
    seen = "the data team is checking this morning's feed"
    at.text_input(key=f"ack-comment-{first.id}").input(seen).run()
    at.button(key=f"ack-{first.id}").click().run()
    assert f"Alert {first.id} acknowledged." in [s.value for s in at.success]
    text = " ".join(m.value for m in at.markdown)
    assert f"**alert {first.id}** · {first.created_at:%Y-%m-%d %H:%M} · acknowledged by vera · " in text
    assert f":gray[vera acknowledged: {seen}]" in text
    assert first.id not in {a.id for a in monitoring.list_alerts(live_ctx, people["max"])}
    at.run()  # drawn again: the acknowledged alert now offers Resolve
    ended = "the feed was repaired and labels re-sent; quality is back"
    at.text_input(key=f"resolve-comment-{first.id}").input(ended).run()
    at.button(key=f"resolve-{first.id}").click().run()
    assert f"Alert {first.id} resolved." in [s.value for s in at.success]
    (resolved,) = monitoring.list_alerts(live_ctx, people["max"], status=AlertStatus.RESOLVED)
    assert (resolved.id, resolved.resolved_by, resolved.resolve_comment) == (first.id, "vera", ended)
    at.run()
    assert not [b for b in at.button if b.key in (f"ack-{first.id}", f"resolve-{first.id}")]  # nothing left to do


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
    (approved,) = audit.dataframe[0].value.to_dict(orient="records")
    (decision,) = governance.decisions(live_ctx, people["max"])
    facts = governance.factsheet(live_ctx, people["max"], decision.model_version_id)
    (approval,) = facts.approvals
    assert approved["actor"] == "vera" and approved["action"] == "model_version.approved"
    # The event's details as a person reads them, not as a Python dict.
    evidence = ", ".join(map(str, decision.evidence))
    details = approved["details"]
    assert details.startswith(
        f"approval id: {approval['id']}; outcome: approved; artifact sha256: {facts.model['artifact_sha256']}; "
        f"comment: {decision.comment}; evidence: (evaluation ids: {evidence}); "
        f"seen: (evaluation ids: {evidence}; model test run ids: 1; policy: (tier: 3; approvals: 1; "
        "revalidation months: 36; critical checks: –; required documentation: purpose, intended_users, "
        "out_of_scope, data, features, assumptions, limitations, oversight)); override: –; overridden: –; "
        "decided by: vera; countersigned by: –; countersign comment: –; request id: –; kind: approval; expires at: "
    ), details
    assert details.endswith("; condition ids: –"), details
    assert_readable(audit, "audit")
    admin = page("admin", "admin")
    assert not admin.exception and len(admin.dataframe[0].value) == len(people)
    assert sorted(admin.dataframe[0].value["user"]) == sorted(p.username for p in people.values())
    admin.text_input[0].set_value("nina")
    admin.text_input[1].set_value("a long enough password")
    admin.button[0].click().run()
    assert "User nina added as data_scientist" in admin.success[0].value
    refused = page("admin", "max")  # the page is not registered for managers; the service refuses anyway
    refused.text_input[0].set_value("eve")
    refused.text_input[1].set_value("a long enough password")
    refused.button[0].click().run()
    assert "PermissionDenied" in refused.error[0].value
    assert "eve" not in {name for name, _, _ in governance.list_users(live_ctx, people["admin"])}


@pytest.fixture(params=[False, True], ids=["magic off (the app's config)", "magic on (Streamlit's default)"])
def magic(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Streamlit's magic as the repo's config sets it, and as a ``streamlit run`` from elsewhere would have it."""
    saved = streamlit_config.get_option("runner.magicEnabled")
    streamlit_config.set_option("runner.magicEnabled", request.param)
    yield request.param
    streamlit_config.set_option("runner.magicEnabled", saved)


def test_the_factsheet_of_a_model_in_prod_shows_its_lineage_and_decision(
    page: PageRunner, in_prod: int, people: dict[str, Principal], live_ctx: ServiceContext, magic: bool
) -> None:
    (decision,) = governance.decisions(live_ctx, people["max"])
    facts = governance.factsheet(live_ctx, people["max"], decision.model_version_id)
    for who in ("dora", "vera", "max", "admin"):
        at = page("factsheets", who)
        assert_readable(at, (who, magic))
        texts = shown(at)
        assert not [t for t in texts if "DeltaGenerator" in t], (who, magic)  # magic wrote no expression's value
        assert not at.get("help_info") and not [m for m in at.markdown if m.value.strip("`") == "None"], who
        assert [(m.label, m.value) for m in at.metric] == [
            ("State", "in production"),
            ("ROC AUC (test split)", f"{facts.model['metrics']['roc_auc']:.4f}"),
            ("Trained by", "dora"),
            ("Evaluations", str(len(facts.evaluations))),
        ], who
        lineage, stages, deployed, evaluated, decided, periods = (d.value for d in at.dataframe)
        assert len(periods) == 1, who  # its production history: one period, still serving
        assert list(lineage["what"]) == [e["action"] for e in facts.timeline], who
        assert "model_version.approved" in set(lineage["what"]), who
        assert list(stages["stage"]) == [s["name"] for s in facts.run["stages"]], who
        assert deployed.to_dict(orient="records") == [
            {
                "deployment": d["deployment_id"],
                "space": d["space"],
                "why": d["reason"],
                "by": d["actor"],
                "from": d["from"][:16].replace("T", " "),
                "until": "still serving",
            }
            for d in facts.deployments
        ], who
        assert {d["space"] for d in facts.deployments} == {"preprod", "prod"}
        assert list(evaluated["evaluation"]) == [e["id"] for e in facts.evaluations], who
        assert decided.to_dict(orient="records") == [
            {
                "decision": facts.approvals[0]["id"],
                "outcome": "approved",
                "by": "vera",
                "when": decision.decided_at.strftime("%Y-%m-%d %H:%M"),
                "evidence": ", ".join(f"evaluation {i}" for i in decision.evidence),
                "override": "none",
                "why": "reviewed",
            }
        ], who
        assert "none yet" not in " ".join(c.value for c in at.caption), who


def test_the_factsheet_of_a_candidate_says_no_decision_was_taken(
    page: PageRunner, candidate: int, people: dict[str, Principal], live_ctx: ServiceContext, magic: bool
) -> None:
    facts = governance.factsheet(live_ctx, people["max"], candidate)
    assert facts.approvals == () and [d["space"] for d in facts.deployments] == ["preprod"]
    for who in ("dora", "vera", "max", "admin"):
        at = page("factsheets", who)
        assert_readable(at, (who, magic))
        assert not at.get("help_info"), (who, magic)  # what magic made of st.caption's DeltaGenerator
        assert at.metric[0].value == "awaiting review", who
        _lineage, _stages, deployed, evaluated = (d.value for d in at.dataframe)  # and no decisions table
        assert deployed.to_dict(orient="records") == [
            {
                "deployment": facts.deployments[0]["deployment_id"],
                "space": "preprod",
                "why": facts.deployments[0]["reason"],
                "by": facts.deployments[0]["actor"],
                "from": facts.deployments[0]["from"][:16].replace("T", " "),
                "until": "still serving",
            }
        ], who
        assert list(evaluated["status"]) == [e["status"] for e in facts.evaluations], who
        captions = [c.value for c in at.caption][1:]  # after the artifact's
        assert captions == [
            "No decision yet: the candidate awaits a validator's review.",
            "No version of german_credit has served production yet.",
        ], who


def test_every_page_of_every_role_renders_on_a_populated_store(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    (decision,) = governance.decisions(live_ctx, people["max"])
    mv_id = decision.model_version_id
    for role, user in USERS.items():
        for name in ROLE_PAGES[role]:
            at = page(name, user)
            assert not at.exception, (role, name, at.exception)
            assert at.title[0].value == CATALOGUE[name][1], (role, name)
            assert_readable(at, (role, name))
            # What each page is about, on this store: one model version, in prod since vera approved it.
            if name == "overview":
                assert [(m.label, m.value) for m in at.metric] == [
                    ("models", "1"),
                    ("in production", "1"),
                    ("awaiting a decision", "0"),
                    ("overdue", "0"),
                ], role
            elif name == "runs":
                history = at.dataframe[0].value
                assert list(history["status"]) == ["succeeded"] and list(history["by"]) == ["dora"], role
            elif name == "review":
                assert [i.value for i in at.info] == [
                    "No candidate is awaiting review. A run that passes its gates ends here."
                ], role
            elif name == "deployments":
                assert [s.value for s in at.subheader][:2] == ["prod", "preprod"], role
            elif name == "monitoring":
                assert at.selectbox[0].value == in_prod, role
            elif name == "factsheets":
                assert at.selectbox[0].value == mv_id and at.metric[0].value == "in production", role
            elif name == "audit":
                assert "Hash chain intact" in at.success[0].value and len(at.dataframe[0].value) > 0, role
            elif name == "admin":
                assert len(at.dataframe[0].value) == len(people), role


def test_admin_saves_thresholds(page: PageRunner, dash_ctx: ServiceContext, spec: DataSpec) -> None:
    at = page("admin", "admin")
    at.number_input(key="german_credit-min_roc_auc").set_value(0.65)
    next(b for b in at.button if getattr(b, "label", "") == "Save thresholds").click().run()
    assert "Thresholds of german_credit saved." in at.success[0].value
    assert in_force(dash_ctx, SYSTEM, spec).thresholds.min_roc_auc == pytest.approx(0.65)


def test_the_deployments_page_says_when_a_prod_approval_expired(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext
) -> None:
    with live_ctx.db.write() as session:
        session.execute(update(Approval).values(expires_at=utcnow() - timedelta(days=1)))
    at = page("deployments", "max")
    (row,) = at.dataframe[0].value.to_dict(orient="records")
    assert row["approval"] == f"EXPIRED on {(utcnow() - timedelta(days=1)).date().isoformat()}: revalidate"
