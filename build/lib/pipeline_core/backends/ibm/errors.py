"""Every IBM SDK exception mapped onto our error tree, with a message naming the service and the call.

The mapping reads an exception's class names (its MRO), so this module imports no SDK
and can be used before one is installed. Each SDK's exception classes are listed by name
(``WATSONX_AI``, ``OPENSCALE``, ``FACTSHEETS``) or by the family they derive from (COS's botocore
errors, IBM Cloud's ``ApiException`` with its HTTP status, requests' network errors);
``tests/backends/test_ibm_errors.py`` enumerates the installed SDKs' exception classes
and fails when one is not covered here.

::

    auth       -> AuthError              bad or missing credentials, forbidden
    not_found  -> NotFoundError          no such deployment, space, asset, bucket, key
    conflict   -> ConflictError          exists already, not in the state the call needs
    invalid    -> ConfigError            what we sent is wrong (arguments, metadata, settings)
    service    -> the service's own area: watsonx.ai DeploymentError, COS StoreError,
                  others ExternalServiceError (the service failed or did not answer)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

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

Kind = Literal["auth", "not_found", "conflict", "invalid", "service"]

# ibm_watsonx_ai.wml_client_error: every class, by name.
WATSONX_AI: dict[str, Kind] = {
    "WMLClientError": "service",
    "ApiRequestFailure": "service",
    "AuthenticationError": "auth",
    "InvalidCredentialsError": "auth",
    "NoWMLCredentialsProvided": "auth",
    "GovCloudEnvironmentConsentError": "auth",
    "ForbiddenActionForPlan": "auth",
    "ForbiddenActionForGitBasedProject": "auth",
    "ResourceByNameNotFound": "not_found",
    "ResourceIdByNameNotFound": "not_found",
    "MissingFoundationModel": "not_found",
    "MultipleResourceIdByNameFound": "conflict",
    "CannotSetProjectOrSpace": "invalid",
    "SpaceIDandProjectIDCannotBeNone": "invalid",
    "MissingArgument": "invalid",
    "MissingValue": "invalid",
    "MissingMetaProp": "invalid",
    "MissingMetadata": "invalid",
    "InvalidValue": "invalid",
    "InvalidMultipleArguments": "invalid",
    "UnexpectedType": "invalid",
    "UnexpectedKeyWordArgument": "invalid",
    "ParamOutOfRange": "invalid",
    "WrongMetaProps": "invalid",
    "WrongLocationProperty": "invalid",
    "WrongFileLocation": "invalid",
    "NotUrlNorID": "invalid",
    "ValidationError": "invalid",
    "MissingToolRequiredProperties": "invalid",
    "PromptVariablesError": "invalid",
    "EmptyDataSource": "invalid",
    "MissingExtension": "invalid",
    "WrongEnvironmentVersion": "invalid",
    "CannotAutogenerateBedrockUrl": "invalid",
    "UnsupportedOperation": "invalid",
    "NoVirtualDeploymentSupportedForICP": "invalid",
    "MissingWMLComponent": "service",
    "CannotInstallLibrary": "service",
    "ExceededLimitOfAPICalls": "service",
    "DataStreamError": "service",
    "ReadingDataTimeoutError": "service",
    "LoadingDocumentError": "service",
    "HybridSemanticChunkerException": "service",
    "VectorStoreSerializationError": "service",
}

# ibm_watson_openscale.utils.client_errors: every class, by name.
OPENSCALE: dict[str, Kind] = {
    "ClientError": "service",
    "ApiRequestFailure": "service",
    "AuthorizationError": "auth",
    "InvalidCredentialsProvided": "auth",
    "MissingDataSet": "not_found",
    "MissingDeployment": "not_found",
    "MissingPayload": "not_found",
    "DuplicateError": "conflict",
    "MultipleValuesExistError": "conflict",
    "StateNotActive": "conflict",
    "IncorrectParameter": "invalid",
    "IncorrectValue": "invalid",
    "MissingValue": "invalid",
    "MissingMetaProp": "invalid",
    "NotUrlNorUID": "invalid",
    "ParameterError": "invalid",
    "UnexpectedType": "invalid",
}

# ibm_aigov_facts_client.utils.client_errors: every class, by name. The client raises ClientError for
# every failed request, with the HTTP status only in its text; those stay "service".
FACTSHEETS: dict[str, Kind] = {
    "ClientError": "service",
    "ApiRequestFailure": "service",
    "AuthorizationError": "auth",
    "MissingValue": "invalid",
    "MissingMetaProp": "invalid",
    "WrongProps": "invalid",
    "MissingParams": "invalid",
    "WrongParams": "invalid",
    "UnexpectedType": "invalid",
    "UnexpectedValue": "invalid",
}

# IBM Cloud's ApiException (OpenScale's and the facts client's REST calls) and COS's ClientError: by HTTP status.
STATUS: dict[int, Kind] = {400: "invalid", 401: "auth", 403: "auth", 404: "not_found", 409: "conflict", 422: "invalid"}
# COS (ibm_botocore): error codes of ClientError, then the families of its other exceptions.
COS_CODES: dict[str, Kind] = {
    "NoSuchKey": "not_found",
    "NoSuchBucket": "not_found",
    "404": "not_found",
    "AccessDenied": "auth",
    "InvalidAccessKeyId": "auth",
    "SignatureDoesNotMatch": "auth",
    "BucketAlreadyExists": "conflict",
    "BucketAlreadyOwnedByYou": "conflict",
    "InvalidBucketName": "invalid",
}
COS_FAMILIES: dict[str, Kind] = {
    "NoCredentialsError": "auth",
    "PartialCredentialsError": "auth",
    "NoAuthTokenError": "auth",
    "ParamValidationError": "invalid",
    "ValidationError": "invalid",
    "UnknownServiceError": "invalid",
    "DataNotFoundError": "not_found",
    "MissingServiceIdError": "invalid",
    "UndefinedModelAttributeError": "invalid",
    "ClientError": "service",
    "BotoCoreError": "service",
}
# requests / httpx: the network, whichever SDK was talking.
NETWORK = (
    "ConnectionError",
    "Timeout",
    "ConnectTimeout",
    "ReadTimeout",
    "RequestException",
    "HTTPError",
    "TransportError",
)

# OpenScale's CP4D authenticator raises a bare ``Exception`` carrying the token endpoint's answer.
BARE_AUTH_FAILURES = ('"_messageCode_":"401"', '"_messageCode_":"403"', "Please check the credentials")

_CLASSES: dict[Kind, type[PipelineError]] = {
    "auth": AuthError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "invalid": ConfigError,
    "service": ExternalServiceError,
}
_SERVICE_AREA: dict[str, type[PipelineError]] = {"watsonx.ai": DeploymentError, "COS": StoreError}


def classify(exc: BaseException) -> Kind | None:
    """The kind of an SDK exception, or None if no table covers its class."""
    module = type(exc).__module__
    names = [c.__name__ for c in type(exc).__mro__]
    if module.startswith("ibm_watsonx_ai"):
        return next((WATSONX_AI[n] for n in names if n in WATSONX_AI), None)
    if module.startswith("ibm_watson_openscale"):
        return next((OPENSCALE[n] for n in names if n in OPENSCALE), None)
    if module.startswith("ibm_aigov_facts_client"):
        return next((FACTSHEETS[n] for n in names if n in FACTSHEETS), None)
    if "ApiException" in names:
        status = getattr(exc, "status_code", None) if "status_code" in vars(exc) else vars(exc).get("code")
        return STATUS.get(int(status or 0), "service")
    if module.startswith("ibm_botocore") or module.startswith("ibm_boto3"):
        if "ClientError" in names:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            status = int(getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            return COS_CODES.get(code) or STATUS.get(status, "service")
        return next((COS_FAMILIES[n] for n in names if n in COS_FAMILIES), None)
    if module.startswith(("requests", "httpx", "urllib3")) and any(n in NETWORK for n in names):
        return "service"
    if type(exc) is Exception and any(sign in str(exc) for sign in BARE_AUTH_FAILURES):
        return "auth"
    return None


def map_sdk_error(exc: BaseException, *, service: str, call: str) -> PipelineError:
    """Our error for ``exc`` raised by ``service``'s ``call``; raise it ``from exc``."""
    kind = classify(exc)
    detail = " ".join(str(exc).split()) or type(exc).__name__  # one line: SDK messages span several
    message = f"{service} {call} failed: {type(exc).__name__}: {detail}"
    if kind is None:
        return ExternalServiceError(message + " (an error this product does not know)")
    cls = _SERVICE_AREA.get(service, ExternalServiceError) if kind == "service" else _CLASSES[kind]
    return cls(message)


T = TypeVar("T")


def sdk_call(service: str, call: str, fn: Callable[[], T]) -> T:
    """``fn()``, with any SDK exception it raises turned into ours naming ``service`` and ``call``."""
    try:
        return fn()
    except PipelineError:
        raise
    except Exception as exc:
        raise map_sdk_error(exc, service=service, call=call) from exc
