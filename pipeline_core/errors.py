"""The error tree: every failure the package raises on purpose is a ``PipelineError``.

::

    PipelineError
    ├── ConfigError            settings or run parameters that cannot be used
    ├── DataError              a file, column, value or spec that is not usable
    │   └── ValidationFailed   the validate gate found blocking anomalies (carries them)
    ├── StageError             a stage could not do its work
    │   └── GateFailed         a stage ran but its gate said no (carries the reason)
    ├── StoreError             metadata or artifact store trouble
    │   ├── NotFoundError      no object with that id
    │   ├── IntegrityError     stored bytes (an artifact, a split) do not match what they are stored as
    │   │   ├── ArtifactCorrupt        an artifact's bytes hash to something else than its name (carries both)
    │   │   └── ModelIntegrityError    a model version's exact artifact is missing, altered or does not load
    │   └── ConflictError      the object changed state under us (already claimed, ...)
    ├── RunError               a run could not be launched, executed or cancelled
    │   └── RunCancelled       a cancel request was honoured
    ├── AuthError              who is acting could not be established (bad credentials)
    │   └── PermissionDenied   the acting user's role (or authorship) forbids the action
    ├── DeploymentError        a deployment could not be made, replaced, scored or rolled back
    │   └── ScoringInputError  a scoring request's payload is unusable (carries the HTTP status)
    ├── ApprovalError          an approval, rejection or production check said no
    └── ExternalServiceError   an external service (IBM OpenScale, AI Factsheets, ...) failed or did not answer
        └── NotificationError  an alert channel (SMTP server, webhook receiver) refused or did not answer
            └── SignatureError a webhook body's signature or timestamp does not verify (a receiver's refusal)

Wrap third-party failures with ``raise SomeError("... names the object ...") from exc``.

Exit codes: the command line exits with the code ``EXIT_CODES`` gives the error's class (the
nearest class on its MRO, so a new subclass inherits its parent's code until it is listed):

====  ===========  ==================================================================================
code  name         raised as
====  ===========  ==================================================================================
0     OK           (no error)
1     FAILED       a check said no or the work failed: ``GateFailed``, ``StageError``, ``RunError``,
                   ``ValidationFailed``, ``IntegrityError``, ``ApprovalError`` (and a bare ``PipelineError``)
2     BAD_INPUT    bad input or a setting, object state or environment the command cannot work with:
                   ``ConfigError``, ``DataError``, ``ScoringInputError``, ``ConflictError`` (the object is
                   not in the state the command needs), ``StoreError`` (a database or artifact store that
                   cannot be opened or written: a setting to fix), ``DeploymentError``,
                   ``ExternalServiceError`` (the message names the service and the call); argparse's own
                   usage errors exit 2 as well
3     CANCELLED    ``RunCancelled``
4     NOT_FOUND    ``NotFoundError``
5     NOT_ALLOWED  ``AuthError`` (not signed in), ``PermissionDenied``
130   INTERRUPTED  ``KeyboardInterrupt`` (Ctrl-C)
====  ===========  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum


class PipelineError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(PipelineError):
    """Settings or run parameters that cannot be used."""


class DataError(PipelineError):
    """A data file, column, value or spec that cannot be used."""


class ValidationFailed(DataError):
    """The validate gate found blocking anomalies; ``anomalies`` names each one."""

    def __init__(self, message: str, anomalies: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.anomalies = list(anomalies)


class StageError(PipelineError):
    """A stage could not do its work."""


class GateFailed(StageError):
    """A stage ran, but its gate decided the run must stop."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"gate of stage '{stage}' failed: {reason}")
        self.stage = stage
        self.reason = reason


class StoreError(PipelineError):
    """The metadata or artifact store could not do what was asked."""


class NotFoundError(StoreError):
    """No object with that id exists."""


class IntegrityError(StoreError):
    """Stored bytes do not match the sha256 they are stored under."""


class ArtifactCorrupt(IntegrityError):
    """An artifact store read bytes that hash to ``found``, not to ``sha256``, the name they are stored under."""

    def __init__(self, message: str, *, sha256: str, found: str) -> None:
        super().__init__(message)
        self.sha256 = sha256
        self.found = found


class ModelIntegrityError(IntegrityError):
    """Model version ``model_version_id``'s artifact ``expected`` is not there, hashes to ``found``, or does not load.

    Raised before anything is approved, deployed or served from it; ``found`` is None when no bytes
    were found, and equals ``expected`` when the bytes are intact but do not load as a model.
    """

    def __init__(self, model_version_id: int, expected: str, found: str | None, problem: str) -> None:
        super().__init__(
            f"model version {model_version_id} failed its integrity check (artifact sha256 {expected}): {problem}"
        )
        self.model_version_id = model_version_id
        self.expected = expected
        self.found = found
        self.problem = problem


class ConflictError(StoreError):
    """The object is not in the state the operation needs."""


class RunError(PipelineError):
    """A run could not be launched, executed or cancelled."""


class RunCancelled(RunError):
    """A cancel request for the run was honoured."""


class AuthError(PipelineError):
    """Who is acting could not be established."""


class PermissionDenied(AuthError):
    """The acting user may not do this (role matrix, or their own model)."""


class DeploymentError(PipelineError):
    """A deployment could not be created, replaced, scored or rolled back."""


class ApprovalError(PipelineError):
    """An approval or rejection was refused, or the production deployment check failed."""


class ScoringInputError(DeploymentError):
    """A scoring payload that cannot be scored; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ExternalServiceError(PipelineError):
    """An external service failed or did not answer; the message names the service and the call."""


class NotificationError(ExternalServiceError):
    """An alert channel refused a notification or did not answer; the message names the channel and the server."""


class SignatureError(NotificationError):
    """A webhook body's signature does not verify, or its timestamp is stale or malformed (a replay is refused)."""


class ExitCode(IntEnum):
    """A process exit status of the command line (the table in this module's docstring)."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    CANCELLED = 3
    NOT_FOUND = 4
    NOT_ALLOWED = 5
    INTERRUPTED = 130


# The one table: an error's class -> the command line's exit code. A class not listed takes the code of
# its nearest listed base (``exit_code`` walks the MRO), so only the classes whose meaning differs appear.
EXIT_CODES: Mapping[type[BaseException], ExitCode] = {
    PipelineError: ExitCode.FAILED,
    ConfigError: ExitCode.BAD_INPUT,
    DataError: ExitCode.BAD_INPUT,
    ValidationFailed: ExitCode.FAILED,
    StageError: ExitCode.FAILED,
    StoreError: ExitCode.BAD_INPUT,
    NotFoundError: ExitCode.NOT_FOUND,
    IntegrityError: ExitCode.FAILED,
    ConflictError: ExitCode.BAD_INPUT,
    RunError: ExitCode.FAILED,
    RunCancelled: ExitCode.CANCELLED,
    AuthError: ExitCode.NOT_ALLOWED,
    DeploymentError: ExitCode.BAD_INPUT,
    ApprovalError: ExitCode.FAILED,
    ExternalServiceError: ExitCode.BAD_INPUT,
    KeyboardInterrupt: ExitCode.INTERRUPTED,
}


def exit_code_for(cls: type[BaseException]) -> int:
    """The exit code of errors of class ``cls``: the entry of the nearest class on its MRO; 1 outside the table."""
    for base in cls.__mro__:
        code = EXIT_CODES.get(base)
        if code is not None:
            return int(code)
    return int(ExitCode.FAILED)


def exit_code(exc: BaseException) -> int:
    """The command line's exit code for ``exc`` (``exit_code_for`` its class)."""
    return exit_code_for(type(exc))
