"""Stable-Baselines3 trains through rewardkit's wrappers and callback (SB3 2.x, as installed).

Usage as in SB3's docs: ``check_env`` on the env, ``make_vec_env(env_id,
wrapper_class=..., wrapper_kwargs=...)``, ``Monitor``, a ``VecEnvWrapper``
around a ``VecEnv``, and ``MultiInputPolicy`` on Dict observations
(``stable_baselines3/common/env_util.py``, ``common/vec_env/base_vec_env.py``,
``common/buffers.py:DictRolloutBuffer``). Each trains PPO for 2,048 steps.
"""

import warnings

import gymnasium as gym
import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3")

from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402

from rewardkit.adapters.gymnasium import RewardkitWrapper  # noqa: E402
from rewardkit.adapters.sb3 import RewardkitCallback, RewardkitVecEnvWrapper  # noqa: E402
from rewardkit.core import ConfigurationError, constant, env_reward, weighted_sum  # noqa: E402
from rewardkit.explore import SimHashCountBonus  # noqa: E402

STEPS = 2048


def half_reward():
    return weighted_sum([env_reward(), constant(-0.5, name="cost")])


def _ppo(env, policy="MlpPolicy", **kwargs):
    import torch

    torch.set_num_threads(1)
    settings = {"n_steps": 256, "batch_size": 128, "n_epochs": 1, "seed": 0, "device": "cpu"}
    return sb3.PPO(policy, env, **(settings | kwargs))


def test_sb3_check_env_accepts_the_wrapper():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(RewardkitWrapper(gym.make("CartPole-v1"), half_reward()))
        check_env(Monitor(RewardkitWrapper(gym.make("CartPole-v1"), half_reward())))


@pytest.mark.slow
def test_ppo_trains_through_make_vec_env_wrapper_class():
    env = make_vec_env(
        "CartPole-v1",
        n_envs=2,
        seed=0,
        wrapper_class=RewardkitWrapper,
        wrapper_kwargs={"term": half_reward()},
    )
    model = _ppo(env)
    model.learn(STEPS)
    # what PPO learned from is the term's reward: CartPole's 1 less the 0.5 cost
    np.testing.assert_allclose(model.rollout_buffer.rewards, 0.5)
    assert model.num_timesteps >= STEPS


@pytest.mark.slow
def test_ppo_trains_through_the_vec_env_wrapper():
    venv = RewardkitVecEnvWrapper(make_vec_env("CartPole-v1", n_envs=2, seed=0), half_reward())
    model = _ppo(venv)
    model.learn(STEPS)
    np.testing.assert_allclose(model.rollout_buffer.rewards, 0.5)


def test_vec_env_wrapper_shows_the_final_observation_at_episode_ends():
    seen = []

    class Recorder(constant):
        def update(self, batch):
            seen.append({k: np.array(v, copy=True) for k, v in batch.items()})
            return {}

    venv = RewardkitVecEnvWrapper(
        make_vec_env("CartPole-v1", n_envs=2, seed=0, env_kwargs={"max_episode_steps": 20}),
        Recorder(1.0),
    )
    obs = venv.reset()
    for _ in range(60):
        new_obs, _, dones, infos = venv.step(np.array([0, 1]))
        batch = seen[-1]
        np.testing.assert_allclose(batch["obs"], obs)
        for i, done in enumerate(dones):
            expected = infos[i]["terminal_observation"] if done else new_obs[i]
            np.testing.assert_allclose(batch["next_obs"][i], expected)
            if done:
                truncated = infos[i].get("TimeLimit.truncated", False)
                assert batch["truncated"][i] == truncated and batch["terminated"][i] != truncated
        obs = new_obs


def _minigrid_dict_env():
    import minigrid  # noqa: F401  (registers the MiniGrid envs)

    env = gym.wrappers.FilterObservation(
        gym.make("MiniGrid-Empty-5x5-v0", max_steps=50), ["image", "direction"]
    )
    # the 7x7 view as floats, so SB3's MultiInputPolicy flattens it (its CNN needs 36x36+)
    space = gym.spaces.Dict(
        {
            "image": gym.spaces.Box(0.0, 255.0, (7, 7, 3), np.float32),
            "direction": env.observation_space["direction"],
        }
    )
    return gym.wrappers.TransformObservation(
        env, lambda obs: {"image": obs["image"].astype(np.float32), "direction": obs["direction"]},
        space,
    )  # fmt: skip


@pytest.mark.slow
def test_callback_reads_one_entry_of_dict_observations():
    env = make_vec_env(_minigrid_dict_env, n_envs=2, seed=0)
    bonus = SimHashCountBonus(beta=0.5, bits=8)
    callback = RewardkitCallback(bonus, coef=1.0, obs_key="image")
    model = _ppo(env, policy="MultiInputPolicy")
    model.learn(STEPS, callback=callback)
    assert callback.last_batch["next_obs"].shape[1:] == (7, 7, 3)
    assert callback.last_batch["obs"].shape == callback.last_batch["next_obs"].shape


def test_callback_without_obs_key_on_dict_observations_says_which_keys():
    env = make_vec_env(_minigrid_dict_env, n_envs=1, seed=0)
    model = _ppo(env, policy="MultiInputPolicy", n_steps=16, batch_size=16)
    callback = RewardkitCallback(SimHashCountBonus(bits=8))
    with pytest.raises(ConfigurationError, match=r"keys \['direction', 'image'\]; pass obs_key="):
        model.learn(16, callback=callback)
