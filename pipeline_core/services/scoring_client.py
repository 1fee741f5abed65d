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
from pipeline_core.data.spec import DataSpec
from pipeline_core.errors import DeploymentError
from pipeline_core.services import deployments
from pipeline_core.services.authz import Principal
from pipeline_core.services.context import ServiceContext


def score_over_http(ctx: ServiceContext, actor: Principal, deployment_id: int, rows: pd.DataFrame, *, spec: DataSpec,
                    label: str, classes: list[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """``rows`` with ``prediction``, ``probability`` (of the positive label) and ``scoring_id`` from the endpoint.

    ``classes`` is the model's class order; scikit-learn sorts string labels, which is the default.
    """
    served = deployments.served_model(ctx, deployment_id)
    if served is not None and served.backend != "local":
        return _score_through_target(ctx, served, rows, spec=spec)
    url = ctx.settings.scoring_url.rstrip("/") + deployments.scoring_path(deployment_id)
    positive = (classes or sorted(spec.labels)).index(spec.positive_label)
    key = deployments.issue_key(ctx, actor, deployment_id, label=label)
    labels: list[str] = []
    probabilities: list[float] = []
    ids: list[str] = []
    step = max(1, ctx.settings.max_scoring_rows)
    try:
        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {key}"}) as client:
            for start in range(0, len(rows), step):
                part = rows.iloc[start : start + step][spec.feature_names]
                payload = {"input_data": [{"fields": spec.feature_names,
                                           "values": json.loads(part.to_json(orient="values"))}]}  # fmt: skip
                response = client.post(url, json=payload)
                if response.status_code != 200:
                    raise DeploymentError(f"{url} answered {response.status_code}: {response.text[:300]}")
                body = response.json()
                for predicted, proba in body["predictions"][0]["values"]:
                    labels.append(str(predicted))
                    probabilities.append(float(proba[positive]))
                ids += body["scoring_ids"]
    except httpx.HTTPError as exc:
        raise DeploymentError(f"no answer from the scoring service at {url}: {exc}; start it with "
                              "'python -m pipeline_core serve'") from exc  # fmt: skip
    finally:
        deployments.revoke_key(ctx, actor, key)
    out = rows.copy()
    out["prediction"], out["probability"], out["scoring_id"] = labels, probabilities, ids
    return out


def _score_through_target(
    ctx: ServiceContext, served: ServedModel, rows: pd.DataFrame, *, spec: DataSpec
) -> pd.DataFrame:
    """Score through an external deployment (watsonx.ai), in batches of ``max_scoring_rows``."""
    labels: list[str] = []
    probabilities: list[float] = []
    step = max(1, ctx.settings.max_scoring_rows)
    for start in range(0, len(rows), step):
        part = rows.iloc[start : start + step][spec.feature_names]
        records = [{str(k): v for k, v in r.items()} for r in json.loads(part.to_json(orient="records"))]
        for prediction in ctx.deployments.score(served, records):
            labels.append(prediction.label)
            probabilities.append(prediction.probabilities[spec.positive_label])
    out = rows.copy()
    out["prediction"], out["probability"] = labels, probabilities
    out["scoring_id"] = [f"{served.deployment_id}-{uuid.uuid4().hex}" for _ in range(len(rows))]
    return out
