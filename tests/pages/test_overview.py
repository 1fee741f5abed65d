"""Overview page: empty states, then the inventory (one row per model), prod history, alerts and decisions, for every
role."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from streamlit.testing.v1 import AppTest

from pipeline_core.data.german_credit import generate_german_credit, german_credit_spec
from pipeline_core.services import governance, monitoring, runs
from pipeline_core.services.authz import SYSTEM, Principal
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import count_payload
from pipeline_core.services.deployments import score_over_http
from pipeline_core.services.monitoring import upload_feedback
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner
from tests.processes import wait_for

# Everyone opens the Overview (dashboard/navigation.py ROLE_PAGES): what it shows does not depend on the role.
EVERYONE = ("dora", "vera", "max", "admin")
INVENTORY = [
    "model",
    "tier",
    "state",
    "in prod",
    "risk",
    "findings",
    "revalidate by",
    "waiting",
    "overdue",
]
OWNERS = ["model", "owner", "business use", "why this tier"]


def _overview(page: PageRunner, who: str) -> AppTest:
    at = page("overview", who)
    assert_readable(at, ("overview", who))
    return at


def _inventory(at: AppTest) -> list[dict[Hashable, Any]]:
    frame = at.dataframe[0].value
    assert list(frame.columns) == INVENTORY
    return frame.to_dict(orient="records")


def _section(at: AppTest, subheader: str) -> list[str]:
    """The text of the elements between ``subheader`` and the next subheader, in page order."""
    out: list[str] = []
    inside = False
    for node in at.main.children.values():
        kind = getattr(node, "type", "")
        if kind == "subheader":
            inside = getattr(node, "value", None) == subheader
            continue
        if inside:
            out.append(f"{kind}: {getattr(node, 'value', '')}")
    return out


def test_empty_store_says_what_to_do_next(page: PageRunner) -> None:
    at = page("overview", "max")
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    assert "No model versions yet" in infos and "Nothing is in production yet" in infos
    assert at.success[0].value == "No open alerts."


def test_an_empty_store_tells_each_role_its_next_step(page: PageRunner) -> None:
    expected = {
        "dora": [
            "No model versions yet. Launch a run on the Runs page (the demo data needs nothing else); "
            "its model appears here.",
            "Nothing is in production yet: a validator approves a candidate on the Review page.",
            "No approvals or rejections yet.",
        ],
        "admin": [  # an admin launches no runs: told who does, as a manager is
            "No model versions yet. A data scientist launches a run on the Runs page; its model appears here.",
            "Nothing is in production yet: a validator approves a candidate on the Review page.",
            "No approvals or rejections yet.",
        ],
        "vera": [
            "No model versions yet. A data scientist launches a run on the Runs page; its model appears here.",
            "Nothing is in production yet: approve a candidate on the Review page.",
            "No approvals or rejections yet.",
        ],
        "max": [
            "No model versions yet. A data scientist launches a run on the Runs page; its model appears here.",
            "Nothing is in production yet: a validator approves a candidate on the Review page.",
            "No approvals or rejections yet.",
        ],
    }
    for who, infos in expected.items():
        at = _overview(page, who)
        assert [i.value for i in at.info] == infos, who
        assert [s.value for s in at.success] == ["No open alerts."], who
        assert not at.metric and not at.dataframe, who  # no numbers and no tables about nothing


def test_a_candidate_awaiting_review(page: PageRunner, candidate: int, live_ctx: ServiceContext) -> None:
    (mv,) = runs.list_model_versions(live_ctx, SYSTEM)
    assert mv.id == candidate
    (info,) = governance.inventory(live_ctx, SYSTEM)
    for who in EVERYONE:
        at = _overview(page, who)
        assert [(m.label, m.value) for m in at.metric] == [
            ("models", "1"),
            ("in production", "0"),
            ("awaiting a decision", "1"),
            ("overdue", "0"),
        ], who
        (row,) = _inventory(at)
        assert row == {
            "model": "german_credit",
            "tier": "3 (low)",
            "state": "v1 awaiting review",
            "in prod": "–",
            "risk": info.risk_level,
            "findings": 0,
            "revalidate by": "–",
            "waiting": row["waiting"],
            "overdue": 0,
        }, who
        assert row["waiting"].endswith((" min", " h")), who
        owners = at.dataframe[1].value
        assert list(owners.columns) == OWNERS, who
        assert owners.to_dict(orient="records") == [
            {
                "model": "german_credit",
                "owner": "–",
                "business use": "–",
                "why this tier": "The test suite tiers the models it builds itself.",
            }
        ], who
        assert not at.error, who  # nothing overdue
        assert len(at.dataframe) == 2, who  # the inventory; no alerts and no decisions to list
        assert _section(at, "Production models over time") == [
            "info: Nothing is in production yet: a validator approves a candidate on the Review page."
            if who != "vera"
            else "info: Nothing is in production yet: approve a candidate on the Review page."
        ], who
        assert _section(at, "Open alerts") == ["success: No open alerts."], who
        assert _section(at, "Recent decisions") == ["info: No approvals or rejections yet."], who


def test_a_model_in_prod_after_an_approval(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    dep_id = in_prod
    (decision,) = governance.decisions(live_ctx, people["max"])
    for who in EVERYONE:
        at = _overview(page, who)
        assert [(m.label, m.value) for m in at.metric] == [
            ("models", "1"),
            ("in production", "1"),
            ("awaiting a decision", "0"),
            ("overdue", "0"),
        ], who
        (row,) = _inventory(at)
        assert (row["model"], row["state"], row["in prod"], row["waiting"]) == (
            "german_credit",
            "v1 in production",
            "v1",
            "–",
        ), who
        assert _section(at, "Production models over time") == [
            f"markdown: **german_credit v1** · deployment {dep_id}",
            "info: No production evaluation yet: run one on the Monitoring page, or wait for the worker's schedule.",
        ], who
        assert _section(at, "Open alerts") == ["success: No open alerts."], who
        decisions = at.dataframe[2].value.to_dict(orient="records")
        assert decisions == [
            {
                "model": "german_credit v1",
                "outcome": "approved",
                "by": "vera",
                "countersigned by": "–",
                "when": decision.decided_at.strftime("%Y-%m-%d %H:%M"),
                "why": "reviewed",
            }
        ], who


def _contradicted_in_prod(ctx: ServiceContext, people: dict[str, Principal], dep_id: int) -> list[int]:
    """Prod serves 300 applicants, then the true outcomes of 150 contradict it: an evaluation raises alerts."""
    spec = german_credit_spec()
    applicants = generate_german_credit(300, seed=31)
    before = count_payload(ctx, SYSTEM, deployment_id=dep_id)
    scored = score_over_http(ctx, people["dora"], dep_id, applicants, spec=spec, label="overview test traffic")
    wait_for(
        lambda: count_payload(ctx, SYSTEM, deployment_id=dep_id) == before + 300, timeout=20, what="prod's payload"
    )
    feedback = applicants.iloc[:150].copy()
    feedback["Risk"] = ["No Risk" if p == "Risk" else "Risk" for p in scored["prediction"].iloc[:150]]
    feedback["scoring_id"] = list(scored["scoring_id"].iloc[:150])
    upload_feedback(ctx, people["dora"], dep_id, feedback)
    outcome = monitoring.evaluate_deployment(ctx, people["vera"], dep_id)
    assert outcome.status == "fail" and outcome.alerts, outcome
    return outcome.alerts


def test_an_alert_raised_by_a_failed_critical_check_in_prod(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    dep_id = in_prod
    alert_ids = _contradicted_in_prod(live_ctx, people, dep_id)
    alerts = {a.id: a for a in monitoring.list_alerts(live_ctx, people["max"])}
    assert set(alerts) == set(alert_ids)
    assert "roc_auc" in {a.metric for a in alerts.values()}
    for who in EVERYONE:
        at = _overview(page, who)
        history = _section(at, "Production models over time")
        assert history[0] == f"markdown: **german_credit v1** · deployment {dep_id}", who
        assert at.get("plotly_chart"), who  # the metrics over time, drawn instead of the empty note
        assert not any("No production evaluation yet" in line for line in history), who
        shown_alerts = next(d.value for d in at.dataframe if "alert" in d.value.columns).to_dict(orient="records")
        assert [r["alert"] for r in shown_alerts] == sorted(alert_ids, reverse=True), who  # newest first
        for r in shown_alerts:
            alert = alerts[int(r["alert"])]
            assert r["deployment"] == dep_id and r["message"] == alert.message, who
            assert r["raised"] == alert.created_at.strftime("%Y-%m-%d %H:%M"), who
            assert "fails its critical threshold" in alert.message and "prod, evaluation" in alert.message
        assert not [s.value for s in at.success if s.value == "No open alerts."], who
        decisions = next(d.value for d in at.dataframe if "outcome" in d.value.columns)
        assert list(decisions["outcome"]) == ["approved"] and list(decisions["by"]) == ["vera"], who
