"""The one rule for a reason a person must give (an override, a rollback, an alert's acknowledgement)."""

from __future__ import annotations

import re

from pipeline_core.errors import ConfigError

MIN_REASON_CHARACTERS = 20
MIN_REASON_WORDS = 4
_WORD = re.compile(r"[^\W_]{2,}")


def sentence(text: str | None, *, what: str) -> str:
    """``text`` stripped, if it is at least a sentence (20 characters, four words); else ``ConfigError`` (exit code 2).

    A one-character override ("x") put a model with disparate impact 0.014 into production: a reason
    must say something a later reader can weigh.
    """
    said = " ".join((text or "").split())
    if len(said) < MIN_REASON_CHARACTERS or len(_WORD.findall(said)) < MIN_REASON_WORDS:
        raise ConfigError(
            f"{what} must be at least a sentence ({MIN_REASON_CHARACTERS} characters, {MIN_REASON_WORDS} words) "
            f"saying why; got {said[:60]!r}"
        )
    return said
