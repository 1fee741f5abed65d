"""Exit codes come from one table keyed by error class, and every command's error path goes through it."""

from __future__ import annotations

import inspect

import pytest

from pipeline_core import errors
from pipeline_core.cli import main
from pipeline_core.cli.deployments import scoring_refusal
from pipeline_core.cli.follow import run_exit_code
from pipeline_core.errors import (
    EXIT_CODES,
    ApprovalError,
    ArtifactCorrupt,
    AuthError,
    ConfigError,
    ConflictError,
    DataError,
    DeploymentError,
    ExitCode,
    ExternalServiceError,
    GateFailed,
    IntegrityError,
    ModelIntegrityError,
    NotFoundError,
    NotificationError,
    PermissionDenied,
    PipelineError,
    RunCancelled,
    RunError,
    ScoringInputError,
    SignatureError,
    StageError,
    StoreError,
    ValidationFailed,
    exit_code,
    exit_code_for,
)
from pipeline_core.services.context import ServiceContext
from pipeline_core.vocabulary import RunState

# Every class of the error tree with the code the README's "Exit codes" table gives it.
EXPECTED: list[tuple[type[BaseException], int]] = [
    (PipelineError, 1),
    (StageError, 1),
    (GateFailed, 1),
    (RunError, 1),
    (ValidationFailed, 1),
    (IntegrityError, 1),
    (ArtifactCorrupt, 1),
    (ModelIntegrityError, 1),
    (ApprovalError, 1),
    (ConfigError, 2),
    (DataError, 2),
    (ScoringInputError, 2),
    (ConflictError, 2),
    (StoreError, 2),
    (DeploymentError, 2),
    (ExternalServiceError, 2),
    (NotificationError, 2),
    (SignatureError, 2),
    (RunCancelled, 3),
    (NotFoundError, 4),
    (AuthError, 5),
    (PermissionDenied, 5),
    (KeyboardInterrupt, 130),
]


def _instance(cls: type[BaseException]) -> BaseException:
    if cls is GateFailed:
        return GateFailed("train", "test ROC AUC below 0.6")
    if cls is ArtifactCorrupt:
        return ArtifactCorrupt("artifact aa.. is corrupt", sha256="a" * 64, found="b" * 64)
    if cls is ModelIntegrityError:
        return ModelIntegrityError(3, "a" * 64, "b" * 64, "its stored bytes hash to " + "b" * 64)
    return cls("the message names the object")


@pytest.mark.parametrize(("cls", "code"), EXPECTED, ids=[cls.__name__ for cls, _ in EXPECTED])
def test_each_error_class_has_its_exit_code(cls: type[BaseException], code: int) -> None:
    assert exit_code(_instance(cls)) == code
    assert exit_code_for(cls) == code


def test_every_error_class_in_the_tree_is_in_the_expected_table() -> None:
    tree: set[type[BaseException]] = {
        c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, PipelineError)
    }
    assert tree - {cls for cls, _ in EXPECTED} == set(), "a new error class needs its exit code decided here"
    assert set(EXIT_CODES) <= {cls for cls, _ in EXPECTED}


class _NotFoundAndBadData(NotFoundError, DataError):
    """Two bases: the nearest on the MRO decides."""


class _NotAPipelineError(RuntimeError):
    pass


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (type("MissingRun", (NotFoundError,), {})("run 9 does not exist"), 4),
        (_NotFoundAndBadData("both"), 4),
        (_NotAPipelineError("a bug"), 1),
    ],
    ids=["unlisted-subclass-inherits", "nearest-base-wins", "outside-the-tree"],
)
def test_the_table_is_read_along_the_mro(exc: BaseException, code: int) -> None:
    assert exit_code(exc) == code


@pytest.mark.parametrize(
    ("status", "code"),
    [(RunState.SUCCEEDED, 0), (RunState.FAILED, 1), (RunState.CANCELLED, 3), ("lost", 1)],
    ids=["succeeded", "failed", "cancelled", "lost"],
)
def test_a_run_exits_with_its_outcome(status: str, code: int) -> None:
    assert run_exit_code(status) == code


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, ExitCode.NOT_ALLOWED), (403, ExitCode.NOT_ALLOWED), (404, ExitCode.NOT_FOUND), (400, 2), (413, 2), (503, 2)],
)
def test_a_scoring_refusal_exits_as_its_http_status_means(status: int, code: int) -> None:
    refusal = scoring_refusal(status, "http://127.0.0.1:1/v4/deployments/3/predictions")
    assert exit_code(refusal) == code
    assert f"answered {status}" in str(refusal)


@pytest.mark.parametrize(("cls", "code"), EXPECTED, ids=[cls.__name__ for cls, _ in EXPECTED])
def test_main_exits_with_the_code_of_what_a_command_raised(
    cli_store: ServiceContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cls: type[BaseException],
    code: int,
) -> None:
    def raising(*_args: object, **_kwargs: object) -> None:
        raise _instance(cls)

    # `runs show` imports get_run when it runs, so the planted one is what it calls.
    monkeypatch.setattr("pipeline_core.services.runs.get_run", raising)
    assert main(["runs", "show", "1"]) == code
    stderr = capsys.readouterr().err
    expected = "interrupted\n" if cls is KeyboardInterrupt else f"error: {_instance(cls)}\n"
    assert stderr.endswith(expected)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["runs", "show", "42"], 4, "error: run 42 does not exist"),
        (["--user", "nobody", "users", "list"], 5, "error: login refused for 'nobody'"),
        (
            ["--user", "max", "rollback", "--reason", "prod answers badly since this morning"],
            5,
            "error: max is a manager",
        ),
        (["--user", "vera", "approve", "999", "--comment", "fine", "--artifact", "0" * 64], 4, "does not exist"),
        (["--user", "vera", "evaluate", "--deployment", "1", "--since", "soon"], 2, "is not an ISO timestamp"),
        (["--user", "dora", "runs", "cancel", "77"], 4, "error: run 77 does not exist"),
    ],
    ids=["not-found", "login-refused", "permission-denied", "no-such-candidate", "bad-timestamp", "cancel-missing"],
)
def test_real_commands_exit_by_the_table(
    cli_store: ServiceContext,
    people: dict[str, object],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    assert main(argv) == code
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["approve", "reject"])
def test_a_blank_comment_is_a_bad_argument_refused_before_signing_in(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    extra = ["--artifact", "0" * 64] if command == "approve" else []
    with pytest.raises(SystemExit) as exited:
        main([command, "1", "--comment", "  ", *extra])
    assert exited.value.code == ExitCode.BAD_INPUT
    assert "needs a comment saying why" in capsys.readouterr().err
