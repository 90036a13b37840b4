"""Streaming reward-hacking monitors over a training log.

A training log is a sequence of records (one dict of floats per logging
step). Each monitor reads the keys it needs, keeps a short history, and
returns an :class:`Alert` that explains itself when its pattern appears:

- :class:`ProxyGoldDivergence`: the optimized (proxy) reward rises while a
  gold or held-out reward falls, the signature of reward hacking.
- :class:`Collapse`: a quantity falls far below its early level; used for
  reward variance across samples (RewardDance's signal that a reward model is
  being exploited) and for policy entropy.
- :class:`SustainedAbove`: a quantity stays above a threshold, e.g. the share
  of groups with zero reward variance (no GRPO learning signal).
- :class:`Drift`: a quantity moves by a large factor from its early level,
  e.g. mean completion length.
- :class:`TermDominance`: one part of a composed reward makes up almost all
  of it.

:class:`HackingMonitor` bundles them; its ``update(record)`` works as a
callback body, and :mod:`rewardkit.audit.callbacks` adapts it to TRL and SB3.

Example:
    >>> monitor = HackingMonitor([ProxyGoldDivergence("reward/proxy", "reward/gold", window=4)])
    >>> log = [{"reward/proxy": 0.1 * t, "reward/gold": 1.0 - 0.1 * t} for t in range(8)]
    >>> alerts = monitor.replay(log)
    >>> alerts[0].monitor, alerts[0].step
    ('proxy_gold_divergence', 3)
"""

from __future__ import annotations

import abc
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Alert",
    "Collapse",
    "Drift",
    "HackingMonitor",
    "Monitor",
    "ProxyGoldDivergence",
    "SustainedAbove",
    "TermDominance",
    "default_monitors",
]


@dataclass(frozen=True)
class Alert:
    """A monitor fired: which, at which step, and why."""

    monitor: str
    step: int
    message: str
    value: float = float("nan")

    def __str__(self) -> str:
        return f"[step {self.step}] {self.monitor}: {self.message}"


def _number(record: Mapping[str, object], key: str) -> float | None:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


class Monitor(abc.ABC):
    """One detector. ``observe`` is called once per log record, in order.

    Monitors fire once per episode of the pattern: after an alert they stay
    quiet until the pattern has cleared. A record that logs none of the keys a
    monitor :meth:`reads` (or lacks one of them, or holds a NaN there)
    neither clears nor continues its pattern (TRL logs evaluations as records
    of their own).
    """

    name: str = "monitor"

    def __init__(self) -> None:
        self._active = False

    def observe(self, step: int, record: Mapping[str, object]) -> Alert | None:
        keys = self.reads()
        if keys and any(_number(record, key) is None for key in keys):
            return None  # not logged here (an eval key on a training record): no news
        message, value = self._check(record)
        if message is None:
            self._active = False
            return None
        if self._active:
            return None
        self._active = True
        return Alert(self.name, step, message, value)

    def reads(self) -> tuple[str, ...]:
        """The keys this monitor needs; a record without a finite value for each leaves it
        as it was (empty: every record is checked)."""
        key = getattr(self, "key", None)
        return (key,) if isinstance(key, str) else ()

    @abc.abstractmethod
    def _check(self, record: Mapping[str, object]) -> tuple[str | None, float]:
        """Return (message, value) if the pattern holds now, else (None, nan)."""


class ProxyGoldDivergence(Monitor):
    """Proxy reward up while the gold reward goes down, over a sliding window.

    Compares the mean of the newer half of the last ``window`` records with
    the older half: fires when the proxy rose by more than ``tolerance`` and
    the gold fell by more than ``tolerance`` (absolute units of each key).
    """

    name = "proxy_gold_divergence"

    def __init__(self, proxy_key: str, gold_key: str, window: int = 20, tolerance: float = 0.0):
        super().__init__()
        if window < 2:
            raise ValueError("window must be at least 2")
        self.proxy_key, self.gold_key = proxy_key, gold_key
        self.window, self.tolerance = window, tolerance
        self.history: deque[tuple[float, float]] = deque(maxlen=window)

    def reads(self) -> tuple[str, ...]:
        return (self.proxy_key, self.gold_key)

    def _check(self, record: Mapping[str, object]) -> tuple[str | None, float]:
        proxy, gold = _number(record, self.proxy_key), _number(record, self.gold_key)
        if proxy is None or gold is None:
            return None, math.nan
        self.history.append((proxy, gold))
        if len(self.history) < self.window:
            return None, math.nan
        half = self.window // 2
        old, new = list(self.history)[:half], list(self.history)[-half:]
        d_proxy = _mean(p for p, _ in new) - _mean(p for p, _ in old)
        d_gold = _mean(g for _, g in new) - _mean(g for _, g in old)
        if d_proxy > self.tolerance and d_gold < -self.tolerance:
            return (
                f"{self.proxy_key} rose by {d_proxy:+.3g} while {self.gold_key} fell by "
                f"{d_gold:+.3g} over the last {self.window} steps: the policy may be "
                "exploiting the proxy",
                d_gold,
            )
        return None, math.nan


