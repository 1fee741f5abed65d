"""The scoring service: a FastAPI app speaking Watson Machine Learning's scoring API.

``POST /ml/v4/deployments/{deployment_id}/predictions`` with a bearer API key of that
deployment; ``GET /health``; OpenAPI docs at ``/docs``. Errors are JSON
``{"errors": [{"code": ..., "message": ...}]}`` (WML's shape) with a 4xx status; a
request can never reach a 500 through its payload. A 200 means the request is logged
durably (``payload_log``); a 503 with ``Retry-After`` means the log cannot keep it now.
A deployment with an active shadow hands each request it answered 200 to the shadow scorer
(``serving.shadow``) in a background task that runs after the response is sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline_core.data.columns import UNSEEN
from pipeline_core.errors import ScoringInputError
from pipeline_core.scoring import parse_payload, score
from pipeline_core.services.authz import SYSTEM
from pipeline_core.services.context import ServiceContext
from pipeline_core.services.datasets import count_quarantined_payload, quarantine_payload, store_payload_batch
from pipeline_core.services.deployments import hash_key, store_shadow_outputs
from pipeline_core.serving.payload_log import PayloadLogger, PayloadLogRefused
from pipeline_core.serving.registry import Registry
from pipeline_core.serving.request import BodyRefused, RequestLimits, check_content_type, parse_json, read_body
from pipeline_core.serving.shadow import ShadowJob, ShadowScorer

log = logging.getLogger(__name__)

EXAMPLE = {
    "input_data": [
        {
            "fields": ["CheckingStatus", "LoanDuration", "..."],
            "values": [["no_checking", 13, "..."]],
        }
    ]
}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status, headers=headers)


def payload_logger(ctx: ServiceContext) -> PayloadLogger:
    """The logger of ``ctx``'s settings: its write-ahead log under the data folder, its queue bound."""
    settings = ctx.settings
    return PayloadLogger(
        lambda batch: store_payload_batch(ctx, SYSTEM, batch),
        quarantine=lambda request, error: quarantine_payload(ctx, SYSTEM, request, error=error),
        wal_dir=settings.data_dir / "payload" / "wal",
        durable=settings.payload_wal,
        wal_sync=settings.payload_wal_sync,
        wal_sync_interval=settings.payload_wal_sync_interval,
        wal_segment_bytes=settings.payload_wal_segment_bytes,
        max_records=settings.payload_queue_max_records,
        retry_after=settings.payload_retry_after,
        limits=RequestLimits.from_settings(settings),
    )


def shadow_scorer(ctx: ServiceContext, limits: RequestLimits) -> ShadowScorer:
    """The shadow scorer of ``ctx``: its answers stored through the deployments service, as the system."""
    return ShadowScorer(
        lambda outputs: store_shadow_outputs(ctx, SYSTEM, outputs),
        limits=limits,
        max_records=ctx.settings.shadow_queue_max_records,
    )


def create_app(ctx: ServiceContext, *, max_rows: int | None = None, log_payload: bool | None = None) -> FastAPI:
    """The app over ``ctx``'s store; starts the deployment refresher and payload logger."""
    limits = RequestLimits.from_settings(ctx.settings, max_rows=max_rows)
    log_payload = ctx.settings.payload_logging if log_payload is None else log_payload
    registry = Registry(ctx, refresh_interval=ctx.settings.serving_refresh_interval)
    # Built (and its abandoned write-ahead logs replayed, by its writer thread) as the app is.
    logger = payload_logger(ctx) if log_payload else None
    shadows = shadow_scorer(ctx, limits)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        registry.start()
        try:
            yield
        finally:
            registry.stop()
            shadows.close()
            if logger is not None:
                logger.close()  # drain: nothing acknowledged is lost on a clean shutdown

    app = FastAPI(
        title="MLOps governance scoring service",
        description="Scores model deployments with the Watson Machine Learning v4 payload format.",
        version="1",
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.payload_logger = logger
    app.state.shadow_scorer = shadows

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, "invalid_request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.get("/health")
    def health() -> dict[str, Any]:
        # Still 200 when degraded: the service scores; a probe reads the status and the reasons.
        quarantined = count_quarantined_payload(ctx, SYSTEM)
        problems = logger.problems() if logger else []
        if quarantined:
            problems.append(f"{quarantined} scored request(s) could not be stored and are quarantined")
        refused = registry.refused_deployments  # their models failed the integrity check
        problems += [f"deployment {r.deployment_id}: {r.message}" for r in refused]
        unapproved = registry.unapproved_deployments  # the serving gate refused the version the store names
        problems += [
            u.message
            + (
                f"; it serves model version {u.serving_model_version_id} still"
                if u.serving_model_version_id is not None
                else "; it serves nothing"
            )
            for u in unapproved
        ]
        return {
            "status": "degraded" if problems else "ok",
            "deployments": registry.deployment_count,
            "integrity_failed": [r.to_dict() for r in refused],
            "approval_refused": [u.to_dict() for u in unapproved],
            "payload_pending": logger.pending if logger else 0,
            "payload_quarantined": quarantined,
            "problems": problems,
        }

    @app.get("/health/shadows")
    def shadow_health() -> dict[str, Any]:
        # Apart from /health: a failing shadow is not production's degradation, and production's probe ignores it.
        return {
            "scoring": [
                {
                    "shadow_id": s.shadow_id,
                    "deployment_id": s.production_deployment_id,
                    "model_version_id": s.model_version_id,
                }
                for s in registry.shadows
            ],
            "integrity_failed": [r.to_dict() for r in registry.refused_shadows],
            **shadows.stats.to_dict(),
        }

    @app.post(
        "/ml/v4/deployments/{deployment_id}/predictions",
        responses={
            400: {"description": "unusable payload"},
            401: {},
            403: {},
            404: {},
            413: {"description": "body, records or fields over the limit"},
            415: {"description": "not application/json"},
            503: {"description": "the payload log cannot keep the request now; retry after Retry-After seconds"},
        },
        openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE}}, "required": True}},
    )
    async def predictions(deployment_id: int, request: Request) -> Response:
        # Headers first: a body of the wrong type or declared too big is refused without reading it.
        try:
            check_content_type(request.headers.get("content-type"))
            body = await read_body(request, limits.max_bytes)
        except BodyRefused as exc:
            refused = _error(exc.status, exc.code, str(exc))
            if exc.status == 413:
                refused.headers["Connection"] = "close"  # the rest of the body is never read: no keep-alive
            return refused
        auth = request.headers.get("authorization")
        # Scoring is CPU work: off the event loop, so health checks and other requests keep flowing.
        return await run_in_threadpool(_score, registry, logger, shadows, limits, deployment_id, auth, body)

    return app


