"""The model-risk policy: what a model's materiality tier asks of its versions before and after approval.

A tier's policy says how many independent validators must approve a version, which checks are critical
beyond those its spec marks, how often the production model must be revalidated, and which sections of its
documentation must be written. The defaults follow SR 26-2's risk-based validation: the most material
models get two validators and a yearly revalidation. Settings may tighten them (``Settings.policy``);
nothing here reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline_core.errors import ConfigError
from pipeline_core.vocabulary import DocSection, Tier

MAX_APPROVALS = 2  # one approval and one countersign: what the approvals table records


@dataclass(frozen=True, kw_only=True)
class TierPolicy:
    """What one materiality tier requires; constraints declared and checked on construction."""

    tier: Tier
    approvals: int  # distinct validators, neither an author, who must sign a version (1..MAX_APPROVALS)
    revalidation_months: int  # an approval expires this long after it was made (1..120)
    critical_checks: tuple[str, ...] = ()  # "monitor:metric" made critical for this tier, beyond the spec's
    required_documentation: tuple[DocSection, ...] = tuple(DocSection)

    def __post_init__(self) -> None:
        if not 1 <= self.approvals <= MAX_APPROVALS:
            raise ConfigError(
                f"tier {int(self.tier)} policy: approvals must be 1..{MAX_APPROVALS}, not {self.approvals}"
            )
        if not 1 <= self.revalidation_months <= 120:
            raise ConfigError(
                f"tier {int(self.tier)} policy: revalidation_months must be 1..120, not {self.revalidation_months}"
            )
        for key in self.critical_checks:
            monitor, _, metric = key.partition(":")
            if not monitor or not metric:
                raise ConfigError(f"tier {int(self.tier)} policy: critical check {key!r} is not 'monitor:metric'")


DEFAULT_POLICIES: Mapping[Tier, TierPolicy] = {
    Tier.HIGH: TierPolicy(tier=Tier.HIGH, approvals=2, revalidation_months=12),
    Tier.MEDIUM: TierPolicy(tier=Tier.MEDIUM, approvals=1, revalidation_months=24),
    Tier.LOW: TierPolicy(tier=Tier.LOW, approvals=1, revalidation_months=36),
}
# A model nobody has tiered yet is treated as the most material: an untiered credit model is not a low-risk one.
UNTIERED = Tier.HIGH
