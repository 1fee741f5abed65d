"""A local stand-in for the Cloud Pak for Data REST endpoints the IBM SDKs call, served over HTTPS.

The SDKs (``ibm-watsonx-ai``, ``ibm-watson-openscale``) run unchanged against it; only
the URL differs. It implements the documented request and response shapes of the calls
our backends make (CPD's ``/icp4d-api/v1/authorize``, WML's ``/ml/v4`` models and
deployments, the ``/v2`` spaces and software specifications, OpenScale's ``/openscale``
data marts, service providers, subscriptions, monitor instances and runs), keeps what it
is sent in memory, and scores deployed models for real: it unpacks the model archive it
was sent and runs scikit-learn on it. Every request is recorded (``calls``); a request
with no or a wrong bearer token gets 401, and ``fail_next`` makes a chosen call fail the
way the service does, to test the error mapping.
"""

from __future__ import annotations

import io
import socket
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import jwt
import pandas as pd
import trustme
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

SIGNING_KEY = "fake-cpd-signing-key-for-tests-only"
USER, API_KEY = "validator-bot", "fake-cpd-api-key"  # accepted only by the fake server
SOFTWARE_SPEC = "runtime-25.1-py3.12"
WML_VERSION = "5.1.0"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _error(status: int, code: str, message: str) -> JSONResponse:
    # WML's and OpenScale's error envelope
    return JSONResponse(
        {"trace": uuid.uuid4().hex, "errors": [{"code": code, "message": message}], "status_code": status},
        status_code=status,
    )


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    authorization: str


@dataclass
class FakeState:
    users: dict[str, str]  # username -> api key
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    software_specs: dict[str, str] = field(default_factory=dict)  # name -> id
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)  # model id -> archive
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    fail_next: dict[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)  # (method, path prefix)
    openscale: dict[str, dict[str, Any]] = field(default_factory=dict)  # collection -> id -> resource
    stuck_runs: bool = False  # monitor runs stay "running" (to test timeouts)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # model asset id -> custom facts
    # asset type -> properties; the use cases' own (model_entry_user) exist with no custom facts
    fact_definitions: dict[str, dict[str, Any]] = field(default_factory=lambda: {"model_entry_user": {}})
    associations: dict[str, dict[str, str]] = field(default_factory=dict)  # space id -> AI use case and phase
    usecases: dict[str, dict[str, Any]] = field(default_factory=dict)  # AI use case id -> name, catalog, approaches


