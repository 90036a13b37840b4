"""The online preference reward (HERON's factor tree or an episode score as the labeller):
the environment's reward is never paid, labels come from the factors, bad input loses
nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.rollout import flat_rollout_batch
from rewardkit.credit.preference_reward import OnlinePreferenceReward


def _rollout(actions: np.ndarray, rewards: np.ndarray, obs: np.ndarray | None = None):
    """T steps of N envs; every env's episode ends at the last step."""
    steps, envs = actions.shape
    terminated = np.zeros((steps, envs), dtype=bool)
    terminated[-1] = True
    return flat_rollout_batch(
        obs=np.zeros((steps, envs, 1)) if obs is None else obs, action=actions, reward=rewards,
        terminated=terminated, truncated=np.zeros((steps, envs), dtype=bool),
    )  # fmt: skip


def _share_of_action_one(observations, actions, rewards) -> list[float]:
    return [float(np.mean(actions == 1))]


def test_pays_the_model_step_reward_never_the_environment_reward() -> None:
    term = OnlinePreferenceReward(_share_of_action_one, obs_dim=1, actions=2, update_every=100)
    actions = np.array([[0, 1], [1, 0]])
    first = term(_rollout(actions, np.array([[5.0, -5.0], [9.0, 0.0]]))).total
    term.reset()
    second = term(_rollout(actions, np.zeros((2, 2)))).total
    assert np.allclose(first, second)  # the environment's reward does not reach the agent
    features = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert np.allclose(first, term.model.step_rewards(features))  # time-major rows


def test_learns_the_factor_ranking_not_the_environment_reward() -> None:
    """The factor prefers episodes that take action 1; the environment pays action 0. After
    a few updates the learned reward pays action 1 more."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    term = OnlinePreferenceReward(_share_of_action_one, obs_dim=1, actions=2, update_every=8,
                                  pairs_per_update=64, epochs=20, hidden=0, seed=0)  # fmt: skip
    for _ in range(15):
        actions = rng.integers(0, 2, size=(6, 8))
        term(_rollout(actions, (actions == 0).astype(float)))
    assert term.updates >= 10 and all(0.0 < d <= 1.0 for d in term.decided)
    zero, one = term.model.step_rewards(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    assert one > zero


def test_heron_margins_drop_the_pairs_no_factor_decides() -> None:
    def tied(observations, actions, rewards) -> list[float]:
        return [1.0, 2.0]  # every episode the same: no pair is decided

    term = OnlinePreferenceReward(tied, obs_dim=1, actions=2, update_every=2, seed=0)
    term(_rollout(np.array([[0, 1], [1, 0]]), np.zeros((2, 2))))
    assert term.decided == [0.0] and term.updates == 0 and term.losses == []


def test_one_factor_with_no_margin_is_the_higher_return_wins() -> None:
    seen: list = []

    def episode_return(observations, actions, rewards) -> list[float]:
        seen.append(float(rewards.sum()))
        return [float(rewards.sum())]

    term = OnlinePreferenceReward(episode_return, obs_dim=1, actions=2, margin_scale=0.0,
                                  update_every=2, seed=0)  # fmt: skip
    term(_rollout(np.array([[0, 1], [1, 0]]), np.array([[1.0, 0.0], [1.0, 0.5]])))
    assert seen == [2.0, 0.5] and term.decided == [1.0] and term.updates == 1


def test_bad_input_is_refused_and_loses_nothing() -> None:
    term = OnlinePreferenceReward(_share_of_action_one, obs_dim=1, actions=2, update_every=100)
    ok = np.array([[0, 1]])
    term(flat_rollout_batch(obs=np.zeros((1, 2, 1)), action=ok, reward=np.zeros((1, 2)),
                            terminated=np.zeros((1, 2), dtype=bool),
                            truncated=np.zeros((1, 2), dtype=bool)))  # fmt: skip
    before = {env: len(steps) for env, steps in term.open.items()}
    with pytest.raises(ConfigurationError, match="actions"):
        term(_rollout(np.array([[0, 2]]), np.zeros((1, 2))))
    with pytest.raises(ConfigurationError, match="finite"):
        term(_rollout(ok, np.array([[np.nan, 0.0]])))
    with pytest.raises(ConfigurationError, match="observations"):
        term(_rollout(ok, np.zeros((1, 2)), obs=np.zeros((1, 2, 3))))
    assert {env: len(steps) for env, steps in term.open.items()} == before
    with pytest.raises(ConfigurationError, match=">= 1"):
        OnlinePreferenceReward(_share_of_action_one, obs_dim=1, actions=2, update_every=0)
    with pytest.raises(ConfigurationError, match="margin_scale"):
        OnlinePreferenceReward(_share_of_action_one, obs_dim=1, actions=2, margin_scale=-1.0)


def test_factors_that_are_not_finite_are_refused_and_lose_nothing() -> None:
    def broken_for_action_one(observations, actions, rewards) -> list[float]:
        return [float("nan") if actions[-1] == 1 else 1.0]

    term = OnlinePreferenceReward(broken_for_action_one, obs_dim=1, actions=2)
    term(
        flat_rollout_batch(
            obs=np.zeros((1, 2, 1)),
            action=np.array([[0, 0]]),
            reward=np.zeros((1, 2)),
            terminated=np.zeros((1, 2), dtype=bool),
            truncated=np.zeros((1, 2), dtype=bool),
        )
    )  # two open episodes
    with pytest.raises(ConfigurationError, match="finite"):  # env 0 ends well, env 1 does not
        term(_rollout(np.array([[0, 1]]), np.zeros((1, 2))))
    assert {env: len(steps) for env, steps in term.open.items()} == {0: 1, 1: 1}
    assert len(term.finished) == 0 and term.since_update == 0


def test_signs_and_the_factor_count_are_checked_before_any_update() -> None:
    with pytest.raises(ConfigurationError, match="signs"):
        OnlinePreferenceReward(_share_of_action_one, obs_dim=1, actions=2, signs=[1, 0])
    term = OnlinePreferenceReward(_share_of_action_one, obs_dim=1, actions=2, signs=[1, -1])
    with pytest.raises(ConfigurationError, match="2 were expected"):
        term(_rollout(np.array([[0]]), np.zeros((1, 1))))
    assert len(term.finished) == 0

    def varying(observations, actions, rewards) -> list[float]:
        return [1.0] * len(actions)

    term = OnlinePreferenceReward(varying, obs_dim=1, actions=2)
    term(_rollout(np.array([[0]]), np.zeros((1, 1))))  # one factor: the width is now 1
    with pytest.raises(ConfigurationError, match="1 were expected"):
        term(_rollout(np.array([[0], [1]]), np.zeros((2, 1))))
    assert len(term.finished) == 1
