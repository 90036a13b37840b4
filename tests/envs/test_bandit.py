"""RecurringBandit: the block knob keeps or redraws the arm means; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.envs.bandit import RecurringBandit


def test_one_block_keeps_the_means_for_the_whole_trial() -> None:
    bandit = RecurringBandit(arms=3, pulls=5)
    bandit.reset(4, np.random.default_rng(0))
    first = bandit.means.copy()
    for _ in range(5):
        bandit.pull(np.zeros(4, dtype=int))
    np.testing.assert_array_equal(bandit.means, first)


def test_block_of_one_redraws_the_means_at_every_pull() -> None:
    bandit = RecurringBandit(arms=2, pulls=3, block=1)
    bandit.reset(2, np.random.default_rng(0))
    seen = [bandit.means.copy()]
    for _ in range(3):
        bandit.pull(np.array([0, 1]))
        seen.append(bandit.means.copy())
    assert not np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[1], seen[2])


def test_rewards_follow_the_chosen_arms_mean() -> None:
    bandit = RecurringBandit(arms=2, pulls=1)
    bandit.reset(20_000, np.random.default_rng(1))
    bandit.means[:] = [0.9, 0.1]
    rewards = bandit.pull(np.array([0, 1] * 10_000))
    assert abs(rewards[::2].mean() - 0.9) < 0.02 and abs(rewards[1::2].mean() - 0.1) < 0.02


@pytest.mark.parametrize("kwargs", [{"arms": 1}, {"pulls": 0}, {"pulls": 3, "block": 4},
                                    {"block": 0}])  # fmt: skip
def test_bad_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        RecurringBandit(**kwargs)


def test_bad_pulls_are_refused() -> None:
    bandit = RecurringBandit(arms=2, pulls=1)
    bandit.reset(2, np.random.default_rng(0))
    with pytest.raises(ConfigurationError, match="one arm"):
        bandit.pull(np.array([0, 2]))
    bandit.pull(np.array([0, 1]))
    with pytest.raises(ConfigurationError, match="over"):
        bandit.pull(np.array([0, 1]))
