"""Every exception class of the installed IBM SDKs maps onto our error tree, naming the service and the call."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import httpx
import pytest
import requests

from pipeline_core.backends.ibm.errors import FACTSHEETS, OPENSCALE, WATSONX_AI, classify, map_sdk_error
from pipeline_core.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    DeploymentError,
    ExternalServiceError,
    NotFoundError,
    PipelineError,
    StoreError,
)

SDK_MODULES = [
    "ibm_watsonx_ai.wml_client_error",
    "ibm_watson_openscale.utils.client_errors",
    "ibm_aigov_facts_client.utils.client_errors",
    "ibm_botocore.exceptions",
    "ibm_cloud_sdk_core.api_exception",
]


def exception_classes(module_name: str) -> list[type[BaseException]]:
    module = importlib.import_module(module_name)
    return [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, Exception)
        and not issubclass(c, Warning)  # warnings are emitted, never raised at us
        and c.__module__.startswith(module_name.split(".")[0])
    ]


@pytest.mark.parametrize("module_name", SDK_MODULES)
def test_every_exception_class_of_the_sdk_is_covered(module_name: str) -> None:
    classes = exception_classes(module_name)
    assert len(classes) >= 1
    uncovered = [c.__name__ for c in classes if classify(c.__new__(c)) is None]
    assert uncovered == [], f"{module_name}: add these to pipeline_core/backends/ibm/errors.py: {uncovered}"


def test_the_name_tables_list_no_class_the_sdks_do_not_have() -> None:
    names = {c.__name__ for c in exception_classes("ibm_watsonx_ai.wml_client_error")}
    assert set(WATSONX_AI) <= names
    assert set(OPENSCALE) <= {c.__name__ for c in exception_classes("ibm_watson_openscale.utils.client_errors")}
    assert set(FACTSHEETS) <= {c.__name__ for c in exception_classes("ibm_aigov_facts_client.utils.client_errors")}


def _wml(name: str, *args: Any) -> BaseException:
    module = importlib.import_module("ibm_watsonx_ai.wml_client_error")
    error: BaseException = getattr(module, name)(*args)
    return error


def _response(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    response.request = requests.Request("POST", "https://iam.cloud.ibm.com/identity/token").prepare()
    return response


def _openscale(name: str, *args: Any) -> BaseException:
    module = importlib.import_module("ibm_watson_openscale.utils.client_errors")
    error: BaseException = getattr(module, name)(*args)
    return error


def _api(code: int) -> BaseException:
    from ibm_cloud_sdk_core import ApiException

    return ApiException(code, message=f"status {code} from the service")


def _cos(code: str, status: int) -> BaseException:
    from ibm_botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


CASES = [
    (lambda: _wml("WMLClientError", "deployment failed"), "watsonx.ai", "create deployment", DeploymentError),
    (
        lambda: _wml("AuthenticationError", "iam", _response(400, b'{"errorMessage": "bad key"}')),
        "watsonx.ai",
        "APIClient",
        AuthError,
    ),
    (lambda: _wml("MissingValue", "space_id"), "watsonx.ai", "store model", ConfigError),
    (
        lambda: _wml("ResourceIdByNameNotFound", "runtime-25.1-py3.12", "software specification"),
        "watsonx.ai",
        "get software spec",
        NotFoundError,
    ),
    (lambda: _openscale("AuthorizationError", "no access"), "OpenScale", "data_marts.add", AuthError),
    (lambda: _openscale("MissingDeployment", "dep-1"), "OpenScale", "subscriptions.add", NotFoundError),
    (lambda: _openscale("DuplicateError", "subscription"), "OpenScale", "subscriptions.add", ConflictError),
    (lambda: _api(401), "AI Factsheets", "facts client", AuthError),
    (lambda: _api(404), "OpenScale", "monitor_instances.run", NotFoundError),
    (lambda: _api(409), "OpenScale", "service_providers.add", ConflictError),
    (lambda: _api(500), "OpenScale", "monitor_instances.run", ExternalServiceError),
    (lambda: _cos("NoSuchKey", 404), "COS", "get_object", NotFoundError),
    (lambda: _cos("AccessDenied", 403), "COS", "put_object", AuthError),
    (lambda: _cos("InternalError", 500), "COS", "put_object", StoreError),
    (lambda: requests.exceptions.ConnectionError("refused"), "OpenScale", "APIClient", ExternalServiceError),
    (lambda: httpx.ConnectError("refused"), "watsonx.ai", "score", DeploymentError),
]


@pytest.mark.parametrize(("make", "service", "call", "expected"), CASES)
def test_errors_map_to_our_tree_naming_service_and_call(
    make: Any, service: str, call: str, expected: type[PipelineError]
) -> None:
    error = make()
    mapped = map_sdk_error(error, service=service, call=call)
    assert type(mapped) is expected
    assert str(mapped).startswith(f"{service} {call} failed: {type(error).__name__}: ")


def test_an_unknown_error_is_still_ours_and_says_so() -> None:
    mapped = map_sdk_error(KeyError("surprise"), service="OpenScale", call="subscriptions.get")
    assert isinstance(mapped, ExternalServiceError) and "an error this product does not know" in str(mapped)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"_messageCode_":"401","message":"Invalid user or API key"}Please check the credentials.', AuthError),
        ("something else entirely", ExternalServiceError),
    ],
)
def test_openscale_bare_exceptions_from_its_authenticator(text: str, expected: type[PipelineError]) -> None:
    error = map_sdk_error(Exception(text), service="OpenScale", call="APIClient()")
    assert type(error) is expected and str(error).startswith("OpenScale APIClient() failed: Exception: ")
