"""Gymnasium's own tools accept rewardkit's wrappers (gymnasium 1.x, as installed).

Usage as in Gymnasium's docs: wrap an env, check it with
``gymnasium.utils.env_checker.check_env``, stack other wrappers on it, and
run vector envs in both autoreset modes (``gymnasium/vector/vector_env.py``,
``AutoresetMode``).
"""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rewardkit.adapters.gymnasium import RewardkitVectorWrapper, RewardkitWrapper
from rewardkit.core import ConfigurationError, constant, env_reward, weighted_sum


def shaped():
    return weighted_sum([env_reward(), constant(-0.5, name="cost")])


def test_the_wrapper_is_a_gymnasium_wrapper_and_passes_check_env():
    env = RewardkitWrapper(gym.make("CartPole-v1"), shaped())
    assert isinstance(env, gym.Wrapper) and env.unwrapped.spec.id == "CartPole-v1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_env notes that the env is wrapped
        check_env(env, skip_render_check=True)


def test_other_wrappers_stack_on_it():
    env = gym.wrappers.RecordEpisodeStatistics(
        RewardkitWrapper(gym.make("CartPole-v1", max_episode_steps=10), shaped())
    )
    env.reset(seed=0)
    for _ in range(10):
        *_, terminated, truncated, info = env.step(0)
        if terminated or truncated:
            break
    assert info["episode"]["r"] == pytest.approx(0.5 * info["episode"]["l"])


def test_a_vector_env_is_refused_with_the_way_to_wrap_it():
    with pytest.raises(ConfigurationError, match="RewardkitVectorWrapper"):
        RewardkitWrapper(gym.make_vec("CartPole-v1", num_envs=2), shaped())


def test_step_before_reset_is_a_gymnasium_error():
    with pytest.raises(gym.error.ResetNeeded):
        RewardkitWrapper(gym.make("CartPole-v1"), shaped()).step(0)


def _reference_transitions(seed, steps, actions):
    """The transitions of two single CartPole envs stepped by hand (no autoreset)."""
    envs = [gym.make("CartPole-v1") for _ in range(2)]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    rows = []
    for t in range(steps):
        for i, env in enumerate(envs):
            next_obs, _, terminated, truncated, _ = env.step(int(actions[t, i]))
            rows.append((i, obs[i], next_obs, terminated))
            obs[i] = env.reset()[0] if terminated or truncated else next_obs
    return rows


@pytest.mark.parametrize(
    "mode", [gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.SAME_STEP]
)
def test_vector_wrapper_shows_the_term_every_true_transition(mode):
    seen = []

    class Recorder(constant):
        def update(self, batch):
            for i, obs, next_obs, terminated in zip(
                batch["env"], batch["obs"], batch["next_obs"], batch["terminated"], strict=True
            ):
                seen.append((int(i), obs, next_obs, bool(terminated)))
            return {}

    vec = gym.make_vec(
        "CartPole-v1", num_envs=2, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
    )
    env = RewardkitVectorWrapper(vec, Recorder(1.0, name="one"))
    actions = np.random.default_rng(0).integers(0, 2, size=(2000, 2))
    env.reset(seed=[0, 1])
    for t in range(2000):
        env.step(actions[t])
    assert len(seen) > 3000  # 2000 steps x 2 envs, less the autoreset steps of NEXT_STEP
    # the same episodes, stepped by hand, give the same transitions in order per env
    reference = _reference_transitions(0, 2000, actions) if mode.value == "SameStep" else None
    if reference is not None:
        for (i, obs, next_obs, terminated), (j, o, n, d) in zip(seen, reference, strict=False):
            assert i == j and terminated == d
            np.testing.assert_allclose(obs, o)
            np.testing.assert_allclose(next_obs, n)
    for _, obs, next_obs, terminated in seen:  # never a reset observation as next_obs
        assert terminated or np.abs(next_obs - obs).max() < 1.0
