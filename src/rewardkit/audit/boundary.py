"""Streaming monitors that say when RL is shrinking the model, over a training log.

They read the keys :func:`rewardkit.audit.exploration.exploration_record` writes
(``pass@k``, ``distinct_ratio``, ``reward_auc``) and the trainer's own
(``entropy``, ``effective_rank``), and plug into
:class:`~rewardkit.audit.monitors.HackingMonitor` and its TRL/SB3 callbacks:

- :class:`BoundaryShrink`: pass@1 rises while pass@k for a large k falls, the
  capability-boundary shrinkage of "The Debate on RLVR Reasoning Capability
  Boundary" (its exploitation stage);
- :class:`SustainedBelow`: a quantity stays under a floor (reward
  discriminability near chance: B-STaR's exploitation signal gone);
- :func:`exploration_monitors`: the battery: boundary shrinkage, diversity
  collapse, discriminability lost, entropy collapse and explosion,
  effective-rank collapse.

Example:
    >>> from rewardkit.audit.monitors import HackingMonitor
    >>> log = [{"pass@1": 0.2 + 0.05 * t, "pass@64": 0.9 - 0.04 * t} for t in range(10)]
    >>> [a.monitor for a in HackingMonitor([BoundaryShrink(window=6)]).replay(log)]
    ['capability_boundary_shrink']
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rewardkit.audit.monitors import (
    Collapse,
    Drift,
    Monitor,
    ProxyGoldDivergence,
    SustainedAbove,
)

__all__ = ["BoundaryShrink", "SustainedBelow", "exploration_monitors"]


class BoundaryShrink(ProxyGoldDivergence):
    """pass@1 (``small_key``) up while pass@k (``large_key``) down over ``window`` records."""

    name = "capability_boundary_shrink"

    def __init__(
        self,
        small_key: str = "pass@1",
        large_key: str = "pass@64",
        window: int = 10,
        tolerance: float = 0.0,
    ) -> None:
        super().__init__(small_key, large_key, window, tolerance)

    def _check(self, record: Mapping[str, object]) -> tuple[str | None, float]:
        message, value = super()._check(record)
        if message is None:
            return None, math.nan
        return (
            f"{self.proxy_key} rose while {self.gold_key} fell over the last {self.window} "
            f"evaluations ({value:+.3g}): RL is sharpening what the model already samples and "
            "losing problems only its wider samples solved (capability-boundary shrinkage)",
            value,
        )


class SustainedBelow(SustainedAbove):
    """A quantity stays below ``threshold`` for ``patience`` consecutive records."""

    side = "below"

    def _beyond(self, value: float) -> bool:
        return value < self.threshold


def exploration_monitors(
    entropy_key: str = "entropy",
    small_key: str = "pass@1",
    large_key: str = "pass@64",
    distinct_key: str = "distinct_ratio",
    auc_key: str = "reward_auc",
    rank_key: str = "effective_rank",
    window: int = 10,
) -> list[Monitor]:
    """The exploration battery (each monitor is silent while its key is absent).

    Example:
        >>> [m.name for m in exploration_monitors()]  # doctest: +NORMALIZE_WHITESPACE
        ['capability_boundary_shrink', 'diversity_collapse', 'reward_discriminability_lost',
         'entropy_collapse', 'entropy_explosion', 'effective_rank_collapse']
    """
    return [
        BoundaryShrink(small_key, large_key, window),
        Collapse(distinct_key, ratio=0.5, warmup=3, patience=3, name="diversity_collapse"),
        SustainedBelow(
            auc_key,
            0.6,
            patience=3,
            name="reward_discriminability_lost",
            why="the reward barely tells right from wrong samples (B-STaR's exploitation signal)",
        ),
        Collapse(entropy_key, ratio=0.2, name="entropy_collapse"),
        Drift(entropy_key, factor=3.0, direction="up", name="entropy_explosion"),
        Collapse(rank_key, ratio=0.5, name="effective_rank_collapse"),
    ]
