"""Shadow scoring: the candidate scores production's requests after the response, apart, never affecting them.

In-process (FastAPI's TestClient) over a copy of the ``challenger`` state: version 1 serves prod, version 2
awaits review in pre-prod and is put in the shadow of prod.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline_core.data.german_credit import generate_german_credit
from pipeline_core.scoring import LoadedModel
from pipeline_core.services import deployments, monitoring
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.datasets import count_payload, read_payload
from pipeline_core.serving.shadow import ShadowJob, ShadowScorer, ShadowServing
from tests.processes import wait_for
from tests.serving.shadowed import shadowed
from tests.states import States


@pytest.fixture(scope="module")
def applicants() -> pd.DataFrame:
    return generate_german_credit(120, seed=31)


def test_the_shadow_scores_each_production_record_as_the_candidate_scores_it(
    states: States, tmp_path: Path, applicants: pd.DataFrame
) -> None:
    with shadowed(states, tmp_path) as s:
        assert s.registry.shadow(s.prod) is not None
        answers = [s.post(applicants.iloc[i : i + 30]) for i in range(0, 120, 30)]
        assert {a.status_code for a in answers} == {200}
        s.settle()
        outputs = deployments.shadow_outputs(s.ctx, SYSTEM, s.shadow.id)
        ids = [sid for a in answers for sid in a.json()["scoring_ids"]]
        assert sorted(outputs["scoring_id"]) == sorted(ids)  # every production record, by its own scoring id
        frames = monitoring.model_frames(s.ctx, SYSTEM, s.shadow.model_version_id)
        own = monitoring.score_frame(frames.model, applicants.reset_index(drop=True), frames.spec)
        by_id = outputs.set_index("scoring_id").loc[ids]
        np.testing.assert_allclose(by_id["probability"].to_numpy(), own["probability"].to_numpy(), rtol=1e-9)
        assert list(by_id["prediction"]) == list(own["prediction"])
        # Production's answers are production's model's: nothing of the shadow's reached them.
        mine = monitoring.model_frames(s.ctx, SYSTEM, answers[0].json()["model_version_id"])
        prod_own = monitoring.score_frame(mine.model, applicants.reset_index(drop=True), mine.spec)
        served = [v[0] for a in answers for v in a.json()["predictions"][0]["values"]]
        assert served == list(prod_own["prediction"])
        assert {a.json()["model_version_id"] for a in answers} != {s.shadow.model_version_id}
        stats = s.scorer.stats
        assert (stats.scored, stats.failed, stats.dropped, stats.unstored) == (120, 0, 0, 0)
        # Payload as ever: production's records, under production's model version.
        payload = read_payload(s.ctx, SYSTEM, s.prod, scoring_ids=True)
        assert set(ids) <= set(payload["scoring_id"])


class Raising:
    """A model that raises on every prediction: the shadow candidate gone wrong."""

    classes_ = np.array(["No Risk", "Risk"])

    def predict_proba(self, frame: Any) -> Any:
        raise RuntimeError("the shadow model is broken")


def test_a_shadow_model_that_raises_changes_nothing_of_production(
    states: States, tmp_path: Path, applicants: pd.DataFrame
) -> None:
    records = applicants.iloc[:20]
    with shadowed(states, tmp_path) as s:
        before_payload = count_payload(s.ctx, SYSTEM, deployment_id=s.prod)
        healthy = s.post(records)
        s.settle()
        current = s.registry.shadow(s.prod)
        assert current is not None
        broken: LoadedModel = replace(current.loaded, model=Raising(), fast=None)
        s.registry._shadows[s.prod] = replace(current, loaded=broken)  # the refresh keeps it: same shadow, same hash
        answers = [s.post(records) for _ in range(5)]
        s.settle()
        assert [a.status_code for a in answers] == [200] * 5
        strip = {"scoring_ids"}  # a new id per request; everything else is the same answer
        assert all(
            {k: v for k, v in a.json().items() if k not in strip}
            == {k: v for k, v in healthy.json().items() if k not in strip}
            for a in answers
        )
        assert count_payload(s.ctx, SYSTEM, deployment_id=s.prod) == before_payload + 6 * 20  # every record logged
        stats = s.client.get("/health/shadows").json()
        assert (stats["scored"], stats["failed"], stats["dropped"]) == (20, 100, 0)
        assert "RuntimeError: the shadow model is broken" in stats["last_error"]
        assert s.client.get("/health").json()["status"] == "ok"  # production is not degraded by its shadow
        assert len(deployments.shadow_outputs(s.ctx, SYSTEM, s.shadow.id)) == 20  # only the healthy request's


def test_a_shadow_whose_artifact_fails_integrity_is_not_loaded_and_production_serves(
    states: States, tmp_path: Path, applicants: pd.DataFrame
) -> None:
    with shadowed(states, tmp_path) as s:
        sha = s.shadow.artifact_sha256
        artifact = s.ctx.settings.artifact_dir / sha[:2] / sha
        original = artifact.read_bytes()
        artifact.write_bytes(original[:-16])
        s.registry._models.pop(sha)  # as a restarted service would: nothing cached
        s.registry._shadows.clear()
        s.registry.refresh()
        assert s.registry.shadow(s.prod) is None
        (refused,) = s.client.get("/health/shadows").json()["integrity_failed"]
        assert refused["model_version_id"] == s.shadow.model_version_id
        assert f"model version {s.shadow.model_version_id} failed its integrity check" in refused["message"]
        assert s.post(applicants.iloc[:5]).status_code == 200
        artifact.write_bytes(original)  # restored: shadowed again at the next refresh
        s.registry.refresh()
        assert s.registry.shadow(s.prod) is not None


def test_stopping_is_noticed_within_a_refresh(states: States, tmp_path: Path, applicants: pd.DataFrame) -> None:
    with shadowed(states, tmp_path) as s:
        s.post(applicants.iloc[:10])
        s.settle()
        deployments.stop_shadow(s.ctx, s.people["vera"], s.shadow.id, reason="Enough traffic compared for the review.")
        wait_for(lambda: s.registry.shadow(s.prod) is None, timeout=10, what="the stop to reach the scoring service")
        s.post(applicants.iloc[10:20])
        s.settle()
        assert len(deployments.shadow_outputs(s.ctx, SYSTEM, s.shadow.id)) == 10


class Blocking:
    """A model that waits until released: a shadow much slower than production."""

    classes_ = np.array(["No Risk", "Risk"])

    def __init__(self) -> None:
        self.release = threading.Event()

    def predict_proba(self, frame: Any) -> Any:
        self.release.wait(10)
        return np.tile([0.7, 0.3], (len(frame), 1))


def test_a_full_queue_drops_and_counts_without_blocking(states: States, tmp_path: Path) -> None:
    with shadowed(states, tmp_path) as s:
        current = s.registry.shadow(s.prod)
        assert current is not None
    model = Blocking()
    slow = ShadowServing(1, 1, 2, "sha", replace(current.loaded, model=model, fast=None))
    scorer = ShadowScorer(len, max_records=2, interval=0.01)  # the store: counts what it is handed
    try:
        body = s.body(generate_german_credit(1, seed=1))
        jobs = [ShadowJob(slow, body, f"r{i}", 1, datetime(2026, 12, 2)) for i in range(6)]
        accepted = [scorer.submit(job) for job in jobs]  # returns at once, whatever the shadow is doing
        # The thread holds the first, two wait in the queue; the rest are dropped, each counted.
        wait_for(lambda: scorer.stats.dropped >= 3, timeout=5, what="the queue to fill")
        assert accepted.count(False) == scorer.stats.dropped
        model.release.set()
        assert scorer.flush(timeout=10)
        assert scorer.stats.scored + scorer.stats.dropped == 6 and scorer.stats.failed == 0
    finally:
        model.release.set()
        scorer.close()
