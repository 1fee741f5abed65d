"""The Factsheets page's production history: the model's periods in prod, and what served on a picked day."""

from __future__ import annotations

from datetime import timedelta

from pipeline_core.services import governance
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext
from tests.e2e.page_text import assert_readable
from tests.pages.conftest import PageRunner

COLUMNS = ["version", "from", "until", "how", "approved by", "evidence", "conditions"]


def _history_section(at: object) -> list[str]:
    out, inside = [], False
    for node in at.main.children.values():  # type: ignore[attr-defined]
        kind = getattr(node, "type", "")
        if kind == "subheader":
            inside = getattr(node, "value", None) == "Production history"
            continue
        if inside:
            out.append(kind)
    return out


def test_a_model_in_prod_shows_its_period_and_what_served_on_a_day(
    page: PageRunner, in_prod: int, live_ctx: ServiceContext, people: dict[str, Principal]
) -> None:
    (period,) = governance.production_history(live_ctx, people["max"], "german_credit")
    for who in ("max", "vera", "dora"):
        at = page("factsheets", who)
        assert_readable(at, ("factsheets", who))
        (frame,) = [d.value for d in at.dataframe if list(d.value.columns) == COLUMNS]
        (row,) = frame.to_dict(orient="records")
        assert (row["version"], row["until"], row["how"], row["approved by"], row["conditions"]) == (
            "v1",
            "still serving",
            "approval by vera",
            "vera",
            0,
        ), who
        assert row["evidence"] == ", ".join(f"evaluation {i}" for i in period.evaluation_ids), who
        answer = [m.value for m in at.markdown if m.value.startswith("On ")]
        assert len(answer) == 1 and "**german_credit v1**" in answer[0], who
        assert f"- Approved: approval {period.approval_id} by vera on {period.approved_at:%Y-%m-%d}." in answer[0]
        assert f"(model version {period.model_version_id}, artifact `{period.artifact_sha256[:12]}…`)" in answer[0]

    day = period.started_at.date() - timedelta(days=1)
    at.date_input(key="served-on-german_credit").set_value(day).run()
    assert f"Nothing of german_credit served production on {day:%Y-%m-%d}." in [m.value for m in at.markdown]
    assert not [m.value for m in at.markdown if m.value.startswith("On ")]


def test_a_model_never_in_prod_says_so(page: PageRunner, candidate: int) -> None:
    at = page("factsheets", "max")
    assert _history_section(at)[0] == "caption"
    assert "No version of german_credit has served production yet." in [c.value for c in at.caption]
    assert not at.date_input  # no day to ask about
