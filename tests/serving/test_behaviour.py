"""The scoring service under change and load: zero-downtime replace, exact payload logging, fuzzing."""

from __future__ import annotations

import json
import threading
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pipeline_core.services import deployments
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.datasets import count_payload, existing_scoring_ids, recent_payload
from pipeline_core.serving.server import BackgroundServer
from pipeline_core.store.models import PayloadBatch
from tests.live import Live
from tests.processes import wait_for
from tests.services.helpers import make_candidate


def _more_than(seen: Counter[int], key: int, n: int) -> bool:
    return seen[key] > n


def test_replacing_a_deployment_fails_no_request(live: Live, applicants: pd.DataFrame, tmp_path: Path) -> None:
    # A second candidate: its pipeline run replaced the pre-prod deployment with itself.
    second = make_candidate(live.ctx, live.people["dan"], tmp_path, seed=99)
    first = live.model_version_id
    assert deployments.get_deployment(live.ctx, SYSTEM, live.deployment_id).model_version_id == second
    payload = live.payload(applicants.iloc[:20])
    seen: Counter[int] = Counter()
    errors: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=live.ctx.settings.scoring_url, timeout=30) as c:
            while not stop.is_set():
                r = c.post(live.path, json=payload, headers={"Authorization": f"Bearer {live.key}"})
                if r.status_code != 200:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                else:
                    seen[r.json()["model_version_id"]] += 1

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: seen[second] > 10, timeout=30, what="traffic on the current model")
        for target in (first, second, first):  # replace three times under load
            before = seen[target]
            deployments.deploy(live.ctx, live.people["dora"], target, space="preprod")
            wait_for(partial(_more_than, seen, target, before + 10), timeout=30, what=f"traffic on model {target}")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert deployments.get_deployment(live.ctx, SYSTEM, live.deployment_id).model_version_id == first


def test_every_scored_record_is_logged_exactly_once(live: Live, applicants: pd.DataFrame) -> None:
    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    sizes = [1, 7, 250, 1, 1000, 33]
    scoring_ids: list[str] = []
    for n in sizes:
        r = live.post(live.payload(applicants.iloc[:n]))
        assert r.status_code == 200
        scoring_ids += r.json()["scoring_ids"]
    bad = live.post({"input_data": []})
    assert bad.status_code == 400  # refused requests log nothing
    expected = before + sum(sizes)
    wait_for(
        lambda: count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == expected,
        timeout=10,
        what=f"{expected} payload records",
    )
    assert len(set(scoring_ids)) == sum(sizes)
    newest = recent_payload(live.ctx, live.people["max"], live.deployment_id, limit=40)
    assert [r.scoring_id for r in newest] == scoring_ids[::-1][:40]
    assert newest[0].inputs["Age"] == int(applicants["Age"].iloc[32]) and newest[0].prediction in (
        "Risk",
        "No Risk",
    )
    # The store can name every one of them: each scoring id resolves to a stored record.
    assert existing_scoring_ids(live.ctx, SYSTEM, live.deployment_id, scoring_ids) == set(scoring_ids)
    with live.ctx.db.read() as session:
        assert (
            session.execute(select(func.count()).select_from(PayloadBatch)).scalar() == len(sizes) + 2
        )  # and the smoke test and the pre-prod evaluation


def test_a_clean_shutdown_loses_no_acknowledged_record(live: Live, applicants: pd.DataFrame) -> None:
    server = BackgroundServer(live.ctx).start()
    before = count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id)
    acknowledged = 0
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for i in range(40):
            r = c.post(
                live.path,
                json=live.payload(applicants.iloc[i * 10 : i * 10 + 10]),
                headers={"Authorization": f"Bearer {live.key}"},
            )
            assert r.status_code == 200
            acknowledged += 10
    server.stop()  # right after the last answer: the logger drains on the way out
    assert count_payload(live.ctx, SYSTEM, deployment_id=live.deployment_id) == before + acknowledged


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    block = base["input_data"][0]

    @st.composite
    def strategy(draw: st.DrawFn) -> Any:
        values = [list(row) for row in block["values"]]
        fields = list(block["fields"])
        for _ in range(draw(st.integers(1, 3))):
            row = draw(st.integers(0, len(values) - 1))
            col = draw(st.integers(0, len(fields) - 1))
            values[row][col] = draw(json_values)
        if draw(st.booleans()):
            fields[draw(st.integers(0, len(fields) - 1))] = draw(st.text(max_size=10))
        return {"input_data": [{"fields": fields, "values": values}]}

    return strategy()


def test_random_payloads_never_cause_a_500(live: Live, applicants: pd.DataFrame) -> None:
    base = live.payload(applicants.iloc[:3])
    bodies = st.one_of(json_values, _mutated(base), st.binary(max_size=64))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=bodies)
    def check(body: Any) -> None:
        content = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode()
        r = live.client.post(
            live.path,
            content=content,
            headers={"Authorization": f"Bearer {live.key}", "Content-Type": "application/json"},
        )
        assert r.status_code < 500, (r.status_code, r.text[:300], content[:300])
        assert r.status_code in (200, 400, 413), r.status_code
        if r.status_code != 200:
            assert r.json()["errors"][0]["message"]

    check()
