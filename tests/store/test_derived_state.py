"""Derived, not stored: a deployment's current version, name and endpoint; a model version's served states; its split.

Every derived attribute reads the same on a loaded row (Python) and in a query (SQL), on both
engines, and equals what the rows it is derived from say; what is stored is only the decision.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline_core.errors import IntegrityError
from pipeline_core.services.context import ServiceContext
from pipeline_core.store.db import utcnow
from pipeline_core.store.models import Dataset, Deployment, DeploymentRevision, ModelVersion, Run, scoring_path
from pipeline_core.vocabulary import DECIDED_STATES, SERVED_STATES, ModelState, Space, decision, derived_state

S = ModelState
# Where a model version has been served: (space, still serving) per revision, oldest first.
HISTORIES: dict[str, tuple[tuple[Space, bool], ...]] = {
    "nowhere": (),
    "dev only": ((Space.DEV, True),),
    "pre-prod before": ((Space.PREPROD, False),),
    "pre-prod now": ((Space.PREPROD, True),),
    "prod before": ((Space.PREPROD, False), (Space.PROD, False)),
    "prod now": ((Space.PREPROD, False), (Space.PROD, True)),
    "prod, back again": ((Space.PREPROD, False), (Space.PROD, False), (Space.PROD, True)),
}
# The state each stored word reads as after each history, written out (not computed with derived_state).
EXPECTED: dict[tuple[ModelState, str], ModelState] = {
    **{(S.TRAINED, h): S.TRAINED for h in HISTORIES},
    (S.TRAINED, "pre-prod before"): S.IN_PREPROD,
    (S.TRAINED, "pre-prod now"): S.IN_PREPROD,
    **{(S.AWAITING_REVIEW, h): S.AWAITING_REVIEW for h in HISTORIES},
    **{(S.APPROVED, h): S.APPROVED for h in HISTORIES},
    (S.APPROVED, "prod before"): S.RETIRED,
    (S.APPROVED, "prod now"): S.IN_PRODUCTION,
    (S.APPROVED, "prod, back again"): S.IN_PRODUCTION,
    **{(S.REJECTED, h): S.REJECTED for h in HISTORIES},  # a tampered history never un-rejects a version
    **{(S.FAILED, h): S.FAILED for h in HISTORIES},  # a failed run's version stays failed wherever it was served
    # Words kept by migration 0010 for versions served before revisions existed: they read as stored.
    (S.IN_PREPROD, "nowhere"): S.IN_PREPROD,
    (S.IN_PRODUCTION, "nowhere"): S.IN_PRODUCTION,
    (S.RETIRED, "nowhere"): S.RETIRED,
}


def test_every_state_is_a_decision_refined_by_where_it_was_served() -> None:
    assert set(ModelState) == DECIDED_STATES | SERVED_STATES and not DECIDED_STATES & SERVED_STATES
    assert {s: decision(s) for s in SERVED_STATES} == {
        S.IN_PREPROD: S.TRAINED,
        S.IN_PRODUCTION: S.APPROVED,
        S.RETIRED: S.APPROVED,
    }
    for state in ModelState:  # what a deployment move stores, the revisions turn back into the state
        assert decision(state) in DECIDED_STATES
        assert derived_state(decision(state), state if state in SERVED_STATES else None) == state


def _dataset_and_runs(session: Session, n: int) -> list[int]:
    now = utcnow()
    session.add(
        Dataset(
            id=1,
            name="d",
            sha256="d" * 64,
            spec_name="german_credit",
            spec={},
            schema={},
            n_rows=1,
            n_columns=1,
            source="s",
            created_by="dora",
            created_at=now,
        )
    )
    session.flush()
    runs = [Run(status="succeeded", dataset_id=1, params={}, created_by="dora", created_at=now) for _ in range(n)]
    session.add_all(runs)
    session.flush()
    return [r.id for r in runs]


def _version(run_id: int, name: str, stored: ModelState) -> ModelVersion:
    mv = ModelVersion(
        name=name,
        version=1,
        run_id=run_id,
        dataset_id=1,
        artifact_sha256="a" * 64,
        training_data_sha256="d" * 64,
        model_type="hgb",
        params={},
        metrics={},
        lineage={},
        created_by="dora",
        created_at=utcnow(),
    )
    mv.review_state = stored  # a served word only as migration 0010 keeps one: written to the column directly
    return mv


def _serve(session: Session, mv: ModelVersion, history: tuple[tuple[Space, bool], ...]) -> None:
    start = utcnow()
    for i, (space, now) in enumerate(history):
        dep = Deployment(model_name=mv.name, space=space, status="active", created_by="vera", created_at=start)
        session.add(dep)
        session.flush()
        at = start + timedelta(minutes=i)
        session.add(
            DeploymentRevision(
                deployment_id=dep.id,
                model_version_id=mv.id,
                artifact_sha256=mv.artifact_sha256,
                reason="approval" if space == Space.PROD else "deploy",
                actor="vera",
                started_at=at,
                ended_at=None if now else at + timedelta(seconds=30),
            )
        )
    session.flush()


def test_a_model_versions_state_is_its_decision_refined_by_its_revisions(ctx: ServiceContext) -> None:
    cases = sorted(EXPECTED, key=str)
    with ctx.db.write() as session:
        runs = _dataset_and_runs(session, len(cases))
        ids = {}
        for run_id, (stored, history) in zip(runs, cases, strict=True):
            mv = _version(run_id, f"m{run_id}", stored)
            session.add(mv)
            session.flush()
            _serve(session, mv, HISTORIES[history])
            ids[stored, history] = mv.id
    with ctx.db.read() as session:
        queried = dict(session.execute(select(ModelVersion.id, ModelVersion.state)).tuples().all())
        loaded = {mv.id: mv for mv in session.execute(select(ModelVersion)).scalars()}
        for case, mv_id in ids.items():
            mv = loaded[mv_id]
            assert (mv.state, queried[mv_id]) == (EXPECTED[case], EXPECTED[case]), case
            assert derived_state(mv.review_state, mv.deployed_state) == EXPECTED[case], case
            assert mv.review_state == case[0]  # reading derives; nothing was written
        for state in ModelState:  # a query on the state finds exactly the versions in it
            found = set(session.execute(select(ModelVersion.id).where(ModelVersion.state == state)).scalars())
            assert found == {ids[c] for c in EXPECTED if EXPECTED[c] == state}, state


def test_a_deployment_serves_its_open_revision_and_is_named_by_model_and_space(ctx: ServiceContext) -> None:
    now = utcnow()
    with ctx.db.write() as session:
        first, second, third = (_version(r, "credit", S.APPROVED) for r in _dataset_and_runs(session, 3))
        for v, mv in enumerate((first, second, third), start=1):
            mv.version = v
        session.add_all([first, second, third])
        prod = Deployment(model_name="credit", space=Space.PROD, status="active", created_by="vera", created_at=now)
        gone = Deployment(model_name="credit", space=Space.DEV, status="deleted", created_by="dora", created_at=now)
        session.add_all([prod, gone])
        session.flush()

        def revision(dep: Deployment, mv: ModelVersion, *, open_: bool) -> DeploymentRevision:
            return DeploymentRevision(
                deployment_id=dep.id,
                model_version_id=mv.id,
                artifact_sha256=mv.artifact_sha256,
                reason="approval",
                actor="vera",
                started_at=now,
                ended_at=None if open_ else now,
            )

        # prod: first, then second (open), then a closed revision of third written after it (a tampered
        # history, as tests/services/test_approvals.py writes one): the open revision is what is served.
        session.add_all([revision(prod, first, open_=False), revision(prod, second, open_=True)])
        session.flush()
        session.add(revision(prod, third, open_=False))
        # a deleted deployment has no open revision: it served its newest one last
        session.add_all([revision(gone, first, open_=False), revision(gone, third, open_=False)])
        ids = (prod.id, gone.id, first.id, second.id, third.id)
    prod_id, gone_id, first_id, second_id, third_id = ids
    with ctx.db.read() as session:
        deps = {d.id: d for d in session.execute(select(Deployment)).scalars()}
        assert (deps[prod_id].model_version_id, deps[gone_id].model_version_id) == (second_id, third_id)
        assert (deps[prod_id].name, deps[gone_id].name) == ("credit-prod", "credit-dev")
        assert deps[prod_id].endpoint == scoring_path(prod_id) == f"/ml/v4/deployments/{prod_id}/predictions"
        by_version = select(Deployment.id).where(Deployment.model_version_id == second_id)
        assert session.execute(by_version).scalars().all() == [prod_id]
        by_name = select(Deployment.id).where(Deployment.name == "credit-dev")
        assert session.execute(by_name).scalars().all() == [gone_id]
        served = select(ModelVersion.id).join(Deployment, Deployment.model_version_id == ModelVersion.id)
        assert sorted(session.execute(served).scalars()) == sorted([second_id, third_id])
        states = {mv.id: mv.state for mv in session.execute(select(ModelVersion)).scalars()}
        assert states == {first_id: S.RETIRED, second_id: S.IN_PRODUCTION, third_id: S.RETIRED}


@pytest.mark.parametrize("served", sorted(set(ModelState) - DECIDED_STATES))
def test_a_served_state_is_never_assigned_only_a_decision_is(ctx: ServiceContext, served: ModelState) -> None:
    with pytest.raises(ValueError, match=f"^{served} is derived from the deployment revisions"):
        ModelVersion(state=served)
    with ctx.db.write() as session:
        (run_id,) = _dataset_and_runs(session, 1)
        mv = _version(run_id, "credit", S.AWAITING_REVIEW)
        session.add(mv)
        session.flush()
        mv_id = mv.id
        with pytest.raises(ValueError, match=f"^{served} is derived"):
            session.execute(update(ModelVersion).where(ModelVersion.id == mv_id).values(state=served))
        session.execute(update(ModelVersion).where(ModelVersion.id == mv_id).values(state=S.APPROVED))
    with ctx.db.read() as session:
        stored = session.get(ModelVersion, mv_id)
        assert stored is not None and (stored.review_state, stored.state) == (S.APPROVED, S.APPROVED)


def _with_split(**overrides: object) -> ModelVersion:
    mv = ModelVersion(id=7)
    mv.record_split(dataset_sha256="d" * 64, n_rows=6, train=[0, 2, 3, 5], test=[1, 4])
    assert mv.split is not None
    mv.split = {**mv.split, **overrides}
    return mv


def test_a_stored_split_proves_itself_against_the_dataset() -> None:
    assert _with_split().stored_split(dataset_sha256="d" * 64, n_rows=6) == ([0, 2, 3, 5], [1, 4])
    assert ModelVersion(id=8).stored_split(dataset_sha256="d" * 64, n_rows=6) is None  # registered before 0010


@pytest.mark.parametrize(
    ("tampered", "dataset", "rows", "message"),
    [
        ({}, "e" * 64, 6, "model version 7: its stored split is of dataset d{64}, not e{64}"),
        ({}, "d" * 64, 7, "its stored split counts 6 rows; the dataset has 7"),
        ({"train": [0, 2, 3, 4]}, "d" * 64, 6, "its train positions do not hash to [0-9a-f]{64}"),
        ({"test": [4, 1]}, "d" * 64, 6, "its test positions do not hash to"),
    ],
)
def test_a_split_that_does_not_hold_is_refused_naming_what(
    tampered: dict[str, object], dataset: str, rows: int, message: str
) -> None:
    with pytest.raises(IntegrityError, match=message):
        _with_split(**tampered).stored_split(dataset_sha256=dataset, n_rows=rows)


def test_lists_that_do_not_split_the_rows_in_two_are_refused() -> None:
    mv = ModelVersion(id=7)
    mv.record_split(dataset_sha256="d" * 64, n_rows=6, train=[0, 1, 2, 3], test=[3, 4])  # row 3 twice, 5 never
    with pytest.raises(IntegrityError, match="does not split the dataset's 6 rows into train and test"):
        mv.stored_split(dataset_sha256="d" * 64, n_rows=6)
