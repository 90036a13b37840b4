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


def test_wrapper_single_env_keeps_original_reward_and_updates_bonus():
    from rewardkit.adapters.gymnasium import RewardkitWrapper
    from rewardkit.core import weighted_sum
    from rewardkit.explore import CountBonus

    bonus = CountBonus(beta=1.0)
    env = RewardkitWrapper(
        gym.make("FrozenLake-v1", is_slippery=False), weighted_sum([env_reward(), bonus])
    )
    env.reset(seed=0)
    _, first, *_, info = env.step(0)  # move left into the wall: stay on state 0
    _, second, *_ = env.step(0)
    assert info["original_reward"] == 0.0 and first == pytest.approx(1.0)
    assert second == pytest.approx(1 / np.sqrt(2))  # counted after the first update


def test_wrapper_vector_env_skips_autoreset_steps():
    from rewardkit.adapters.gymnasium import RewardkitVectorWrapper
    from rewardkit.core import constant

    seen = []

    class Spy(constant):
        def update(self, batch):
            seen.append(len(batch["next_obs"]))
            return {}

    vec = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    env = RewardkitVectorWrapper(vec, Spy(1.0, name="one"))
    env.reset(seed=0)
    vec.action_space.seed(0)  # the episode lengths below must not depend on the run
    rewards = []
    for _ in range(40):
        _, reward, _terminated, _truncated, _ = env.step(vec.action_space.sample())
        rewards.append(reward)
    rewards = np.array(rewards)
    assert set(np.unique(rewards)) <= {0.0, 1.0}
    assert (rewards == 0.0).sum() == 40 * 2 - sum(seen)  # exactly the autoreset steps
    assert (rewards == 0.0).any()  # CartPole episodes end within 40 random steps


def test_delayed_reward_keeps_each_episodes_return_at_termination_and_truncation():
    from rewardkit.adapters.gymnasium import DelayedReward

    for max_steps in (500, 7):  # CartPole terminates on its own, or is truncated at 7
        plain = gym.make("CartPole-v1", max_episode_steps=max_steps)
        delayed = DelayedReward(gym.make("CartPole-v1", max_episode_steps=max_steps))
        for seed in range(3):
            plain.reset(seed=seed)
            delayed.reset(seed=seed)
            rng = np.random.default_rng(seed)
            returns, paid, withheld = 0.0, [], []
            while True:
                action = int(rng.integers(2))
                _, r, term, trunc, _ = plain.step(action)
                _, d, d_term, d_trunc, info = delayed.step(action)
                returns += r
                paid.append(d)
                withheld.append(info["withheld_reward"])
                assert (term, trunc) == (d_term, d_trunc)
                if term or trunc:
                    break
            assert sum(paid) == returns == sum(withheld) and all(p == 0 for p in paid[:-1])
            assert trunc == (max_steps == 7 and len(paid) == 7)
    reset_midway = DelayedReward(gym.make("CartPole-v1"))
    reset_midway.reset(seed=0)
    reset_midway.step(0)
    reset_midway.reset(seed=1)  # the unfinished episode's account is dropped
    assert reset_midway.account == 0.0
