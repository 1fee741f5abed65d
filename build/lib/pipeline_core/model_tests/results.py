"""Typed model test results: one ``Verdict`` per test, gathered in a ``ModelTestReport``.

A verdict is pass, fail or skip (the test does not apply: nothing declared in the spec,
no production model to compare with), with a one-line summary and the evidence behind
it (the numbers and records), all plain JSON types so the report stores as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

VerdictStatus = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Verdict:
    name: str
    status: VerdictStatus
    summary: str
    critical: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            str(data["name"]),
            data["status"],
            str(data["summary"]),
            bool(data.get("critical", False)),
            dict(data.get("evidence", {})),
            float(data.get("seconds", 0.0)),
        )


@dataclass
class ModelTestReport:
    verdicts: list[Verdict]
    seconds: float = 0.0

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == "fail"]

    @property
    def failed_critical(self) -> list[Verdict]:
        return [v for v in self.failed if v.critical]

    @property
    def status(self) -> Literal["pass", "warn", "fail"]:
        """fail: a critical test failed (the run stops); warn: another failed; pass otherwise."""
        if self.failed_critical:
            return "fail"
        return "warn" if self.failed else "pass"

    def verdict(self, name: str) -> Verdict:
        for v in self.verdicts:
            if v.name == name:
                return v
        raise KeyError(f"no model test named {name!r}")

    def entries(self, *, judged_only: bool = False) -> list[dict[str, Any]]:
        """One row per verdict (name, status, critical, detail), as the report lists them."""
        return [
            {"name": v.name, "status": v.status, "critical": v.critical, "detail": v.summary}
            for v in self.verdicts
            if not (judged_only and v.status == "skip")
        ]

    def mrm_entries(self) -> list[dict[str, Any]]:
        """What the MRM risk evaluation counts: every judged test (a skipped one was not judged)."""
        return self.entries(judged_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "seconds": self.seconds, "verdicts": [v.to_dict() for v in self.verdicts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelTestReport:
        return cls([Verdict.from_dict(v) for v in data["verdicts"]], float(data.get("seconds", 0.0)))
