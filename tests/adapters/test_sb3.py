"""The SB3 callback adds the bonus to rewards and recomputes returns (not advantages)."""

import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3")

from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

from rewardkit.adapters.sb3 import RewardkitCallback  # noqa: E402
from rewardkit.credit import generalized_advantage_estimation  # noqa: E402
from rewardkit.explore import SimHashCountBonus  # noqa: E402


class Checked(RewardkitCallback):
    """Records, after each recompute, the buffer and a reference GAE."""

    checks: list

    def _on_rollout_end(self):
        buffer = self.model.rollout_buffer
        before = buffer.rewards.copy()
        super()._on_rollout_end()
        bonus = buffer.rewards - before
        last_values = self.locals["values"].cpu().numpy().flatten()
        dones = np.asarray(self.locals["dones"], dtype=float)
        v_tp1 = np.concatenate([buffer.values[1:], last_values[None]], axis=0)
        ended = np.concatenate([buffer.episode_starts[1:], dones[None]], axis=0)
        reference = generalized_advantage_estimation(
            buffer.rewards,
            buffer.values,
            v_tp1,
            ended.astype(bool),
            gamma=buffer.gamma,
            lambda_=buffer.gae_lambda,
        )
        self.checks.append(
            (
                bonus,
                buffer.advantages.copy(),
                buffer.returns.copy(),
                reference,
                buffer.values.copy(),
            )
        )


@pytest.mark.slow
def test_sb3_ppo_returns_match_a_reference_with_the_bonus():
    import torch

    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = sb3.PPO("MlpPolicy", env, n_steps=256, batch_size=64, n_epochs=1, seed=0, device="cpu")
    callback = Checked(SimHashCountBonus(beta=0.5, bits=8), coef=1.0)
    callback.checks = []
    model.learn(total_timesteps=2048, callback=callback)
    assert len(callback.checks) == 4
    for bonus, advantages, returns, reference, values in callback.checks:
        assert bonus.max() > 0  # the bonus really reached the rewards
        np.testing.assert_allclose(advantages, reference, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(returns, reference + values, rtol=1e-5, atol=1e-5)
    # the count bonus decays as states repeat
    assert callback.checks[-1][0].mean() < callback.checks[0][0].mean()


@pytest.mark.slow
def test_normalize_divides_the_bonus_by_the_std_of_its_discounted_return():
    import torch

    from rewardkit.core import constant

    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    callback = Checked(constant(0.5, name="bonus"), normalize=True)
    callback.checks = []
    model.learn(total_timesteps=128, callback=callback)
    from tests.reference_stats import constant_bonus_scale

    scale = constant_bonus_scale(0.5, model.gamma, steps=64, envs=2)  # the first rollout
    np.testing.assert_allclose(callback.checks[0][0], 0.5 / scale, rtol=1e-5)
