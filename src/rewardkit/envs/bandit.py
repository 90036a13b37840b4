"""A batch of multi-armed bandits whose task recurs for a block of pulls.

"Exploitation Is All You Need... for Exploration" (Rentschler & Roberts 2025) names
three conditions under which an agent trained only to exploit still explores; the first
is *recurring structure*: the same task comes back, so what a pull reveals pays later.
:class:`RecurringBandit` makes that a knob. A trial is ``pulls`` pulls; each arm's
success probability is drawn from U(0, 1) and kept for ``block`` pulls, then drawn
again:

    μ_{b,k} ~ U(0, 1) for block b and arm k,    r_t ~ Bernoulli(μ_{⌊t / block⌋, a_t})

``block = pulls`` is one task for the whole trial (structure); ``block = 1`` draws a new
task at every pull (no structure), where no policy can expect more than 0.5 a pull,
since every arm's mean is then a fresh U(0, 1) draw whatever came before.

It is vectorized over trials (numpy), for the trainer in
:mod:`rewardkit.train.greedy_meta`.

Example:
    >>> import numpy as np
    >>> bandit = RecurringBandit(arms=3, pulls=4, block=4)
    >>> bandit.reset(2, np.random.default_rng(0))
    >>> bandit.pull(np.array([0, 2])).shape
    (2,)
    >>> bandit.means.shape  # (trials, arms): the current block's (the last, once over)
    (2, 3)
"""

from __future__ import annotations

import numpy as np

from rewardkit.core.errors import ConfigurationError

__all__ = ["RecurringBandit"]


class RecurringBandit:
    """Bernoulli bandits, U(0, 1) arm means redrawn every ``block`` pulls (see the module)."""

    def __init__(self, arms: int = 3, pulls: int = 20, block: int | None = None) -> None:
        block = pulls if block is None else block
        if arms < 2:
            raise ConfigurationError(f"a bandit needs at least 2 arms, got {arms}")
        if pulls < 1 or not 1 <= block <= pulls:
            raise ConfigurationError(
                f"need pulls >= 1 and 1 <= block <= pulls, got pulls={pulls}, block={block}"
            )
        self.arms, self.pulls, self.block = arms, pulls, block
        self.means = np.zeros((0, arms))
        self._rng = np.random.default_rng(0)
        self._t = 0

    def reset(self, trials: int, rng: np.random.Generator) -> None:
        """Start ``trials`` new trials, drawing their first block's arm means from ``rng``."""
        if trials < 1:
            raise ConfigurationError(f"trials must be >= 1, got {trials}")
        self._rng, self._t = rng, 0
        self.means = rng.uniform(size=(trials, self.arms))

    def pull(self, actions: np.ndarray) -> np.ndarray:
        """Rewards (0 or 1) of pulling ``actions`` (one arm per trial); advances one pull."""
        actions = np.asarray(actions)
        if self._t >= self.pulls:
            raise ConfigurationError(f"the trial is over after {self.pulls} pulls; call reset")
        if actions.shape != (len(self.means),) or not np.isin(actions, range(self.arms)).all():
            raise ConfigurationError(
                f"need one arm in [0, {self.arms}) per trial ({len(self.means)}), got {actions}"
            )
        chosen = self.means[np.arange(len(actions)), actions]
        rewards: np.ndarray = (self._rng.uniform(size=len(actions)) < chosen).astype(np.float64)
        self._t += 1
        if self._t % self.block == 0 and self._t < self.pulls:  # the next block's task
            self.means = self._rng.uniform(size=self.means.shape)
        return rewards