def _score(
    registry: Registry,
    logger: PayloadLogger | None,
    shadows: ShadowScorer,
    limits: RequestLimits,
    deployment_id: int,
    authorization: str | None,
    body: bytes,
) -> Response:
    if not authorization or not authorization.startswith("Bearer ") or not authorization[7:].strip():
        return _error(401, "missing_api_key", "send the deployment's API key as 'Authorization: Bearer <key>'")
    owner = registry.deployment_for_key(hash_key(authorization[7:].strip()))
    if owner is None:
        return _error(401, "invalid_api_key", "the API key is not valid (unknown or revoked)")
    if owner != deployment_id:
        return _error(403, "wrong_deployment", f"the API key is not a key of deployment {deployment_id}")
    serving = registry.serving(deployment_id)
    if serving is None:
        refused = registry.refused(deployment_id)
        if refused is not None:  # it exists; its model is not fit to answer (the check's words say why)
            return _error(503, "integrity_failed", refused.message)
        unapproved = registry.unapproved(deployment_id)
        if unapproved is not None:  # it exists; the version its store names may not be served, and none was before
            return _error(503, "not_approved", unapproved.message)
        return _error(404, "deployment_not_found", f"deployment {deployment_id} does not exist or was deleted")
    try:
        payload = parse_json(body, limits)
        fields, values = parse_payload(
            payload, serving.loaded.spec, max_rows=limits.max_rows, max_fields=limits.max_fields
        )
        result = score(serving.loaded, fields, values)
    except BodyRefused as exc:
        return _error(exc.status, exc.code, str(exc))
    except ScoringInputError as exc:
        return _error(exc.status, "invalid_input", str(exc))
    except (ValueError, TypeError) as exc:  # a value the model rejects after our checks: still the caller's input
        log.warning("deployment %d: the model refused a checked payload: %s", deployment_id, exc)
        return _error(400, "invalid_input", f"the model cannot score this input: {str(exc)[:200]}")
    except Exception:
        # The last line: a bug of ours, logged and answered in the API's shape instead of a dropped connection.
        log.exception("deployment %d: scoring failed on a request that passed every check", deployment_id)
        return _error(500, "internal_error", "the scoring service failed on this request; the failure is logged")
    body_out = result.to_response()
    body_out["model_version_id"] = serving.model_version_id
    text = json.dumps(body_out)
    created_at = datetime.now(UTC).replace(tzinfo=None)
    if logger is not None:
        # Before the answer: one append to the write-ahead log (a shared group commit) and to the queue;
        # the writer thread turns batches into columnar chunks.
        positive = serving.loaded.classes.index(serving.loaded.spec.positive_label)
        unseen = [0] * len(values)
        for warning in result.warnings:
            if warning["issue"] == "unseen_category":  # the column counts categories, not numbers out of range
                unseen[warning["record"]] += 1
        record = {
            "request_id": result.request_id,
            "deployment_id": deployment_id,
            "model_version_id": serving.model_version_id,
            "n_records": len(values),
            "created_at": created_at,
            "fields": fields,
            "values": values,
            "predictions": result.labels,
            "probabilities": [p[positive] for p in result.probabilities],
            UNSEEN: unseen,
        }
        try:
            logger.log(record, body)  # the log keeps the body as received; the queue the parsed record
        except PayloadLogRefused as exc:  # not kept, so not acknowledged: the caller retries later
            headers = {"Retry-After": str(int(exc.retry_after))} if exc.status == 503 else None
            return _error(exc.status, exc.code, str(exc), headers)
    shadow = registry.shadow(deployment_id)
    if shadow is None:
        return Response(text, media_type="application/json")
    job = ShadowJob(shadow, payload, result.request_id, len(values), created_at)

    async def to_the_shadow() -> None:  # on the event loop once the response is sent: one non-blocking put
        shadows.submit(job)

    return Response(text, media_type="application/json", background=BackgroundTask(to_the_shadow))
