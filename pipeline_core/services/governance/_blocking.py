"""What stands between a candidate and its approval: one item per blocking check, finding or missing section."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Blocking:
    """A reason a candidate cannot simply be approved, named by a key an override (or a refusal) cites.

    Keys: ``monitor:metric`` and ``model_tests:test`` for a critical check that failed or could not be
    judged; ``documentation:<section>`` for a required section not written; ``finding:<id>`` for an open
    high-severity finding. An overridable item may be lifted by a named override and a second validator's
    countersign; one that is not (an open high finding) must be remedied or its risk accepted first.
    """

    key: str
    text: str  # "roc_auc 0.5200 fails threshold 0.60 (evaluation 7)"
    overridable: bool = True
