"""Turning what the user typed into values: data specs, timestamps, comments; a bad one is bad input (exit 2)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pipeline_core.data.spec import DataSpec


def load_spec(value: str) -> DataSpec:
    """A spec JSON file, or the name of a built-in spec."""
    from pipeline_core.data.spec import DataSpec
    from pipeline_core.services.datasets import builtin_spec

    path = Path(value)
    if path.suffix == ".json" or path.is_file():
        try:
            return DataSpec.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"spec file {value!r} cannot be read: {exc}") from exc
    return builtin_spec(value)


def timestamp(text: str, *, option: str = "--since") -> datetime:
    """An ISO timestamp, taken as UTC (the store keeps naive UTC)."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r} is not an ISO timestamp (e.g. 2026-11-26T09:00)") from exc


def comment(refusal: str) -> Callable[[str], str]:
    """An argparse ``type`` that refuses a blank comment with ``refusal``, before anyone signs in.

    The services refuse it too (ApprovalError, exit 1: a decision said no); a blank ``--comment`` is a
    bad argument, so the command line refuses it first, as argparse does every bad argument (exit 2).
    """

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(refusal)
        return text

    return parse
