import gymnasium as gym
import numpy as np
import pytest

from rewardkit.adapters.gymnasium import collect_steps
from rewardkit.core import BatchError, env_reward


def test_collect_steps_keeps_final_observation_and_flags():
    env = gym.make("CartPole-v1", max_episode_steps=5)
    batch = collect_steps(env, steps=12, seed=3)
    assert batch["obs"].shape == (12, 4) and batch["action"].shape == (12,)
    ends = batch["terminated"] | batch["truncated"]
    assert ends.any()
    # within an episode, next_obs is the following obs; at a boundary it is not the reset obs
    for t in range(11):
        if not ends[t]:
            np.testing.assert_array_equal(batch["next_obs"][t], batch["obs"][t + 1])
    np.testing.assert_array_equal(env_reward()(batch).total, batch["reward"])


def test_collect_steps_is_seeded_and_validates():
    a = collect_steps(gym.make("Pendulum-v1"), steps=4, seed=0)
    b = collect_steps(gym.make("Pendulum-v1"), steps=4, seed=0)
    np.testing.assert_array_equal(a["action"], b["action"])
    with pytest.raises(BatchError, match="positive"):
        collect_steps(gym.make("Pendulum-v1"), steps=0)
    with pytest.raises(BatchError, match="vector env"):
        collect_steps(gym.make_vec("CartPole-v1", num_envs=2), steps=2)