def create_app(state: FakeState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record_and_guard(request: Request, call_next: Any) -> Any:
        body = await request.body()
        path = request.url.path
        call = Call(request.method, path, dict(request.query_params), body, request.headers.get("authorization", ""))
        state.calls.append(call)
        for (method, prefix), (status, code, message) in list(state.fail_next.items()):
            if request.method == method and path.startswith(prefix):
                del state.fail_next[(method, prefix)]
                return _error(status, code, message)
        open_paths = ("/icp4d-api/v1/authorize", "/ml/wml_services/v2/version")
        if path not in open_paths:
            token = call.authorization.removeprefix("Bearer ").strip()
            if token not in state.tokens:
                return _error(401, "authentication_failed", "missing or invalid bearer token")
        return await call_next(request)

    # --- Cloud Pak for Data platform -------------------------------------------------------------
    @app.get("/ml/wml_services/v2/version")
    async def wml_version() -> dict[str, str]:
        return {"version": WML_VERSION}

    @app.post("/icp4d-api/v1/authorize")
    async def authorize(request: Request) -> Any:
        body = await request.json()
        if state.users.get(body.get("username")) != body.get("api_key"):
            return JSONResponse({"_messageCode_": "401", "message": "Invalid user or API key"}, status_code=401)
        now = int(time.time())
        token = jwt.encode(
            {
                "username": body["username"],
                "sub": body["username"],
                "iat": now,
                "exp": now + 3600,
                "uid": "1000330999",
                "role": "Admin",
                "permissions": ["administrator"],
            },
            SIGNING_KEY,
            algorithm="HS256",
        )
        state.tokens.add(token)
        return {"_messageCode_": "200", "message": "Success", "token": token}

    @app.get("/v2/spaces/{space_id}")
    async def get_space(space_id: str) -> Any:
        space = state.spaces.get(space_id)
        if space is None:
            return _error(404, "does_not_exist", f"Space with id '{space_id}' does not exist")
        return space

    @app.get("/v2/software_specifications")
    async def software_specs(request: Request) -> Any:
        name = request.query_params.get("name")
        found = [(n, i) for n, i in state.software_specs.items() if name in (None, n)]
        return {
            "total_results": len(found),
            "resources": [
                {
                    "metadata": {"name": n, "asset_id": i, "asset_type": "software_specification"},
                    "entity": {"software_specification": {"type": "base", "display_name": n}},
                }
                for n, i in found
            ],
        }

    # --- watsonx.ai runtime (WML v4): models -----------------------------------------------------
    @app.post("/ml/v4/models")
    async def store_model(request: Request) -> Any:
        body = await request.json()
        space_id = body.get("space_id") or request.query_params.get("space_id")
        if space_id not in state.spaces:
            return _error(400, "invalid_space", f"space {space_id!r} does not exist")
        spec_id = (body.get("software_spec") or {}).get("id")
        if spec_id not in state.software_specs.values():
            return _error(400, "invalid_software_specification", f"software specification {spec_id!r} not found")
        model_id = str(uuid.uuid4())
        state.models[model_id] = {
            "metadata": {
                "id": model_id,
                "name": body.get("name"),
                "space_id": space_id,
                "created_at": _now(),
                "tags": body.get("tags", []),
                "description": body.get("description", ""),
            },
            "entity": {
                "type": body.get("type"),
                "software_spec": {"id": spec_id},
                "label_column": body.get("label_column"),
                "content_import_state": "pending",
            },
            "system": {"warnings": []},
        }
        return JSONResponse(state.models[model_id], status_code=201)

    @app.get("/ml/v4/models/{model_id}")
    async def get_model(model_id: str) -> Any:
        model = state.models.get(model_id)
        return model if model is not None else _error(404, "model_not_found", f"model {model_id} not found")

    @app.put("/ml/v4/models/{model_id}/content")
    async def put_content(model_id: str, request: Request) -> Any:
        if model_id not in state.models:
            return _error(404, "model_not_found", f"model {model_id} not found")
        state.contents[model_id] = await request.body()
        state.models[model_id]["entity"]["content_import_state"] = "completed"
        attachment = str(uuid.uuid4())
        return JSONResponse(
            {"attachment_id": attachment, "content_format": "native", "persisted": True}, status_code=201
        )

    @app.get("/v1/aigov/factsheet/heartbeat")
    async def factsheet_heartbeat() -> dict[str, str]:
        return {"version": WML_VERSION, "status": "ok"}

    @app.post("/v1/aigov/factsheet/workspaces/search")  # which AI use case and phase each space belongs to
    async def workspaces(request: Request) -> Any:
        found = []
        for workspace in (await request.json())["workspaces"]:
            usecase = state.associations.get(workspace["id"])
            found.append(
                {
                    "workspace_id": workspace["id"],
                    "workspace_type": workspace["type"],
                    "is_valid": True,
                    "workspace_name": state.spaces.get(workspace["id"], {}).get("entity", {}).get("name", ""),
                    "phase_name": usecase["phase"] if usecase else "",
                    "associated_usecases": [
                        {
                            "ai_usecase_id": usecase["id"],
                            "ai_usecase_name": usecase["name"],
                            "inventory_id": usecase["catalog_id"],
                            "status": "ok",
                        }
                    ]
                    if usecase
                    else [],
                    "tracked_assets": [],
                }
            )
        return {"associated_workspaces": found}

    @app.get("/v1/aigov/model_inventory/model_usecases/{usecase_id}/tracked_model_versions")
    async def approaches(usecase_id: str) -> Any:
        usecase = state.usecases.get(usecase_id)
        if usecase is None:
            return _error(404, "not_found", f"AI use case {usecase_id} does not exist")
        return {"approaches": usecase["approaches"]}

    @app.post("/v1/aigov/model_inventory/models/{model_id}/model_entry")  # track a model in an AI use case
    async def track(model_id: str, request: Request) -> Any:
        body = await request.json()
        usecase = state.usecases.get(body.get("model_entry_asset_id"))
        if usecase is None or usecase["catalog_id"] != body.get("model_entry_catalog_id"):
            return _error(404, "not_found", f"AI use case {body.get('model_entry_asset_id')} does not exist")
        if model_id not in state.models:
            return _error(404, "not_found", f"model {model_id} does not exist")
        version = body["version_details"]
        approach = next((a for a in usecase["approaches"] if a["id"] == version["approach_id"]), None)
        if approach is None:
            return _error(400, "invalid_approach", f"approach {version['approach_id']} is not in the use case")
        approach["versions"].append({"number": version["number"], "comment": version.get("comment", "")})
        space_id = request.query_params.get("space_id", "")
        usecase["tracked"].append(
            {
                "model_id": model_id,
                "space_id": space_id,
                "version": version["number"],
                "phase": state.associations.get(space_id, {}).get("phase", ""),
            }
        )
        return {"model_entry_asset_id": body["model_entry_asset_id"], "model_id": model_id, "version": version}

    @app.get("/v2/asset_types/{type_name}")  # custom fact definitions, created once by an administrator
    async def asset_type(type_name: str) -> Any:
        props = state.fact_definitions.get(type_name)
        if props is None:
            return _error(404, "not_found", f"asset type {type_name} does not exist")
        return {"name": type_name, "description": "custom facts", "fields": [], "properties": props}

    @app.get("/v2/assets/{asset_id}")  # the catalog (CAMS) view of a model asset or AI use case
    async def get_asset(asset_id: str, request: Request) -> Any:
        usecase = state.usecases.get(asset_id)
        if usecase is not None and request.query_params.get("catalog_id") == usecase["catalog_id"]:
            return {
                "metadata": {
                    "asset_id": asset_id,
                    "asset_type": "model_entry",
                    "name": usecase["name"],
                    "catalog_id": usecase["catalog_id"],
                    "description": "",
                },
                "entity": {"model_entry": {}},
                "attachments": [],
            }
        model = state.models.get(asset_id)
        if model is None:
            return _error(404, "not_found", f"asset {asset_id} does not exist")
        return _asset(model, state)

    @app.get("/v2/assets/{asset_id}/attributes/{type_name}")
    async def get_facts(asset_id: str, type_name: str) -> Any:
        if asset_id not in state.facts:
            return _error(404, "not_found", f"asset {asset_id} has no attribute {type_name}")
        return {type_name: state.facts[asset_id]}

    @app.patch("/v2/assets/{asset_id}/attributes/{type_name}")
    async def patch_facts(asset_id: str, type_name: str, request: Request) -> Any:
        if asset_id not in state.facts:
            return _error(404, "not_found", f"asset {asset_id} has no attribute {type_name}")
        defined = state.fact_definitions.get(type_name, {})
        for op in await request.json():
            if op["path"].lstrip("/") in defined:
                state.facts[asset_id][op["path"].lstrip("/")] = op.get("value")
        return {type_name: state.facts[asset_id]}

    @app.post("/v2/assets/{asset_id}/attributes")
    async def add_facts(asset_id: str, request: Request) -> Any:
        if asset_id not in state.models:
            return _error(404, "not_found", f"asset {asset_id} does not exist")
        body = await request.json()
        defined = state.fact_definitions.get(body["name"], {})  # CAMS keeps only defined attributes
        state.facts[asset_id] = {k: v for k, v in body.get("entity", {}).items() if k in defined}
        return JSONResponse({body["name"]: state.facts[asset_id]}, status_code=201)

    @app.delete("/v2/assets/{model_id}")  # the SDK deletes model assets through the asset API
    @app.delete("/ml/v4/models/{model_id}")
    async def delete_model(model_id: str) -> Any:
        if state.models.pop(model_id, None) is None:
            return _error(404, "model_not_found", f"model {model_id} not found")
        state.contents.pop(model_id, None)
        return Response(status_code=204)

    # --- deployments -----------------------------------------------------------------------------
    def _deployment(dep_id: str, body: dict[str, Any], space_id: str, base: str) -> dict[str, Any]:
        return {
            "metadata": {
                "id": dep_id,
                "name": body.get("name"),
                "space_id": space_id,
                "created_at": _now(),
                "description": body.get("description", ""),
            },
            "entity": {
                "asset": {"id": body["asset"]["id"]},
                "online": {},
                "space_id": space_id,
                "status": {"state": "ready", "online_url": {"url": f"{base}/ml/v4/deployments/{dep_id}/predictions"}},
                "name": body.get("name"),
            },
        }

    @app.post("/ml/v4/deployments")
    async def create_deployment(request: Request) -> Any:
        body = await request.json()
        asset = (body.get("asset") or {}).get("id")
        if asset not in state.models or asset not in state.contents:
            return _error(404, "model_not_found", f"model {asset} not found or has no content")
        dep_id = str(uuid.uuid4())
        space_id = body.get("space_id") or request.query_params.get("space_id", "")
        state.deployments[dep_id] = _deployment(dep_id, body, space_id, str(request.base_url).rstrip("/"))
        return JSONResponse(state.deployments[dep_id], status_code=202)

    @app.get("/ml/v4/deployments/{dep_id}")
    async def get_deployment(dep_id: str) -> Any:
        dep = state.deployments.get(dep_id)
        return dep if dep is not None else _error(404, "deployment_not_found", f"deployment {dep_id} not found")

    @app.get("/ml/v4/deployments")
    async def list_deployments(request: Request) -> Any:
        space_id, asset_id = request.query_params.get("space_id"), request.query_params.get("asset_id")
        found = [
            d
            for d in state.deployments.values()
            if space_id in (None, d["metadata"]["space_id"]) and asset_id in (None, d["entity"]["asset"]["id"])
        ]
        return {"resources": found, "total_count": len(found)}

    @app.patch("/ml/v4/deployments/{dep_id}")
    async def patch_deployment(dep_id: str, request: Request) -> Any:
        dep = state.deployments.get(dep_id)
        if dep is None:
            return _error(404, "deployment_not_found", f"deployment {dep_id} not found")
        for op in await request.json():  # JSON patch
            if op.get("path") == "/asset":
                if op["value"]["id"] not in state.contents:
                    return _error(400, "invalid_asset", f"model {op['value']['id']} has no content")
                dep["entity"]["asset"] = {"id": op["value"]["id"]}
            elif op.get("path") in ("/name", "/description"):
                dep["metadata"][op["path"][1:]] = op["value"]
        return JSONResponse(dep, status_code=202)

    @app.delete("/ml/v4/deployments/{dep_id}")
    async def delete_deployment(dep_id: str) -> Any:
        if state.deployments.pop(dep_id, None) is None:
            return _error(404, "deployment_not_found", f"deployment {dep_id} not found")
        return Response(status_code=204)

    @app.post("/ml/v4/deployments/{dep_id}/predictions")
    async def predict(dep_id: str, request: Request) -> Any:
        dep = state.deployments.get(dep_id)
        if dep is None:
            return _error(404, "deployment_not_found", f"deployment {dep_id} not found")
        body = await request.json()
        block = body["input_data"][0]
        model = _unpack(state.contents[dep["entity"]["asset"]["id"]])
        frame = pd.DataFrame(block["values"], columns=block["fields"])
        try:
            proba = model.predict_proba(frame)
        except Exception as exc:  # noqa: BLE001 - what WML answers when the model raises
            return _error(400, "scoring_failed", f"Scoring failed: {type(exc).__name__}: {exc}")
        labels = model.classes_[proba.argmax(axis=1)]
        values = [[str(label), [float(p) for p in row]] for label, row in zip(labels, proba, strict=True)]
        return {"predictions": [{"fields": ["prediction", "probability"], "values": values}]}

    _openscale_routes(app, state)
    return app


# --- Watson OpenScale (v2) ---------------------------------------------------------------------------
OS = "/openscale/{instance}/v2"
MONITOR_DEFINITIONS = {
    "quality": ("Quality", [("area_under_roc", "Area under ROC"), ("accuracy", "Accuracy")]),
    "fairness": ("Fairness", [("fairness_value", "Fairness value")]),
    "drift": ("Drift", [("drift_magnitude", "Drop in accuracy"), ("data_drift_magnitude", "Drop in data consistency")]),
    "explainability": ("Explainability", [("explained_transactions", "Explained transactions")]),
    "mrm": ("Model risk management monitoring", [("risk_evaluation", "Risk evaluation")]),
    "performance": ("Performance", [("records", "Number of records")]),  # OpenScale adds it to every subscription
    "model_health": ("Model health", [("payload_size", "Payload size")]),
}
COLLECTIONS = ("data_marts", "service_providers", "subscriptions", "monitor_instances", "data_sets")


def _resource(base: str, collection: str, entity: dict[str, Any]) -> dict[str, Any]:
    rid = str(uuid.uuid4())
    return {
        "metadata": {
            "id": rid,
            "url": f"{base}/{collection}/{rid}",
            "crn": f"crn:v1:fake:{rid}",
            "created_at": _now(),
            "created_by": "fake",
        },
        "entity": {**entity, "status": {"state": "active"}},
    }


def _matches(resource: dict[str, Any], query: dict[str, str]) -> bool:
    for key, wanted in query.items():
        value: Any = resource["entity"]
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None and str(value) != wanted:
            return False
    return True


def _openscale_routes(app: FastAPI, state: FakeState) -> None:
    store = state.openscale
    for collection in COLLECTIONS:
        store.setdefault(collection, {})
    store.setdefault("records", {})  # data set id -> list of records
    store.setdefault("measurements", {})  # monitor instance id -> list of measurements
    store.setdefault("risk_status", {})  # subscription id -> status

    @app.get(OS + "/monitor_definitions")
    async def monitor_definitions(instance: str) -> Any:
        return {
            "monitor_definitions": [
                {
                    "metadata": {"id": mid, "url": f"/v2/monitor_definitions/{mid}"},
                    "entity": {"name": name, "tags": [], "metrics": [{"id": i, "name": n} for i, n in metrics]},
                }
                for mid, (name, metrics) in MONITOR_DEFINITIONS.items()
            ]
        }

    @app.get(OS + "/{collection}")
    async def list_resources(instance: str, collection: str, request: Request) -> Any:
        if collection not in COLLECTIONS:
            return _error(404, "not_found", f"no collection {collection}")
        query = {
            k: v for k, v in request.query_params.items() if k not in ("limit", "offset", "project_id", "space_id")
        }
        return {collection: [r for r in store[collection].values() if _matches(r, query)]}

    @app.post(OS + "/{collection}")
    async def create(instance: str, collection: str, request: Request) -> Any:
        if collection not in COLLECTIONS:
            return _error(404, "not_found", f"no collection {collection}")
        body = await request.json()
        base = str(request.base_url).rstrip("/") + f"/openscale/{instance}/v2"
        if collection == "subscriptions" and body.get("service_provider_id") not in store["service_providers"]:
            return _error(400, "invalid_service_provider", f"service provider {body.get('service_provider_id')}")
        if collection == "monitor_instances":
            if body.get("monitor_definition_id") not in MONITOR_DEFINITIONS:
                return _error(400, "invalid_monitor", f"monitor definition {body.get('monitor_definition_id')!r}")
            target = body.get("target", {}).get("target_id")
            if target not in store["subscriptions"]:
                return _error(400, "invalid_target", f"subscription {target} does not exist")
        if collection == "service_providers":  # OpenScale keeps credentials as a secret and answers its id
            body["credentials"] = {"secret_id": str(uuid.uuid4())}
        resource = _resource(base, collection, body)
        store[collection][resource["metadata"]["id"]] = resource
        if collection == "subscriptions":  # the internal database's payload and feedback tables
            for kind in ("payload_logging", "feedback"):
                data_set = _resource(
                    base,
                    "data_sets",
                    {
                        "data_mart_id": body["data_mart_id"],
                        "name": f"{kind} table",
                        "type": kind,
                        "target": {"target_type": "subscription", "target_id": resource["metadata"]["id"]},
                        "data_schema": {"type": "struct", "fields": []},
                    },
                )
                store["data_sets"][data_set["metadata"]["id"]] = data_set
                store["records"][data_set["metadata"]["id"]] = []
        return JSONResponse(resource, status_code=202 if collection != "data_marts" else 201)

    @app.get(OS + "/{collection}/{rid}")
    async def get_resource(instance: str, collection: str, rid: str) -> Any:
        found = store.get(collection, {}).get(rid)
        return found if found is not None else _error(404, "not_found", f"{collection} {rid} does not exist")

    @app.delete(OS + "/{collection}/{rid}")
    async def delete_resource(instance: str, collection: str, rid: str) -> Any:
        if store.get(collection, {}).pop(rid, None) is None:
            return _error(404, "not_found", f"{collection} {rid} does not exist")
        return Response(status_code=202)

    @app.post(OS + "/data_sets/{rid}/records")
    async def store_records(instance: str, rid: str, request: Request) -> Any:
        if rid not in store["data_sets"]:
            return _error(404, "not_found", f"data set {rid} does not exist")
        body = await request.json()
        store["records"][rid].extend(body if isinstance(body, list) else [body])
        request_id = str(uuid.uuid4())  # stored at once; the SDK polls the request named in Location
        location = f"/openscale/{instance}/v2/data_sets/{rid}/requests/{request_id}"
        return JSONResponse({"state": "pending"}, status_code=202, headers={"Location": location})

    @app.get(OS + "/data_sets/{rid}/requests/{request_id}")
    async def request_status(instance: str, rid: str, request_id: str) -> Any:
        return {"state": "active"}

    @app.get(OS + "/data_sets/{rid}/records")
    async def list_records(instance: str, rid: str) -> Any:
        return {"records": store["records"].get(rid, [])}

    @app.put(OS + "/subscriptions/{rid}/risk_evaluation_status")
    async def risk_status(instance: str, rid: str, request: Request) -> Any:
        if rid not in store["subscriptions"]:
            return _error(404, "not_found", f"subscription {rid} does not exist")
        store["risk_status"][rid] = await request.json()
        store["subscriptions"][rid]["entity"]["risk_evaluation_status"] = store["risk_status"][rid]
        return store["risk_status"][rid]

    @app.post(OS + "/monitor_instances/{rid}/runs")
    async def run_monitor(instance: str, rid: str, request: Request) -> Any:
        monitor = store["monitor_instances"].get(rid)
        if monitor is None:
            return _error(404, "not_found", f"monitor instance {rid} does not exist")
        run_id = str(uuid.uuid4())
        values = _measure(state, monitor)
        if values:
            store["measurements"].setdefault(rid, []).append(
                {
                    "metadata": {"id": str(uuid.uuid4()), "url": f"/v2/monitor_instances/{rid}/measurements"},
                    "entity": {
                        "timestamp": _now(),
                        "run_id": run_id,
                        "values": values,
                        "issue_count": sum(1 for v in values for m in v["metrics"] if _breached(m)),
                        "monitor_instance_id": rid,
                        "monitor_definition_id": monitor["entity"]["monitor_definition_id"],
                    },
                }
            )
        status = {"state": "running"} if state.stuck_runs else {"state": "finished", "completed_at": _now()}
        run = {
            "metadata": {"id": run_id, "url": f"/v2/monitor_instances/{rid}/runs/{run_id}"},
            "entity": {"status": status, "triggered_by": "user"},
        }
        store.setdefault("runs", {})[run_id] = run
        return JSONResponse(run, status_code=201)

    @app.get(OS + "/monitor_instances/{rid}/runs/{run_id}")
    async def get_run(instance: str, rid: str, run_id: str) -> Any:
        run = store.get("runs", {}).get(run_id)
        return run if run is not None else _error(404, "not_found", f"run {run_id} does not exist")

    @app.get(OS + "/monitor_instances/{rid}/measurements")
    async def measurements(instance: str, rid: str) -> Any:
        found = list(reversed(store["measurements"].get(rid, [])))  # newest first
        return {"measurements": found, "total_count": len(found), "limit": 100, "offset": 0}


def _breached(metric: dict[str, Any]) -> bool:
    value = metric["value"]
    return ("lower_limit" in metric and value < metric["lower_limit"]) or (
        "upper_limit" in metric and value > metric["upper_limit"]
    )


def _rows(records: list[dict[str, Any]], part: str) -> pd.DataFrame:
    frames = []
    for record in records:
        block = record.get(part, record)
        if "input_data" in block:
            block = block["input_data"][0]
        if "predictions" in block:
            block = block["predictions"][0]
        frames.append(pd.DataFrame(block["values"], columns=block["fields"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _measure(state: FakeState, monitor: dict[str, Any]) -> list[dict[str, Any]]:
    """What OpenScale would measure for quality (feedback) and fairness (payload); others: nothing here."""
    store = state.openscale
    entity = monitor["entity"]
    subscription = store["subscriptions"][entity["target"]["target_id"]]
    sets = {
        d["entity"]["type"]: d["metadata"]["id"]
        for d in store["data_sets"].values()
        if d["entity"]["target"]["target_id"] == subscription["metadata"]["id"]
    }
    params, limits = entity.get("parameters", {}), {t["metric_id"]: t for t in entity.get("thresholds", [])}

    def metric(metric_id: str, value: float) -> dict[str, Any]:
        out: dict[str, Any] = {"id": metric_id, "value": value}
        if metric_id in limits:
            out["lower_limit" if limits[metric_id]["type"] == "lower_limit" else "upper_limit"] = limits[metric_id][
                "value"
            ]
        return out

    if entity["monitor_definition_id"] == "quality":
        feedback = _rows(store["records"][sets["feedback"]], "request")
        if len(feedback) < params.get("min_feedback_data_size", 1):
            return []
        deployment_id = subscription["entity"]["deployment"]["deployment_id"]
        model = _unpack(state.contents[state.deployments[deployment_id]["entity"]["asset"]["id"]])
        label = subscription["entity"]["asset_properties"]["label_column"]
        proba = model.predict_proba(feedback.drop(columns=[label]))
        positive = list(model.classes_).index(model.classes_[1])
        truth = (feedback[label].astype(str) == str(model.classes_[1])).to_numpy()
        from sklearn.metrics import accuracy_score, roc_auc_score

        auc = float(roc_auc_score(truth, proba[:, positive]))
        accuracy = float(accuracy_score(feedback[label].astype(str), model.classes_[proba.argmax(axis=1)]))
        return [{"metrics": [metric("area_under_roc", auc), metric("accuracy", accuracy)], "tags": []}]
    if entity["monitor_definition_id"] == "fairness":
        payload = store["records"][sets["payload_logging"]]
        requests = _rows(payload, "request")
        answers = _rows(payload, "response")
        if len(requests) < params.get("min_records", 1):
            return []
        favourable = answers["prediction"].astype(str).isin([str(c) for c in params["favourable_class"]])
        values = []
        for feature in params["features"]:
            column = requests[feature["feature"]]

            def members(groups: list[Any], column: pd.Series = column) -> pd.Series:
                mask = pd.Series(False, index=column.index)
                for group in groups:
                    mask |= (
                        column.between(group[0], group[1]) if isinstance(group, list) else column.astype(str) == group
                    )
                return mask

            minority, majority = members(feature["minority"]), members(feature["majority"])
            ratio = favourable[minority].mean() / favourable[majority].mean()
            values.append(
                {
                    "metrics": [metric("fairness_value", round(100 * float(ratio), 4))],
                    "tags": [{"id": "feature", "value": feature["feature"]}],
                }
            )
        return values
    return []


def _asset(model: dict[str, Any], state: FakeState) -> dict[str, Any]:
    meta = model["metadata"]
    facts = state.facts.get(meta["id"], {})
    return {
        "metadata": {
            "asset_id": meta["id"],
            "asset_type": "wml_model",
            "name": meta["name"],
            "space_id": meta["space_id"],
            "created_at": meta["created_at"],
            "tags": meta.get("tags", []),
            "description": meta["description"],
        },
        "entity": {
            "wml_model": {"type": model["entity"]["type"], "software_spec": model["entity"]["software_spec"]},
            **({"modelfacts_user": dict(facts)} if meta["id"] in state.facts else {}),
        },
        "attachments": [],
    }


def _unpack(archive: bytes) -> Any:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith((".joblib", ".pkl")))
        handle = tar.extractfile(member)
        assert handle is not None
        return joblib.load(io.BytesIO(handle.read()))


class FakeCloudPak:
    """The fake served over HTTPS on a free loopback port, with its own CA (``ca_path``)."""

    def __init__(self, folder: Path, *, users: dict[str, str], port: int = 0, state: FakeState | None = None) -> None:
        """A fake with its own CA in ``folder`` (kept when ``folder`` has one), on ``port`` (0: any free one).

        ``state`` and a fixed ``port`` bring back a fake a test session saved (``tests/states.py``): the
        store it served holds its URL, so the copy listens where the original did, with the same CA.
        """
        self.state = state if state is not None else FakeState(users=dict(users))
        self.ca_path = folder / "ca.pem"
        key, crt = folder / "key.pem", folder / "cert.pem"
        if not (self.ca_path.is_file() and key.is_file() and crt.is_file()):
            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            ca.cert_pem.write_to_path(str(self.ca_path))
            cert.private_key_pem.write_to_path(str(key))
            cert.cert_chain_pems[0].write_to_path(str(crt))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port again, past TIME_WAIT
        self._socket.bind(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=120,
            ssl_keyfile=str(key),
            ssl_certfile=str(crt),
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def add_space(self, name: str) -> str:
        space_id = str(uuid.uuid4())
        self.state.spaces[space_id] = {
            "metadata": {"id": space_id, "created_at": _now()},
            "entity": {
                "name": name,
                "status": {"state": "active"},
                "type": "cpd",
                "compute": [{"type": "machine_learning", "name": "wml", "guid": "wml-instance"}],
            },
        }
        return space_id

    def define_facts(self, csv_path: Path) -> None:
        """What an administrator does once: load custom fact definitions (the facts client's CSV format)."""
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        self.state.fact_definitions["modelfacts_user"] = {
            row["name"]: {
                "type": row["type"],
                "description": row["description"],
                "is_array": False,
                "required": False,
                "hidden": False,
                "readonly": False,
                "label": {"default": row["label"], "en": row["label"]},
            }
            for _, row in frame.iterrows()
        }

    def add_usecase(self, name: str, *, phases: dict[str, str]) -> tuple[str, str]:
        """An AI use case in an inventory with one approach, and the spaces associated with it at a phase."""
        usecase_id, catalog_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.state.usecases[usecase_id] = {
            "name": name,
            "catalog_id": catalog_id,
            "tracked": [],
            "approaches": [
                {
                    "id": str(uuid.uuid4()),
                    "name": "Default approach",
                    "description": "",
                    "versions": [{"number": "0.0.1", "comment": "use case created"}],
                }
            ],
        }
        for space_id, phase in phases.items():
            self.state.associations[space_id] = {
                "id": usecase_id,
                "name": name,
                "catalog_id": catalog_id,
                "phase": phase,
            }
        return usecase_id, catalog_id

    def requests(self, method: str, prefix: str) -> list[Call]:
        return [c for c in self.state.calls if c.method == method and c.path.startswith(prefix)]

    def start(self) -> FakeCloudPak:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fake Cloud Pak for Data did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # the SDKs keep connections alive; do not wait for them
        self._thread.join(timeout=30)
        self._socket.close()


def running(folder: Path, *, port: int = 0, state: FakeState | None = None) -> Iterator[FakeCloudPak]:
    """A started fake that knows one user and the default software specification (or a saved ``state``)."""
    fake = FakeCloudPak(folder, users={USER: API_KEY}, port=port, state=state)
    if state is None:
        fake.state.software_specs[SOFTWARE_SPEC] = "5c1b0ca2-4977-5c2e-9439-ffd44ea8ffe9"
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