@dataclass
class _Baseline:
    warmup: int
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> float | None:
        """Collect the first ``warmup`` values; afterwards return their mean."""
        if len(self.values) < self.warmup:
            self.values.append(value)
            return None
        return _mean(self.values)


class _AgainstBaseline(Monitor):
    """Compares each value with the mean of the first ``warmup`` values.

    Subclasses say when a value is far from that baseline (``_far``) and how
    to explain it (``_explain``); the alert needs ``patience`` such records in
    a row.
    """

    def __init__(self, key: str, warmup: int, patience: int, name: str) -> None:
        super().__init__()
        self.key, self.patience, self.name = key, patience, name
        self.baseline = _Baseline(warmup)
        self.streak = 0

    @abc.abstractmethod
    def _far(self, value: float, base: float) -> bool:
        """Whether ``value`` is far from ``base`` in the monitored way."""

    @abc.abstractmethod
    def _explain(self, value: float, base: float) -> str:
        """The alert message."""

    def _check(self, record: Mapping[str, object]) -> tuple[str | None, float]:
        value = _number(record, self.key)
        if value is None:
            return None, math.nan
        base = self.baseline.add(value)
        if base is None or base <= 0:
            return None, math.nan
        self.streak = self.streak + 1 if self._far(value, base) else 0
        if self.streak >= self.patience:
            return f"{self._explain(value, base)} for {self.streak} steps", value
        return None, math.nan


class Collapse(_AgainstBaseline):
    """A quantity falls below ``ratio`` × its early level (mean of the first ``warmup``).

    Use for reward standard deviation across samples (variance collapse) and
    for policy entropy (entropy collapse). ``patience`` consecutive low
    records are needed, so one noisy step does not fire it.
    """

    def __init__(
        self, key: str, ratio: float = 0.1, warmup: int = 5, patience: int = 3, name: str = ""
    ):
        super().__init__(key, warmup, patience, name or f"{key}_collapse")
        self.ratio = ratio

    def _far(self, value: float, base: float) -> bool:
        return value < self.ratio * base

    def _explain(self, value: float, base: float) -> str:
        return f"{self.key} fell to {value:.3g}, below {self.ratio:g} x its early level {base:.3g},"


class SustainedAbove(Monitor):
    """A quantity stays above ``threshold`` for ``patience`` consecutive records."""

    #: the side of the threshold that counts, for the name and the message
    side = "above"

    def _beyond(self, value: float) -> bool:
        return value > self.threshold

    def __init__(
        self, key: str, threshold: float, patience: int = 5, name: str = "", why: str = ""
    ):
        super().__init__()
        self.key, self.threshold, self.patience = key, threshold, patience
        self.name = name or f"{key}_{'high' if self.side == 'above' else 'low'}"
        self.why = why
        self.streak = 0

    def _check(self, record: Mapping[str, object]) -> tuple[str | None, float]:
        value = _number(record, self.key)
        if value is None:
            return None, math.nan
        self.streak = self.streak + 1 if self._beyond(value) else 0
        if self.streak >= self.patience:
            suffix = f": {self.why}" if self.why else ""
            return (
                f"{self.key} = {value:.3g} has stayed {self.side} {self.threshold:g} for "
                f"{self.streak} steps{suffix}",
                value,
            )
        return None, math.nan


