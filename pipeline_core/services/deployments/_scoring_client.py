"""Scoring records through a deployment's real HTTP endpoint with a key that lives for one call.

The pipeline's evaluate stage and the dashboard's "score a record" both go through here, so
what they score is logged as payload like any client's request.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pandas as pd

from pipeline_core.backends.base import ServedModel
from pipeline_core.data.columns import PREDICTION, PROBABILITY, SCORING_ID
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DeploymentError
from pipeline_core.services import datasets, integrations
from pipeline_core.services.authz import SYSTEM, Principal, require
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.deployments import _endpoints
from pipeline_core.store.db import utcnow


def score_over_http(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    rows: pd.DataFrame,
    *,
    spec: DataSpec,
    label: str,
    classes: list[str] | None = None,
) -> pd.DataFrame:
    """``rows`` with ``prediction``, ``probability`` (of the positive label) and ``scoring_id`` from the endpoint.

    ``classes`` is the model's class order; scikit-learn sorts string labels, which is the default.
    Scoring uses a short-lived API key, so it takes whoever may issue one.
    """
    require(ctx, actor, "deploy_nonprod")
    served = _endpoints.served_model(ctx, actor, deployment_id)
    if served is not None and served.backend != "local":
        return _score_through_target(ctx, actor, deployment_id, served, rows, spec=spec)
    url = ctx.settings.scoring_url.rstrip("/") + _endpoints.scoring_path(deployment_id)
    positive = (classes or sorted(spec.labels)).index(spec.positive_label)
    key = _endpoints.issue_key(ctx, actor, deployment_id, label=label)
    labels: list[str] = []
    probabilities: list[float] = []
    ids: list[str] = []
    step = max(1, ctx.settings.max_scoring_rows)
    try:
        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
            for start in range(0, len(rows), step):
                part = rows.iloc[start : start + step][spec.feature_names]
                payload = {
                    "input_data": [{"fields": spec.feature_names, "values": json.loads(part.to_json(orient="values"))}]
                }
                response = client.post(url, json=payload)
                if response.status_code != 200:
                    raise DeploymentError(f"{url} answered {response.status_code}: {response.text[:300]}")
                body = response.json()
                for predicted, proba in body["predictions"][0]["values"]:
                    labels.append(str(predicted))
                    probabilities.append(float(proba[positive]))
                ids += body["scoring_ids"]
    except httpx.HTTPError as exc:
        raise DeploymentError(
            f"no answer from the scoring service at {url}: {exc}; start it with 'python -m pipeline_core serve'"
        ) from exc
    finally:
        _endpoints.revoke_key(ctx, actor, key)
    out = rows.copy()
    out[PREDICTION], out[PROBABILITY], out[SCORING_ID] = labels, probabilities, ids
    return out


def _score_through_target(
    ctx: ServiceContext,
    actor: Principal,
    deployment_id: int,
    served: ServedModel,
    rows: pd.DataFrame,
    *,
    spec: DataSpec,
) -> pd.DataFrame:
    """Score through an external deployment (watsonx.ai) in batches; log each batch as payload, here and outside."""
    model_version_id = _endpoints.get_deployment(ctx, actor, deployment_id).model_version_id
    labels: list[str] = []
    probabilities: list[float] = []
    ids: list[str] = []
    step = max(1, ctx.settings.max_scoring_rows)
    for start in range(0, len(rows), step):
        part = rows.iloc[start : start + step][spec.feature_names]
        records = [{str(k): v for k, v in r.items()} for r in json.loads(part.to_json(orient="records"))]
        predictions = ctx.deployments.score(served, records)
        scored = part.assign(
            prediction=[p.label for p in predictions],
            probability=[p.probabilities[spec.positive_label] for p in predictions],
        )
        request_id = uuid.uuid4().hex
        datasets.store_payload_frame(
            ctx,
            SYSTEM,  # logged as the scoring service would log it
            deployment_id=deployment_id,
            model_version_id=model_version_id,
            frame=scored,
            request_id=request_id,
            created_at=utcnow(),
        )
        answers = [[p.probabilities[c] for c in served.classes] for p in predictions]
        integrations.openscale_log_scored(
            ctx, actor, deployment_id, part, spec=spec, labels=list(scored[PREDICTION]), probabilities=answers
        )
        labels += list(scored[PREDICTION])
        probabilities += list(scored[PROBABILITY])
        ids += [datasets.scoring_id(request_id, i) for i in range(len(part))]
    out = rows.copy()
    out[PREDICTION], out[PROBABILITY], out[SCORING_ID] = labels, probabilities, ids
    return out
