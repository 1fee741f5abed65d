"""Logging, configured once per process: one stderr handler with timestamp, level and logger name.

``configure(level)`` is called by the command line (``--log-level``, else the ``log_level`` setting,
``MLOPS_LOG_LEVEL``); library code only ever calls ``logging.getLogger(__name__)``. The product's own
loggers (``pipeline_core.*``) log from ``level`` up; other libraries' loggers (SQLAlchemy, httpx, ...)
from warning up, or from ``level`` when it is stricter, so ``--log-level debug`` shows the product's
debug lines without every HTTP connection's.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import TextIO

# The levels the settings and the command line accept, by name.
LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
DEFAULT_LEVEL = "warning"
PACKAGE = "pipeline_core"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Handler(logging.StreamHandler):
    """The handler ``configure`` installs; its own class, so a second ``configure`` replaces it."""


def level_number(name: str) -> int:
    """``logging.INFO`` for ``"info"`` (any case); a ``ValueError`` naming the known levels otherwise."""
    try:
        return LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"log level {name!r} is not one of {', '.join(LEVELS)}") from None


def configure(level: str = DEFAULT_LEVEL, stream: TextIO | None = None) -> None:
    """Send log lines to ``stream`` (stderr) from ``level`` up; calling it again replaces the previous setup."""
    number = level_number(level)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    handler = _Handler(sys.stderr if stream is None else stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(max(number, logging.WARNING))
    logging.getLogger(PACKAGE).setLevel(number)


def at_least(level: str) -> None:
    """Make the product's loggers log from ``level`` up if they are quieter now (the worker's ``--verbose``)."""
    package = logging.getLogger(PACKAGE)
    package.setLevel(min(package.getEffectiveLevel(), level_number(level)))
