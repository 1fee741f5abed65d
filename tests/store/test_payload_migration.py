"""Migration 0004 copies payload logged as JSON into columnar chunks: no scored record is lost."""

from __future__ import annotations

import json

from sqlalchemy import text

from pipeline_core.data.spec import DataSpec
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import PayloadWindow, read_payload, recent_payload
from pipeline_core.store.db import Database
from pipeline_core.store.models import Dataset, ModelVersion, Run


def _upgrade(db: Database, revision: str) -> None:
    db.migrate(revision)  # as every process migrates (on SQLite, foreign keys off while tables are rebuilt)


def test_json_payload_of_0003_is_readable_after_0004(fresh_url: str, spec: DataSpec, ctx: ServiceContext) -> None:
    db = Database(fresh_url)
    _upgrade(db, "0003")
    with db.engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO datasets (id, name, sha256, spec_name, spec, schema, n_rows, n_columns, source, "
                "created_by, created_at) VALUES (1, 'd', 'x', 'german_credit', :spec, '{}', 1, 1, 's', 'dora', "
                "'2026-11-25 10:00:00')"
            ),
            {"spec": json.dumps(spec.to_dict())},
        )
        c.execute(
            text(
                "INSERT INTO runs (id, status, dataset_id, params, created_by, created_at, cancel_requested) "
                "VALUES (1, 'succeeded', 1, '{}', 'dora', '2026-11-25 10:00:00', false)"
            )
        )
        c.execute(
            text(
                "INSERT INTO model_versions (id, name, version, run_id, dataset_id, artifact_sha256, "
                "training_data_sha256, model_type, params, metrics, lineage, state, created_by, created_at) "
                "VALUES (1, 'german_credit', 1, 1, 1, 'a', 'x', 'hgb', '{}', '{}', '{}', 'in_production', "
                "'dora', '2026-11-25 10:00:00')"
            )
        )
        request = {"input_data": [{"fields": ["Age", "Housing"], "values": [[31, "own"], [67, "rent"]]}]}
        # Old responses: both class probabilities in the model's (sorted) class order, No Risk then Risk.
        response = {
            "predictions": [
                {"fields": ["prediction", "probability"], "values": [["No Risk", [0.9, 0.1]], ["Risk", [0.3, 0.7]]]}
            ],
            "warnings": [{"record": 1, "field": "Housing", "value": "rent", "issue": "unseen"}],
        }
        c.execute(
            text(
                "INSERT INTO payload_batches (request_id, deployment_id, model_version_id, created_at, "
                "n_records, request, response) VALUES ('abc', 4, 1, '2026-11-25 11:00:00', 2, :q, :r)"
            ),
            {"q": json.dumps(request), "r": json.dumps(response)},
        )
    _upgrade(db, "head")
    with db.engine.begin() as c:
        assert c.execute(text("SELECT chunk_id IS NOT NULL, chunk_offset FROM payload_batches")).one() == (1, 0)
    ctx.db = db
    frame = read_payload(ctx, SYSTEM, 4, PayloadWindow(), scoring_ids=True)
    assert frame["Age"].tolist() == [31, 67] and frame["Housing"].astype(str).tolist() == ["own", "rent"]
    assert frame["prediction"].astype(str).tolist() == ["No Risk", "Risk"]
    assert frame["probability"].tolist() == [0.1, 0.7]  # the probability of Risk, as the logger now stores
    assert frame["scoring_id"].tolist() == ["abc-0", "abc-1"] and frame["unseen"].tolist() == [0, 1]
    newest = recent_payload(ctx, SYSTEM, 4, limit=1)  # no accounts in a store migrated by hand
    assert newest[0].scoring_id == "abc-1" and newest[0].unseen_categories == 1
    with db.read() as session:  # the ORM still reads every table at head
        assert session.get(ModelVersion, 1) is not None and session.get(Run, 1) is not None
        assert session.get(Dataset, 1) is not None