class Drift(_AgainstBaseline):
    """A quantity moves beyond ``factor`` × (or 1/``factor`` ×) its early level.

    ``direction`` is ``"up"``, ``"down"`` or ``"both"`` (default): in a
    control task shorter episodes are progress, longer ones may be loitering.
    """

    def __init__(
        self,
        key: str,
        factor: float = 2.0,
        warmup: int = 5,
        patience: int = 3,
        name: str = "",
        direction: str = "both",
    ):
        super().__init__(key, warmup, patience, name or f"{key}_drift")
        if factor <= 1.0:
            raise ValueError("factor must exceed 1")
        if direction not in ("up", "down", "both"):
            raise ValueError("direction must be 'up', 'down' or 'both'")
        self.factor, self.direction = factor, direction

    def _far(self, value: float, base: float) -> bool:
        up, down = value > self.factor * base, value < base / self.factor
        return {"up": up, "down": down, "both": up or down}[self.direction]

    def _explain(self, value: float, base: float) -> str:
        return f"{self.key} is {value / base:.2f} x its early level {base:.3g} (now {value:.3g})"


class TermDominance(Monitor):
    """One part of a composed reward carries more than ``share`` of its total magnitude.

    Reads every key starting with ``prefix`` (e.g. ``reward/`` parts logged by
    the TRL adapter) and compares |mean| across them.
    """

    name = "term_dominance"

    def __init__(
        self, prefix: str, share: float = 0.9, patience: int = 5, exclude: Sequence[str] = ()
    ):
        super().__init__()
        self.prefix, self.share, self.patience = prefix, share, patience
        self.exclude = set(exclude)
        self.streak = 0

    def _check(self, record: Mapping[str, object]) -> tuple[str | None, float]:
        parts = {
            key: abs(value)
            for key in record
            if key.startswith(self.prefix)
            and key not in self.exclude
            and (value := _number(record, key)) is not None
        }
        total = sum(parts.values())
        if len(parts) < 2 or total <= 0:
            self.streak = 0
            return None, math.nan
        key, biggest = max(parts.items(), key=lambda kv: kv[1])
        share = biggest / total
        self.streak = self.streak + 1 if share > self.share else 0
        if self.streak >= self.patience:
            return (
                f"{key} makes up {share:.0%} of the reward's magnitude for {self.streak} steps; "
                "the other parts barely matter",
                share,
            )
        return None, math.nan


def default_monitors(
    proxy_key: str = "reward",
    gold_key: str | None = None,
    reward_std_key: str = "reward_std",
    entropy_key: str = "entropy",
    zero_variance_key: str = "frac_reward_zero_std",
    length_key: str = "completions/mean_length",
    parts_prefix: str | None = None,
) -> list[Monitor]:
    """The standard battery, keyed to TRL's log names by default."""
    monitors: list[Monitor] = [
        Collapse(reward_std_key, ratio=0.1, name="reward_variance_collapse"),
        Collapse(entropy_key, ratio=0.2, name="entropy_collapse"),
        SustainedAbove(
            zero_variance_key,
            0.8,
            name="zero_variance_groups",
            why="most groups give GRPO no learning signal",
        ),
        Drift(length_key, factor=2.0, name="length_drift"),
    ]
    if gold_key is not None:
        monitors.insert(0, ProxyGoldDivergence(proxy_key, gold_key))
    if parts_prefix is not None:
        monitors.append(TermDominance(parts_prefix))
    return monitors


class HackingMonitor:
    """Runs several monitors over a stream of log records and collects alerts.

    Args:
        monitors: the detectors (default: :func:`default_monitors`).
        step_key: record key holding the step (default: the record's index).
        echo: print each alert as it fires.
    """

    def __init__(
        self, monitors: Sequence[Monitor] | None = None, step_key: str = "step", echo: bool = False
    ) -> None:
        self.monitors = list(monitors) if monitors is not None else default_monitors()
        self.step_key = step_key
        self.echo = echo
        self.alerts: list[Alert] = []
        self._count = 0

    def update(self, record: Mapping[str, object]) -> list[Alert]:
        """Feed one record; return the alerts it raised."""
        step_value = _number(record, self.step_key)
        step = int(step_value) if step_value is not None else self._count
        self._count += 1
        fired = [a for m in self.monitors if (a := m.observe(step, record)) is not None]
        self.alerts.extend(fired)
        if self.echo:
            for alert in fired:
                print(f"rewardkit monitor: {alert}")
        return fired

    def replay(self, records: Iterable[Mapping[str, object]]) -> list[Alert]:
        """Feed a whole log; return every alert."""
        for record in records:
            self.update(record)
        return list(self.alerts)
