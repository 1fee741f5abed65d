"""Types shared by the stages: the gate decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Gate:
    """A stage's gate: may the run go on, and why (or why not)."""

    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gate:
        return cls(bool(data["passed"]), str(data["reason"]))
